"""The ``byzlab ranking`` command group: the cabal experiment and the paper's readings."""

from __future__ import annotations

import click
import numpy as np
from rich.console import Console
from rich.table import Table

from byzlab.sidecars.ranking.collusion import (
    PAPER_CABAL_SHARES,
    disjoint_cabal_network,
    simulate_cabal,
    two_group_cabal_share,
)
from byzlab.sidecars.ranking.readings import reading_table


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
