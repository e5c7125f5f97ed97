"""Every fault of a scenario counts toward f together: the Byzantine nodes, the adaptive
corruptions of [[adversary.corrupt]] and the honest nodes whose container [[docker.faults]]
kills or pauses (a crash fault). Too many is one line naming every field that adds up."""

from __future__ import annotations

from typing import Any

import pytest

from byzlab.orchestration.scenario import ScenarioError, parse_scenario

CRASH_NOTE = "(a killed or paused container is a crash fault and counts toward f)"


def _scenario(n: int, *, corrupt: int, crashed: list[int], byzantine: int | None = None) -> Any:
    adversary: dict[str, Any] = {}
    if byzantine is not None:
        adversary["byzantine"] = [{"node": byzantine, "strategy": "equivocate"}]
    if corrupt:
        adversary["corrupt"] = [{"rule": "first-decider", "strategy": "equivocate"}] * corrupt
    faults = [{"node": i, "action": "kill", "at_s": 0.5} for i in crashed]
    return {"run": {"n": n}, "adversary": adversary, "docker": {"faults": faults}}


def _problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(data)
    return caught.value.problems


def test_crashes_and_adaptive_corruptions_count_together() -> None:
    # n = 7, f = 2: one crash and one adaptive corruption fit, each alone as much as f
    parse_scenario(_scenario(7, corrupt=1, crashed=[1]))
    parse_scenario(_scenario(7, corrupt=2, crashed=[]))
    parse_scenario(_scenario(7, corrupt=0, crashed=[1, 2]))
    assert _problems(_scenario(7, corrupt=1, crashed=[1, 2])) == [
        "adversary.corrupt, docker.faults: Byzantine nodes [], 1 adaptive corruptions and "
        f"crashed nodes [1, 2] are 3 faulty nodes, more than f=2 {CRASH_NOTE}"
    ]
    assert _problems(_scenario(7, corrupt=1, crashed=[1], byzantine=6)) == [
        "adversary.corrupt, docker.faults: Byzantine nodes [6], 1 adaptive corruptions and "
        f"crashed nodes [1] are 3 faulty nodes, more than f=2 {CRASH_NOTE}"
    ]


def test_too_many_of_both_kinds_is_still_one_line() -> None:
    assert _problems(_scenario(4, corrupt=2, crashed=[1, 2])) == [
        "adversary.corrupt, docker.faults: Byzantine nodes [], 2 adaptive corruptions and "
        f"crashed nodes [1, 2] are 4 faulty nodes, more than f=1 {CRASH_NOTE}"
    ]


def test_each_kind_alone_keeps_its_own_line() -> None:
    assert _problems(_scenario(4, corrupt=1, crashed=[], byzantine=3)) == [
        "adversary.corrupt: 1 initially corrupted plus 1 adaptive corruptions are 2 nodes, "
        "more than f=1"
    ]
    assert _problems(_scenario(4, corrupt=0, crashed=[1], byzantine=3)) == [
        f"docker.faults: Byzantine nodes [3] plus crashed nodes [1] are 2 faulty nodes, more "
        f"than f=1 {CRASH_NOTE}"
    ]
