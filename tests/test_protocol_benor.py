"""The `ben-or` protocol (Ben-Or's Byzantine agreement with local coins, n > 5f): its codec
under hostile input, its state machine's rules and memory bound, its resilience, and seeded
simulator runs judged by agreement and validity. Failure messages name the seed."""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from byzlab.adversary.assemble import assemble_simulator
from byzlab.api import Broadcast, Decide, DecodeError, Params
from byzlab.cli import main
from byzlab.errors import InvariantViolation
from byzlab.orchestration.scenario import ScenarioError, parse_scenario
from byzlab.protocols.benor import PROPOSE, REPORT, BenOr
from byzlab.protocols.messages import RoundMsg
from byzlab.protocols.rounds import AHEAD
from tests import roundproto
from tests.simutil import build_sim

BEN_OR = BenOr()


(
    test_valid_messages_round_trip_with_exact_sizes,
    test_hostile_objects_decode_to_an_error_never_an_exception,
    test_hostile_bytes_decode_to_an_error_never_an_exception,
) = roundproto.codec_tests(BEN_OR)


def test_only_a_proposal_may_carry_no_value() -> None:
    decode = BEN_OR.decoder(6)
    assert decode([PROPOSE, 3, 0]) == RoundMsg(PROPOSE, 3, 0)
    assert decode([REPORT, 3, 0]) == DecodeError("bad-value")
    assert decode([0, 0, 0]) == DecodeError("bad-value")
    assert BEN_OR.value_of(RoundMsg(PROPOSE, 3, 0)) == 0
    assert BEN_OR.equivocal(RoundMsg(PROPOSE, 3, 0)) == RoundMsg(PROPOSE, 3, 1)


def test_resilience_is_n_greater_than_5f() -> None:
    assert [BEN_OR.max_faults(n) for n in (4, 5, 6, 7, 10, 11, 13, 16)] == [0, 0, 1, 1, 1, 2, 2, 3]


def test_unanimous_inputs_decide_in_round_one() -> None:
    """Validity: with every input +1, every quorum of n - f reports holds n - 2f > (n + f)/2
    copies of +1, so every node proposes +1 and decides it in round 1."""
    n, f = 11, 2
    nodes = roundproto.nodes(BEN_OR, n, f, [1] * n)
    inbox = [(i, e.msg) for i, node in enumerate(nodes) for e in node.start(0.0)]
    while inbox:
        src, msg = inbox.pop(0)
        for dst, node in enumerate(nodes):
            inbox += [(dst, e.msg) for e in node.receive(src, msg, 0.0) if isinstance(e, Broadcast)]
    assert all(node.decision == 1 and node.decided_iteration == 1 for node in nodes)
    assert all(node.halted and not node.coin_outputs for node in nodes)


def test_a_round_uses_exactly_the_first_n_minus_f_messages() -> None:
    n, f = 6, 1
    node = roundproto.nodes(BEN_OR, n, f, [1] * n)[0]
    assert node.start(0.0) == [Broadcast(RoundMsg(REPORT, 1, 1))]
    for sender in range(4):
        assert node.receive(sender, RoundMsg(REPORT, 1, 1 if sender < 3 else -1), 0.0) == []
    # the fifth report completes n - f = 5: four +1 > (n + f)/2 = 3.5, so PROPOSE(+1)
    assert node.receive(4, RoundMsg(REPORT, 1, 1), 0.0) == [Broadcast(RoundMsg(PROPOSE, 1, 1))]
    node.receive(5, RoundMsg(REPORT, 1, -1), 0.0)  # the sixth counts for nothing
    assert node.phase == "propose"
    for sender in (0, 1, 2, 3):
        node.receive(sender, RoundMsg(PROPOSE, 1, 1), 0.0)
    effects = node.receive(4, RoundMsg(PROPOSE, 1, 0), 0.0)
    # four PROPOSE(+1) of five > 3.5: decide +1 and go on to round 2 with x = +1
    assert Decide(1, 1) in effects and Broadcast(RoundMsg(REPORT, 2, 1)) in effects
    assert node.iteration == 2 and node.x == 1 and not node.halted


def test_without_f_plus_1_proposals_the_node_flips_its_own_coin() -> None:
    n, f = 6, 1
    node = roundproto.nodes(BEN_OR, n, f, [1] * n, seed=9)[0]
    node.start(0.0)
    for sender in range(5):  # 3 against 2: no majority, PROPOSE(?)
        node.receive(sender, RoundMsg(REPORT, 1, 1 if sender % 2 else -1), 0.0)
    for sender in range(4):
        node.receive(sender, RoundMsg(PROPOSE, 1, 0), 0.0)
    node.receive(4, RoundMsg(PROPOSE, 1, 1), 0.0)  # one D-message < f + 1
    assert node.iteration == 2 and node.coin_outputs == {1: node.x} and node.decision is None


def test_memory_is_bounded_under_a_flood_of_rounds() -> None:
    roundproto.check_flood_is_bounded(BEN_OR, AHEAD + 1)


def test_the_decide_gadget() -> None:
    roundproto.check_decide_gadget(BEN_OR)


