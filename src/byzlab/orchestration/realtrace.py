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
  time``), as in the simulator;
* a tampered copy of a frame (the proxy's ``tamper``) is a frame of its own: its messages
  get a send and a deliver row each, and the deliver rows take the receiver's verdict on
  the whole frame (``link-bad_mac``), never the verdicts of the original's messages;
* a frame relayed more than once (a node sends its recent frames again to a restarted
  proxy, and the first proxy may have handed its copy over or not) gives the receiver's
  verdicts to its copies by time, the latest first: each copy takes only verdicts given
  after it was handed over, so the copy lost with the dead proxy is ``not-taken``.

Times are seconds of wall clock since the proxy started the run. Messages whose encoding the
protocol's decoder refuses (only a hostile sender makes them) get no rows: the trace's
columns come from a decoded message; the summary counts them.

Nothing in a spool is trusted, and the merge never fails the run on one. Missing and
truncated spools are normal after a crash: the merge keeps what is readable and says what it
found per source in the summary (``message_trace_sources``). A spool without a column the
merge needs is unusable (its state says which). A row that cannot be one of ours (a time
that is not a finite number, a node id outside [0, n), a second send row for one link, a
delivery that does not match its frame, a node's verdict on a frame from itself) is dropped
and counted per source (``rejected_spool_rows``); a deliver row whose send row is lost
(``deliveries_without_send``) and a node's verdict that matches no delivery
(``verdicts_without_delivery``, per node) are counted too. Spools larger together than
``MAX_SPOOL_BYTES`` are not merged (the merge holds them in memory): the summary says so
in one line (``refused``) and the run has no ``messages.parquet``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from math import isfinite
from pathlib import Path
from typing import Any

import msgpack

from byzlab import plugins
from byzlab.adversary.proxy import recording
from byzlab.adversary.proxy.recording import DELIVER, SEND, TAMPERED
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
from byzlab.network.tcp import verdicts as node_spool
from byzlab.network.tcp.verdicts import FRAME, OWN, SPOOL_NAME
from byzlab.node.protocol import DecodeError, Protocol

__all__ = ["MAX_SPOOL_BYTES", "PROXY_SPOOLS", "merge_real_trace"]

PROXY_SPOOLS = "messages"  # the proxy's spool directory, beside its statistics
# The most spool bytes merged: about five million deliveries at ~50 bytes each, which the
# merge holds in memory as Python objects (some GB) and takes ~15 minutes over.
MAX_SPOOL_BYTES = 256 << 20

# how far before the proxy's stamp of a handover a node's verdict on it may be stamped
# (resent frames, in merge_real_trace)
HANDOVER_SLACK_S = 0.01
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
    tampered: bool
    items: list[_Item]
    delivered: bool = False


@dataclass(slots=True)
class _Verdict:
    time: float
    order: int
    outcome: int
    reason: str


@dataclass(slots=True)
class _Verdicts:
    """The nodes' verdicts on their peers' messages, keyed (src, dst, seq, index): one per
    message (the first wins), and per frame a list in the order they were given (a frame
    refused at the link layer: each replayed or tampered copy has its own)."""

    messages: dict[tuple[int, int, int, int], _Verdict]
    frames: dict[tuple[int, int, int, int], list[_Verdict]]
    duplicates: dict[int, int]  # per node: verdicts on a message that already had one

    def frame(self, key: tuple[int, int, int, int]) -> _Verdict | None:
        queue = self.frames.get(key)
        return queue.pop(0) if queue else None

    def latest_frame(self, key: tuple[int, int, int, int], since: float) -> _Verdict | None:
        """The last verdict on frame ``key`` given at ``since`` or later (taken)."""
        queue = self.frames.get(key, [])
        for i in range(len(queue) - 1, -1, -1):
            if queue[i].time >= since:
                return queue.pop(i)
        return None

    def left(self, nodes: Mapping[int, Any]) -> dict[str, int]:
        """Per node: its verdicts no delivery took."""
        left = dict.fromkeys(nodes, 0)
        for _, dst, _, _ in self.messages:
            left[dst] += 1
        for (_, dst, _, _), queue in self.frames.items():
            left[dst] += len(queue)
        return {str(i): count + self.duplicates.get(i, 0) for i, count in left.items()}


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
    max_spool_bytes: int = MAX_SPOOL_BYTES,
) -> dict[str, Any]:
    """Merge the spools of a real run into ``out_dir/messages.parquet`` and return what the
    summary says about it (see the module docstring; ``file`` is None if nothing was
    written). ``proxy_spools`` is the proxy's spool directory, ``node_outs`` each honest
    node's output directory, ``start_wall`` the proxy's start of the run (wall clock; None
    if it never started)."""
    paths = sorted(proxy_spools.glob("proxy-*.spool"), key=_incarnation)
    total = sum(_size(p) for p in [*paths, *(out / SPOOL_NAME for out in node_outs.values())])
    if total > max_spool_bytes:
        return {
            "file": None,
            "refused": f"the spools hold {total} bytes, over the merge's limit of "
            f"{max_spool_bytes}: no messages.parquet",
        }
    decoder = plugins.decoder(protocol, n)
    report: dict[str, Any] = {"file": FILE_NAME, "time_unit": "s"}
    rejected: dict[str, int] = {}
    frames: dict[tuple[int, int], _Frame] = {}
    delivers: list[tuple[float, int, int, int, bool]] = []  # time, file, link, dst, corrupted
    proxy_files: dict[str, str] = {}
    undecodable_frames = without_send = 0
    # (src, dst, seq) of the frames relayed once, and of those relayed more than once (by
    # proxies one after the other: a node sends its recent frames again after a restart)
    once: set[tuple[int, int, int]] = set()
    resent: set[tuple[int, int, int]] = set()
    for fi, path in enumerate(paths):
        spool = _read(path, recording.COLUMNS)
        proxy_files[path.name] = _state(spool)
        bad = 0
        data = spool.data
        cols = [data[c] for c in ("event", "time", "link", "src", "dst", "corrupt")]
        seqs, payloads = data["seq"], data["payload"]
        for r, (event, t, link, src, dst, corrupt) in enumerate(zip(*cols, strict=True)):
            if (
                type(t) is not float
                or not isfinite(t)
                or type(link) is not int
                or type(src) is not int
                or type(dst) is not int
                or not (0 <= src < n and 0 <= dst < n)
            ):
                bad += 1
            elif event == DELIVER:
                delivers.append((t, fi, link, dst, corrupt is True))
            elif (
                event not in (SEND, TAMPERED)
                or type(seqs[r]) is not int
                or not isinstance(payloads[r], bytes)
                or (fi, link) in frames
            ):
                bad += 1
            else:
                batch = unpack_batch(payloads[r])
                if isinstance(batch, FrameError):
                    undecodable_frames += 1
                    batch = []
                items = [_Item(_packer.pack(obj), decoder(obj)) for obj in batch]
                tampered = event == TAMPERED
                frames[(fi, link)] = _Frame(t, src, dst, seqs[r], corrupt is True, tampered, items)
                if not tampered and seqs[r] >= 0:
                    if (src, dst, seqs[r]) in once:
                        resent.add((src, dst, seqs[r]))
                    once.add((src, dst, seqs[r]))
        if bad:
            rejected[path.name] = bad
    report["proxy_spools"] = proxy_files
    nodes: dict[str, str] = {}
    verdicts = _Verdicts({}, {}, {})
    own: dict[int, list[tuple[_Verdict, bytes]]] = {}
    complete: dict[int, bool] = {}
    for i, out in sorted(node_outs.items()):
        spool = _read(out / SPOOL_NAME, node_spool.COLUMNS)
        nodes[str(i)] = _state(spool)
        complete[i] = spool.complete
        own[i], bad = _node_verdicts(spool, i, n, verdicts)
        if bad:
            rejected[f"node {i}"] = bad
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

    def deliver(
        t: float, fi: int, link: int, sent: _Frame, taken: list[_Verdict | None], to: bool
    ) -> None:
        """The deliver rows of frame ``link`` of proxy spool ``fi`` (``to``: to a corrupted
        node), with the receiver's verdicts ``taken``."""
        nonlocal order, without
        dst = sent.dst
        for k, item in enumerate(sent.items):
            if isinstance(item.msg, DecodeError):
                continue
            v = taken[k]
            if v is not None:
                v.time = max(v.time, sent.time)
                key = (v.time, 1, dst, v.order, 1)
            else:
                if to:
                    v = _Verdict(t, order, ACCEPTED, "")
                else:
                    without += 1
                    reason = "not-taken" if complete.get(dst) else "unrecorded"
                    v = _Verdict(t, order, DROPPED, reason)
                key = (t, 1, n + 1, order, 1)
            rows.append((key, ("deliver", fi, link, k, dst, v)))
            order += 1

    messages = verdicts.messages
    again: list[tuple[float, int, int, _Frame]] = []
    for t, fi, link, dst, to_corrupted in delivers:
        sent = frames.get((fi, link))
        if sent is None:
            without_send += 1  # its send row was in a batch that was lost, or rejected
            continue
        if sent.dst != dst or sent.delivered:
            rejected[paths[fi].name] = rejected.get(paths[fi].name, 0) + 1
            continue
        sent.delivered = True
        # Neither a wall-clock step nor a hostile file puts a delivery before its send.
        t = max(t, sent.time)
        taken: list[_Verdict | None] = [None] * len(sent.items)
        if not to_corrupted:
            if resent and (sent.src, dst, sent.seq) in resent and not sent.tampered:
                again.append((t, fi, link, sent))
                continue
            if not sent.tampered:
                for k in range(len(sent.items)):
                    taken[k] = messages.pop((sent.src, dst, sent.seq, k), None)
            if not any(taken):
                # dropped whole at the link layer (bad MAC, replay): every message with it
                whole = verdicts.frame((sent.src, dst, sent.seq, FRAME))
                taken = [whole] * len(sent.items)
        deliver(t, fi, link, sent, taken, to_corrupted)
    # A frame delivered more than once (a proxy died after handing it over, and the node
    # sent it again to the next): the verdicts go to the copies by time, the latest first,
    # so a verdict on a message goes to the last copy delivered before it, not to the
    # first in the files (which may be the one lost with the proxy).
    # The handover is stamped by the proxy after its write and the verdict by the node on
    # its own clock: on a loaded machine the node can take the frame and stamp its verdict
    # a little before the proxy gets to stamp the handover, so a verdict counts as given
    # after a handover up to HANDOVER_SLACK_S before it (copies of one frame are far more
    # apart: a proxy's restart and the node's reconnection).
    for t, fi, link, sent in sorted(again, key=lambda d: d[0], reverse=True):
        keys = [(sent.src, sent.dst, sent.seq, k) for k in range(len(sent.items))]
        since = t - HANDOVER_SLACK_S
        taken = [v if (v := messages.get(key)) and v.time >= since else None for key in keys]
        for key, v in zip(keys, taken, strict=True):
            if v is not None:
                del messages[key]
        if not any(taken):
            whole = verdicts.latest_frame((sent.src, sent.dst, sent.seq, FRAME), since)
            taken = [whole] * len(sent.items)
        deliver(t, fi, link, sent, taken, False)
    for i, copies in own.items():
        for v, payload in copies:
            rows.append(((v.time, 1, i, v.order, 0), ("own-send", i, v.order, payload)))
            rows.append(((v.time, 1, i, v.order, 1), ("own-deliver", i, v.order, v)))
    rows.sort(key=lambda row: row[0])

    if start_wall is not None and isfinite(start_wall):
        t0 = start_wall
    else:
        t0 = rows[0][0][0] if rows else 0.0
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
        deliveries_without_send=without_send,
        verdicts_without_delivery=verdicts.left(node_outs),
        rejected_spool_rows=rejected,
        undecodable_messages=undecodable,
        undecodable_frames=undecodable_frames,
    )
    return report


