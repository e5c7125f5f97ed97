"""The protocol interface (byzlab.node.protocol) is enough to run a protocol byzlab never saw.

`EchoProtocol` below is a whole protocol written against the interface alone: every node
broadcasts its input once, decides the sign of the first n - f values it receives (from
distinct senders) and halts. With unanimous honest inputs that is a correct binary agreement
against f < n/3 Byzantine nodes (at least n - 2f >= f + 1 of any n - f values are honest),
which is all these runs ask of it. It runs in the simulator under the value-based attacks
(equivocate, the split-vote scheduler) and on real node processes through the proxy, named
as ``module:Name``; the attacks that need the Bracha family refuse it in one line.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from byzlab.adversary.applies import refusal
from byzlab.adversary.context import AdversaryContext
from byzlab.adversary.schedulers import SCHEDULERS
from byzlab.adversary.strategies import STRATEGIES, NodeSpec, make_strategy
from byzlab.adversary.view import AdversaryView
from byzlab.node.bracha import BUILTIN_PROTOCOLS, HPZ
from byzlab.node.effects import Broadcast, Decide, Effect, Halt, Send
from byzlab.node.params import Params
from byzlab.node.protocol import DecodeError, Protocol, ProtocolNode
from byzlab.orchestration.dispatch import run_scenario
from byzlab.orchestration.scenario import ScenarioError, parse_scenario
from tests.simutil import run_sim


@dataclass(frozen=True, slots=True)
class EchoVote:
    """A node's input, broadcast once."""

    value: int


class EchoNode:
    """One node of the echo protocol: broadcast the input, decide on n - f values, halt."""

    def __init__(self, me: int, params: Params, input_value: int) -> None:
        self.me = me
        self.quorum = params.quorum
        self.input_value = input_value
        self.decision: int | None = None
        self.iteration = 1
        self.halted = False
        self.values: dict[int, int] = {}

    @property
    def phase(self) -> str:
        return "decided" if self.decision is not None else "waiting"

    def start(self, now: float) -> list[Effect]:
        return [Broadcast(EchoVote(self.input_value))]

    def receive(self, src: int, msg: Any, now: float) -> list[Effect]:
        # a corrupted sender may repeat or change its vote: only its first counts
        if self.halted or not isinstance(msg, EchoVote) or src in self.values:
            return []
        self.values[src] = msg.value
        if len(self.values) < self.quorum:
            return []
        self.decision = 1 if sum(self.values.values()) >= 0 else -1
        self.halted = True
        return [Decide(self.decision, 1), Halt("decided")]

    def snapshot(self) -> dict[str, object]:
        return {"node": self.me, "decision": self.decision, "votes": len(self.values)}


class EchoProtocol:
    """Everyone echoes its input, then decides the majority of the first n - f."""

    name = "echo"

    def node(
        self, me: int, params: Params, *, input_value: int, rng: random.Random, ideal_seed: bytes
    ) -> EchoNode:
        return EchoNode(me, params, input_value)

    def encode(self, msg: EchoVote) -> list[object]:
        return [msg.value]

    def decoder(self, n: int) -> Any:
        def decode(obj: object) -> EchoVote | DecodeError:
            if type(obj) is list and len(obj) == 1 and type(obj[0]) is int and obj[0] in (-1, 1):
                return EchoVote(obj[0])
            return DecodeError("not-an-echo-vote")

        return decode

    def wire_size(self, msg: EchoVote) -> int:
        return 2

    def kind(self, msg: object) -> str:
        return "VOTE" if isinstance(msg, EchoVote) else "MALFORMED"

    def trace_fields(self, msg: EchoVote) -> tuple[int, int]:
        return 0, msg.value + 1

    def value_of(self, msg: object) -> int | None:
        return msg.value if isinstance(msg, EchoVote) else None

    def equivocal(self, msg: object) -> EchoVote | None:
        return EchoVote(-msg.value) if isinstance(msg, EchoVote) else None


