"""Bracha reliable broadcast with FIFO delivery per origin.

Theory of operation (HPZ §2 "Reliable Broadcast"; Bracha 1987; FIFO as in HPZ22 Alg. 1)
----------------------------------------------------------------------------------------
Each node's broadcasts form one stream; its l-th broadcast is the RBC instance keyed
(origin, seq=l). For each instance a node

* sends ECHO(v) on the first INITIAL(v) from the origin itself;
* sends READY(v) once ceil((n+f+1)/2) ECHO(v) or f+1 READY(v) have arrived (amplification);
* accepts v once 2f+1 READY(v) have arrived.

Only the first ECHO and the first READY of each sender count, so a node echoes and readies
at most one value per instance. Two honest nodes that send READY for v and v' each saw more
than (n+f)/2 echoes, whose honest parts intersect, so v = v': an equivocating origin gets at
most one value accepted, and any value accepted by one honest node is accepted by all
(2f+1 READYs include f+1 honest ones, which make everyone ready).

Accepted items are handed up strictly in seq order per origin (FIFO), so a receiver's
knowledge of a node is always a prefix of that node's stream. This is what the blackboard's
prefix property and the validation of carried views rest on.

Hostile input never raises. Duplicates, conflicting votes, INITIALs not sent by the origin,
and instances beyond `window` of the next expected seq are dropped and counted in
`dropped`; conflicts also produce a trace `Event`. Memory is bounded by
n origins x `window` instances x O(n) candidate values each.
"""

from __future__ import annotations

from collections import Counter

from byzlab.node.effects import Broadcast, Effect, Event
from byzlab.node.messages import Item, Kind, RbcMsg

_INITIAL = int(Kind.INITIAL)
_ECHO = int(Kind.ECHO)
_READY = int(Kind.READY)


class _Instance:
    __slots__ = (
        "accepted",
        "echo_from",
        "echo_masks",
        "echoed",
        "initial",
        "items",
        "readied",
        "ready_from",
        "ready_masks",
    )

    def __init__(self) -> None:
        self.items: list[Item] = []
        self.echo_masks: list[int] = []
        self.ready_masks: list[int] = []
        self.echo_from = 0
        self.ready_from = 0
        self.initial: Item | None = None
        self.echoed = False
        self.readied = False
        self.accepted = False

    def find(self, item: Item) -> int:
        for i, known in enumerate(self.items):
            if known is item or known == item:
                return i
        return -1

    def index(self, item: Item) -> int:
        """The slot of ``item``, made if new. Called only for a sender's *first* ECHO or
        READY, so an instance holds at most 2n items whatever a Byzantine sender repeats."""
        found = self.find(item)
        if found >= 0:
            return found
        items = self.items
        items.append(item)
        self.echo_masks.append(0)
        self.ready_masks.append(0)
        return len(items) - 1


Delivered = tuple[int, int, Item]


class ReliableBroadcast:
    """The RBC layer of one node: feed it messages, it emits ECHO/READY and delivers items."""

    def __init__(self, me: int, n: int, f: int, window: int) -> None:
        self.me = me
        self.n = n
        self.f = f
        self.window = window
        self.echo_threshold = (n + f + 2) // 2  # ceil((n + f + 1) / 2)
        self.amplify_threshold = f + 1
        self.accept_threshold = 2 * f + 1
        self._instances: list[dict[int, _Instance]] = [{} for _ in range(n)]
        self._next = [1] * n
        self._accepted: list[dict[int, Item]] = [{} for _ in range(n)]
        self._own_seq = 0
        self.dropped: Counter[str] = Counter()

    @property
    def own_seq(self) -> int:
        """How many items this node has broadcast so far."""
        return self._own_seq

    def broadcast(self, item: Item) -> RbcMsg:
        self._own_seq += 1
        return RbcMsg(_INITIAL, self.me, self._own_seq, item)

    def delivered_count(self, origin: int) -> int:
        return self._next[origin] - 1

    def open_instances(self) -> int:
        return sum(len(d) for d in self._instances)

    def handle(self, sender: int, msg: RbcMsg, out: list[Effect]) -> list[Delivered] | None:
        """Process one RBC message from `sender`; return items newly delivered in FIFO order."""
        origin = msg.origin
        seq = msg.seq
        nxt = self._next[origin]
        if seq < nxt:
            self.dropped["late"] += 1
            return None
        if seq >= nxt + self.window:
            self.dropped["beyond-window"] += 1
            return None
        instances = self._instances[origin]
        inst = instances.get(seq)
        if inst is None:
            inst = instances[seq] = _Instance()
        elif inst.accepted:
            self.dropped["after-accept"] += 1
            return None
        bit = 1 << sender
        kind = msg.kind
        if kind == _ECHO:
            if inst.echo_from & bit:
                idx = inst.find(msg.item)
                self._duplicate("echo", idx >= 0 and inst.echo_masks[idx] & bit, sender, msg, out)
                return None
            idx = inst.index(msg.item)
            inst.echo_from |= bit
            mask = inst.echo_masks[idx] | bit
            inst.echo_masks[idx] = mask
            if not inst.readied and mask.bit_count() >= self.echo_threshold:
                inst.readied = True
                out.append(Broadcast(RbcMsg(_READY, origin, seq, inst.items[idx])))
            return None
        if kind == _READY:
            if inst.ready_from & bit:
                idx = inst.find(msg.item)
                self._duplicate("ready", idx >= 0 and inst.ready_masks[idx] & bit, sender, msg, out)
                return None
            idx = inst.index(msg.item)
            inst.ready_from |= bit
            mask = inst.ready_masks[idx] | bit
            inst.ready_masks[idx] = mask
            count = mask.bit_count()
            if not inst.readied and count >= self.amplify_threshold:
                inst.readied = True
                out.append(Broadcast(RbcMsg(_READY, origin, seq, inst.items[idx])))
            if count >= self.accept_threshold:
                inst.accepted = True
                return self._accept(origin, seq, inst.items[idx])
            return None
        if kind == _INITIAL:
            if sender != origin:
                self.dropped["initial-not-from-origin"] += 1
                out.append(Event("rbc-forged-initial", {"sender": sender, "origin": origin}))
                return None
            if inst.initial is not None:
                same = inst.initial is msg.item or inst.initial == msg.item
                self._duplicate("initial", same, sender, msg, out)
                return None
            inst.initial = msg.item
            if not inst.echoed:
                inst.echoed = True
                out.append(Broadcast(RbcMsg(_ECHO, origin, seq, msg.item)))
            return None
        self.dropped["bad-kind"] += 1
        return None

    def _duplicate(
        self, what: str, same: int | bool, sender: int, msg: RbcMsg, out: list[Effect]
    ) -> None:
        if same:
            self.dropped[f"duplicate-{what}"] += 1
            return
        self.dropped[f"conflicting-{what}"] += 1
        out.append(
            Event(
                f"rbc-conflicting-{what}", {"sender": sender, "origin": msg.origin, "seq": msg.seq}
            )
        )

    def _accept(self, origin: int, seq: int, item: Item) -> list[Delivered] | None:
        nxt = self._next[origin]
        if seq != nxt:
            self._accepted[origin][seq] = item
            return None
        instances = self._instances[origin]
        buffered = self._accepted[origin]
        delivered = [(origin, seq, item)]
        del instances[seq]
        seq += 1
        while seq in buffered:
            delivered.append((origin, seq, buffered.pop(seq)))
            instances.pop(seq, None)
            seq += 1
        self._next[origin] = seq
        return delivered
