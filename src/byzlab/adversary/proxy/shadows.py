"""Adaptive corruption behind the proxy: shadow replicas of honest nodes, and the takeover.

HPZ's adversary is adaptive (Huang, Pettie, Zhu, "Byzantine Agreement with Optimal
Resilience via Statistical Fraud Detection", arXiv 2206.15335, §2): it may corrupt a node
mid-run and take over its keys and its whole state. In the simulator the state is an object
the adversary can grab (``byzlab.adversary.corruption``); here it lives in another process.
So, when the scenario has ``[[adversary.corrupt]]``, the proxy keeps a *shadow*: an honest
replica of each node a rule could pick (``corruption.corruptible``, and only those; the plan
gives the proxy exactly their keys), built like the real node (``derive_rng(seed, "node",
i)``, the same input and ideal-coin seed) and fed exactly the deliveries the proxy makes to
that node, in order, at the moment it makes them (``Delivery``'s ``to_honest`` hook). The
shadow opens each frame with the node's own link keys, so it accepts and refuses exactly
what the node does (a tampered copy, a replay), decodes with the same decoder, skips
messages once halted, and performs its effects through the runtime's one interpreter with
the node process's self-delivery order.

The rules of ``corruption.py`` read the run from the shadows (`Shadows` is their
`RunView`: virtual time in units of delta, the shadowed nodes still honest, who decided in
which order, the latest epoch) and from the shared full-information view (coin columns). No
rule logic lives here. They are consulted on the loop turn after a delivery (``check``), so
a takeover comes at most one turn of the event loop after the delivery that made its rule
fire (the simulator's comes right after it; both are moments the adversary may choose), and
what the takeover sends never reaches a node ahead of a delivery its shadow already saw.
When one fires, the shadow becomes the corrupted node: the rule's
strategy wraps its honest state machine (as in the simulator), an `Actor` with the node's link
keys joins the corrupted nodes (``corrupted.py``), the proxy stops delivering to and relaying
from the real process, and tells it on the side channel (``CORRUPTED``); the process writes
its result and exits cleanly, and the orchestrator marks it "corrupted" in nodes.csv and
leaves its earlier decision out, as the simulator does.

Fidelity, the argument. (1) Before the takeover the node is honest, and what it sends
reaches the others as the real process's frames, relayed byte for byte: honest sends. (2)
The shadow's state is a function of the messages the node accepted, in order (the state
machine is deterministic given its seed-derived rng, and ignores ``now``); it is fed the
deliveries the proxy made to the node in the order the proxy made them, which is the order
the node reads them from its one TCP connection, so after the k-th delivery it is in the
state the node has, or will have, once it has read that delivery. That is the state the
adversary takes over: the node's state after the deliveries the adversary made, which is
what HPZ's adversary gets. (3) The real process lags its shadow (frames in transit, not read
yet), so at the takeover the shadow may have sent, as an honest node, messages the process
has not yet sent; the proxy sends those itself (the *backlog*), sealed with the node's keys
and continuing each link's sequence numbers after the last frame it relayed from the
process. Every message the node sends while honest therefore goes out exactly once, as in
the simulator, where the takeover comes after the honest node's effects were performed.
(4) After the takeover the node is Byzantine: anything the real process still sends (its
late frames, duplicates of the backlog, a reconnect's re-sends) is dropped, which a Byzantine
node's messages may legally be. Frames already in flight from the process were honest
sends and are delivered. (5) The claim is checked, not assumed: every message the real
process sends while honest is compared with what its shadow sent to the same destination,
in order (``matched``/``mismatched`` in the proxy's statistics; the tests require zero
mismatches over several seeds and schedulers).

Costs: the proxy runs one extra honest state machine per corruptible node, on every
delivery to it (``cpu_s``, measured in docs/corruption.md), and decodes every relayed frame
(the rules read the full-information view). A restart of the proxy loses the shadows (they
are soft state fed by deliveries the new incarnation never saw), so the proxy refuses to
restart a run that has adaptive corruption rather than take over a node from a wrong state.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from byzlab.adversary.context import AdversaryContext
from byzlab.adversary.corruption import Corruption, CorruptionRule, corruptible
from byzlab.adversary.proxy.clock import RunClock
from byzlab.adversary.proxy.config import ProxyConfig
from byzlab.adversary.proxy.corrupted import Actor, run_node_spec
from byzlab.adversary.proxy.delivery import Pending
from byzlab.adversary.strategies import NodeSpec
from byzlab.network.auth import LinkKeys, LinkReceiver, LinkSender, Reject
from byzlab.network.framing import FRAME_HEADER, LENGTH_PREFIX_SIZE
from byzlab.node.effects import Decide, Event, Halt
from byzlab.node.messages import Message
from byzlab.node.params import Params
from byzlab.runtime.interpreter import EffectInterpreter

__all__ = ["Shadow", "Shadows", "Takeover"]

log = logging.getLogger("byzlab.proxy")

# the node taken over as a corrupted node, and what it had sent as an honest node that its
# process had not, per destination
Takeover = Callable[[Actor, dict[int, list[Message]]], None]


class Shadow:
    """The honest replica of one corruptible node (see the module docstring).

    ``expected[d]`` holds what it sent to d that the real process has not been seen to
    send yet; ``top_seq[d]`` is the last link sequence number relayed from the process to d.
    """

    def __init__(
        self,
        spec: NodeSpec,
        keys: dict[int, LinkKeys],
        n: int,
        decode: Callable[[int, bytes], list[Message]],
        on_decide: Callable[[int], None],
    ) -> None:
        me = spec.me
        self.me = me
        self.spec = spec
        self.node = spec.honest()
        self.keys = keys
        self.receiver = LinkReceiver(
            receiver=me, keys={s: keys[s].recv_key for s in range(n) if s != me}
        )
        self.expected: dict[int, deque[Message]] = {d: deque() for d in range(n) if d != me}
        self.top_seq: dict[int, int] = {}
        self._decode = decode
        self._on_decide = on_decide
        self._interpreter = EffectInterpreter(n, self)
        self._local: deque[Message] = deque()

    def start(self, now: float) -> None:
        self._apply(self.node.start(now), now)

    def deliver(self, frames: Sequence[bytes], now: float) -> None:
        """The frames the proxy just handed to the node's connection, as the node reads
        them: MAC and replay checks with its keys, the decoder, nothing once halted."""
        node = self.node
        for frame in frames:
            opened = self.receiver.open(frame[LENGTH_PREFIX_SIZE:])
            if isinstance(opened, Reject):
                continue
            for msg in self._decode(opened.sender, opened.payload):
                if node.halted:
                    break
                effects = node.receive(opened.sender, msg, now)
                if effects:
                    self._apply(effects, now)

    def _apply(self, effects: list[Any], now: float) -> None:
        """The node process's order (``network/tcp/runtime.py``): effects in order, then its
        own copies, until it halts."""
        node = self.node
        local = self._local
        perform = self._interpreter.perform
        try:
            perform(self.me, effects, now)
            while local and not node.halted:
                perform(self.me, node.receive(self.me, local.popleft(), now), now)
        finally:
            local.clear()

    def relayed(self, dst: int, seq: int, msgs: Sequence[Message]) -> tuple[int, int]:
        """A frame the real process sent to ``dst`` (link sequence number ``seq``): (matched,
        mismatched) messages against what the shadow sent there, in order. A frame re-sent
        after a reconnect (``seq`` not above the last one) is not compared again."""
        if seq <= self.top_seq.get(dst, 0):
            return 0, 0
        self.top_seq[dst] = seq
        expected = self.expected[dst]
        matched = 0
        for msg in msgs:
            if expected and expected.popleft() == msg:
                matched += 1
        return matched, len(msgs) - matched

    # ----------------------------------------------------------------- EffectSink

    def transmit(self, src: int, msg: Message, dsts: Sequence[int], now: float) -> None:
        for d in dsts:
            if d == self.me:
                self._local.append(msg)
            else:
                self.expected[d].append(msg)

    def decide(self, src: int, decision: Decide, now: float) -> None:
        self._on_decide(self.me)

    def halt(self, src: int, halt: Halt, now: float) -> None:
        """A halted shadow takes no more inputs (``deliver``)."""

    def event(self, src: int, event: Event, now: float) -> None:
        """Trace events are the real process's to record."""