ECHO = EchoProtocol()


def test_the_builtin_protocols_and_the_echo_protocol_meet_the_interface() -> None:
    params = Params.practical(4, 1)
    for protocol in (*BUILTIN_PROTOCOLS.values(), ECHO):
        assert isinstance(protocol, Protocol), protocol
        node = protocol.node(0, params, input_value=1, rng=random.Random(0), ideal_seed=b"")
        assert isinstance(node, ProtocolNode), protocol
    assert list(BUILTIN_PROTOCOLS) == ["hpz", "bracha-local", "ideal-coin"]
    decode = ECHO.decoder(4)
    assert decode(ECHO.encode(EchoVote(-1))) == EchoVote(-1)
    for hostile in ([2], [True], [1.0], "x", [1, 1], None, [[1]]):
        assert isinstance(decode(hostile), DecodeError), hostile


@pytest.mark.parametrize("n", [4, 7])
@pytest.mark.parametrize("scheduler", ["random", "split-vote", "fifo", "hold-f"])
@pytest.mark.parametrize("strategy", [None, "equivocate", "silent", "crash"])
def test_echo_agrees_in_the_simulator_under_value_based_attacks(
    n: int, scheduler: str, strategy: str | None
) -> None:
    f = (n - 1) // 3
    for seed in range(20):
        inputs = [1 if seed % 2 else -1] * n
        _, result = run_sim(
            n, f, seed=seed, protocol=ECHO, strategy=strategy, scheduler=scheduler, inputs=inputs
        )
        about = f"seed={seed} n={n} {strategy}/{scheduler}: {result.summary()}"
        assert result.agreed and result.valid, about
        assert result.decision == inputs[0], about
        assert result.protocol == "echo", about
        # the protocol's own accounting: one VOTE per peer per sending node, 2 bytes each
        assert result.messages_by_kind == {"VOTE": result.messages}, about
        assert result.bytes == 2 * result.messages, about
        assert result.rbc_instances == 0 and result.epochs == 0, about
        again = run_sim(
            n, f, seed=seed, protocol=ECHO, strategy=strategy, scheduler=scheduler, inputs=inputs
        )[1]
        assert again.trace_hash == result.trace_hash, about


def test_equivocate_forges_the_opposite_value_through_the_protocol() -> None:
    params = Params.practical(7, 2)
    ctx = AdversaryContext(params, AdversaryView(params, [6]), protocol=ECHO)
    spec = NodeSpec(6, params, ECHO, 1, random.Random(5))
    effects = make_strategy("equivocate", spec, ctx).start(0.0)
    sends = [e for e in effects if isinstance(e, Send)]
    assert sorted(e.dst for e in sends) == list(range(7)), effects
    values = [e.msg.value for e in sends]
    assert values.count(-1) == 7 // 2 and values.count(1) == 7 - 7 // 2, effects


def test_the_split_vote_scheduler_reads_votes_through_value_of() -> None:
    params = Params.practical(4, 1)
    ctx = AdversaryContext(params, AdversaryView(params, []), random.Random(0), protocol=ECHO)
    scheduler = SCHEDULERS["split-vote"](ctx)
    for dst in range(4):
        side = 1 if dst % 2 == 0 else -1
        assert scheduler.delay(0, dst, EchoVote(side), 0.0) <= 0.2
        assert scheduler.delay(0, dst, EchoVote(-side), 0.0) >= 0.8


NEEDS_BRACHA = {
    "strategy": {
        "random-value",
        "invalid-value",
        "split-hold",
        "random-coins",
        "biased-coins",
        "mirror-mimic",
        "coin-interval",
        "split-vote",
        "force-decide",
        "deadlock",
        "sigma-correlation",
    },
    "scheduler": {"keepers", "coin-aware", "finger-suppression", "rules"},
}


