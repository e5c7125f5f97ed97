"""Tests for byzlab.sidecars.difficulty (Bayesian difficulty adjustment note)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from byzlab.sidecars import difficulty as da

SEEDS = [11, 12]
B0 = 600.0
W0 = 1.0 / 600.0


class _ReferenceLevelDAA:
    """The note's reference implementation, transcribed (its q uses the last block time)."""

    def __init__(self, q: float, w0: float, s0: float, T: int = 1, b0: float = 600) -> None:
        self.T = T
        self.count = 0
        self.bsum = 0.0
        self.b0 = b0
        self.q = q
        self.l = np.log(1 / w0 / b0)
        self.s = s0

    def winning_rate(self, w: float, b: float) -> float:
        self.bsum += b
        self.count = (self.count + 1) % self.T
        if self.count == 0:
            sp = self.s + self.q * b / self.b0
            r = w * np.exp(self.l)
            self.s = 1 / (1 / sp + r * self.bsum)
            self.l += self.s * (self.T - r * self.bsum)
            w = 1 / np.exp(self.l) / self.b0
            self.bsum = 0
        return float(w)


@pytest.mark.parametrize("T", [1, 5])
def test_level_daa_matches_reference_code(T: int) -> None:
    seed = 3
    rng = np.random.default_rng(seed)
    ours = da.LevelDAA(W0, q=1e-3, s0=0.05, T=T, noise_time="last_block")
    ref = _ReferenceLevelDAA(1e-3, W0, 0.05, T=T)
    w_ours = w_ref = W0
    for b in rng.exponential(B0 * 1.3, size=200):
        w_ours = ours.next_winning_rate(w_ours, float(b))
        w_ref = ref.winning_rate(w_ref, float(b))
        assert w_ours == pytest.approx(w_ref, rel=1e-12), f"seed={seed}"


def test_level_daa_window_noise_uses_window_time() -> None:
    f = da.LevelDAA(W0, q=1e-2, s0=0.1, T=3)
    for b in (100.0, 200.0, 300.0):
        f.next_winning_rate(W0, b)
    s_pred = 0.1 + 1e-2 * 600.0 / B0
    r_b = W0 * math.exp(math.log(1 / (W0 * B0))) * 600.0
    assert f.variance == pytest.approx(1.0 / (1.0 / s_pred + r_b))


def test_measurement_update_is_stationary_point_of_quadratic_posterior() -> None:
    # J(l) = -T l + w B e^{l̄}(1 + (l-l̄) + (l-l̄)²/2) + (l-l̄)²/(2 s̄): dJ/dl = 0 at l̂.
    T, w, B, q, s0 = 4, 2e-3, 1700.0, 1e-3, 0.2
    f = da.LevelDAA(w, q=q, s0=s0, T=T)
    l_bar = f.level
    for _ in range(T - 1):
        f.next_winning_rate(w, 0.0)
    f.next_winning_rate(w, B)
    s_bar = s0 + q * B / B0
    d = f.level - l_bar
    grad = -T + w * B * math.exp(l_bar) * (1 + d) + d / s_bar
    assert grad == pytest.approx(0.0, abs=1e-9)
    assert 1.0 / f.variance == pytest.approx(1.0 / s_bar + w * math.exp(l_bar) * B)


def test_bitcoin_and_asert_rules() -> None:
    btc = da.BitcoinDAA(W0, window=3)
    w = W0
    for b in (600.0, 600.0):
        assert btc.next_winning_rate(w, b) == w
    assert btc.next_winning_rate(w, 2400.0) == pytest.approx(w * 3600.0 / 1800.0)
    clamped = da.BitcoinDAA(W0, window=1)
    assert clamped.next_winning_rate(W0, 1e9) == pytest.approx(4 * W0)
    asert = da.ASERT(W0, halflife=1000.0)
    assert asert.next_winning_rate(W0, 600.0) == pytest.approx(W0)
    assert asert.next_winning_rate(W0, 1600.0) == pytest.approx(W0 * 2.0)


@pytest.mark.parametrize(
    ("elasticity", "lo", "hi"), [(0.5, 0.0, 0.35), (1.0, 0.75, 1.33), (2.0, 6.0, 10.5)]
)
def test_window_rule_linear_theory(elasticity: float, lo: float, hi: float) -> None:
    """Unclamped window rule: log deviation maps x -> -εx each window (growth ε³ over 3)."""
    seed = 5
    model = da.HashrateModel("elastic", w0=W0, step_block=0, step=1.5, elasticity=elasticity)
    rng = np.random.default_rng(seed)
    r = da.simulate(
        da.BitcoinDAA(W0, window=2016, clamp=None), model, rng.standard_exponential(8064)
    )
    amp = da.oscillation_amplitude(r, 2016)
    ratio = amp[3] / amp[0]
    assert lo < ratio < hi, f"seed={seed} elasticity={elasticity}: amplitudes {amp}"
    signs = np.sign(r.log_error[::2016])
    if elasticity >= 1.0:
        assert np.all(signs[1:] == -signs[:-1]), f"seed={seed}: sign must alternate {signs}"


