"""Tests for byzlab.sidecars.ranking (peer-ranking intelligence market)."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from byzlab.sidecars import ranking as rk

SEEDS = [0, 1, 2]


def test_paper_vector_two_group() -> None:
    shares = rk.two_group_cabal_share(0.51, 0.49, tau=0.1, temperature=10.0, n_blocks=5)
    assert [round(float(x), 5) for x in shares] == list(rk.PAPER_CABAL_SHARES)


def test_paper_vector_tail() -> None:
    # The paper also prints blocks 5..10 and 90..99 of the same run.
    shares = rk.two_group_cabal_share(n_blocks=100)
    assert shares[10] == pytest.approx(0.41090548935459825, abs=1e-12)
    assert shares[99] == pytest.approx(0.00012063371993464691, rel=1e-9)


@pytest.mark.parametrize("seed", SEEDS)
def test_matrix_model_reproduces_paper_vector(seed: int) -> None:
    rng = np.random.default_rng(seed)
    w, s, mask = rk.disjoint_cabal_network(5, 100, rng)
    shares = rk.simulate_cabal(w, s, mask, tau=0.1, temperature=10.0, n_blocks=5)
    got = [round(float(x), 5) for x in shares]
    assert got == list(rk.PAPER_CABAL_SHARES), f"seed={seed}: {got}"


@pytest.mark.parametrize("seed", SEEDS)
def test_minority_cabal_loses_share_monotonically(seed: int) -> None:
    rng = np.random.default_rng(seed)
    w, s, mask = rk.disjoint_cabal_network(7, 9, rng, honest_stake=0.55, cabal_stake=0.45)
    shares = rk.simulate_cabal(w, s, mask, n_blocks=60)
    assert np.all(np.diff(shares) < 0), f"seed={seed}"
    assert shares[-1] < 0.05, f"seed={seed}: final share {shares[-1]}"


def test_majority_cabal_gains_share() -> None:
    shares = rk.two_group_cabal_share(0.49, 0.51, n_blocks=50)
    assert np.all(np.diff(shares) > 0)


def test_exactly_one_reading_family_matches() -> None:
    rows = rk.reading_table()
    matching = {r.name for r, _, ok in rows if ok}
    assert matching == {
        "collusion program (0/1 C, offset 0.5), Eq. 5",
        "±1 C, no offset, temp 5",
    }
    literal = next(got for r, got, _ in rows if r.name.startswith("±1 C, no offset, temp 10"))
    assert round(float(literal[0]), 5) == 0.48548


def test_rank_and_trust_formulas() -> None:
    w = np.array([[0.0, 1.0, 0.0], [0.5, 0.0, 0.5], [0.0, 0.0, 1.0]])
    s = np.array([0.2, 0.3, 0.5])
    np.testing.assert_allclose(rk.rank_scores(w, s), w.T @ s)
    c = rk.connectivity_matrix(w)
    # 0 -> 1 -> {0, 2}; 2 only reaches itself (its self-loop is dropped).
    np.testing.assert_array_equal(c, [[1, 1, 1], [1, 1, 1], [0, 0, 1]])
    np.testing.assert_array_equal(rk.connectivity_matrix(w, signed=True)[2], [-1, -1, 1])
    np.testing.assert_array_equal(rk.connectivity_matrix(w, depth=0), np.eye(3))
    t = rk.trust_scores(c, s, temperature=10.0, offset=0.5)
    frac = np.array([0.5, 0.5, 1.0])
    np.testing.assert_allclose(t, 1.0 / (1.0 + np.exp(-10.0 * (frac - 0.5))))
    i = rk.incentive(w, c, s)
    np.testing.assert_allclose(i, (w.T @ s) * t)
    s2 = rk.inflate(s, i, 0.1)
    assert s2.sum() == pytest.approx(1.1)
    np.testing.assert_allclose(s2 - s, 0.1 * i / i.sum())


def test_connectivity_depth_limits_reach() -> None:
    # A chain 0 -> 1 -> 2 -> 3.
    w = np.zeros((4, 4))
    for k in range(3):
        w[k, k + 1] = 1.0
    w[3, 3] = 1.0
    assert rk.connectivity_matrix(w, depth=1)[0].tolist() == [1, 1, 0, 0]
    assert rk.connectivity_matrix(w, depth=2)[0].tolist() == [1, 1, 1, 0]
    assert rk.connectivity_matrix(w)[0].tolist() == [1, 1, 1, 1]


def test_sigmoid_extremes_no_warnings() -> None:
    out = rk.sigmoid(np.array([-1e4, 0.0, 1e4]))
    np.testing.assert_allclose(out, [0.0, 0.5, 1.0])


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: rk.two_group_cabal_share(tau=-0.1), "tau"),
        (lambda: rk.two_group_cabal_share(temperature=0.0), "temperature"),
        (lambda: rk.two_group_cabal_share(n_blocks=-1), "n_blocks"),
        (lambda: rk.two_group_cabal_share(honest_stake=-1.0), "honest_stake"),
        (lambda: rk.rank_scores(np.eye(2), [1.0, 2.0, 3.0]), "weights"),
        (lambda: rk.rank_scores(np.eye(2), [-1.0, 2.0]), "stake"),
        (lambda: rk.inflate([1.0, 1.0], [0.0, 0.0], 0.1), "scores"),
        (lambda: rk.connectivity_matrix(np.eye(2), depth=-1), "depth"),
        (lambda: rk.random_weight_matrix(3, 1.5, np.random.default_rng(0)), "density"),
        (lambda: rk.trust_scores(np.eye(2), [1.0, 1.0], temperature=float("nan")), "temperature"),
    ],
)
def test_validation_names_argument(call: object, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        call()  # type: ignore[operator]


def test_cli_cabal_two_group() -> None:
    result = CliRunner().invoke(rk.command, ["cabal", "--blocks", "5"])
    assert result.exit_code == 0, result.output
    for x in rk.PAPER_CABAL_SHARES:
        assert f"{x:.5f}" in result.output


def test_cli_cabal_matrix_and_readings() -> None:
    runner = CliRunner()
    result = runner.invoke(
        rk.command, ["cabal", "--model", "matrix", "--n-cabal", "7", "--blocks", "3", "--seed", "3"]
    )
    assert result.exit_code == 0, result.output
    assert "0.48773" in result.output
    result = runner.invoke(rk.command, ["readings"])
    assert result.exit_code == 0, result.output
    assert "yes" in result.output


def test_cli_bad_input() -> None:
    result = CliRunner().invoke(rk.command, ["cabal", "--tau", "-1"])
    assert result.exit_code == 2
    assert "tau must be >= 0" in result.output
