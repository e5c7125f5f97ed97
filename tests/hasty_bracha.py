"""A protocol plugin with a planted safety bug, for the adversary search's tests.

`hasty-bracha` is local-coin Bracha (byzlab's ``bracha-local``) whose nodes decide at step 3
on f non-bottom votes instead of f + 1 (HPZ Algorithm 1, line 7; Bracha 1987). Deciding on
f + 1 is what makes a decision safe: any two quorums of n - f step-3 votes differ in at most
f senders, so a node that sees f + 1 copies of v* knows every other honest node sees at least
one and keeps v*. With f, another honest node may see none, take its private coin, and go on
to decide the other value: agreement breaks, but only under schedules that leave exactly f
copies in one node's quorum and none in another's, which is what the search must find.

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
    """A local-coin Bracha node that decides on f step-3 votes for v* (the planted bug)."""

    def _after_vote(
        self, t: int, step: int, support: int, values: list[int], out: list[Effect]
    ) -> None:
        if step == 3 and self.decision is None:
            x, vstar = tally(values)
            if x >= self.params.f:  # the bug: f + 1 is the safe threshold
                self._decide(vstar, t, "protocol", out)
        super()._after_vote(t, step, support, values, out)


class HastyBracha(BrachaLocal):
    """The `hasty-bracha` protocol: local-coin Bracha with the planted bug."""

    name = "hasty-bracha"

    def node(self, me: int, params: Params, **kwargs: Any) -> HastyNode:
        """Node `me` of the built-in protocol, with the planted bug."""
        return HastyNode(me, params, protocol=self, **kwargs)