def test_each_builtin_says_which_protocols_it_applies_to() -> None:
    registries: dict[str, dict[str, type]] = {"strategy": STRATEGIES, "scheduler": SCHEDULERS}
    for kind, registry in registries.items():
        for name, cls in registry.items():
            for protocol in BUILTIN_PROTOCOLS.values():
                assert refusal(kind, name, cls, protocol) is None, (name, protocol)
            refused = refusal(f"adversary.{kind}", name, cls, ECHO)
            assert (refused is not None) == (name in NEEDS_BRACHA[kind]), (name, refused)
    mirror = refusal("adversary.strategy", "mirror-mimic", STRATEGIES["mirror-mimic"], ECHO)
    assert mirror == (
        'adversary.strategy: "mirror-mimic" does not apply to protocol "echo" '
        "(it needs HPZ's coin messages)"
    )


def test_a_run_pairing_a_protocol_with_an_attack_it_does_not_fit_is_refused() -> None:
    with pytest.raises(
        ValueError,
        match=r'^strategy: "mirror-mimic" does not apply to protocol "echo" \(it needs HPZ\'s coin messages\)$',
    ):
        run_sim(4, 1, seed=0, protocol=ECHO, strategy="mirror-mimic", inputs=[1] * 4)
    with pytest.raises(
        ValueError, match=r'^scheduler: "keepers" does not apply to protocol "echo"'
    ):
        run_sim(4, 1, seed=0, protocol=ECHO, scheduler="keepers", inputs=[1] * 4)
    # HPZ itself takes every attack
    assert run_sim(4, 1, seed=0, protocol=HPZ(), strategy="mirror-mimic")[1].agreed


def _echo_scenario(strategy: str | None = None, scheduler: str = "random") -> Any:
    adversary: dict[str, Any] = {"delta_s": 0.05, "scheduler": scheduler}
    if strategy is not None:
        adversary["byzantine"] = [{"node": 3, "strategy": strategy}]
    return parse_scenario(
        {
            "run": {"n": 4, "seed": 7, "protocol": ECHO_REF, "inputs": [1, 1, 1, 1]},
            "adversary": adversary,
        }
    )


ECHO_REF = f"{__name__}:EchoProtocol"


def test_a_scenario_pairing_a_protocol_with_an_attack_it_does_not_fit_is_refused() -> None:
    with pytest.raises(ScenarioError) as caught:
        _echo_scenario("mirror-mimic", "keepers")
    lines = [line.strip() for line in str(caught.value).splitlines()]
    assert (
        'adversary.scheduler: "keepers" does not apply to protocol "echo" (it needs the Bracha engine\'s votes)'
        in lines
    ), lines
    assert (
        'adversary.byzantine[0].strategy: "mirror-mimic" does not apply to protocol "echo" (it needs HPZ\'s coin messages)'
        in lines
    ), lines
    assert len(lines) == 3, lines  # the count and the two pairings, nothing else
    _echo_scenario("equivocate", "split-vote")  # value-based attacks apply


def test_echo_runs_on_local_processes_through_the_proxy(tmp_path: Path) -> None:
    """The node processes and the proxy load the protocol from its ``module:Name``: they
    build the nodes, encode, decode and count its messages, and the corrupted node 3
    equivocates through the protocol's `equivocal`."""
    outcome = run_scenario(_echo_scenario("equivocate", "split-vote"), "local", out_root=tmp_path)
    summary = outcome.summary
    about = f"local run {outcome.run_id}, seed 7: {summary}"
    assert summary["agreed"] and summary["valid"] and summary["decision"] == 1, about
    assert summary["protocol"] == ECHO_REF, about
    stats = json.loads((outcome.out_dir / "proxy-stats.json").read_text())
    # every honest node's vote to its 3 peers, node 3's 3 equivocal ones, nothing else
    assert stats["messages_by_kind"] == {"VOTE": 3 * 3 + 3}, about