class Shadows:
    """The shadows of one run, its corruption rules, and the takeovers; the rules'
    `RunView` of the run. ``take_over`` hands a corrupted node to the proxy."""

    def __init__(
        self,
        config: ProxyConfig,
        params: Params,
        adversary: AdversaryContext,
        *,
        keys: Callable[[int], dict[int, LinkKeys]],
        honest_ids: Sequence[int],
        clock: RunClock,
        decode: Callable[[int, bytes], list[Message]],
        take_over: Takeover,
        on_error: Callable[[BaseException], None],
    ) -> None:
        self.params = params
        self._on_error = on_error
        self._check_due = False
        self._clock = clock
        self._take_over = take_over
        self._static = len(config.byzantine)
        self.rules = [CorruptionRule(adversary, **spec.model_dump()) for spec in config.corrupt]
        self._decided: list[int] = []
        self.shadows: dict[int, Shadow] = {}
        for i in corruptible(self.rules, honest_ids):
            spec = run_node_spec(config, params, adversary, i)
            self.shadows[i] = Shadow(spec, keys(i), params.n, decode, self._decided.append)
        self._honest = sorted(self.shadows)
        self.taken: set[int] = set()
        self.matched = 0
        self.mismatched = 0
        self.backlog = 0  # messages the shadows had sent before their process did
        self.cpu_s = 0.0  # seconds spent running the shadows

    @property
    def corrupted(self) -> list[Corruption]:
        return sorted(c for rule in self.rules for c in rule.corrupted)

    def stats(self) -> dict[str, Any]:
        return {
            "nodes": sorted(self.shadows),
            "matched": self.matched,
            "mismatched": self.mismatched,
            "backlog": self.backlog,
            "cpu_s": round(self.cpu_s, 4),
        }

    # ----------------------------------------------------------------- RunView

    def now(self) -> float:
        return self._clock.now()

    def honest(self) -> list[int]:
        return self._honest

    def decided(self) -> list[int]:
        return self._decided

    def epoch(self) -> int:
        T = self.params.T
        nodes = [self.shadows[i].node for i in self._honest]
        return max((s.iteration - 1) // T for s in nodes) if nodes else 0

    def faulty(self) -> int:
        return self._static + len(self.taken)

    # ----------------------------------------------------------------- the run

    def start(self) -> None:
        """Start every shadow, when the proxy starts the run (and the real nodes)."""
        started = time.perf_counter()
        for shadow in self.shadows.values():
            shadow.start(0.0)
        self.cpu_s += time.perf_counter() - started

    def to_honest(self, pending: Pending) -> bool:
        """``Delivery``'s hook, for each delivery to an honest node's connection: feed the
        node's shadow, then let the rules act. False if the node was taken over before this
        delivery: the frames go to its strategy instead."""
        dst = pending.dst
        if dst in self.taken:
            return False
        shadow = self.shadows.get(dst)
        if shadow is not None:
            started = time.perf_counter()
            shadow.deliver(pending.frames, self._clock.elapsed())
            self.cpu_s += time.perf_counter() - started
        if not self._check_due:
            self._check_due = True
            asyncio.get_running_loop().call_soon(self.check)
        return True

    def relayed(self, src: int, body: bytes, msgs: Sequence[Message]) -> None:
        """A frame relayed from node ``src``'s process (still honest: the proxy drops what
        a process sends after its node was taken over), compared with what its shadow sent."""
        shadow = self.shadows.get(src)
        if shadow is None:
            return
        _, _, dst, seq = FRAME_HEADER.unpack_from(body)
        matched, mismatched = shadow.relayed(dst, seq, msgs)
        self.matched += matched
        if mismatched:
            self.mismatched += mismatched
            log.warning("proxy: node %d sent %d message(s) its shadow did not", src, mismatched)

    def check(self) -> None:
        """Let every rule take the nodes it picks now. Called on the loop turn after a
        delivery, never inside one: what a takeover sends may be delivered at once, and
        must not reach a node's connection ahead of a delivery its shadow has already
        seen. An exception here (a strategy's bug) stops the proxy loudly."""
        self._check_due = False
        try:
            for rule in self.rules:
                for victim in rule.due(self):
                    self._corrupt(rule, victim)
        except Exception as exc:
            log.error("proxy: adaptive corruption failed", exc_info=exc)
            self._on_error(exc)

    def _corrupt(self, rule: CorruptionRule, victim: int) -> None:
        shadow = self.shadows[victim]
        at = round(self._clock.elapsed(), 6)
        strategy = rule.take_over(shadow.spec, shadow.node, at)
        self.taken.add(victim)
        self._honest = [i for i in self._honest if i != victim]
        senders = {
            d: LinkSender(
                sender=victim,
                receiver=d,
                key=shadow.keys[d].send_key,
                first_seq=shadow.top_seq.get(d, 0) + 1,
            )
            for d in range(self.params.n)
            if d != victim
        }
        backlog = {d: list(q) for d, q in shadow.expected.items() if q}
        self.backlog += sum(len(q) for q in backlog.values())
        log.info(
            "proxy: node %d corrupted at %.3f s by rule %s; it runs %s from its shadow's state",
            victim,
            at,
            rule.rule,
            strategy.name,
        )
        self._take_over(Actor(victim, strategy, senders, shadow.receiver), backlog)
