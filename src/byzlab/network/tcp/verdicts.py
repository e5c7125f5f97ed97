"""What an honest node process did with each message it took: its verdicts, spooled for the
message trace of a real run.

The proxy records what it relayed (``byzlab.adversary.proxy.recording``); only the receiver
knows what became of it. A node that records (``messages`` in node.json) writes one row per
message it took, in the order it took them, to ``messages.spool`` in its output directory
(``byzlab.network.spool``: batches on disk as they fill and on the node's snapshot timer,
so memory stays flat and a killed node loses at most the rows of its last fraction of a
second):

* a message of a peer's frame: the frame's sender and link sequence number and the message's
  position in the frame, which is how the orchestrator finds the proxy's row of the same
  message (``byzlab.orchestration.realtrace``), and the verdict: "rejected" with the
  decoder's reason if it failed validation, "dropped" with reason "halted" if the node had
  halted, else what the node's own counters say ``receive`` did
  (``byzlab.network.messagelog.VerdictWatch``);
* a frame dropped whole at the link layer (a bad MAC, a replay): position -1, "dropped",
  reason ``link-<why>`` (``byzlab.network.auth.Reject``), when its header names a peer;
* the node's own copy of what it sent itself (it never crosses the network, so nobody else
  sees it): sequence number -1, with the message's encoding as payload, since the trace must
  hold every input of the node to replay it.

Times are wall-clock seconds (the node's start plus the state machine's ``now``), so the
rows of one node never go back in time and the orchestrator can put them on the proxy's
time line.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Final

from byzlab.network.messagelog import VerdictWatch
from byzlab.network.spool import Spool

__all__ = ["COLUMNS", "FRAME", "OWN", "SPOOL_NAME", "VerdictLog"]

SPOOL_NAME: Final = "messages.spool"
COLUMNS: Final = ("time", "src", "seq", "index", "outcome", "reason", "payload")
OWN: Final = -1  # the seq of the node's own copies
FRAME: Final = -1  # the index of a verdict on a whole frame


class VerdictLog:
    """Node ``me``'s verdicts, spooled to ``out_dir/messages.spool``; ``node`` is the state
    machine whose counters give ``receive``'s verdict."""

    def __init__(self, out_dir: Path, me: int, node: object) -> None:
        self.me = me
        self._watch = VerdictWatch(node)
        self._spool = Spool(out_dir / SPOOL_NAME, COLUMNS, meta={"node": me}, binary="payload")
        # The wall clock at the state machine's time 0: now, until the run starts (frames
        # taken before the start are timed from here), then the start (``started``).
        self.start_wall = time.time()

    def started(self, start_wall: float) -> None:
        """The protocol started at ``start_wall``: later rows are timed from there."""
        self.start_wall = start_wall

    def received(self, now: float, src: int, seq: int, index: int) -> None:
        """The node's ``receive`` of message ``index`` of frame ``seq`` from ``src`` at
        ``now`` (the state machine's clock) just returned."""
        outcome, reason = self._watch.verdict()
        self._spool.add(self.start_wall + now, src, seq, index, outcome, reason, None)

    def refused(
        self, now: float, src: int, seq: int, index: int, outcome: int, reason: str
    ) -> None:
        """Message ``index`` of a frame (or, at ``FRAME``, the whole frame) did not reach the
        state machine: ``outcome`` is ``REJECTED`` or ``DROPPED``."""
        self._spool.add(self.start_wall + now, src, seq, index, outcome, reason, None)

    def own(self, now: float, payload: bytes) -> None:
        """The node's ``receive`` of its own copy (encoded as ``payload``) just returned."""
        outcome, reason = self._watch.verdict()
        self._spool.add(self.start_wall + now, self.me, OWN, 0, outcome, reason, payload)

    def flush(self) -> None:
        """Put the rows held in memory on disk (the node's snapshot timer)."""
        self._spool.flush()

    def close(self) -> None:
        self._spool.close()
