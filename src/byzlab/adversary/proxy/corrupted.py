"""The corrupted nodes, run inside the proxy with the simulator's strategy objects.

The proxy loads their private keys, derives their link keys, and drives the same strategy
objects as the simulator (``make_strategy``). One full-information adversary process sees
every frame, owns the schedule and the corrupted nodes, with the same objects as the
simulator and no IPC between a "network adversary" and "corrupted node" processes that
would have to be kept consistent. A frame from an honest node to a corrupted one is
MAC-checked with the corrupted node's key, like any receiver would; what a corrupted node
sends is sealed with its own link keys and scheduled like any relayed frame (to another
corrupted node, the messages themselves, which never leave the proxy).

Nodes taken over mid-run (adaptive corruption, ``shadows.py``) join them with ``adopt``:
their strategy wraps the node's shadow replica, and their link senders continue after the
last frame the proxy relayed from the node's own process.

After a restart of the proxy the strategies start over: their link senders continue from a
sequence number derived from the wall clock, so their new frames are not rejected as
replays of the previous incarnation's.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from byzlab.adversary.context import AdversaryContext
from byzlab.adversary.options import plugin_kwargs
from byzlab.adversary.proxy.clock import RunClock
from byzlab.adversary.proxy.config import ProxyConfig
from byzlab.adversary.proxy.delivery import Pending
from byzlab.adversary.strategies import ByzantineNode, NodeSpec, make_strategy, strategy_class
from byzlab.errors import NodeConfigError
from byzlab.network.auth import LinkReceiver, LinkSender, Reject, link_keys_for
from byzlab.network.framing import encode_frame, pack_batch
from byzlab.network.keys import Roster, load_private_key
from byzlab.node.effects import Decide, Effect, Event, Halt
from byzlab.node.messages import Message
from byzlab.node.params import Params
from byzlab.runtime.interfaces import SendObserver
from byzlab.runtime.interpreter import EffectInterpreter
from byzlab.seeds import derive_rng, ideal_coin_seed

__all__ = ["Actor", "CorruptedNodes", "run_node_spec"]

_BYZ_CHUNK = 128  # messages per frame sealed for a Byzantine node


@dataclass(slots=True, eq=False)
class Actor:
    """A corrupted node: its strategy and its keys, held by the adversary."""

    node: int
    strategy: ByzantineNode
    senders: dict[int, LinkSender]
    receiver: LinkReceiver


def run_node_spec(
    config: ProxyConfig, params: Params, adversary: AdversaryContext, node: int
) -> NodeSpec:
    """Node ``node`` of the run as every process builds it: its input, its random stream
    ``derive_rng(seed, "node", node)`` and the ideal coin's seed (``byzlab.seeds``)."""
    return NodeSpec(
        node,
        params,
        adversary.protocol,
        config.inputs[node],
        derive_rng(config.seed, "node", node),
        ideal_coin_seed(config.seed),
    )


