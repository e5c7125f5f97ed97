"""The ``byzlab committee`` command group: the committee sidecar on the command line.

``command`` is the ``committee`` click group (registered by the project as ``byzlab committee``):
``seats``, ``bft``, ``kmin``, ``posterior``, ``seed``, ``draw``, ``verify`` and ``compare``, each
printing a rich table. Library ``ValueError`` s become click errors (``Error: ...``, exit
status 1).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal, TypeVar

import click
import numpy as np
from rich.console import Console
from rich.table import Table

from byzlab.sidecars.committee.chernoff import (
    adversary_share,
    chernoff_committee_size,
    chernoff_tail_bound,
    dirichlet_tail_floor,
    exact_tail_probability,
    validate_chernoff,
)
from byzlab.sidecars.committee.coalitions import (
    random_stake_coalition,
    synthetic_stakes,
    tail_stake_coalition,
    top_stake_coalition,
)
from byzlab.sidecars.committee.draw import draw_committee, verify_committee
from byzlab.sidecars.committee.fait_accompli import (
    SchemeStats,
    compare_fait_accompli,
    draw_fait_accompli,
)
from byzlab.sidecars.committee.inference import dirichlet_posterior, fit_alpha_mcmc
from byzlab.sidecars.committee.seats import expected_seats, seat_variance, simulate_seats
from byzlab.sidecars.committee.seed import public_seed
from byzlab.sidecars.committee.thresholds import bft_thresholds, optimal_committee_size

_T = TypeVar("_T")


def _parse_list(kind: Callable[[str], _T], what: str) -> Callable[..., list[_T]]:
    def callback(ctx: click.Context, param: click.Parameter, value: str | None) -> list[_T]:
        if value is None:
            return []
        try:
            items = [kind(v.strip()) for v in value.split(",") if v.strip()]
        except ValueError as exc:
            raise click.BadParameter(f"expected comma-separated {what}; got {value!r}") from exc
        if not items:
            raise click.BadParameter(f"expected at least one {what[:-1]}")
        return items

    return callback


_float_list = _parse_list(float, "numbers")
_int_list = _parse_list(int, "integers")


def _run(fn: Callable[[], _T]) -> _T:
    """Turn library ValueErrors into clean click errors (``Error: ...``, exit status 1)."""
    try:
        return fn()
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc


def _console() -> Console:
    console = Console(highlight=False, markup=False)  # labels like E[p_i|X] are not markup
    if not console.is_terminal:  # pipes and CliRunner: do not squeeze tables into 80 columns
        console.width = max(console.width, 120)
    return console


@click.group(name="committee", context_settings={"help_option_names": ["-h", "--help"]})
def command() -> None:
    """Stake-weighted committees: seat model, BFT sizing, verifiable draws.

    Dirichlet-multinomial seat moments (eqs. 4-5), BFT thresholds (Algorithm 1), committee
    sizes (Algorithms 3-4), posterior inference for alpha, verifiable seeded draws and a
    comparison with weighted Fait Accompli. Equation and algorithm numbers are those of
    R. Jones, "A Bayesian Model for Committee Selection in Blockchain Consensus Protocols"
    (2025).
    """


_alpha_option = click.option(
    "--alpha",
    required=True,
    callback=_float_list,
    help="Dirichlet parameters / stakes, comma-separated (e.g. 1,2,3).",
)


@command.command()
@_alpha_option
@click.option("--k", type=int, required=True, help="Committee size (seats, with replacement).")
@click.option(
    "--mc",
    type=int,
    default=0,
    show_default=True,
    help="Also run this many Monte Carlo committees (p ~ Dir(alpha), X ~ Mult(k, p)).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for --mc.")
def seats(alpha: list[float], k: int, mc: int, seed: int) -> None:
    """Expected seats and their variance per participant (paper eqs. 4-5)."""
    mean = _run(lambda: expected_seats(alpha, k))
    var = seat_variance(alpha, k)
    table = Table(title=f"Dirichlet-multinomial seats, k = {k}")
    for col in ("i", "alpha_i", "E[X_i]", "Var(X_i)", "sd"):
        table.add_column(col, justify="right")
    sim = None
    if mc:
        sim = _run(lambda: simulate_seats(alpha, k, mc, seed))
        table.add_column("MC mean", justify="right")
        table.add_column("MC var", justify="right")
    for i, a in enumerate(alpha):
        row = [str(i), f"{a:g}", f"{mean[i]:.4f}", f"{var[i]:.4f}", f"{math.sqrt(var[i]):.4f}"]
        if sim is not None:
            row += [f"{sim[:, i].mean():.4f}", f"{sim[:, i].var(ddof=1):.4f}"]
        table.add_row(*row)
    console = _console()
    console.print(table)
    if sim is not None:
        console.print(f"Monte Carlo: {mc} committees, seed {seed}")


@command.command()
@_alpha_option
@click.option("--k", type=int, required=True, help="Committee size.")
@click.option(
    "--byzantine",
    type=int,
    default=None,
    help="m_s: top-stake participants assumed Byzantine; also runs Algorithm 3 for k.",
)
@click.option(
    "--fraction",
    type=float,
    default=1 / 3,
    show_default="1/3",
    help="Byzantine fraction f for Algorithm 3.",
)
@click.option(
    "--mode",
    type=click.Choice(["apportioned", "expected"]),
    default="apportioned",
    show_default=True,
    help="Algorithm 3 with whole (largest-remainder) seats or literal expected seats.",
)
def bft(alpha: list[float], k: int, byzantine: int | None, fraction: float, mode: str) -> None:
    """Largest tolerable top-stake coalitions (Algorithm 1) and Algorithm 3's k."""
    res = _run(lambda: bft_thresholds(alpha, k))
    table = Table(title=f"Algorithm 1, k = {k}")
    for col in ("rank m", "participant", "E[X]_(m)", "C(m)", "C(m)/k"):
        table.add_column(col, justify="right")
    for m in range(len(alpha)):
        table.add_row(
            str(m + 1),
            str(int(res.order[m])),
            f"{res.expected_sorted[m]:.3f}",
            f"{res.cumulative[m]:.3f}",
            f"{res.cumulative[m] / k:.4f}",
        )
    console = _console()
    console.print(table)
    console.print(f"max Byzantine participants for safety   (C < k/3):  {res.max_byzantine_safety}")
    console.print(
        f"max Byzantine participants for liveness (C < 2k/3): {res.max_byzantine_liveness}"
    )
    if byzantine is not None:
        seats_mode: Literal["expected", "apportioned"] = (
            "expected" if mode == "expected" else "apportioned"
        )
        k_opt = _run(lambda: optimal_committee_size(alpha, byzantine, f=fraction, seats=seats_mode))
        console.print(
            f"Algorithm 3 ({mode} seats): smallest k tolerating the top {byzantine} = {k_opt}"
        )


