"""`ben-or`: Ben-Or's Byzantine agreement with local coins (n > 5f).

Ben-Or, "Another Advantage of Free Choice: Completely Asynchronous Agreement Protocols"
(PODC 1983), the protocol for Byzantine processes (the paper's second protocol; the first
tolerates only crashes). No reliable broadcast, no signatures, no common coin: each node
flips its own.

Theory of operation
-------------------
Round r, from node p's side, x_p being its value (its input in round 1):

1. Send REPORT(r, x_p) to all; wait for REPORT(r, .) from n - f distinct senders.
2. If more than (n + f)/2 of them carry the same v, send PROPOSE(r, v) (the paper's
   "(2, r, v, D)"), else PROPOSE(r, ?) (value 0); wait for PROPOSE(r, .) from n - f.
3. If at least f + 1 of them are PROPOSE(r, v), x_p <- v; if more than (n + f)/2 are, p
   decides v. Otherwise x_p <- a fair coin flip of p's own. Go to round r + 1.

"Wait for n - f" uses exactly the first n - f messages of each sender set (each sender's
first message of a step counts). Why n > 5f: two honest PROPOSE values are equal (each needs
more than (n + f)/2 of n reports, and two such sets share more than f senders, so an honest
one); a decider saw more than (n + f)/2 - f = (n - f)/2 honest PROPOSE(v), of which any
other honest node's n - f misses at most f, leaving more than (n - 3f)/2 >= f + 1 only when
n > 5f, so every honest node adopts v and everyone decides in the next round (the paper's
agreement argument). Validity needs it too: with all honest inputs v, each quorum of n - f
reports holds at least n - 2f > (n + f)/2 copies of v only when n > 5f. With f up to
(n - 1)/3, as the Bracha family allows, neither argument holds; `BenOr.max_faults` is
(n - 1) // 5 and byzlab refuses a scenario asking for more.

Termination: the paper's processes keep running after deciding; here a decided node keeps
playing until the f + 1 / 2f + 1 DECIDE gadget of byzlab's Bracha engine lets it halt
(termination.py). Expected rounds: constant when f = O(sqrt(n)) and the schedule is not
adversarial; against a scheduler that keeps the honest values split (`split-vote`) a round
ends in agreement only when the local coins happen to be lopsided enough, which takes
exponentially many rounds in n (docs/protocols.md has the measured figures).

Inputs are -1/+1 (byzlab's convention) in place of the paper's 0/1; "?" is 0.
"""

from __future__ import annotations

import random
from typing import Final

from byzlab.api import Broadcast, Effect, Params
from byzlab.protocols.messages import BINARY, WITH_BOTTOM, KindSpec, RoundCodec, RoundMsg
from byzlab.protocols.rounds import RoundWindow
from byzlab.protocols.termination import DecidingNode

REPORT: Final = 1
PROPOSE: Final = 2


class _Round:
    """The first message of each sender, per step, of one round, in the order they came."""

    __slots__ = ("from_", "values")

    def __init__(self) -> None:
        self.from_ = {REPORT: 0, PROPOSE: 0}  # step -> bitmask of senders
        self.values: dict[int, list[int]] = {REPORT: [], PROPOSE: []}


class BenOrNode(DecidingNode):
    """One honest Ben-Or node as a pure state machine (inputs in, effects out)."""

    def __init__(
        self, me: int, params: Params, *, input_value: int, rng: random.Random, codec: RoundCodec
    ) -> None:
        super().__init__(me, params, input_value, codec)
        self.rng = rng
        self.x = input_value
        self.step = REPORT
        # nothing of a round is needed once it is left (rounds.py)
        self.rounds: RoundWindow[_Round] = RoundWindow(_Round, behind=0)
        self.coin_outputs: dict[int, int] = {}

    def begin(self, out: list[Effect]) -> None:
        out.append(Broadcast(RoundMsg(REPORT, 1, self.x)))

    def on_round(self, sender: int, msg: RoundMsg, out: list[Effect]) -> None:
        state = self.rounds.get(msg.round)
        if state is None:
            self.dropped[self.rounds.refusal(msg.round)] += 1
            return
        bit = 1 << sender
        if state.from_[msg.kind] & bit:
            self.dropped["duplicate"] += 1
            return
        state.from_[msg.kind] |= bit
        state.values[msg.kind].append(msg.value)
        self._progress(out)

    def _progress(self, out: list[Effect]) -> None:
        n, f = self.params.n, self.params.f
        while not self.halted:
            rnd = self.iteration
            state = self.rounds.get(rnd)
            assert state is not None  # the current round is always in the window
            quorum = state.values[self.step][: self.params.quorum]
            if len(quorum) < self.params.quorum:
                return
            # "more than (n + f)/2" in integers
            majority = next((v for v in BINARY if 2 * quorum.count(v) > n + f), 0)
            if self.step == REPORT:
                self.step = PROPOSE
                out.append(Broadcast(RoundMsg(PROPOSE, rnd, majority)))
                continue
            # at most one value has f + 1 PROPOSEs when n > 5f; the larger count is taken
            # so that hostile input still gives one answer
            adopt = max(BINARY, key=quorum.count)
            if majority and self.decision is None:
                self.decide(majority, "protocol", out)
            if quorum.count(adopt) >= f + 1:
                self.x = adopt
            else:
                self.x = self.rng.choice((-1, 1))
                self.coin_outputs[rnd] = self.x
            self.iteration = rnd + 1
            self.step = REPORT
            self.rounds.advance(rnd + 1)
            out.append(Broadcast(RoundMsg(REPORT, rnd + 1, self.x)))

    @property
    def phase(self) -> str:
        """The step the node waits in ("report", "propose"), or halted."""
        return "halted" if self.halted else "report" if self.step == REPORT else "propose"

    def snapshot(self) -> dict[str, object]:
        return {
            "node": self.me,
            "phase": self.phase,
            "iteration": self.iteration,
            "value": self.x,
            "decision": self.decision,
            "halted": self.halted,
        }


class BenOr(RoundCodec):
    """The `ben-or` protocol: its messages (REPORT, PROPOSE, DECIDE) and its honest node."""

    name = "ben-or"
    description = "Ben-Or's Byzantine agreement with local coins (PODC 1983), n > 5f"

    def __init__(self) -> None:
        super().__init__(
            {REPORT: KindSpec("report", BINARY), PROPOSE: KindSpec("propose", WITH_BOTTOM)}
        )

    def max_faults(self, n: int) -> int:
        """f < n/5: the agreement and validity arguments above need n > 5f."""
        return (n - 1) // 5

    def node(
        self,
        me: int,
        params: Params,
        *,
        input_value: int,
        rng: random.Random,
        ideal_seed: bytes,
    ) -> BenOrNode:
        """Node `me`'s honest state machine; its coins come from `rng`, its own stream
        (there is no common coin: `ideal_seed` is unused)."""
        return BenOrNode(me, params, input_value=input_value, rng=rng, codec=self)