@pytest.mark.parametrize("scheduler", roundproto.SCHEDULERS)
@pytest.mark.parametrize("n", [6, 7, 10, 13])
def test_agreement_and_validity_over_200_seeds(n: int, scheduler: str) -> None:
    """n = 4 is not here: Ben-Or tolerates no fault below n = 6 (n > 5f), and byzlab's
    parameters have f >= 1; n = 6 is the smallest size with one fault."""
    roundproto.check_seeds(BEN_OR, n, scheduler)


def test_a_scenario_runs_on_local_processes_through_the_proxy(tmp_path: Path) -> None:
    roundproto.check_local_run(tmp_path, BEN_OR, 6)


def test_matrix_and_sweep_include_it(tmp_path: Path) -> None:
    roundproto.check_matrix_and_sweep(tmp_path, BEN_OR, 7)


def test_more_faults_than_ben_or_tolerates_are_refused_in_one_line_everywhere() -> None:
    """A scenario, ``byzlab sim`` and the simulator's assembly refuse f > (n - 1) // 5,
    naming the field and the limit; at n < 6 ben-or tolerates no fault at all."""
    with pytest.raises(ScenarioError) as info:
        parse_scenario({"run": {"n": 11, "f": 3, "protocol": "ben-or"}})
    assert info.value.problems == [
        'run.f: f=3 is too large for n=11 under protocol "ben-or" (at most 2)'
    ]
    assert parse_scenario({"run": {"n": 11, "f": 2, "protocol": "ben-or"}}).f == 2
    result = CliRunner().invoke(main, ["sim", "--protocol", "ben-or", "--n", "4"])
    assert result.exit_code != 0
    assert result.output.strip().splitlines()[-1] == (
        'Error: --f: protocol "ben-or" tolerates no fault at n=4 (f must be at least 1); '
        "choose a larger n"
    )
    with pytest.raises(ValueError, match=r'f=2 is too large for n=7 under protocol "ben-or"'):
        assemble_simulator(Params.practical(7, 2), protocol=BEN_OR, inputs=[1] * 7, seed=0)


def test_byzlab_sim_defaults_to_the_faults_ben_or_tolerates() -> None:
    result = CliRunner().invoke(
        main, ["sim", "--protocol", "ben-or", "--n", "11", "--byzantine", "equivocate", "--json"]
    )
    summary = json.loads(result.output)
    assert result.exit_code == 0 and summary["params"]["f"] == 2, result.output
    assert summary["agreed"] and summary["valid"], summary
    assert sorted(summary["byzantine"]) == ["10", "9"], summary


def test_the_matrix_leaves_ben_or_out_where_it_tolerates_no_fault(tmp_path: Path) -> None:
    table = tmp_path / "matrix.csv"
    proc = subprocess.run(
        [roundproto.BYZLAB, "matrix", "--n", "4", "--seeds", "1", "--protocols", "ben-or,mmr",
         "--strategies", "silent", "--schedulers", "random", "--jobs", "1", "--out", str(table)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert 'left out: --f: protocol "ben-or" tolerates no fault at n=4' in proc.stderr
    with table.open() as fh:
        assert [row["protocol"] for row in csv.DictReader(fh)] == ["mmr"]


class _BenOrAtAThird(BenOr):
    """Ben-Or with the Bracha family's bound f = (n - 1) // 3, which it does not tolerate."""

    def max_faults(self, n: int) -> int:
        return (n - 1) // 3


def test_at_f_of_a_third_ben_or_breaks_agreement_and_validity() -> None:
    """Why the bound is n > 5f: lifted to f < n/3, one equivocating node of four makes honest
    nodes decide differently, or decide against their unanimous input, within 20 seeds (the
    simulator raises at the violating decision)."""
    broken: dict[str, int] = {}
    for seed in range(20):
        sim = build_sim(
            4, 1, seed=seed, protocol=_BenOrAtAThird(), strategy="equivocate",
            scheduler="split-vote", inputs=roundproto.INPUTS[seed % 4],
        )  # fmt: skip
        try:
            sim.run()
        except InvariantViolation as exc:
            broken.setdefault(str(exc).split()[0], seed)
    assert set(broken) == {"agreement", "validity"}, broken


def test_a_scenario_that_names_ben_or_gets_ben_or_s_own_fault_bound() -> None:
    """Without run.f a scenario's f is the largest its protocol tolerates: (n - 1) // 5 for
    Ben-Or, not (n - 1) // 3, which it would refuse; the other protocols keep (n - 1) // 3."""
    for n, f in ((6, 1), (11, 2), (13, 2), (16, 3)):
        scn = parse_scenario({"run": {"n": n, "protocol": "ben-or"}})
        assert scn.f == f, (n, scn.f)
        assert parse_scenario({"run": {"n": n, "protocol": "mmr"}}).f == (n - 1) // 3
    with pytest.raises(ScenarioError, match=r"run\.f: .*ben-or.* no fault at n=5"):
        parse_scenario({"run": {"n": 5, "protocol": "ben-or"}})