@command.command()
@_alpha_option
@click.option("--f", "f", type=int, required=True, help="Byzantine participants (top f by stake).")
@click.option("--eps", type=float, default=1e-6, show_default=True, help="Failure tolerance.")
@click.option(
    "--validate",
    is_flag=True,
    help="Check k_min by exact binomial tails and a seeded simulation of the seat draws.",
)
@click.option("--trials", type=int, default=200_000, show_default=True, help="Simulation trials.")
@click.option("--seed", type=int, default=0, show_default=True, help="Simulation seed.")
def kmin(alpha: list[float], f: int, eps: float, validate: bool, trials: int, seed: int) -> None:
    """Chernoff committee size k_min (Algorithm 4), optionally validated by simulation."""
    k_min = _run(lambda: chernoff_committee_size(alpha, f, eps))
    q = adversary_share(alpha, f)
    table = Table(title="Algorithm 4")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    table.add_row("top-f share q (eq. 26)", f"{q:.6f}")
    table.add_row("delta = 1/(3q) - 1 (eq. 32)", f"{1 / (3 * q) - 1:.6f}")
    table.add_row("k_min (eq. 34)", str(k_min))
    table.add_row("Chernoff bound at k_min", f"{chernoff_tail_bound(q, k_min):.3e}")
    table.add_row("exact P(X_b >= k/3) at k_min", f"{exact_tail_probability(q, k_min):.3e}")
    table.add_row("floor under p ~ Dir(alpha)", f"{dirichlet_tail_floor(alpha, f):.3e}")
    if validate:
        v = _run(lambda: validate_chernoff(alpha, f, eps, trials=trials, seed=seed))
        table.add_row("simulated P at k_min", f"{v.simulated_at_k_min:.3e} ± {v.simulated_se:.1e}")
        table.add_row("smallest k, exact binomial", str(v.smallest_exact_k))
        table.add_row("first simulated k accepted", str(v.search.first_k))
        table.add_row("smallest simulated k (stable)", str(v.search.stable_k))
        table.add_row("k_min / simulated k", f"{v.ratio:.2f}")
        table.add_row("simulation", f"{trials} trials, seed {seed}")
    console = _console()
    console.print(table)
    if dirichlet_tail_floor(alpha, f) > eps:
        console.print(
            "note: k_min assumes p = alpha/sum(alpha) (a stake-weighted lottery); if p itself "
            "is drawn from Dir(alpha), P(X_b >= k/3) stays above the floor for every k"
        )


def _parse_counts(value: str) -> list[list[int]]:
    try:
        rows = [[int(v) for v in row.split(",")] for row in value.split(";") if row.strip()]
    except ValueError as exc:
        raise click.BadParameter(f"expected rows like '5,10,7;5,10,8'; got {value!r}") from exc
    if not rows or len({len(r) for r in rows}) != 1:
        raise click.BadParameter("all committee rows must have the same number of participants")
    return rows