def _incarnation(path: Path) -> int:
    digits = path.stem.rpartition("-")[2]
    return int(digits) if digits.isdigit() else 0


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0  # missing: said per source when it is read


def _read(path: Path, columns: tuple[str, ...]) -> SpoolContents:
    """A spool's rows, with every one of ``columns``; a missing or unreadable file, or one
    without all of ``columns``, is an empty spool that says why."""
    empty: dict[str, list[Any]] = {c: [] for c in columns}
    try:
        spool = read_spool(path)
    except FileNotFoundError:
        return SpoolContents(data=empty, problem="missing")
    except OSError as exc:
        return SpoolContents(data=empty, truncated=True, problem=f"unreadable: {exc.strerror}")
    lacking = [c for c in columns if c not in spool.data]
    if lacking and spool.columns:
        return SpoolContents(
            data=empty,
            truncated=True,
            problem=f"unusable: no column {', '.join(lacking)} ({spool.rows} rows ignored)",
        )
    if lacking:
        spool.data = empty  # not a spool: nothing was read
    return spool


def _state(spool: SpoolContents) -> str:
    """One phrase for the summary: complete, missing, or what was wrong and what was kept."""
    if spool.complete:
        return "complete"
    if spool.problem == "missing":
        return "missing"
    if spool.problem.startswith("unusable"):
        return spool.problem
    state = "truncated" if spool.truncated else "incomplete"
    return f"{state}: {spool.problem}; {spool.rows} rows kept"


