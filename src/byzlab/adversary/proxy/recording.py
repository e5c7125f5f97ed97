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

The proxy records frames, not messages: it decodes nothing for the trace (the census and
the scheduler go on as without it), the hot path gains a few list appends per frame, and
the orchestrator splits the payloads into messages afterwards
(``byzlab.orchestration.realtrace``). A frame's rows share a ``link`` number (per
incarnation), and the receiver's verdicts are joined on (sender, receiver, sequence number).
Frames dropped before delivery (the receiver halted and left, or it stopped reading: see
``delivery.py``, "Memory bounds") have a send row and no deliver row. Times are wall-clock
seconds (``time.time()``), the clock the nodes' verdicts use too.
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

__all__ = ["COLUMNS", "DELIVER", "SEND", "RelayLog", "spool_name"]

COLUMNS: Final = ("event", "time", "link", "src", "dst", "seq", "corrupt", "payload")
SEND: Final = 0
DELIVER: Final = 1  # ``corrupt`` on a deliver row: the receiver is a corrupted node


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

    def sent(self, src: int, dst: int, frames: list[bytes], msgs: list[Any] | None) -> int:
        """A frame (the last of ``frames``: the original, after any tampered copy; see
        ``runtime.py``) or, with no frames, ``msgs`` from ``src`` for ``dst`` is scheduled;
        returns its link number."""
        link = self._links
        self._links += 1
        if frames:
            frame = frames[-1]
            seq = FRAME_HEADER.unpack_from(frame, LENGTH_PREFIX_SIZE)[3]
            payload = frame[LENGTH_PREFIX_SIZE + HEADER_SIZE : len(frame) - MAC_SIZE]
        else:
            seq = -1
            payload = pack_batch([self._encode(m) for m in msgs or ()])
        self._spool.add(SEND, time.time(), link, src, dst, seq, self._corrupted(src), payload)
        return link

    def delivered(self, link: int, src: int, dst: int, *, to_corrupted: bool) -> None:
        """Frame ``link`` went on to ``dst`` (a corrupted node's strategy if
        ``to_corrupted``)."""
        self._spool.add(DELIVER, time.time(), link, src, dst, -1, to_corrupted, None)

    def close(self) -> None:
        self._spool.close()