_PAPER_COUNTS = "5,10,7,13,15;5,10,8,12,15;8,12,15,8,7"


@command.command()
@click.option(
    "--counts",
    default=_PAPER_COUNTS,
    show_default=True,
    help="Observed seat counts, committees separated by ';' (default: the paper's Listing 1).",
)
@click.option(
    "--prior-alpha",
    callback=_float_list,
    default=None,
    help="Dirichlet prior for the conjugate update (default: all ones).",
)
@click.option("--shape", type=float, default=2.0, show_default=True, help="Gamma prior shape.")
@click.option("--rate", type=float, default=1.0, show_default=True, help="Gamma prior rate.")
@click.option("--draws", type=int, default=2000, show_default=True, help="Recorded MCMC sweeps.")
@click.option("--tune", type=int, default=1000, show_default=True, help="Tuning sweeps.")
@click.option("--seed", type=int, default=0, show_default=True, help="MCMC seed.")
@click.option("--shared-p", is_flag=True, help="One p for all committees (paper's Listing 1).")
def posterior(
    counts: str,
    prior_alpha: list[float],
    shape: float,
    rate: float,
    draws: int,
    tune: int,
    seed: int,
    shared_p: bool,
) -> None:
    """Conjugate Dirichlet posterior for p (eqs. 6-7) and MCMC for alpha (Gamma prior)."""
    rows = np.asarray(_parse_counts(counts), dtype=np.int64)
    n = rows.shape[1]
    prior = prior_alpha or [1.0] * n
    post = _run(lambda: dirichlet_posterior(prior, rows))
    fit = _run(
        lambda: fit_alpha_mcmc(
            rows, shape=shape, rate=rate, draws=draws, tune=tune, seed=seed, shared_p=shared_p
        )
    )
    lo, hi = fit.interval(0.95)
    k = int(rows.sum(axis=1).max())
    seats_post = fit.expected_seats(k)
    table = Table(title=f"{rows.shape[0]} committees of {n} participants")
    for col in ("i", "alpha_post", "E[p_i|X]", "alpha mean", "95% interval", f"E[X_i], k={k}"):
        table.add_column(col, justify="right")
    for i in range(n):
        table.add_row(
            str(i),
            f"{post[i]:g}",
            f"{post[i] / post.sum():.4f}",
            f"{fit.mean()[i]:.3f}",
            f"[{lo[i]:.3f}, {hi[i]:.3f}]",
            f"{seats_post[i]:.2f}",
        )
    console = _console()
    console.print(table)
    console.print(
        f"MCMC: acceptance {fit.acceptance_rate:.3f}, {draws} draws after {tune} tuning "
        f"sweeps, seed {seed}, prior Gamma({shape:g}, rate {rate:g})"
    )


@command.command()
@click.option(
    "--decision", type=int, required=True, help="Previous agreement's decision (e.g. -1 or 1)."
)
@click.option("--instance", type=int, required=True, help="Agreement instance number (>= 0).")
@click.option(
    "--sig", "sigs", multiple=True, required=True, help="A member's signature, hex (repeatable)."
)
def seed(decision: int, instance: int, sigs: tuple[str, ...]) -> None:
    """Public seed (hex) from the previous decision, instance and members' signatures."""
    try:
        raw = [bytes.fromhex(s) for s in sigs]
    except ValueError as exc:
        raise click.BadParameter("signatures must be hex strings", param_hint="--sig") from exc
    click.echo(_run(lambda: public_seed(decision, instance, raw)).hex())


def _seed_from_hex(ctx: click.Context, param: click.Parameter, value: str) -> bytes:
    try:
        raw = bytes.fromhex(value)
    except ValueError as exc:
        raise click.BadParameter(f"not a hex string: {value!r}") from exc
    if not 16 <= len(raw) <= 64:
        raise click.BadParameter(f"seed must be 16..64 bytes; got {len(raw)}")
    return raw


_stakes_option = click.option(
    "--stakes", required=True, callback=_int_list, help="Integer stakes, comma-separated."
)
_seed_hex_option = click.option(
    "--seed-hex", required=True, callback=_seed_from_hex, help="Public seed, hex (16-64 bytes)."
)


