"""Holding frames for the scheduler's delay: the proxy's timers, queues and memory bounds.

*Scheduling.* A frame from s to d is held for a delay chosen by the same scheduler objects
the simulator uses (``byzlab.adversary.schedulers``), held to [0, delta] with delta = 1
virtual unit by the runtime's one bound (``byzlab.runtime.delay``, as in the simulator);
the delay is then scaled by ``delta_s`` wall-clock seconds (``clock.py``) and realised with
an event-loop timer (deliveries scheduled in the same loop turn with the same delay share
one timer). A frame batches several messages; for a scheduler that inspects messages, its
delay is the maximum of ``scheduler.delay`` over them (the frame arrives when its slowest
message may arrive, so no message arrives earlier than the scheduler allowed; each message
is still delayed at most delta). A scheduler that does not (``inspects_messages = False``:
its delay depends only on sender, receiver and time) is asked once per frame. A frame due
at once, with nothing of its direction in flight, goes straight to its destination's queue.

Ordering limits. Receivers accept a frame only within a 4096-frame anti-replay window per
direction (``network/auth.py``), so a frame held back behind 4096 later frames of the same
direction would be dropped as stale: a loss. The proxy therefore keeps, per direction, at
most ``max_reorder`` (1024) frames in flight; when one more arrives, the oldest is delivered
at once (counted as ``forced_in_order``). Every frame in flight is then among the last 1024
of its direction, well inside the window, whatever the scheduler asks for.

Memory bounds. Per honest destination, frames scheduled or queued for it are capped at
``max_queue_bytes`` (256 MiB). A frame that would take a destination over its cap is dropped
*for that destination alone* and counted (``dropped_over_cap``, and per node in
``overflowed``, with a warning the first time); every other destination is served as
before, and the proxy never stops reading any node. Why drop rather than push back: one
connection carries a sender's frames for every destination, so stopping to read a sender
because one of its destinations is full stops its frames to everybody, and since every
honest node broadcasts, one receiver that stopped reading (SIGSTOP, a wedged host) stalled
the whole run: with a corrupted node sending it 320 frames of 1 MiB, nothing was relayed
and every honest node timed out (``tests/test_hostile_backpressure.py``). A node that has
256 MiB waiting for it has not read for a long time (a run relays a few MiB per second);
in the model that is a crash fault, counted toward f, and the frames it loses are the
messages a crashed node never processes. A node that is merely slow never gets there: the
cap is two orders of magnitude above what a live node has in flight. The proxy's memory
for relaying is thus at most, per honest destination, ``max_queue_bytes`` in scheduled
and queued frames, plus ``redeliver_bytes`` (32 MiB) and ``redeliver_frames`` (1024) in the
frames kept for redelivery (``Outbox.remember``), plus the socket's write buffer (the 64 KiB
high-water mark and one write of at most 256 KiB plus a frame); at most f destinations can
be crashed, so in practice f x 288 MiB on top of live traffic (measured: 320 frames of
1 MiB for a stopped node at n = 7, proxy peak RSS 313 MiB, 64 frames dropped, the other
five honest nodes decided in 0.6 s; ``benchmarks/bench_attacks_infra.py``). Frames for a
node that halted and disconnected are dropped: a halted node processes nothing. Frame
bodies are limited to 1 MiB by the framing layer.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from byzlab.adversary.proxy.clock import RunClock
from byzlab.adversary.proxy.config import ProxyConfig
from byzlab.adversary.proxy.recording import RelayLog
from byzlab.adversary.proxy.stats import ProxyStats
from byzlab.node.messages import DecideMsg, Message
from byzlab.runtime.delay import DelayBound
from byzlab.runtime.interfaces import DeliveryPolicy

__all__ = ["Delivery", "Outbox", "Pending"]

log = logging.getLogger("byzlab.proxy")

# What a scheduler that does not inspect messages is given for an undecoded frame (by its
# contract, `inspects_messages = False`, its delay does not depend on the message).
_UNINSPECTED: Message = DecideMsg(0)
_DELTA = 1.0  # the model's bound on a delay, in virtual units (scaled by delta_s)


@dataclass(slots=True, eq=False)
class Pending:
    """One scheduled delivery: frames (length-prefixed) or, between two Byzantine nodes,
    message objects that never leave the proxy."""

    src: int
    dst: int
    frames: list[bytes]
    msgs: list[Message] | None  # None: not decoded (nobody inspects them)
    count: int  # messages in the frames (or in msgs)
    held: int
    link: int = -1  # its rows in the message trace (recording.py), if recorded
    delivered: bool = False
    handle: asyncio.Handle | asyncio.TimerHandle | None = None


@dataclass(slots=True, eq=False)
class _Group:
    """Deliveries scheduled in one turn of the loop with the same delay: one timer."""

    seconds: float
    scheduled_at: float
    pendings: list[Pending]
    handle: asyncio.Handle | asyncio.TimerHandle | None = None


@dataclass(slots=True, eq=False)
class Outbox:
    """Frames due for one honest node, and the bytes held for it (scheduled + queued)."""

    frames: deque[bytes] = field(default_factory=deque)
    held: int = 0
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    recent: deque[bytes] = field(default_factory=deque)  # the last frames written
    recent_bytes: int = 0

    def remember(self, chunk: list[bytes], *, max_frames: int, max_bytes: int) -> None:
        """Keep the last frames written to the node (at most ``max_frames`` and
        ``max_bytes``) to write them again if its connection breaks."""
        recent = self.recent
        recent.extend(chunk)
        self.recent_bytes += sum(len(f) for f in chunk)
        while recent and (len(recent) > max_frames or self.recent_bytes > max_bytes):
            self.recent_bytes -= len(recent.popleft())


class Delivery:
    """Holds every relayed frame (and every message between corrupted nodes) for the
    scheduler's delay, then puts it in its honest destination's ``Outbox`` or hands it to
    ``to_corrupted``. ``gone(d)``: d halted and disconnected, so frames for it are dropped;
    ``on_error`` is told about an exception in a delivery (a bug, in a strategy say).
    ``to_honest(pending)``, if given, sees each delivery to an honest node first (adaptive
    corruption's shadow replicas, ``shadows.py``) and says False once the node has been
    taken over: the delivery then goes to ``to_corrupted``. ``log``, if given, records
    every frame scheduled and delivered (the message trace, ``recording.py``)."""

    def __init__(
        self,
        config: ProxyConfig,
        scheduler: DeliveryPolicy,
        stats: ProxyStats,
        clock: RunClock,
        honest_ids: list[int],
        *,
        to_corrupted: Callable[[Pending], None],
        gone: Callable[[int], bool],
        on_error: Callable[[BaseException], None],
        to_honest: Callable[[Pending], bool] | None = None,
        log: RelayLog | None = None,
    ) -> None:
        self.config = config
        self.scheduler = scheduler
        self._bound = DelayBound(scheduler, _DELTA)
        self.stats = stats
        self.clock = clock
        self.outboxes: dict[int, Outbox] = {i: Outbox() for i in honest_ids}
        self._to_corrupted = to_corrupted
        self._to_honest = to_honest
        self._log = log
        self._gone = gone
        self._on_error = on_error
        self._directions: dict[tuple[int, int], deque[Pending]] = {}
        self._group: _Group | None = None  # the timer deliveries of this turn may join

    def held_messages(self) -> int:
        """Messages held for their delay now (scheduled, not yet delivered)."""
        return sum(p.count for q in self._directions.values() for p in q if not p.delivered)

    def cancel(self) -> None:
        """Cancel every timer (the proxy is stopping)."""
        for pending in self._directions.values():
            for p in pending:
                if p.handle is not None:
                    p.handle.cancel()

    def schedule(
        self,
        src: int,
        dst: int,
        frames: list[bytes],
        msgs: list[Message] | None,
        count: int,
    ) -> None:
        """Hold a delivery for the scheduler's delay. ``msgs`` None: the frames were not
        decoded (the scheduler does not inspect messages), so the delay is drawn once for
        the frame; otherwise it is the largest of the delays of its messages."""
        elapsed = self.clock.elapsed()
        now = self.clock.virtual(elapsed)
        # The delays come through the runtime's DelayBound: within [0, delta] whatever the
        # scheduler says, the same rule as in the simulator.
        delay = self._bound.delay
        if not count:
            virtual = _DELTA
        elif msgs is None:
            virtual = delay(src, dst, _UNINSPECTED, now)
        else:
            virtual = max(delay(src, dst, m, now) for m in msgs)
        counts = self.stats.counts
        box = self.outboxes.get(dst)
        held = len(frames[0]) if len(frames) == 1 else sum(len(f) for f in frames)
        link = -1 if self._log is None else self._log.sent(src, dst, frames, msgs)
        if box is not None and box.held + held > self.config.max_queue_bytes:
            self._over_cap(dst, box, held)
            return
        counts["messages"] += count
        self.stats.timeline.add(elapsed, count)
        if frames:
            counts["bytes"] += len(frames[-1])
        counts["frames_relayed"] += 1
        self.stats.relayed(src, dst, count, len(frames[-1]) if frames else 0)
        if msgs is not None:
            self.stats.count(msgs)
        if box is not None and self._gone(dst):
            counts["dropped_for_halted"] += 1
            return
        if box is not None:
            box.held += held
            if box.held > self.stats.queue_peak.get(dst, 0):
                self.stats.queue_peak[dst] = box.held
        pending = Pending(src, dst, frames, msgs, count, held, link)
        queue = self._directions.get((src, dst))
        if queue is None:
            queue = self._directions[(src, dst)] = deque()
        while queue and queue[0].delivered:
            queue.popleft()
        seconds = virtual * self.config.delta_s
        if seconds <= 0 and not queue and box is not None:
            # Due now, nothing of this direction in flight: straight into the outbox, no
            # timer (the order is the same as with call_soon; a corrupted destination still
            # goes through the loop, so its strategy never runs inside this call).
            self._deliver(pending)
            return
        while len(queue) >= self.config.max_reorder:
            oldest = queue.popleft()
            if not oldest.delivered:
                # Its timer may serve other deliveries too: it skips this one when it fires.
                counts["forced_in_order"] += 1
                self.deliver_now(oldest)
            while queue and queue[0].delivered:
                queue.popleft()
        loop = asyncio.get_running_loop()
        now_s = loop.time()
        group = self._group
        if group is not None and group.seconds == seconds and group.scheduled_at == now_s:
            # Same delay, scheduled in the same turn of the loop (uvloop's clock only moves
            # between turns): one more delivery for the same timer, in order.
            group.pendings.append(pending)
        else:
            group = self._group = _Group(seconds, now_s, [pending])
            if seconds <= 0:
                group.handle = loop.call_soon(self._deliver_group, group)  # keeps FIFO order
            else:
                group.handle = loop.call_later(seconds, self._deliver_group, group)
        pending.handle = group.handle
        queue.append(pending)

    def _over_cap(self, dst: int, box: Outbox, size: int) -> None:
        """A frame for a node that has ``max_queue_bytes`` waiting already: dropped for that
        node alone and counted (see "Memory bounds"); nobody else waits for it."""
        if not self.stats.overflowed[dst]:
            log.warning(
                "proxy: node %d is not reading (%d bytes waiting for it); frames "
                "over the cap are dropped for it: a crash fault",
                dst,
                box.held,
            )
        self.stats.overflowed[dst] += 1
        self.stats.counts["dropped_over_cap"] += 1
        self.stats.counts["dropped_over_cap_bytes"] += size

    def _deliver_group(self, group: _Group) -> None:
        if self._group is group:
            self._group = None
        for pending in group.pendings:
            self._deliver(pending)

    def _deliver(self, pending: Pending) -> None:
        """Timer callback. An exception here is a bug (in a strategy, say): stop loudly,
        rather than leave it to the loop's handler and run on in a broken state."""
        try:
            self.deliver_now(pending)
        except Exception as exc:
            log.error(
                "proxy: delivery %d -> %d failed",
                pending.src,
                pending.dst,
                exc_info=exc,
            )
            self._on_error(exc)

    def deliver_now(self, pending: Pending) -> None:
        if pending.delivered:
            return
        pending.delivered = True
        self.stats.counts["messages_delivered"] += pending.count
        box = self.outboxes.get(pending.dst)
        log = self._log
        if box is not None:
            if self._to_honest is None or self._to_honest(pending):
                box.frames.extend(pending.frames)
                box.ready.set()
                if log is not None:
                    log.delivered(pending.link, pending.src, pending.dst, to_corrupted=False)
                return
            box.held -= pending.held  # taken over since: its frames go to its strategy
        if log is not None:
            log.delivered(pending.link, pending.src, pending.dst, to_corrupted=True)
        self._to_corrupted(pending)
