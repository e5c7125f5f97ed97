"""The message trace of a real run: the proxy's and the nodes' spools merged into
``messages.parquet``.

A real run (local processes or containers) records its messages in two halves while it
goes: the proxy spools every frame it relayed, a send row when the frame reached it and a
deliver row when it went on to its receiver (``byzlab.adversary.proxy.recording``), and
every honest node spools what it did with each message it took, and its own copies of what
it sent itself, which never cross the network (``byzlab.network.tcp.verdicts``). At
collection the orchestrator (local and docker backends alike, ``processes.py``) merges them
into the simulator's format (``byzlab.network.messagelog``):

* a frame's payload is split into its messages, each decoded by the run's protocol for the
  trace's columns and kept, exactly as the receiver got it, as the row's payload;
* one send row per message of a relayed frame, at the time the frame reached the proxy
  (``dst`` is the frame's receiver: on the network a broadcast is n - 1 frames), and one
  deliver row per message of a delivered frame;
* a deliver row to an honest node takes the node's verdict, joined on (sender, receiver,
  the frame's link sequence number, the message's position in the frame), and the node's
  time: when it took the message, so the rows of one receiver are in the order it took
  them. A frame the receiver dropped whole at the link layer (bad MAC, replay) gives each
  of its messages that verdict. A deliver row with no verdict at all is "dropped" with
  reason ``not-taken`` if the receiver's spool is complete (the frame reached it after it
  had stopped reading, or was lost with a broken connection and not sent again), or
  ``unrecorded`` if the spool is missing or cut short (a node killed mid-run loses its
  last batch): its time is then when the proxy forwarded it;
* a deliver row to a corrupted node is "accepted" (its strategy takes whatever it is
  given), at the time the proxy handed it over;
* a node's own copies give a send and a deliver row each (``src == dst``, ``sent ==
  time``), as in the simulator.

Times are seconds of wall clock since the proxy started the run. Messages whose encoding the
protocol's decoder refuses (only a hostile sender makes them) get no rows: the trace's
columns come from a decoded message; the summary counts them. Missing and truncated spools
are normal after a crash: the merge never fails on one, keeps what is readable, and says
what it found per node in the summary (``message_trace``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack

from byzlab import plugins
from byzlab.adversary.proxy.recording import DELIVER, SEND
from byzlab.network.framing import FrameError, unpack_batch
from byzlab.network.messagelog import (
    ACCEPTED,
    DROPPED,
    FILE_NAME,
    REJECTED,
    MessageRecorder,
    MessagesMeta,
    decode_payload,
)
from byzlab.network.spool import SpoolContents, read_spool
from byzlab.network.tcp.verdicts import FRAME, OWN, SPOOL_NAME
from byzlab.node.protocol import DecodeError, Protocol

__all__ = ["PROXY_SPOOLS", "merge_real_trace"]

PROXY_SPOOLS = "messages"  # the proxy's spool directory, beside its statistics

_OUTCOMES = frozenset((ACCEPTED, DROPPED, REJECTED))
_packer = msgpack.Packer(use_bin_type=True, autoreset=True)


@dataclass(slots=True)
class _Item:
    """One message of a relayed frame: its encoding and what the decoder made of it."""

    payload: bytes
    msg: Any  # a message, or the decoder's DecodeError


@dataclass(slots=True)
class _Frame:
    """A frame's send row in the proxy's spool."""

    time: float
    src: int
    dst: int
    seq: int
    corrupt: bool
    items: list[_Item]


@dataclass(slots=True)
class _Verdict:
    time: float
    order: int
    outcome: int
    reason: str


def merge_real_trace(
    *,
    out_dir: Path,
    proxy_spools: Path,
    node_outs: Mapping[int, Path],
    protocol: Protocol,
    n: int,
    f: int,
    backend: str,
    start_wall: float | None,
) -> dict[str, Any]:
    """Merge the spools of a real run into ``out_dir/messages.parquet`` and return what the
    summary says about it (see the module docstring). ``proxy_spools`` is the proxy's spool
    directory, ``node_outs`` each honest node's output directory, ``start_wall`` the proxy's
    start of the run (wall clock; None if it never started)."""
    decoder = plugins.decoder(protocol, n)
    report: dict[str, Any] = {"file": FILE_NAME, "time_unit": "s"}
    frames: dict[tuple[int, int], _Frame] = {}
    delivers: list[tuple[float, int, int, int, bool]] = []  # time, file, link, dst, corrupted
    proxy_files: dict[str, str] = {}
    undecodable_frames = 0
    paths = sorted(proxy_spools.glob("proxy-*.spool"), key=_incarnation)
    for fi, path in enumerate(paths):
        spool = _read(path)
        proxy_files[path.name] = _state(spool)
        cols = [spool.data.get(c, []) for c in ("event", "time", "link", "src", "dst", "seq")]
        corrupt, payloads = spool.data.get("corrupt", []), spool.data.get("payload", [])
        for r, (event, t, link, src, dst, seq) in enumerate(zip(*cols, strict=True)):
            if not _ints(link, src, dst, seq) or not isinstance(t, float):
                continue
            if event == SEND and isinstance(payloads[r], bytes):
                batch = unpack_batch(payloads[r])
                if isinstance(batch, FrameError):
                    undecodable_frames += 1
                    batch = []
                items = [_Item(_packer.pack(obj), decoder(obj)) for obj in batch]
                frames[(fi, link)] = _Frame(t, src, dst, seq, corrupt[r] is True, items)
            elif event == DELIVER:
                delivers.append((t, fi, link, dst, corrupt[r] is True))
    report["proxy_spools"] = proxy_files
    nodes: dict[str, str] = {}
    verdicts: dict[tuple[int, int, int, int], _Verdict] = {}  # src, dst, seq, index
    own: dict[int, list[tuple[_Verdict, bytes]]] = {}
    complete: dict[int, bool] = {}
    for i, out in sorted(node_outs.items()):
        spool = _read(out / SPOOL_NAME)
        nodes[str(i)] = _state(spool)
        complete[i] = spool.complete
        own[i] = _node_verdicts(spool, i, verdicts)
    report["nodes"] = nodes

    # Every row as (sort key, what to record); the key puts sends before deliveries at the
    # same instant and keeps each receiver's rows in the order it took them (a node's own
    # copy is sent just before it takes it: its send is its own doing of the moment).
    rows: list[tuple[tuple[float, int, int, int, int], tuple[Any, ...]]] = []
    order = 0
    for (fi, link), frame in frames.items():
        for k in range(len(frame.items)):
            rows.append(((frame.time, 0, n + 1, order, 0), ("send", fi, link, k)))
            order += 1
    without = 0
    for t, fi, link, dst, to_corrupted in delivers:
        sent = frames.get((fi, link))
        if sent is None:
            continue  # its send row was in a batch that was lost
        for k, item in enumerate(sent.items):
            if isinstance(item.msg, DecodeError):
                continue
            taken = None
            if not to_corrupted:
                taken = verdicts.pop((sent.src, dst, sent.seq, k), None) or verdicts.get(
                    (sent.src, dst, sent.seq, FRAME)
                )
            if taken is not None:
                taken.time = max(taken.time, sent.time)  # a clock step must not reverse it
                v, key = taken, (taken.time, 1, dst, taken.order, 1)
            else:
                if to_corrupted:
                    v = _Verdict(t, order, ACCEPTED, "")
                else:
                    without += 1
                    reason = "not-taken" if complete.get(dst) else "unrecorded"
                    v = _Verdict(t, order, DROPPED, reason)
                key = (t, 1, n + 1, order, 1)
            rows.append((key, ("deliver", fi, link, k, dst, v)))
            order += 1
    for i, copies in own.items():
        for v, payload in copies:
            rows.append(((v.time, 1, i, v.order, 0), ("own-send", i, v.order, payload)))
            rows.append(((v.time, 1, i, v.order, 1), ("own-deliver", i, v.order, v)))
    rows.sort(key=lambda row: row[0])

    t0 = start_wall if start_wall is not None else (rows[0][0][0] if rows else 0.0)
    recorder = MessageRecorder(protocol)
    index: dict[tuple[Any, ...], int] = {}
    sends = deliveries = undecodable = 0
    for (t, *_), what in rows:
        kind = what[0]
        if kind == "send":
            fr = frames[(what[1], what[2])]
            item = fr.items[what[3]]
            if isinstance(item.msg, DecodeError):
                undecodable += 1
                continue
            index[what[1:]] = recorder.send(
                t - t0,
                fr.src,
                fr.dst,
                item.msg,
                corrupt=fr.corrupt,
                payload=item.payload,
                size=len(item.payload),
            )
            sends += 1
        elif kind == "deliver":
            _, fi, link, k, dst, v = what
            row = recorder.deliver(t - t0, index[(fi, link, k)], dst)
            recorder.settle(row, v.outcome, v.reason)
            deliveries += 1
        elif kind == "own-send":
            _, i, o, payload = what
            msg = decode_payload(payload, decoder)
            if isinstance(msg, DecodeError):
                undecodable += 1
                continue
            index[("own", i, o)] = recorder.send(
                t - t0, i, i, msg, corrupt=False, payload=payload, size=len(payload)
            )
            sends += 1
        else:
            _, i, o, v = what
            own_index = index.get(("own", i, o))
            if own_index is not None:
                row = recorder.deliver(t - t0, own_index, i)
                recorder.settle(row, v.outcome, v.reason)
                deliveries += 1
    recorder.write(out_dir / FILE_NAME, MessagesMeta(n, f, protocol.name, "s", backend))
    report.update(
        rows=len(recorder),
        sends=sends,
        deliveries=deliveries,
        deliveries_without_verdict=without,
        undecodable_messages=undecodable,
        undecodable_frames=undecodable_frames,
    )
    return report


def _incarnation(path: Path) -> int:
    digits = path.stem.rpartition("-")[2]
    return int(digits) if digits.isdigit() else 0


def _read(path: Path) -> SpoolContents:
    """A spool's rows; a missing or unreadable file is an empty spool that says why."""
    try:
        return read_spool(path)
    except FileNotFoundError:
        return SpoolContents(problem="missing")
    except OSError as exc:
        return SpoolContents(truncated=True, problem=f"unreadable: {exc.strerror}")