@command.command()
@_stakes_option
@click.option("--k", type=int, required=True, help="Seats to draw (with replacement).")
@_seed_hex_option
@click.option(
    "--fait-accompli", is_flag=True, help="Weighted Fait Accompli instead of a plain draw."
)
def draw(stakes: list[int], k: int, seed_hex: bytes, fait_accompli: bool) -> None:
    """Verifiable stake-weighted committee from a public seed."""
    total = sum(stakes)
    console = _console()
    if fait_accompli:
        fa = _run(lambda: draw_fait_accompli(stakes, k, seed_hex))
        weights = fa.weights(stakes)
        persistent = set(fa.split.persistent.tolist())
        table = Table(title=f"weighted Fait Accompli, k = {k}")
        for col in ("i", "stake", "kind", "seats", "vote weight"):
            table.add_column(col, justify="right")
        for i, s in enumerate(stakes):
            kind = "persistent" if i in persistent else "drawn"
            n_seats = 1 if i in persistent else int(fa.seats[i])
            table.add_row(str(i), str(s), kind, str(n_seats), f"{weights[i] / total:.4f}")
        console.print(table)
        console.print(
            f"{len(persistent)} persistent seats, {fa.split.nonpersistent_seats} drawn seats"
        )
        return
    counts = _run(lambda: draw_committee(stakes, k, seed_hex))
    table = Table(title=f"stake-weighted draw, k = {k}")
    for col in ("i", "stake", "stake share", "seats", "E[seats]"):
        table.add_column(col, justify="right")
    for i, s in enumerate(stakes):
        table.add_row(str(i), str(s), f"{s / total:.4f}", str(counts[i]), f"{k * s / total:.2f}")
    console.print(table)
    console.print("seats: " + ",".join(str(int(c)) for c in counts))


@command.command()
@_stakes_option
@click.option("--k", type=int, required=True, help="Committee size.")
@_seed_hex_option
@click.option("--seats", "claimed", required=True, callback=_int_list, help="Claimed seat counts.")
def verify(stakes: list[int], k: int, seed_hex: bytes, claimed: list[int]) -> None:
    """Check a claimed committee against the seed; exit status 1 if it does not match."""
    ok = _run(lambda: verify_committee(stakes, k, seed_hex, np.asarray(claimed, dtype=np.int64)))
    if not ok:
        raise click.ClickException("committee does NOT match the seed")
    click.echo("committee matches the seed")


@command.command()
@click.option(
    "--dist",
    type=click.Choice(["pareto", "exponential", "uniform", "equal"]),
    default="pareto",
    show_default=True,
    help="Synthetic stake distribution (ignored with --stakes).",
)
@click.option("--stakes", callback=_int_list, default=None, help="Explicit integer stakes.")
@click.option("--n", type=int, default=300, show_default=True, help="Participants.")
@click.option("--k", type=int, default=100, show_default=True, help="Committee size.")
@click.option(
    "--adversary",
    type=click.Choice(["top", "tail", "random"]),
    default="top",
    show_default=True,
    help="top: the f largest stakes; tail: the smallest stakes up to --share; "
    "random: random parties up to --share.",
)
@click.option("--f", "f", type=int, default=3, show_default=True, help="Coalition size for top.")
@click.option(
    "--share", type=float, default=0.25, show_default=True, help="Stake share for tail/random."
)
@click.option("--pareto-shape", type=float, default=1.16, show_default=True, help="Pareto tail.")
@click.option("--trials", type=int, default=20_000, show_default=True, help="Monte Carlo trials.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed (stakes and draws).")
def compare(
    dist: Literal["pareto", "exponential", "uniform", "equal"],
    stakes: list[int],
    n: int,
    k: int,
    adversary: str,
    f: int,
    share: float,
    pareto_shape: float,
    trials: int,
    seed: int,
) -> None:
    """Adversary's vote share: plain stake-weighted draw vs weighted Fait Accompli."""

    def go() -> tuple[dict[str, SchemeStats], int, str]:
        s = (
            np.asarray(stakes, dtype=np.int64)
            if stakes
            else synthetic_stakes(dist, n, seed=seed, pareto_shape=pareto_shape)
        )
        if adversary == "top":
            adv = top_stake_coalition(s, f)
        elif adversary == "tail":
            adv = tail_stake_coalition(s, share)
        else:
            adv = random_stake_coalition(s, share, seed)
        label = "explicit stakes" if stakes else f"{dist} stakes"
        return compare_fait_accompli(s, k, adv, trials=trials, seed=seed), int(adv.size), label

    res, n_adv, label = _run(go)
    table = Table(title=f"{label}, n = {len(stakes) or n}, k = {k}, {adversary} coalition")
    for col in ("scheme", "persistent", "stake share", "mean share", "sd", "P(>=1/3) MC", "exact"):
        table.add_column(col, justify="right")
    for st in res.values():
        table.add_row(
            st.scheme,
            str(st.persistent_seats),
            f"{st.stake_share:.4f}",
            f"{st.mean_share:.4f}",
            f"{st.std_share:.4f}",
            f"{st.p_exceed:.2e}",
            f"{st.p_exceed_exact:.2e}",
        )
    console = _console()
    console.print(table)
    console.print(f"coalition of {n_adv} participants; {trials} trials, seed {seed}")