def _node_verdicts(
    spool: SpoolContents, node: int, n: int, verdicts: _Verdicts
) -> tuple[list[tuple[_Verdict, bytes]], int]:
    """Node ``node``'s verdicts on its peers' messages into ``verdicts``; its own copies
    returned in order, and how many rows were rejected (rows no node writes: a time that is
    not finite, an id outside [0, n), a frame from itself, an own copy without its
    payload)."""
    own: list[tuple[_Verdict, bytes]] = []
    data = spool.data
    columns = [data[c] for c in ("time", "src", "seq", "index", "outcome", "reason")]
    payloads = data["payload"]
    messages, frames, bad = verdicts.messages, verdicts.frames, 0
    for order, (t, src, seq, k, outcome, reason) in enumerate(zip(*columns, strict=True)):
        if (
            type(t) is not float
            or not isfinite(t)
            or type(src) is not int
            or not 0 <= src < n
            or type(seq) is not int
            or type(k) is not int
            or k < FRAME
            or outcome not in _OUTCOMES
            or not isinstance(reason, str)
        ):
            bad += 1
            continue
        v = _Verdict(t, order, outcome, reason)
        if src == node:
            if seq == OWN and isinstance(payloads[order], bytes):
                own.append((v, payloads[order]))
            else:
                bad += 1
        elif seq == OWN:
            bad += 1
        elif k == FRAME:
            frames.setdefault((src, node, seq, k), []).append(v)
        elif messages.setdefault((src, node, seq, k), v) is not v:
            # a message has one verdict: a frame sent again is a replay to the receiver,
            # dropped whole at the link (a frame verdict)
            verdicts.duplicates[node] = verdicts.duplicates.get(node, 0) + 1
    return own, bad