class CorruptedNodes:
    """The corrupted nodes of ``config.byzantine``, keyed by id in ``actors``.

    ``schedule(src, dst, frames, msgs, count)`` holds what they send for the scheduler's
    delay; ``view`` (the full-information view) is shown every message they send;
    ``decode(src, payload)`` decodes a payload an honest node sent one of them; failed
    MAC checks are counted in ``drops``."""

    def __init__(
        self,
        config: ProxyConfig,
        params: Params,
        adversary: AdversaryContext,
        *,
        key_dir: Path,
        roster: Roster,
        honest_ids: list[int],
        clock: RunClock,
        schedule: Callable[[int, int, list[bytes], list[Message] | None, int], None],
        view: SendObserver,
        decode: Callable[[int, bytes], list[Message]],
        drops: Counter[str],
    ) -> None:
        n = params.n
        self.n = n
        self._clock = clock
        self._schedule = schedule
        self._interpreter = EffectInterpreter(n, self, view)
        self._view = view
        self._local: deque[Message] = deque()  # the acting strategy's own copies, in order
        self._out: dict[int, list[Message]] = {}  # what it sent the others, per destination
        self._decode = decode
        self._encode = adversary.protocol.encode
        self._drops = drops
        # Byzantine link senders continue past any previous incarnation's sequence numbers.
        seq_base = time.time_ns() // 1000
        self.actors: dict[int, Actor] = {}
        for spec in config.byzantine:
            b = spec.node
            bkeys = link_keys_for(b, load_private_key(key_dir, b, roster=roster), roster)
            # the proxy may restart within a run: start above any earlier seq
            senders = {
                d: LinkSender(sender=b, receiver=d, key=bkeys[d].send_key, first_seq=seq_base)
                for d in honest_ids
            }
            receiver = LinkReceiver(
                receiver=b, keys={s: bkeys[s].recv_key for s in range(n) if s != b}
            )
            node_spec = run_node_spec(config, params, adversary, b)
            try:
                options = plugin_kwargs(strategy_class(spec.strategy), spec.options)
                strategy = make_strategy(spec.strategy, node_spec, adversary, **options)
            except (TypeError, ValueError) as exc:
                raise NodeConfigError(f"byzantine node {b}: {exc}") from exc
            self.actors[b] = Actor(b, strategy, senders, receiver)

    def start(self) -> None:
        """Start every strategy (when the run starts)."""
        now = self._clock.now()
        for actor in self.actors.values():
            self._effects(actor, actor.strategy.start(now))

    def receive(self, pending: Pending) -> None:
        """A delivery to a corrupted node: its messages go to its strategy."""
        actor = self.actors[pending.dst]
        msgs = pending.msgs or []
        if pending.frames:
            # From an honest node: check the MAC like any receiver would (the adversary
            # holds this node's keys), then use what the frame really says.
            msgs = []
            for frame in pending.frames:
                opened = actor.receiver.open(frame[4:])
                if isinstance(opened, Reject):
                    self._drops[f"byzantine-{opened.value}"] += 1
                    continue
                msgs.extend(self._decode(pending.src, opened.payload))
        now = self._clock.now()
        for msg in msgs:
            self._effects(actor, actor.strategy.receive(pending.src, msg, now))

    def _effects(self, actor: Actor, effects: list[Effect]) -> None:
        """Perform a strategy's effects through the one interpreter
        (byzlab.runtime.interpreter): its own copies go back to it at once, in order, and
        what it sends to the others is scheduled when the cascade is over, per destination
        (sealed in frames of ``_BYZ_CHUNK`` messages for an honest one)."""
        b = actor.node
        out = self._out = {}
        local = self._local
        clock = self._clock
        perform = self._interpreter.perform
        perform(b, effects, clock.now())
        while local:
            msg = local.popleft()
            perform(b, actor.strategy.receive(b, msg, clock.now()), clock.now())
        self._send(actor, out)

    def adopt(self, actor: Actor, backlog: dict[int, list[Message]]) -> None:
        """Adaptive corruption (``shadows.py``): a node taken over mid-run joins the
        corrupted nodes, its strategy running with its link keys from now on. ``backlog`` is
        what it had sent as an honest node that its process had not: shown to the view and
        sent now."""
        self.actors[actor.node] = actor
        now = self._clock.now()
        for msgs in backlog.values():
            for msg in msgs:
                self._view.observe(actor.node, msg, now)
        self._send(actor, backlog)

    def _send(self, actor: Actor, out: dict[int, list[Message]]) -> None:
        """Schedule what ``actor`` sends, per destination: message objects for another
        corrupted node, frames sealed with its keys for an honest one."""
        b = actor.node
        for d, msgs in out.items():
            if d in self.actors:
                self._schedule(b, d, [], msgs, len(msgs))
                continue
            for k in range(0, len(msgs), _BYZ_CHUNK):
                chunk = msgs[k : k + _BYZ_CHUNK]
                body = actor.senders[d].seal(pack_batch([self._encode(m) for m in chunk]))
                self._schedule(b, d, [encode_frame(body)], chunk, len(chunk))

    # ----------------------------------------------------------------- effects (EffectSink)

    def transmit(self, src: int, msg: Message, dsts: Sequence[int], now: float) -> None:
        """The strategy's own copy goes back to it (``_effects``); the others wait in
        ``_out`` for the end of the cascade."""
        out = self._out
        for d in dsts:
            if d == src:
                self._local.append(msg)
            else:
                out.setdefault(d, []).append(msg)

    def decide(self, src: int, decision: Decide, now: float) -> None:
        """A corrupted node's decision means nothing to anyone."""

    def halt(self, src: int, halt: Halt, now: float) -> None:
        """A strategy that halts simply stops answering; nothing to do here."""

    def event(self, src: int, event: Event, now: float) -> None:
        """Strategies' trace events are not recorded by the proxy."""
