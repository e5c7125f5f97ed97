"""Peer ranking with connectivity-based trust: ranks, trust, incentive and stake inflation.

Theory of operation
-------------------
Source: Y. Rao, J. Steeves, A. Shaabana, D. Attevelt, M. McAteer, "BitTensor: A Peer-to-Peer
Intelligence Market" (2020), arXiv:2003.03917.

*Ranks* (paper Eq. 1).  Peer ``i`` reports a row ``w_i`` of scores for the other peers; the chain
holds the weight matrix ``W`` and the stake vector ``S`` and computes ``R = Wᵀ S``.

*Inflation* (Eq. 2 and Eq. 5).  Each block mints ``τ · ‖S‖`` new stake, split in proportion to a
score vector: ``S ← S + τ · ‖S‖ · I / ‖I‖`` (``‖·‖`` is the L1 norm; stakes are non-negative).

*Connectivity* (§"Defining Consensus" and appendix 12.7).  ``c_ij`` is the expected number of visits
to ``j`` of a random walk started at ``i`` (the fundamental matrix ``(I − Q)⁻¹`` of the absorbing
chain whose transient part ``Q`` is ``W`` without its diagonal), possibly cut off at depth ``d``.
Only its sign pattern is used: the appendix code maps positive entries to ``+1`` and the rest to
``−1``.  An entry of ``(I − Q)⁻¹ = Σₖ Qᵏ`` is positive exactly when ``j`` is reachable from ``i``
(or ``i = j``), so :func:`connectivity_matrix` computes that reachability pattern directly by
boolean path doubling instead of a pseudo-inverse with a floating-point threshold.

*Trust and incentive* (Eq. 4, Figure 6).  ``T = σ(temperature · (Cᵀ S))`` and ``I = R · T``
(element-wise), with the sigmoid ``σ(x) = 1 / (1 + e⁻ˣ)`` and temperature 10.

*Collusion* (§"Collusion").  An honest group A with stake 0.51 and a disjoint cabal B with 0.49:
every weight of A stays inside A and vice versa, so the ranks summed over a group equal that
group's stake, and every member of a strongly connected group is trusted by exactly its own
group's stake.  The paper's two-group program then gives the cabal's share after blocks 0–4 as
0.48773, 0.48495, 0.48155, 0.47739, 0.47231 (τ = 0.1, temperature 10).

Which reading reproduces those numbers
--------------------------------------
The text of §"Defining Consensus" is ambiguous in three places; :data:`READINGS` enumerates the
combinations and :func:`reading_table` evaluates all of them.  Exactly one family reproduces the
printed vector to five decimals:

* trust argument ``temperature · (f_i − 0.5)``, where ``f_i = (Cᵀ S)_i / ‖S‖`` is the fraction of
  the stake that reaches (trusts) peer ``i``, i.e. a 0/1 connectivity matrix with an *offset* of
  0.5 inside the sigmoid (this is the form in the §"Collusion" program; the ``±1`` matrix of the
  appendix gives ``Cᵀ S / ‖S‖ = 2 f_i − 1`` and matches only at half the temperature, 5);
* temperature 10;
* inflation ``τ · ‖S‖ · I / ‖I‖`` (Eq. 5).  The appendix code's ``τ · I / ‖I‖`` (without ``‖S‖``)
  matches block 0 only (``‖S‖ = 1`` there) and then drifts; minting ``τ · I`` matches nothing.

The rank normalisation (``R = Wᵀ S`` or ``Wᵀ S / ‖S‖``) is irrelevant because ``I`` is normalised.
The literal Figure 6 reading, ``σ(10 · Cᵀ S)`` with ``±1`` entries, gives 0.48548, 0.47896, … —
the cabal decays faster than printed.  :func:`simulate_cabal` runs the same reading on an explicit
random weight matrix (appendix 12.7's block-diagonal construction) and reproduces the two-group
numbers exactly, for any within-group stake split, because each group is strongly connected.

Deviations from the paper's appendix code, on purpose: the cabal share is measured over the cabal
peers (the appendix slices ``S[nB:]``, which is the wrong slice when ``nA ≠ nB``); the stake
scaling vector ``A`` and its gradient step (Eq. 6) are not modelled — with an honest majority the
chain loss ``−R · (T − 0.5)`` is negative and the appendix loop only inflates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import click
import numpy as np
import numpy.typing as npt
from rich.console import Console
from rich.table import Table

from byzlab.sidecars._checks import _count, _finite, _nonneg, _positive

__all__ = [
    "PAPER_CABAL_SHARES",
    "READINGS",
    "Reading",
    "cabal_share_under_reading",
    "command",
    "connectivity_matrix",
    "disjoint_cabal_network",
    "incentive",
    "inflate",
    "random_weight_matrix",
    "rank_scores",
    "reading_table",
    "sigmoid",
    "simulate_cabal",
    "trust_scores",
    "two_group_cabal_share",
]

FloatArray = npt.NDArray[np.float64]

#: The cabal's stake share after blocks 0-4 as printed in §"Collusion" (stakes 0.51 / 0.49,
#: τ = 0.1, temperature 10), rounded to five decimals.
PAPER_CABAL_SHARES: tuple[float, ...] = (0.48773, 0.48495, 0.48155, 0.47739, 0.47231)


# --------------------------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------------------------


def _stake_vector(stake: npt.ArrayLike, name: str = "stake") -> FloatArray:
    s = np.asarray(stake, dtype=np.float64)
    if s.ndim != 1 or s.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array, got shape {s.shape}")
    if not np.all(np.isfinite(s)):
        raise ValueError(f"{name} must be finite")
    if np.any(s < 0):
        raise ValueError(f"{name} must be non-negative")
    if s.sum() <= 0:
        raise ValueError(f"{name} must have a positive total")
    return s


def _square(matrix: npt.ArrayLike, name: str, n: int | None = None) -> FloatArray:
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty square matrix, got shape {m.shape}")
    if n is not None and m.shape[0] != n:
        raise ValueError(f"{name} must be {n}x{n} to match stake, got shape {m.shape}")
    if not np.all(np.isfinite(m)):
        raise ValueError(f"{name} must be finite")
    return m


# --------------------------------------------------------------------------------------------
# the mechanism
# --------------------------------------------------------------------------------------------


def sigmoid(x: npt.ArrayLike) -> FloatArray:
    """Logistic function ``1 / (1 + e⁻ˣ)``, evaluated without overflow warnings."""
    a = np.asarray(x, dtype=np.float64)
    out = np.empty_like(a)
    pos = a >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-a[pos]))
    ea = np.exp(a[~pos])
    out[~pos] = ea / (1.0 + ea)
    return out


def rank_scores(weights: npt.ArrayLike, stake: npt.ArrayLike) -> FloatArray:
    """Ranks ``R = Wᵀ S`` (Eq. 1). ``weights[i, j]`` is the score peer ``i`` gives peer ``j``."""
    s = _stake_vector(stake)
    w = _square(weights, "weights", s.size)
    if np.any(w < 0):
        raise ValueError("weights must be non-negative")
    return np.asarray(w.T @ s, dtype=np.float64)


def connectivity_matrix(
    weights: npt.ArrayLike, *, depth: int | None = None, signed: bool = False
) -> FloatArray:
    """Sign pattern of the expected-visit matrix of a random walk on ``W`` (appendix 12.7).

    ``C[i, j]`` is 1 when a walk from ``i`` reaches ``j`` within ``depth`` steps over edges with
    positive weight (``i`` always reaches itself), else 0 — or ``-1`` when ``signed`` is true,
    which is the appendix's ``np.where(C > 0, 1, -1)``. ``depth=None`` means unbounded (the
    absorbing-chain fundamental matrix of the appendix).
    """
    w = _square(weights, "weights")
    if np.any(w < 0):
        raise ValueError("weights must be non-negative")
    n = w.shape[0]
    if depth is not None:
        depth = _count("depth", depth, minimum=0)
    steps = n if depth is None else min(depth, n)
    adj = (w > 0).astype(np.int64)
    np.fill_diagonal(adj, 0)  # the appendix drops self-loops from Q
    # Binary exponentiation of the boolean matrix (I | A): its k-th power is "reachable in at
    # most k steps".
    reach = np.eye(n, dtype=bool)
    power = reach | adj.astype(bool)
    remaining = steps
    while remaining > 0:
        if remaining & 1:
            reach = (reach.astype(np.int64) @ power.astype(np.int64)) > 0
        remaining >>= 1
        if remaining:
            power = (power.astype(np.int64) @ power.astype(np.int64)) > 0
    c = reach.astype(np.float64)
    if signed:
        c = np.where(reach, 1.0, -1.0)
    return c


def trust_scores(
    connectivity: npt.ArrayLike,
    stake: npt.ArrayLike,
    *,
    temperature: float = 10.0,
    offset: float = 0.5,
) -> FloatArray:
    """Trust ``T_i = σ(temperature · ((Cᵀ S)_i / ‖S‖ − offset))`` (Eq. 4, Figure 6).

    With a 0/1 connectivity matrix ``(Cᵀ S)_i / ‖S‖`` is the fraction of stake that trusts peer
    ``i`` and ``offset=0.5`` puts the inflection point at a stake majority (the reading that
    reproduces the paper's numbers). With a ``±1`` matrix use ``offset=0``.
    """
    s = _stake_vector(stake)
    c = _square(connectivity, "connectivity", s.size)
    t = _positive("temperature", temperature)
    off = _finite("offset", offset)
    frac = (c.T @ s) / s.sum()
    return sigmoid(t * (frac - off))


def incentive(
    weights: npt.ArrayLike,
    connectivity: npt.ArrayLike,
    stake: npt.ArrayLike,
    *,
    temperature: float = 10.0,
    offset: float = 0.5,
) -> FloatArray:
    """Incentive ``I = R · T = (Wᵀ S) · σ(…)`` (Eq. 4), element-wise product."""
    r = rank_scores(weights, stake)
    t = trust_scores(connectivity, stake, temperature=temperature, offset=offset)
    return r * t


def inflate(stake: npt.ArrayLike, scores: npt.ArrayLike, tau: float) -> FloatArray:
    """One block of inflation, ``S + τ · ‖S‖ · I / ‖I‖`` (Eq. 5, L1 norms)."""
    s = _stake_vector(stake)
    i = np.asarray(scores, dtype=np.float64)
    if i.shape != s.shape:
        raise ValueError(f"scores must have shape {s.shape}, got {i.shape}")
    if not np.all(np.isfinite(i)) or np.any(i < 0):
        raise ValueError("scores must be finite and non-negative")
    if i.sum() <= 0:
        raise ValueError("scores must have a positive total")
    t = _nonneg("tau", tau)
    return np.asarray(s + t * s.sum() * i / i.sum(), dtype=np.float64)


# --------------------------------------------------------------------------------------------
# the paper's collusion experiment
# --------------------------------------------------------------------------------------------


def two_group_cabal_share(
    honest_stake: float = 0.51,
    cabal_stake: float = 0.49,
    *,
    tau: float = 0.1,
    temperature: float = 10.0,
    n_blocks: int = 100,
) -> FloatArray:
    """The §"Collusion" program: the cabal's stake share after each of ``n_blocks`` blocks.

    Group ranks equal group stakes (disjoint groups, rows of ``W`` summing to 1), group trust is
    ``σ(temperature · (share − 0.5))``, and ``τ · ‖S‖`` is minted in proportion to ``I = R · T``.
    """
    a = _nonneg("honest_stake", honest_stake)
    b = _nonneg("cabal_stake", cabal_stake)
    if a + b <= 0:
        raise ValueError("honest_stake + cabal_stake must be > 0")
    t = _nonneg("tau", tau)
    temp = _positive("temperature", temperature)
    n = _count("n_blocks", n_blocks)
    out = np.empty(n, dtype=np.float64)
    for k in range(n):
        total = a + b
        trust = sigmoid(temp * (np.array([a, b]) / total - 0.5))
        inc = np.array([a, b]) * trust
        a, b = (float(x) for x in (np.array([a, b]) + t * total * inc / inc.sum()))
        out[k] = b / (a + b)
    return out


def random_weight_matrix(n: int, density: float, rng: np.random.Generator) -> FloatArray:
    """Random non-negative ``n × n`` matrix, each row L1-normalised (appendix 12.7).

    Each entry is non-zero with probability ``density``; a row that comes out empty gets one
    random non-zero entry so every row sums to 1.
    """
    n = _count("n", n, minimum=1)
    d = _finite("density", density)
    if not 0 < d <= 1:
        raise ValueError(f"density must be in (0, 1], got {density!r}")
    mask = rng.random((n, n)) < d
    empty = ~mask.any(axis=1)
    if empty.any():
        mask[empty, rng.integers(0, n, size=int(empty.sum()))] = True
    w = np.where(mask, rng.random((n, n)), 0.0)
    w = np.where(mask & (w == 0.0), 1e-12, w)
    return np.asarray(w / w.sum(axis=1, keepdims=True), dtype=np.float64)


def disjoint_cabal_network(
    n_honest: int,
    n_cabal: int,
    rng: np.random.Generator,
    *,
    honest_stake: float = 0.51,
    cabal_stake: float = 0.49,
    density: float = 0.9,
) -> tuple[FloatArray, FloatArray, npt.NDArray[np.bool_]]:
    """Appendix 12.7's network: block-diagonal random ``W``, random stakes per group.

    Returns ``(W, S, cabal_mask)``. Group stakes are split at random across members and sum to
    ``honest_stake`` and ``cabal_stake``.
    """
    na = _count("n_honest", n_honest, minimum=1)
    nb = _count("n_cabal", n_cabal, minimum=1)
    ha = _nonneg("honest_stake", honest_stake)
    cb = _nonneg("cabal_stake", cabal_stake)
    if ha + cb <= 0:
        raise ValueError("honest_stake + cabal_stake must be > 0")
    n = na + nb
    w = np.zeros((n, n))
    w[:na, :na] = random_weight_matrix(na, density, rng)
    w[na:, na:] = random_weight_matrix(nb, density, rng)
    sa = rng.uniform(0.0, 1.0, na) + 1e-12
    sb = rng.uniform(0.0, 1.0, nb) + 1e-12
    s = np.concatenate([sa / sa.sum() * ha, sb / sb.sum() * cb])
    mask = np.zeros(n, dtype=bool)
    mask[na:] = True
    return w, s, mask


def simulate_cabal(
    weights: npt.ArrayLike,
    stake: npt.ArrayLike,
    cabal_mask: npt.ArrayLike,
    *,
    tau: float = 0.1,
    temperature: float = 10.0,
    offset: float = 0.5,
    signed: bool = False,
    depth: int | None = None,
    n_blocks: int = 100,
) -> FloatArray:
    """Run Eqs. 1, 4, 5 on an explicit network; return the cabal's share after each block."""
    s = _stake_vector(stake)
    w = _square(weights, "weights", s.size)
    mask = np.asarray(cabal_mask, dtype=bool)
    if mask.shape != s.shape:
        raise ValueError(f"cabal_mask must have shape {s.shape}, got {mask.shape}")
    n = _count("n_blocks", n_blocks)
    _nonneg("tau", tau)
    c = connectivity_matrix(w, depth=depth, signed=signed)
    out = np.empty(n, dtype=np.float64)
    for k in range(n):
        inc = incentive(w, c, s, temperature=temperature, offset=offset)
        s = inflate(s, inc, tau)
        out[k] = s[mask].sum() / s.sum()
    return out


# --------------------------------------------------------------------------------------------
# systematic readings of the paper
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reading:
    """One interpretation of §"Defining Consensus" for the two-group experiment."""

    name: str
    connectivity: Literal["0/1", "±1"]
    offset: float
    temperature: float
    mint: Literal["tau*|S|*I/|I|", "tau*I/|I|", "tau*I"]


READINGS: tuple[Reading, ...] = (
    Reading("collusion program (0/1 C, offset 0.5), Eq. 5", "0/1", 0.5, 10.0, "tau*|S|*I/|I|"),
    Reading("±1 C, no offset, temp 10 (Figure 6 literal)", "±1", 0.0, 10.0, "tau*|S|*I/|I|"),
    Reading("±1 C, no offset, temp 5", "±1", 0.0, 5.0, "tau*|S|*I/|I|"),
    Reading("±1 C, offset 0.5, temp 10", "±1", 0.5, 10.0, "tau*|S|*I/|I|"),
    Reading("0/1 C, no offset, temp 10", "0/1", 0.0, 10.0, "tau*|S|*I/|I|"),
    Reading(
        "0/1 C, offset 0.5, temp 1 (appendix: no temperature)", "0/1", 0.5, 1.0, "tau*|S|*I/|I|"
    ),
    Reading("0/1 C, offset 0.5, appendix mint τ·I/‖I‖", "0/1", 0.5, 10.0, "tau*I/|I|"),
    Reading("0/1 C, offset 0.5, mint τ·I", "0/1", 0.5, 10.0, "tau*I"),
    Reading("±1 C, no offset, appendix mint τ·I/‖I‖", "±1", 0.0, 10.0, "tau*I/|I|"),
)


def cabal_share_under_reading(
    reading: Reading,
    honest_stake: float = 0.51,
    cabal_stake: float = 0.49,
    *,
    tau: float = 0.1,
    n_blocks: int = 5,
) -> FloatArray:
    """The cabal's share after each block in the two-group experiment under ``reading``."""
    t = _nonneg("tau", tau)
    n = _count("n_blocks", n_blocks)
    s = np.array([_nonneg("honest_stake", honest_stake), _nonneg("cabal_stake", cabal_stake)])
    if s.sum() <= 0:
        raise ValueError("honest_stake + cabal_stake must be > 0")
    out = np.empty(n, dtype=np.float64)
    for k in range(n):
        total = s.sum()
        frac = s / total
        x = frac if reading.connectivity == "0/1" else 2.0 * frac - 1.0
        inc = s * sigmoid(reading.temperature * (x - reading.offset))
        if reading.mint == "tau*|S|*I/|I|":
            s = s + t * total * inc / inc.sum()
        elif reading.mint == "tau*I/|I|":
            s = s + t * inc / inc.sum()
        else:
            s = s + t * inc
        out[k] = s[1] / s.sum()
    return out


def reading_table(
    expected: Sequence[float] = PAPER_CABAL_SHARES,
) -> list[tuple[Reading, FloatArray, bool]]:
    """Evaluate every reading in :data:`READINGS`; flag those matching ``expected`` to 5 d.p."""
    rows = []
    for r in READINGS:
        got = cabal_share_under_reading(r, n_blocks=len(expected))
        match = all(round(float(g), 5) == e for g, e in zip(got, expected, strict=True))
        rows.append((r, got, match))
    return rows


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------


@click.group(name="ranking")
def command() -> None:
    """Peer ranking with connectivity-based trust (peer-ranking intelligence market)."""


@command.command(name="cabal")
@click.option("--honest-stake", type=float, default=0.51, show_default=True)
@click.option("--cabal-stake", type=float, default=0.49, show_default=True)
@click.option("--tau", type=float, default=0.1, show_default=True, help="inflation per block")
@click.option("--temperature", type=float, default=10.0, show_default=True)
@click.option("--blocks", type=int, default=100, show_default=True)
@click.option(
    "--model",
    type=click.Choice(["two-group", "matrix"]),
    default="two-group",
    show_default=True,
    help="the §Collusion program, or an explicit random network (appendix 12.7)",
)
@click.option("--n-honest", type=int, default=5, show_default=True, help="matrix model only")
@click.option("--n-cabal", type=int, default=100, show_default=True, help="matrix model only")
@click.option("--density", type=float, default=0.9, show_default=True, help="matrix model only")
@click.option("--seed", type=int, default=0, show_default=True, help="matrix model only")
@click.option("--every", type=int, default=10, show_default=True, help="print every k-th block")
def cabal_cmd(
    honest_stake: float,
    cabal_stake: float,
    tau: float,
    temperature: float,
    blocks: int,
    model: str,
    n_honest: int,
    n_cabal: int,
    density: float,
    seed: int,
    every: int,
) -> None:
    """Cabal stake share per block under trust-weighted inflation."""
    try:
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        if model == "two-group":
            shares = two_group_cabal_share(
                honest_stake, cabal_stake, tau=tau, temperature=temperature, n_blocks=blocks
            )
        else:
            rng = np.random.default_rng(seed)
            w, s, mask = disjoint_cabal_network(
                n_honest,
                n_cabal,
                rng,
                honest_stake=honest_stake,
                cabal_stake=cabal_stake,
                density=density,
            )
            shares = simulate_cabal(w, s, mask, tau=tau, temperature=temperature, n_blocks=blocks)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    table = Table(title=f"cabal share ({model})")
    table.add_column("block", justify="right")
    table.add_column("cabal share", justify="right")
    table.add_column("5 d.p.", justify="right")
    for k, x in enumerate(shares):
        if k < 5 or k % every == 0 or k == len(shares) - 1:
            table.add_row(str(k), f"{x:.10f}", f"{x:.5f}")
    Console().print(table)


@command.command(name="readings")
def readings_cmd() -> None:
    """Which reading of the paper reproduces its printed cabal shares."""
    table = Table(title="readings vs paper: " + ", ".join(f"{x:.5f}" for x in PAPER_CABAL_SHARES))
    table.add_column("reading")
    table.add_column("blocks 0-4 (rounded)")
    table.add_column("match")
    for r, got, match in reading_table():
        table.add_row(r.name, ", ".join(f"{x:.5f}" for x in got), "yes" if match else "no")
    Console().print(table)
