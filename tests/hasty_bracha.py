"""A protocol plugin with a planted safety bug, for the adversary search's tests.

`hasty-bracha` is local-coin Bracha (byzlab's ``bracha-local``) with one wrong threshold at
step 3 (HPZ Algorithm 1, lines 6-8; Bracha 1987). The correct rule has two: a node that sees
at least one non-bottom vote v* in its quorum of n - f step-3 votes keeps v*, and one that
sees f + 1 decides v*. Deciding on f + 1 is what makes a decision safe: any two quorums
differ in at most f senders, so every other honest node sees at least one copy and keeps v*.
The planted bug uses f for both: a node decides on f copies and ignores fewer than f (takes
its private coin as if it had seen none). Then one node may see f copies and decide v* while
another sees fewer, flips its coin, and goes on to decide the other value: agreement breaks,
but only under schedules that put f copies in one quorum and fewer in another.

Why this bug and not only the decision threshold: at n = 4 (f = 1) the two are the same bug.
With the decision threshold alone (f copies decide, one copy is kept), a violation at n = 7
needs a quorum with 2 copies and another with none, which needs at most two step-3 votes for
v* in all: in 360 runs under random, split-vote and coin-aware delays it never happened, and
the first decision's iteration never left an honest node flipping a coin, so no search has a
slope to follow. Ignoring fewer than f copies opens the window a scheduler can aim at.

Referenced as ``"tests.hasty_bracha:HastyBracha"``. It subclasses the built-in protocol
object and node (internals, not byzlab.api: the public API exposes no Bracha engine to vary).
"""

from __future__ import annotations

from typing import Any

from byzlab.api import Effect, Params
from byzlab.node.agreement import HonestNode
from byzlab.node.bracha import BrachaLocal
from byzlab.node.steps import tally


class HastyNode(HonestNode):
    """A local-coin Bracha node that decides on f step-3 votes for v* and ignores fewer
    (the planted bug)."""

    def _after_vote(
        self, t: int, step: int, support: int, values: list[int], out: list[Effect]
    ) -> None:
        if step == 3:
            x, vstar = tally(values)
            if x < self.params.f:  # the bug: one copy is enough to keep v*
                values = [0] * len(values)
            elif self.decision is None:  # the bug: f + 1 copies are needed to decide
                self._decide(vstar, t, "protocol", out)
        super()._after_vote(t, step, support, values, out)


class HastyBracha(BrachaLocal):
    """The `hasty-bracha` protocol: local-coin Bracha with the planted bug."""

    name = "hasty-bracha"

    def node(self, me: int, params: Params, **kwargs: Any) -> HastyNode:
        """Node `me` of the built-in protocol, with the planted bug."""
        return HastyNode(me, params, protocol=self, **kwargs)
