"""Parameters: theory shapes, practical defaults, clear errors for bad values."""

from __future__ import annotations

import math

import pytest

from byzlab.node.params import Params, ParamsError, proof_shape


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


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"n": 3, "f": 1, "m": 8, "T": 8}, "n must be at least 4"),
        ({"n": 6, "f": 2, "m": 8, "T": 8}, "f=2 is too large for n=6"),
        ({"n": 4, "f": 0, "m": 8, "T": 8}, "f must be at least 1"),
        ({"n": 4, "f": 1, "m": 0, "T": 8}, "m must be at least 1"),
        ({"n": 4, "f": 1, "m": 8, "T": 0}, "T must be at least 1"),
        ({"n": 4, "f": 1, "m": 8, "T": 8, "c": -1.0}, "c must be a positive"),
        ({"n": 4.5, "f": 1, "m": 8, "T": 8}, "n must be an integer"),
        (
            {"n": 4, "f": 1, "m": 8, "T": 8, "window": 2},
            r"window must be at least 4 \* max\(m, m0\) \+ 64 = 96",
        ),
        ({"n": 4, "f": 1, "m": 8, "T": 8, "window": 95}, r"window must be at least .* = 96"),
        ({"n": 4, "f": 1, "m": 70_000, "T": 8}, "m must be at most 65536"),
        ({"n": 4, "f": 1, "m": 8, "T": 10**8}, "T must be at most 10000000"),
        ({"n": 2000, "f": 1, "m": 8, "T": 8}, "n must be at most 1024"),
        ({"n": 4, "f": 1, "m": 8, "T": 8, "c": math.nan}, "c must be a positive finite"),
        ({"n": 4, "f": 1, "m": 8, "T": 8, "beta": math.inf}, "beta must be a finite number"),
        ({"n": 4, "f": 1, "m": 8, "T": 8, "w_min": -0.5}, "w_min must be a finite number"),
        ({"n": 4, "f": 1, "m": 8, "T": 8, "eps": math.nan}, "eps must be a finite number"),
        ({"n": 4, "f": 1, "m": 8, "T": 8, "m0": 10**6}, "m0 must be at most 65536"),
        ({"n": 4, "f": 1, "m": 8, "T": 8, "xmax": -3}, "xmax must be at least 1"),
        ({"n": 4, "f": 1, "m": 8, "T": 8, "k_max": 10**7}, "k_max must be at most 1000000"),
        ({"n": 4, "f": 1, "m": 8, "T": 8, "window": 10**9}, "window must be at most 65536"),
        ({"n": 4, "f": 1, "m": 8, "T": 8, "window": 1e9}, "window must be an integer"),
    ],
)
def test_bad_parameters_are_rejected_with_a_clear_message(
    kwargs: dict[str, object], needle: str
) -> None:
    with pytest.raises(ParamsError, match=needle):
        Params(**kwargs)  # type: ignore[arg-type]


def test_results_record_the_parameters() -> None:
    from tests.simutil import run_sim

    _, result = run_sim(4, 1, seed=0, m=4, T=2)
    assert result.summary()["params"]["m"] == 4
    assert result.summary()["params"]["T"] == 2
    assert result.summary()["params"]["regime"] == Params.practical(4, 1, m=4, T=2).margins()


# --------------------------------------------------------------------------- window


def test_window_default_covers_every_item_a_node_may_have_in_flight() -> None:
    assert Params.practical(4).window == 4096
    theory = Params.theory(13, 4)  # the run that dropped honest messages with 4096
    assert theory.window == 4 * max(theory.m, theory.m0) + 64 > 4096
    # an explicit window is kept when it is large enough, and the copy recomputes the default
    assert Params.practical(4, window=5000).window == 5000
    assert Params.practical(4).with_overrides(m=2000).window == 4 * 2000 + 64
    assert Params.practical(4, window=5000).with_overrides(T=3).window == 5000
    # above 65536 only as far as the blackboards need
    big = Params.practical(4, m=65_536)
    assert big.window == 4 * 65_536 + 64
    assert Params.practical(4, m=65_536, window=big.window).window == big.window


