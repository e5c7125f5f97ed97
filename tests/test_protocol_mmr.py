"""The `mmr` protocol (Mostefaoui-Moumen-Raynal binary agreement with an ideal common coin):
its codec under hostile input, its state machine's rules and memory bound, and seeded
simulator runs judged by agreement and validity. Failure messages name the seed."""

from __future__ import annotations

from pathlib import Path

import pytest

from byzlab.api import Broadcast, DecodeError, ideal_coin, ideal_coin_seed
from byzlab.protocols.messages import RoundMsg
from byzlab.protocols.mmr import AUX, BEHIND, BVAL, MMR
from byzlab.protocols.rounds import AHEAD
from tests import roundproto

MMR_ = MMR()


(
    test_valid_messages_round_trip_with_exact_sizes,
    test_hostile_objects_decode_to_an_error_never_an_exception,
    test_hostile_bytes_decode_to_an_error_never_an_exception,
) = roundproto.codec_tests(MMR_)


def test_specific_rejections() -> None:
    decode = MMR_.decoder(4)
    cases = {
        "not-a-list": 5,
        "bad-length": [1, 1],
        "non-integer-field": [1, 1, True],
        "bad-kind": [3, 1, 1],
        "bad-round": [BVAL, 0, 1],
        "bad-value": [AUX, 1, 0],  # mmr has no "?"
    }
    for reason, obj in cases.items():
        assert decode(obj) == DecodeError(reason), (reason, obj)
    assert decode([0, 1, 1]) == DecodeError("bad-round")  # DECIDE has no round


def test_a_round_with_unanimous_inputs_decides_at_the_first_matching_coin() -> None:
    """Four nodes with input +1, all messages delivered in order: bin_values = {+1}, every
    AUX is +1, values = {+1}, and each node decides in the first round whose coin is +1."""
    n = 4
    nodes = roundproto.nodes(MMR_, n, 1, [1] * n, seed=3)
    inbox = [(i, e.msg) for i, node in enumerate(nodes) for e in node.start(0.0)]
    while inbox:
        src, msg = inbox.pop(0)
        for dst, node in enumerate(nodes):
            inbox += [(dst, e.msg) for e in node.receive(src, msg, 0.0) if isinstance(e, Broadcast)]
    first = next(r for r in range(1, 50) if ideal_coin(ideal_coin_seed(3), r) == 1)
    for node in nodes:
        assert node.decision == 1 and node.decided_iteration == first and node.halted
        assert all(
            node.coin_outputs[r] == ideal_coin(node.ideal_seed, r) for r in node.coin_outputs
        )


def test_a_bval_is_relayed_at_f_plus_1_and_enters_bin_values_at_2f_plus_1() -> None:
    n, f = 7, 2
    node = roundproto.nodes(MMR_, n, f, [1] * n)[0]
    assert node.start(0.0) == [Broadcast(RoundMsg(BVAL, 1, 1))]
    assert node.receive(1, RoundMsg(BVAL, 1, -1), 0.0) == []
    assert node.receive(2, RoundMsg(BVAL, 1, -1), 0.0) == []
    # f + 1 = 3 senders of -1: one is honest, so -1 is relayed
    assert node.receive(3, RoundMsg(BVAL, 1, -1), 0.0) == [Broadcast(RoundMsg(BVAL, 1, -1))]
    assert node.rounds.get(1).bin_values == []
    # a fourth sender, then the node's own relayed copy, make 2f + 1 = 5: -1 enters
    assert node.receive(4, RoundMsg(BVAL, 1, -1), 0.0) == []
    assert node.receive(0, RoundMsg(BVAL, 1, -1), 0.0) == [Broadcast(RoundMsg(AUX, 1, -1))]
    assert node.phase == "aux"
    # a second BVAL(-1) of a sender counts once
    node.receive(4, RoundMsg(BVAL, 1, -1), 0.0)
    assert node.dropped["duplicate-bval"] == 1


def test_the_aux_wait_needs_n_minus_f_values_inside_bin_values() -> None:
    n, f = 4, 1
    node = roundproto.nodes(MMR_, n, f, [1] * n, seed=0)[0]
    node.start(0.0)
    for sender in range(3):  # bin_values = {+1}, AUX(+1) sent
        node.receive(sender, RoundMsg(BVAL, 1, 1), 0.0)
    node.receive(0, RoundMsg(AUX, 1, 1), 0.0)
    # AUX(-1) lies outside bin_values: it does not complete the wait
    node.receive(1, RoundMsg(AUX, 1, -1), 0.0)
    node.receive(2, RoundMsg(AUX, 1, -1), 0.0)
    assert node.iteration == 1 and 1 not in node.coin_outputs
    node.receive(3, RoundMsg(AUX, 1, 1), 0.0)
    assert node.iteration == 1  # two AUX(+1), and -1 still outside bin_values
    for sender in range(1, 4):  # now -1 enters bin_values: values = {-1, +1}
        node.receive(sender, RoundMsg(BVAL, 1, -1), 0.0)
    assert node.iteration == 2 and node.est == node.coin_outputs[1]
    assert node.decision is None


def test_memory_is_bounded_under_a_flood_of_rounds() -> None:
    roundproto.check_flood_is_bounded(MMR_, BEHIND + AHEAD + 1)


def test_the_decide_gadget() -> None:
    roundproto.check_decide_gadget(MMR_)


def test_resilience_is_optimal() -> None:
    assert [MMR_.max_faults(n) for n in (4, 6, 7, 10, 13)] == [1, 1, 2, 3, 4]


@pytest.mark.parametrize("n", [4, 7])
def test_the_state_machine_is_deterministic(n: int) -> None:
    runs = [
        [node.start(0.0) for node in roundproto.nodes(MMR_, n, (n - 1) // 3, [1, -1] * n, seed=5)]
        for _ in range(2)
    ]
    assert runs[0] == runs[1]


@pytest.mark.parametrize("scheduler", roundproto.SCHEDULERS)
@pytest.mark.parametrize("n", [4, 7, 10, 13])
def test_agreement_and_validity_over_200_seeds(n: int, scheduler: str) -> None:
    roundproto.check_seeds(MMR_, n, scheduler)


def test_a_scenario_runs_on_local_processes_through_the_proxy(tmp_path: Path) -> None:
    roundproto.check_local_run(tmp_path, MMR_, 7)


def test_matrix_and_sweep_include_it(tmp_path: Path) -> None:
    roundproto.check_matrix_and_sweep(tmp_path, MMR_, 7)
