"""The proxy's half of a real run's message trace: every frame it relayed, when it came in
and when it went on.

When the run records its messages (``messages_dir`` in proxy.json), the proxy writes two
rows per relayed frame to a spool (``byzlab.network.spool``; one file per incarnation,
``proxy-<incarnation>.spool``, so a restarted proxy adds to the trace instead of
overwriting it):

* ``send``, when the frame is handed to the scheduler (``Delivery.schedule``): a frame from
  an honest node as it arrived, or what a corrupted node the proxy runs sends; with the
  frame's sender, receiver, link sequence number and payload (the msgpack batch the MAC
  covers, exactly as the receiver will open it), and whether the sender is corrupted;
* ``deliver``, when the scheduler's delay is over and the frame goes to its receiver
  (``Delivery.deliver_now``): into the honest node's outbox, or to a corrupted node's
  strategy, which accepts what it is given (``to_corrupted``).

Between two corrupted nodes no frame exists: the messages themselves are passed on, and the
payload is their encoding, packed as a batch would be, with sequence number -1.

A frame the proxy tampered with (``tamper = "flip-byte"``: a copy with a flipped byte goes
ahead of the original, see ``runtime.py``) is a frame of its own on the wire: the copy gets
its own link number and rows, event ``TAMPERED`` for its send, with the original's payload
(what its messages are: the receiver drops the copy at the MAC check without opening it),
so the trace shows each of its messages dropped with the receiver's link-layer reason.

The proxy records frames, not messages: it decodes nothing for the trace (the census and
the scheduler go on as without it), the hot path gains a few list appends per frame, and
the orchestrator splits the payloads into messages afterwards
(``byzlab.orchestration.realtrace``). A frame's rows share a ``link`` number (per
incarnation), and the receiver's verdicts are joined on (sender, receiver, sequence number).
Frames dropped before delivery (the receiver halted and left, or it stopped reading: see
``delivery.py``, "Memory bounds") have a send row and no deliver row. Times are wall-clock
seconds on the nodes' scale (``time.time()``) but read from the monotonic clock plus the
offset between the two at the proxy's start, the way the nodes time their verdicts: a step
of the wall clock mid-run (NTP) cannot put a frame's delivery before its send.

The spool goes to disk in batches and on the proxy's statistics timer (``flush``), so a
proxy killed mid-run loses only its last fraction of a second of rows.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from byzlab.network.framing import (
    FRAME_HEADER,
    HEADER_SIZE,
    LENGTH_PREFIX_SIZE,
    MAC_SIZE,
    pack_batch,
)
from byzlab.network.spool import Spool

__all__ = ["COLUMNS", "DELIVER", "SEND", "TAMPERED", "RelayLog", "spool_name"]

COLUMNS: Final = ("event", "time", "link", "src", "dst", "seq", "corrupt", "payload")
SEND: Final = 0
DELIVER: Final = 1  # ``corrupt`` on a deliver row: the receiver is a corrupted node
TAMPERED: Final = 2  # the send of a tampered copy of a frame


def spool_name(incarnation: int) -> str:
    """The spool file of the proxy's ``incarnation`` (1 for the first)."""
    return f"proxy-{incarnation}.spool"


class RelayLog:
    """The relayed frames of one proxy incarnation, spooled to ``directory``.

    ``corrupted(i)``: node i is run by the adversary now (its own or taken over);
    ``encode(msg)``: the protocol's wire encoding, for messages between corrupted nodes."""

    def __init__(
        self,
        directory: Path,
        incarnation: int,
        *,
        corrupted: Callable[[int], bool],
        encode: Callable[[Any], object],
    ) -> None:
        self._spool = Spool(
            directory / spool_name(incarnation),
            COLUMNS,
            meta={"incarnation": incarnation},
            binary="payload",
        )
        self._corrupted = corrupted
        self._encode = encode
        self._links = 0
        # The frame's link -> the link of its first tampered copy (the copies' links come
        # just before the frame's own).
        self._copies: dict[int, int] = {}
        self._offset = time.time() - time.monotonic()

    def sent(self, src: int, dst: int, frames: list[bytes], msgs: list[Any] | None) -> int:
        """A frame (the last of ``frames``: the original, after any tampered copy; see
        ``runtime.py``) or, with no frames, ``msgs`` from ``src`` for ``dst`` is scheduled;
        returns its link number."""
        now = time.monotonic() + self._offset
        corrupt = self._corrupted(src)
        if frames:
            frame = frames[-1]
            seq = FRAME_HEADER.unpack_from(frame, LENGTH_PREFIX_SIZE)[3]
            payload = frame[LENGTH_PREFIX_SIZE + HEADER_SIZE : len(frame) - MAC_SIZE]
            if len(frames) > 1:
                self._copies[self._links + len(frames) - 1] = self._links
                for _ in frames[:-1]:
                    self._spool.add(TAMPERED, now, self._links, src, dst, seq, corrupt, payload)
                    self._links += 1
        else:
            seq = -1
            payload = pack_batch([self._encode(m) for m in msgs or ()])
        link = self._links
        self._links += 1
        self._spool.add(SEND, now, link, src, dst, seq, corrupt, payload)
        return link

    def delivered(self, link: int, src: int, dst: int, *, to_corrupted: bool) -> None:
        """Frame ``link`` (and its tampered copies, which go ahead of it) went on to ``dst``
        (a corrupted node's strategy if ``to_corrupted``)."""
        now = time.monotonic() + self._offset
        if self._copies:
            for copy in range(self._copies.pop(link, link), link):
                self._spool.add(DELIVER, now, copy, src, dst, -1, to_corrupted, None)
        self._spool.add(DELIVER, now, link, src, dst, -1, to_corrupted, None)

    def flush(self) -> None:
        """Put the rows held in memory on disk (the proxy's statistics timer)."""
        self._spool.flush()

    def close(self) -> None:
        self._spool.close()
