"""Parameters: theory shapes, practical defaults, clear errors for bad values."""

from __future__ import annotations

import math

import pytest

from byzlab.node.params import Params, ParamsError


def test_theory_shapes() -> None:
    p = Params.theory(7, 2)
    eps = 7 / 2 - 3
    assert p.eps == pytest.approx(eps)
    assert p.m == math.ceil(7 * math.log(7) / eps**4)
    assert p.T == math.ceil(49 * math.log(7) ** 3 / eps**4)
    assert p.m0 == p.xmax == math.ceil(math.sqrt(p.m * p.c * math.log(7)))
    assert p.k_max == 6
    assert p.w_min == pytest.approx(math.sqrt(7) / p.T)
    assert p.beta == pytest.approx(p.m * math.sqrt(p.T * (p.c * math.log(7)) ** 3))
    assert p.preset == "theory"


def test_practical_defaults_and_overrides() -> None:
    p = Params.practical(10)
    assert (p.f, p.m, p.T) == (3, 8, 8)
    q = p.with_overrides(m=16)
    assert q.m == 16 and q.m0 == math.ceil(math.sqrt(16 * math.log(10)))
    assert q.to_dict()["m"] == 16
    assert p.rows(1) == p.m0 and p.rows(2) == p.m
    assert [p.epoch_of(t) for t in (1, 8, 9, 16, 17)] == [1, 1, 2, 2, 3]


@pytest.mark.parametrize(("kwargs", "needle"), [
    ({"n": 3, "f": 1, "m": 8, "T": 8}, "n must be at least 4"),
    ({"n": 6, "f": 2, "m": 8, "T": 8}, "f=2 is too large for n=6"),
    ({"n": 4, "f": 0, "m": 8, "T": 8}, "f must be at least 1"),
    ({"n": 4, "f": 1, "m": 0, "T": 8}, "m must be at least 1"),
    ({"n": 4, "f": 1, "m": 8, "T": 0}, "T must be at least 1"),
    ({"n": 4, "f": 1, "m": 8, "T": 8, "c": -1.0}, "c must be a positive"),
    ({"n": 4.5, "f": 1, "m": 8, "T": 8}, "n must be an integer"),
    ({"n": 4, "f": 1, "m": 8, "T": 8, "window": 2}, "window must be at least 16"),
])
def test_bad_parameters_are_rejected_with_a_clear_message(kwargs: dict[str, object],
                                                          needle: str) -> None:
    with pytest.raises(ParamsError, match=needle):
        Params(**kwargs)  # type: ignore[arg-type]


def test_results_record_the_parameters() -> None:
    from tests.simutil import run_sim

    _, result = run_sim(4, 1, seed=0, m=4, T=2)
    assert result.summary()["params"]["m"] == 4
    assert result.summary()["params"]["T"] == 2