@pytest.mark.parametrize("seed", SEEDS)
def test_elastic_step_bitcoin_oscillates_filter_tracks(seed: int) -> None:
    res = da.step_response(
        "elastic", np.random.default_rng(seed), n_blocks=12 * 2016, step_block=3 * 2016
    )
    amp = {name: da.oscillation_amplitude(r, 2016) for name, r in res.items()}
    # Bitcoin: limit cycle held at the x4 clamp, never settling.
    assert np.all(amp["bitcoin"][4:] > 0.5), f"seed={seed}: {amp['bitcoin']}"
    # Before the step the deviation grows window over window (x -> -2x).
    assert amp["bitcoin"][2] > amp["bitcoin"][1] > 0, f"seed={seed}: {amp['bitcoin']}"
    after = 5 * 2016
    for name in ("level-T1", "level-T36", "asert"):
        err = res[name].log_error[after:]
        rms = float(np.sqrt(np.mean(err**2)))
        assert rms < 0.1, f"seed={seed} {name}: rms {rms}"
        assert np.all(amp[name][5:] < 0.35), f"seed={seed} {name}: {amp[name]}"
    btc_rms = float(np.sqrt(np.mean(res["bitcoin"].log_error[after:] ** 2)))
    assert btc_rms > 0.5, f"seed={seed}: bitcoin rms {btc_rms}"
    # The oscillation costs real time: mean block time far above target.
    assert res["bitcoin"].block_time[after:].mean() > 1.5 * B0, f"seed={seed}"
    assert abs(res["level-T1"].block_time[after:].mean() - B0) < 0.1 * B0, f"seed={seed}"


@pytest.mark.parametrize("seed", SEEDS)
def test_inelastic_step_everyone_converges(seed: int) -> None:
    res = da.step_response(
        "inelastic", np.random.default_rng(seed), n_blocks=10 * 2016, step_block=3 * 2016
    )
    after = 5 * 2016
    for name, r in res.items():
        err = r.log_error[after:]
        rms = float(np.sqrt(np.mean(err**2)))
        assert rms < 0.1, f"seed={seed} {name}: rms {rms}"
        assert r.equilibrium[-1] == pytest.approx(2 * W0)


def test_step_response_is_deterministic_and_zero_elasticity_is_inelastic() -> None:
    a = da.step_response(
        "elastic", np.random.default_rng(7), n_blocks=500, step_block=100, elasticity=0.0
    )
    b = da.step_response("inelastic", np.random.default_rng(7), n_blocks=500, step_block=100)
    for name in a:
        np.testing.assert_array_equal(a[name].winning_rate, b[name].winning_rate)
        np.testing.assert_array_equal(a[name].block_time, b[name].block_time)


def test_plot_writes_png(tmp_path: Path) -> None:
    import matplotlib.pyplot as plt

    algs = da.default_algorithms(window=50)
    res = {
        kind: da.step_response(
            kind, np.random.default_rng(1), n_blocks=400, step_block=100, algorithms=algs
        )
        for kind in ("inelastic", "elastic")
    }
    out = da.plot_step_response(res, tmp_path / "sub" / "step.png", segment=50)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plt.get_fignums() == []


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: da.LevelDAA(W0, q=-1.0), "q"),
        (lambda: da.LevelDAA(W0, T=0), "T"),
        (lambda: da.LevelDAA(0.0), "w0"),
        (lambda: da.BitcoinDAA(W0, window=0), "window"),
        (lambda: da.BitcoinDAA(W0, clamp=0.5), "clamp"),
        (lambda: da.ASERT(W0, halflife=0.0), "halflife"),
        (lambda: da.HashrateModel("bogus"), "kind"),  # type: ignore[arg-type]
        (lambda: da.HashrateModel("elastic", elasticity=-1.0), "elasticity"),
        (lambda: da.step_response("elastic", np.random.default_rng(0), n_blocks=0), "n_blocks"),
        (lambda: da.LevelDAA(W0).next_winning_rate(W0, -1.0), "block_time"),
        (lambda: da.LevelDAA(W0).next_winning_rate(float("nan"), 1.0), "winning_rate"),
    ],
)
def test_validation_names_argument(call: object, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        call()  # type: ignore[operator]


def test_cli_step_and_plot(tmp_path: Path) -> None:
    png = tmp_path / "step.png"
    result = CliRunner().invoke(
        da.command,
        ["step", "--window", "64", "--windows", "8", "--step-window", "2", "--plot", str(png)],
    )
    assert result.exit_code == 0, result.output
    assert "bitcoin" in result.output
    assert "level-T1" in result.output
    assert png.exists()


def test_cli_bad_input() -> None:
    result = CliRunner().invoke(da.command, ["step", "--elasticity", "-2"])
    assert result.exit_code == 2
    assert "elasticity must be >= 0" in result.output