def _state(spool: SpoolContents) -> str:
    """One phrase for the summary: complete, missing, or what was wrong and what was kept."""
    if spool.complete:
        return "complete"
    if spool.problem == "missing":
        return "missing"
    state = "truncated" if spool.truncated else "incomplete"
    return f"{state}: {spool.problem}; {spool.rows} rows kept"


def _ints(*values: object) -> bool:
    return all(type(v) is int for v in values)


def _node_verdicts(
    spool: SpoolContents,
    node: int,
    verdicts: dict[tuple[int, int, int, int], _Verdict],
) -> list[tuple[_Verdict, bytes]]:
    """Node ``node``'s verdicts on its peers' messages into ``verdicts``; its own copies
    returned in order. Rows of the wrong shape (a spool cut in the middle of a value cannot
    give one, but nothing here trusts a file) are skipped."""
    own: list[tuple[_Verdict, bytes]] = []
    data = spool.data
    columns = [data.get(c, []) for c in ("time", "src", "seq", "index", "outcome", "reason")]
    payloads = data.get("payload", [])
    for order, (t, src, seq, k, outcome, reason) in enumerate(zip(*columns, strict=True)):
        if (
            not isinstance(t, float)
            or not _ints(src, seq, k)
            or outcome not in _OUTCOMES
            or not isinstance(reason, str)
        ):
            continue
        v = _Verdict(t, order, outcome, reason)
        if seq == OWN and src == node:
            if isinstance(payloads[order], bytes):
                own.append((v, payloads[order]))
        else:
            # the first verdict of a message wins: a frame sent again (a redelivery after a
            # broken connection) is a replay to the receiver, dropped whole at the link
            verdicts.setdefault((src, node, seq, k), v)
    return own
