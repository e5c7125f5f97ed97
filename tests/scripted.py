"""Scripted adversaries for regression tests: a schedule and Byzantine behaviour written down
message by message, instead of drawn from a seed.

* `ScriptedScheduler` asks a script for the delay of every message, in units of delta
  (checked to lie in [0, 1], so the script stays inside the model). Delays are all the
  adversary controls, but they are enough to lay a run out in "rounds": if every INITIAL
  takes a full delta and every ECHO/READY takes 0, every step of every node happens at an
  integer time, in one cascade, and a message given 0.5 lands half way between two steps,
  after its receiver has already completed the step it belongs to. `hold_script` builds
  such a script from a table of holds (which receiver gets which instances late).
* `ScriptedByzantine` runs an honest node inside a corrupted one, so that every vote it sends
  is one validation accepts, and sends each of its messages only to the nodes that a
  routing function names (`route(msg)`; None means everyone, as an honest node would).

Both are deterministic: a scripted run does not depend on its seed except through the local
coins, which a script that never lets a node see x = 0 never flips.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

from byzlab.adversary.context import AdversaryContext
from byzlab.adversary.schedulers import Scheduler
from byzlab.adversary.strategies import ByzantineNode, NodeSpec
from byzlab.node.agreement import HonestNode
from byzlab.node.effects import Broadcast, Effect, Send
from byzlab.node.messages import Kind, Message, RbcMsg, Vote

Script = Callable[[int, int, Message, float], float]
"""(src, dst, msg, now in units of delta) -> delay in units of delta, within [0, 1]."""

Route = Callable[[int, Message], Collection[int] | None]
"""(the corrupted node, its message) -> the nodes to send it to; None means all of them."""


@dataclass
class ScriptedScheduler(Scheduler):
    """Every delay comes from `script` (units of delta); a delay outside [0, 1] is a bug in
    the script, not a schedule, and raises."""

    name: str = "scripted"
    description: str = "every delay chosen by a test's script"
    inspects_messages: bool = True
    script: Script = field(default=lambda src, dst, msg, now: 1.0)

    def delay(self, src: int, dst: int, msg: Message, now: float) -> float:
        units = self.script(src, dst, msg, now / self.delta)
        if not 0.0 <= units <= 1.0:
            raise AssertionError(
                f"script gave delay {units} (not in [0, 1] delta) for "
                f"{src}->{dst} {msg!r} at t={now}"
            )
        return units * self.delta


Holds = Mapping[tuple[int, int], Mapping[int, Collection[int]]]
"""(iteration, step) -> receiver -> origins whose vote instances reach that receiver late."""


def hold_script(
    holds: Holds, *, initial: float = 1.0, fast: float = 0.0, late: float = 0.5, decide: float = 0.0
) -> Script:
    """The round-by-round schedule described in the module docstring.

    INITIALs take `initial` (one round), ECHO and READY take `fast`, DECIDE takes `decide`,
    except that the ECHOs and READYs of the vote instance (origin, iteration, step) reach
    receiver d only after `late` when `holds[(iteration, step)][d]` names origin. With the
    defaults and two holds per receiver and step (and at most two per instance, so that the
    five other nodes still echo and ready it at once), every node completes each step on
    exactly the five instances it does not hold, at integer times, and gets the two held ones
    half a round later, before the next step's INITIALs arrive."""

    def script(src: int, dst: int, msg: Message, now: float) -> float:
        if not isinstance(msg, RbcMsg):
            return decide
        if msg.kind == Kind.INITIAL:
            return initial
        item = msg.item
        if isinstance(item, Vote):
            held = holds.get((item.iteration, item.step), {}).get(dst, ())
            if msg.origin in held:
                return late
        return fast

    return script


class ScriptedByzantine(ByzantineNode):
    """A corrupted node that computes like an honest one (so its own votes are valid) and sends
    each message only to `route(me, msg)` (None: to everyone). It never decides, so nothing it
    sends counts as an honest DECIDE unless the route lets the inner node's DECIDE out."""

    name = "scripted"
    description = "honest computation, scripted recipients for every message"

    def __init__(self, spec: NodeSpec, ctx: AdversaryContext, route: Route) -> None:
        super().__init__(spec, ctx)
        self.route = route
        self.inner = HonestNode(
            spec.me,
            spec.params,
            protocol=spec.protocol,
            input_value=spec.input_value,
            rng=spec.rng,
            ideal_seed=spec.ideal_seed,
        )

    def start(self, now: float = 0.0) -> list[Effect]:
        return self._routed(self.inner.start(now))

    def receive(self, sender: int, msg: Message, now: float = 0.0) -> list[Effect]:
        return self._routed(self.inner.receive(sender, msg, now))

    def _routed(self, effects: list[Effect]) -> list[Effect]:
        out: list[Effect] = []
        n = self.spec.params.n
        for effect in effects:
            if isinstance(effect, Broadcast):
                targets = self.route(self.me, effect.msg)
                if targets is None:
                    out.append(effect)
                else:
                    out.extend(Send(d, effect.msg) for d in sorted(targets) if 0 <= d < n)
            elif isinstance(effect, Send):
                targets = self.route(self.me, effect.msg)
                if targets is None or effect.dst in targets:
                    out.append(effect)
        return out

    def snapshot(self) -> dict[str, object]:
        return {**self.inner.snapshot(), "strategy": self.name}
