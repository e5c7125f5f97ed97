"""The delta bound: every message between two nodes arrives within [0, delta].

HPZ's model (§2, "Full Information & Scheduling") lets the adversary order deliveries at
will, but every message sent between honest nodes arrives within delta. A `DeliveryPolicy`
(the adversary's scheduler) chooses each delay; `DelayBound` is the one place that asks it
and holds it to the model, for the simulator and for the proxy alike.

Out-of-range delays are clamped into [0, delta], not rejected. The bound is a property of
the model that the runtime guarantees whatever the policy says, and a real run behind the
proxy must not die mid-run on a scheduler's rounding error (the proxy has always clamped);
using the same rule in the simulator keeps one scenario meaning the same in both. The
registry's schedulers stay inside the bound by construction (the tests check it), so the
clamp changes none of their runs; a test that wants an out-of-range delay to fail loudly
checks it in its own policy (tests/scripted.py). NaN counts as out of range: it becomes delta.
"""

from __future__ import annotations

from collections.abc import Sequence

from byzlab.node.messages import Message
from byzlab.runtime.interfaces import DeliveryPolicy


class DelayBound:
    """Asks `policy` for delays and enforces 0 <= delay <= `delta` (in the policy's unit)."""

    __slots__ = ("delta", "policy")

    def __init__(self, policy: DeliveryPolicy, delta: float) -> None:
        self.policy = policy
        self.delta = delta

    def delay(self, src: int, dst: int, msg: Message, now: float) -> float:
        """The delay of `msg` from `src` to `dst` (two different nodes), within [0, delta]."""
        return self._clamp(self.policy.delay(src, dst, msg, now))

    def delays(self, src: int, dsts: Sequence[int], msg: Message, now: float) -> list[float]:
        """The delays of one message to each of `dsts`, in order, within [0, delta]; the
        sender's own copy takes no time and the policy is not asked about it (see
        byzlab.node.effects). One comprehension per message: the simulator's hot path."""
        policy_delay = self.policy.delay
        delta = self.delta
        return [
            0.0
            if dst == src
            else d
            if 0.0 <= (d := policy_delay(src, dst, msg, now)) <= delta
            else self._clamp(d)
            for dst in dsts
        ]

    def _clamp(self, d: float) -> float:
        if 0.0 <= d <= self.delta:
            return d
        return 0.0 if d < 0.0 else self.delta