def test_to_dict_round_trips_with_the_margins() -> None:
    for p in (Params.practical(7), Params.theory(10, 3), Params.proof(4, 1)):
        d = p.to_dict()
        assert d["regime"] == p.margins()
        assert Params(**d) == p  # node and proxy configs are built this way


# --------------------------------------------------------------------------- the proofs' margins


def test_margins_follow_the_formulas_of_lemmas_5_and_12() -> None:
    p = Params.practical(10)
    g = p.margins()
    eps, n, f, m, t = 10 / 3 - 3, 10, 3, p.m, p.T
    assert g["eps"] == pytest.approx(eps)
    assert g["lemma5_excess"] == pytest.approx(eps**2 * f * m * t / 4 - (n - f) * f * p.beta)
    assert g["lemma5_needed"] == pytest.approx(eps**2 * f * m * t / 8)
    assert g["lemma12_bound"] == pytest.approx(32 * n * p.xmax / (eps**2 * m * t))
    assert g["lemma12_gap"] == pytest.approx(math.sqrt(n) / t - g["lemma12_bound"])
    assert g["w_min"] == p.w_min


@pytest.mark.parametrize(("n", "f"), [(4, 1), (7, 2), (10, 3), (13, 4), (16, 5)])
def test_theory_preset_is_flagged_outside_the_regime_at_every_n(n: int, f: int) -> None:
    g = Params.theory(n, f).margins()
    assert g["lemma5_excess"] < 0 and g["lemma12_gap"] < 0
    reasons = " | ".join(g["outside_regime"])
    assert "Lemma 5(2) excess" in reasons and "Lemma 12 bound" in reasons
    assert ("eps = 1 > 1/2" in reasons) == (n == 4)


def test_practical_preset_is_flagged_too() -> None:
    assert Params.practical(7).margins()["outside_regime"]


@pytest.mark.parametrize(
    ("n", "f", "m", "t", "m0"),
    [
        (4, 1, 5696, 10924, 89),
        (5, 1, 519, 1945, 29),
        (6, 1, 140, 870, 16),
        (7, 2, 223175, 546005, 659),
        (10, 3, 1910725, 5415432, 2098),
    ],
)
def test_proof_shape_is_the_smallest_m_and_t_with_positive_margins(
    n: int, f: int, m: int, t: int, m0: int
) -> None:
    shape = proof_shape(n, f)
    assert (shape["m"], shape["T"], shape["m0"]) == (m, t, m0)
    eps, big_l = n / f - 3, math.log(n)
    # m: Lemma 12 with Xmax = ceil(sqrt(m L)) holds at m and fails just below the closed form
    assert 32 * math.sqrt(n) * math.ceil(math.sqrt(m * big_l)) <= eps**2 * m
    assert m >= 1024 * n * big_l / eps**4
    assert 32 * math.sqrt(n) * math.ceil(math.sqrt((m - 1) * big_l)) > eps**2 * (m - 1)


def test_proof_preset_is_inside_lemmas_5_and_12_but_not_one_less() -> None:
    p = Params.proof(4, 1)
    assert (p.m, p.T, p.m0, p.preset) == (5696, 10924, 89, "proof")
    g = p.margins()
    assert g["lemma5_excess"] >= g["lemma5_needed"] > 0
    assert g["lemma5_step_margin"] >= 0 and g["lemma12_gap"] >= 0
    assert g["lemma12_drift_margin"] >= 0
    # only the paper's eps range is left: eps = 1 > 1/2 at n = 4
    assert len(g["outside_regime"]) == 1 and "eps = 1 > 1/2" in g["outside_regime"][0]
    fewer_t = p.with_overrides(T=p.T - 1).margins()["outside_regime"]
    assert any("Lemma 5(2)" in r for r in fewer_t)
    fewer_m = p.with_overrides(m=p.m - 1).margins()["outside_regime"]
    assert any("Lemma 12 bound" in r for r in fewer_m)


def test_proof_preset_refuses_sizes_beyond_the_row_limit() -> None:
    with pytest.raises(
        ParamsError,
        match=r"^m must be at most 65536, but the proof preset "
        r"needs m = 223175",
    ):
        Params.proof(7, 2)
