"""Hypothesis-driven Byzantine peers inside whole runs.

The decoder tests (test_messages, test_framing, test_auth) fuzz the bytes; here the fuzzed
inputs are *protocol messages* that reach every honest state machine in the middle of a
real agreement: a corrupted node that plays honestly or not at all, and in between sends
hypothesis-chosen messages — out-of-range fields, wrong tags and kinds, far-future
iterations and boards, forged origins, random supports and views, DECIDEs with any value —
to chosen nodes or to everyone, triggered at chosen points of the run. Whatever it sends,
every honest node must not raise, the run must agree, stay valid and terminate, the
blackboards and Invariant 1 must hold, and every input an honest node refused must be
recorded under a reason.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from byzlab.adversary.assemble import assemble_simulator
from byzlab.adversary.context import AdversaryContext
from byzlab.adversary.strategies import ByzantineNode, NodeSpec
from byzlab.invariants import check_blackboard, check_invariant1
from byzlab.node.agreement import HonestNode
from byzlab.node.bracha import HPZ
from byzlab.node.effects import Broadcast, Effect, Send
from byzlab.node.messages import DecideMsg, Kind, Message, RbcMsg, Vote, Write
from byzlab.node.params import Params
from byzlab.seeds import make_inputs

N, F = 4, 1
BYZ = N - 1

_ints = st.integers(-3, 12) | st.sampled_from([10**6, 2**40, -(2**40), 1 << N, (1 << N) - 1])
_views = st.none() | st.lists(st.integers(-2, 40), min_size=0, max_size=N + 2).map(tuple)
_items = st.builds(Vote, _ints, _ints, _ints, _ints, _views) | st.builds(
    Write, _ints, _ints, _ints, _ints, _views
)
_messages: st.SearchStrategy[Message] = (
    st.builds(RbcMsg, st.integers(-1, 4), _ints, _ints, _items)
    # mostly well-shaped traffic in the Byzantine node's own name, which goes deepest
    | st.builds(
        RbcMsg,
        st.sampled_from([int(k) for k in (Kind.INITIAL, Kind.ECHO, Kind.READY)]),
        st.just(BYZ),
        st.integers(1, 40),
        st.builds(
            Vote,
            st.integers(1, 6),
            st.integers(1, 4),
            st.integers(-1, 1),
            st.integers(0, (1 << N) - 1),
            _views,
        )
        | st.builds(
            Write,
            st.integers(1, 12),
            st.integers(1, 10),
            st.integers(-1, 1),
            st.integers(0, (1 << N) - 1),
            _views,
        ),
    )
    | st.builds(DecideMsg, _ints)
)


@dataclass(frozen=True)
class Injection:
    after: int  # inject after this many deliveries to the corrupted node
    dst: int | None  # None: broadcast
    msg: Message


_injections = st.lists(
    st.builds(Injection, st.integers(0, 300), st.none() | st.integers(-1, N), _messages),
    max_size=40,
)


class FuzzingPeer(ByzantineNode):
    """Plays honestly (or stays silent) and sends the injected messages on top."""

    name = "fuzzing-peer"

    def __init__(
        self, spec: NodeSpec, ctx: AdversaryContext, injections: list[Injection], honest: bool
    ) -> None:
        super().__init__(spec, ctx)
        self.inner: HonestNode | None = spec.honest() if honest else None
        self.pending = sorted(injections, key=lambda inj: inj.after)
        self.seen = 0

    def _inject(self, out: list[Effect]) -> list[Effect]:
        while self.pending and self.pending[0].after <= self.seen:
            inj = self.pending.pop(0)
            out.append(Broadcast(inj.msg) if inj.dst is None else Send(inj.dst, inj.msg))
        return out

    def start(self, now: float = 0.0) -> list[Effect]:
        out = self.inner.start(now) if self.inner is not None else []
        return self._inject(list(out))

    def receive(self, sender: int, msg: Message, now: float = 0.0) -> list[Effect]:
        self.seen += 1
        out = self.inner.receive(sender, msg, now) if self.inner is not None else []
        return self._inject(list(out))


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    _injections,
    st.booleans(),
    st.integers(0, 2**16),
    st.sampled_from(["random", "fifo", "split-vote"]),
)
def test_a_fuzzing_peer_inside_a_run_changes_nothing_that_matters(
    injections: list[Injection], honest: bool, seed: int, scheduler: str
) -> None:
    params = Params.practical(N, F)
    sim = assemble_simulator(
        params,
        protocol=HPZ(),
        inputs=make_inputs("split", N, seed),
        seed=seed,
        scheduler=scheduler,
        byzantine={BYZ: lambda spec, ctx: FuzzingPeer(spec, ctx, injections, honest)},
        max_deliveries=2_000_000,
    )
    result = sim.run()  # nothing an honest node is sent may raise
    where = f"seed={seed} scheduler={scheduler} honest_base={honest} injections={injections!r}"
    assert result.agreed and result.valid, where
    assert result.stopped == "all-honest-halted", where
    nodes = sim.honest_nodes()
    report = check_blackboard(nodes)
    assert not report.violations, f"{where}: {report.violations[:3]}"
    assert not check_invariant1(nodes, {BYZ}, result.epochs), where
    for node in nodes:
        refused: Counter[str] = Counter(node.rejected) + Counter(node.rbc.dropped)
        assert all(isinstance(reason, str) and reason for reason in refused), where
