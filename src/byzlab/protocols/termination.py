"""The termination gadget: deciding on f + 1 DECIDE messages, halting on 2f + 1.

Neither mmr nor Ben-Or terminates as published: a node decides and keeps playing rounds
forever, because the others may still need its messages (MMR's BV-broadcast relays, Ben-Or's
quorums). Both use the rule byzlab's Bracha engine uses (byzlab.node.agreement, after
Bracha, "Asynchronous Byzantine Agreement Protocols", Information and Computation 1987):

* a node that decides v sends DECIDE(v) to every node, once;
* f + 1 DECIDE(v) from distinct senders prove that an honest node decided v, so a node that
  receives them decides v too (and sends its own DECIDE);
* 2f + 1 DECIDE(v) prove that f + 1 honest nodes decided v and sent DECIDE(v) to everyone,
  so every honest node will receive f + 1 of them and decide: a node that has decided v halts
  then, and on nothing else. Until then it keeps playing rounds and relaying.

DECIDE messages are point to point and need no relaying. Each sender's first DECIDE counts;
a second one (of either value) is a duplicate. With agreement (every honest decision equal),
all n - f >= 2f + 1 honest nodes eventually send DECIDE(v), so every honest node halts.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter

from byzlab.api import Broadcast, Decide, Effect, Event, Halt, Params
from byzlab.protocols.messages import DECIDE, RoundCodec, RoundMsg


class DecidingNode(ABC):
    """What both protocols' nodes share: their identity, the decision, the DECIDE rule, the
    halt, and the count of what they rejected. A subclass plays the rounds (`on_round`, for
    every well-formed message of a round) and calls `decide` when its protocol decides."""

    def __init__(self, me: int, params: Params, input_value: int, codec: RoundCodec) -> None:
        if input_value not in (-1, 1):
            raise ValueError(f"input_value must be -1 or +1, got {input_value!r}")
        if not 0 <= me < params.n:
            raise ValueError(f"node id {me} out of range for n={params.n}")
        self.me = me
        self.params = params
        self.codec = codec
        self.input_value = input_value
        self.iteration = 1  # the current round (byzlab's name for it in results)
        self.decision: int | None = None
        self.decided_iteration = 0
        self.halted = False
        self.rejected: Counter[str] = Counter()  # malformed input
        self.dropped: Counter[str] = Counter()  # well formed, but duplicate or out of bounds
        self._decide_from = {1: 0, -1: 0}

    def start(self, now: float = 0.0) -> list[Effect]:
        out: list[Effect] = []
        self.begin(out)
        return out

    def receive(self, sender: int, msg: object, now: float = 0.0) -> list[Effect]:
        out: list[Effect] = []
        if self.halted:
            return out
        # the network's decoder checks messages too; an in-process adversary bypasses it
        reason = self.codec.check(msg)
        if reason is not None or not 0 <= sender < self.params.n:
            self.rejected[reason or "bad-sender"] += 1
            return out
        assert isinstance(msg, RoundMsg)
        if msg.kind == DECIDE:
            self.on_decide(sender, msg.value, out)
        else:
            self.on_round(sender, msg, out)
        return out

    @abstractmethod
    def begin(self, out: list[Effect]) -> None:
        """Play the first round."""

    @abstractmethod
    def on_round(self, sender: int, msg: RoundMsg, out: list[Effect]) -> None:
        """A well-formed message of a round from `sender`."""

    def decide(self, value: int, how: str, out: list[Effect]) -> None:
        self.decision = value
        self.decided_iteration = self.iteration
        out.append(Decide(value, self.iteration))
        out.append(Event("decide", {"value": value, "iteration": self.iteration, "how": how}))
        out.append(Broadcast(RoundMsg(DECIDE, 0, value)))

    def on_decide(self, sender: int, value: int, out: list[Effect]) -> None:
        """DECIDE(`value`) from `sender`: the f + 1 / 2f + 1 rule."""
        bit = 1 << sender
        if (self._decide_from[1] | self._decide_from[-1]) & bit:
            self.dropped["duplicate-decide"] += 1
            return
        mask = self._decide_from[value] | bit
        self._decide_from[value] = mask
        count = mask.bit_count()
        if count >= self.params.f + 1 and self.decision is None:
            self.decide(value, "f+1 DECIDE", out)
        if count >= 2 * self.params.f + 1 and self.decision == value:
            self.halted = True
            out.append(Halt("2f+1 DECIDE"))
