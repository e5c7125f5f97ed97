"""Exponential versus polynomial: latency under the split-vote attack, local coins vs HPZ;
and how often HPZ's blacklisting catches the coin attacks (HPZ §3.2-3.4).

    python benchmarks/bench_attacks.py [--sizes 4,7,10,13,16,19] [--seeds 8]
    python benchmarks/bench_attacks.py --blacklisting --sizes 4,7,10,13 --seeds 40 --jobs 2

f = (n-1)/3 corrupted nodes vote the honest minority and the split-vote scheduler admits
balanced quorums (adversary/schedulers/votes.py), the classic attack that makes local-coin Bracha
take exponentially many iterations. For each n it reports the median latency (units of
delta) and iterations of bracha-local, hpz and ideal-coin, fits log(latency) = a + b n
(exponential) and log(latency) = a + k log n (polynomial), and writes a table (JSON) and a
plot (PNG) under benchmarks/results/. A figure, not a test: nothing here is asserted.

With --blacklisting it runs coin-interval and mirror-mimic with f = (n - 1) / 3 corrupted
nodes and the coin-aware scheduler for each n in --sizes (and each epoch length T in
--epoch-lengths, default the preset's; everything else `Params.practical`), in --jobs
processes, and prints the markdown table of docs/blacklisting.md: per attack and n, how
many runs outlast the first epoch, how many zero every corrupted weight (and after how many
epochs), the most honest weight lost, runs breaking Invariant 1 strictly (good nodes lost
more weight than bad ones) and with its eps^4 f slack, latency and iterations, and how many
runs have parameters outside HPZ's proven regime. The runs go to
benchmarks/results/blacklisting-<label>.json. It builds runs with
byzlab.adversary.assemble, so PYTHONPATH=<other tree>/src measures another construction with
the same code on any tree that has that assembler.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

from byzlab.adversary.assemble import assemble_simulator
from byzlab.node.bracha import BUILTIN_PROTOCOLS, HPZ
from byzlab.node.params import Params
from byzlab.seeds import make_inputs

PROTOCOLS = ("bracha-local", "hpz", "ideal-coin")


def measure(n: int, protocol: str, seeds: int) -> dict[str, float]:
    f = (n - 1) // 3
    lat, its, wall = [], [], 0.0
    for seed in range(seeds):
        sim = assemble_simulator(
            Params.practical(n, f),
            protocol=BUILTIN_PROTOCOLS[protocol],
            inputs=make_inputs("split", n, seed),
            seed=seed,
            scheduler="split-vote",
            byzantine=dict.fromkeys(range(n - f, n), "split-vote"),
        )
        started = time.perf_counter()
        result = sim.run()
        wall += time.perf_counter() - started
        if result.latency_delta is not None:  # the agreed runs' latency
            lat.append(result.latency_delta)
        its.append(result.iterations)
    return {
        "latency_delta": _median(lat),
        "iterations": statistics.median(its),
        "iterations_max": max(its),
        "wall_s": wall,
    }


def fit(ns: list[int], ys: list[float]) -> dict[str, float]:
    x = np.array(ns, dtype=float)
    y = np.log(np.array(ys, dtype=float))
    b_exp = float(np.polyfit(x, y, 1)[0])
    k_poly = float(np.polyfit(np.log(x), y, 1)[0])
    return {"exp_rate_per_node": b_exp, "poly_exponent": k_poly}


BLACKLIST_ATTACKS = ("coin-interval", "mirror-mimic")


def blacklisting_run(
    strategy: str, n: int, T: int | None, seed: int, timeout_s: float
) -> dict[str, object]:
    """One run of `strategy` with f = (n - 1) // 3 corrupted nodes (the highest ids) under the
    coin-aware scheduler, `Params.practical` (epoch length T if given); its blacklisting
    figures (the strict checker is computed here, so it needs nothing newer from the tree)."""
    from byzlab.invariants import check_invariant1, epoch_weights

    f = (n - 1) // 3
    params = Params.practical(n, f) if T is None else Params.practical(n, f, T=T)
    bad = set(range(n - f, n))
    sim = assemble_simulator(
        params,
        protocol=HPZ(),
        inputs=make_inputs("split", n, seed),
        seed=seed,
        scheduler="coin-aware",
        byzantine=dict.fromkeys(bad, strategy),
        timeout_s=timeout_s,
    )
    result = sim.run()
    honest = sim.honest_nodes()
    weights = epoch_weights(honest, bad, result.epochs)
    # weights[e] are the weights of epoch e + 1, computed at the end of epoch e
    zeroed = next(
        (e for e, w in enumerate(weights) if w is not None and all(w[b] == 0.0 for b in bad)), None
    )
    lost = 0.0
    strict = 0
    for w in weights:
        if w is None:
            continue
        good_loss = sum(1.0 - x for i, x in enumerate(w) if i not in bad)
        bad_loss = sum(1.0 - x for i, x in enumerate(w) if i in bad)
        lost = max(lost, good_loss)
        strict += good_loss > bad_loss + 1e-9
    regime = params.to_dict().get("regime")
    outside = bool(regime.get("outside_regime")) if isinstance(regime, dict) else None
    return {
        "strategy": strategy,
        "n": n,
        "f": f,
        "T": params.T,
        "seed": seed,
        "agreed": bool(result.agreed and result.valid),
        "stopped": result.stopped,
        "epochs": result.epochs,
        "iterations": result.iterations,
        "latency_delta": result.latency_delta,
        "zeroed_after": zeroed,
        "honest_weight_lost": lost,
        "invariant1_strict_bad_epochs": strict,
        "invariant1_violations": len(check_invariant1(honest, bad, result.epochs)),
        "outside_regime": outside,
    }


def _blacklisting_job(job: tuple[str, int, int | None, int, float]) -> dict[str, object]:
    return blacklisting_run(*job)


def _median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def blacklisting_table(runs: list[dict[str, object]]) -> list[dict[str, object]]:
    """One row per (attack, n, T): the columns of docs/blacklisting.md."""
    rows = []
    keys = sorted({(str(r["strategy"]), int(str(r["n"])), int(str(r["T"]))) for r in runs})
    for strategy, n, T in keys:
        cell = [r for r in runs if (r["strategy"], r["n"], r["T"]) == (strategy, n, T)]
        zeroed = [int(str(r["zeroed_after"])) for r in cell if r["zeroed_after"] is not None]
        # a run that did not agree has no latency (None): the latency columns are the agreed runs'
        lat = [float(str(r["latency_delta"])) for r in cell if r["latency_delta"] is not None]
        rows.append(
            {
                "attack": strategy,
                "n": n,
                "f": cell[0]["f"],
                "T": T,
                "runs": len(cell),
                "agreed": sum(bool(r["agreed"]) for r in cell),
                "outlast_epoch_1": sum(int(str(r["epochs"])) >= 2 for r in cell),
                "zeroed": len(zeroed),
                "epochs_to_zero": sorted(set(zeroed)),
                "honest_lost_max": max(float(str(r["honest_weight_lost"])) for r in cell),
                "inv1_strict_runs": sum(
                    int(str(r["invariant1_strict_bad_epochs"])) > 0 for r in cell
                ),
                "inv1_slack_runs": sum(int(str(r["invariant1_violations"])) > 0 for r in cell),
                "latency_median": _median(lat),
                "latency_max": max(lat, default=float("nan")),
                "iterations_median": _median([float(str(r["iterations"])) for r in cell]),
                "iterations_max": max(int(str(r["iterations"])) for r in cell),
                "outside_regime": sum(r["outside_regime"] is True for r in cell),
                "stopped_early": sum(r["stopped"] != "all-honest-halted" for r in cell),
            }
        )
    return rows


def blacklisting_markdown(rows: list[dict[str, object]]) -> str:
    head = (
        "| attack | n | f | T | runs | agreed | outlast epoch 1 | all corrupted zeroed "
        "| after epochs | honest weight lost (max) | Inv. 1 strict broken | Inv. 1 (slack) "
        "broken | latency median / max (delta) | iterations median / max "
        "| outside regime |"
    )
    lines = [head, "|" + "---|" * 16]
    for r in rows:
        after = ", ".join(str(e) for e in r["epochs_to_zero"]) or "-"  # type: ignore[attr-defined]
        lines.append(
            f"| {r['attack']} | {r['n']} | {r['f']} | {r['T']} | {r['runs']} | {r['agreed']} "
            f"| {r['outlast_epoch_1']} | {r['zeroed']} | {after} "
            f"| {float(str(r['honest_lost_max'])):.2f} | {r['inv1_strict_runs']} "
            f"| {r['inv1_slack_runs']} | {float(str(r['latency_median'])):.1f} / "
            f"{float(str(r['latency_max'])):.1f} | {float(str(r['iterations_median'])):.0f} / "
            f"{r['iterations_max']} | {r['outside_regime']} |"
        )
    return "\n".join(lines) + "\n"


def blacklisting(
    sizes: list[int],
    epoch_lengths: list[int | None],
    seeds: int,
    jobs: int,
    timeout_s: float,
    out: Path,
    label: str,
) -> None:
    import multiprocessing

    todo = [
        (strategy, n, T, seed, timeout_s)
        for strategy in BLACKLIST_ATTACKS
        for n in sizes
        for T in epoch_lengths
        for seed in range(seeds)
    ]
    started = time.perf_counter()
    with multiprocessing.Pool(jobs) as pool:
        runs = pool.map(_blacklisting_job, todo, chunksize=1)
    rows = blacklisting_table(runs)
    print(blacklisting_markdown(rows))
    print(f"{len(runs)} runs in {time.perf_counter() - started:.0f} s")
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"blacklisting-{label}.json"
    path.write_text(json.dumps({"rows": rows, "runs": runs}, indent=1))
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="4,7,10,13,16")
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument(
        "--blacklisting",
        action="store_true",
        help="measure blacklisting against the coin attacks instead",
    )
    parser.add_argument(
        "--epoch-lengths",
        default="",
        help="with --blacklisting: epoch lengths T (default: the preset's)",
    )
    parser.add_argument("--jobs", type=int, default=2, help="with --blacklisting: processes")
    parser.add_argument(
        "--timeout-s", type=float, default=300.0, help="with --blacklisting: wall-clock cap per run"
    )
    parser.add_argument(
        "--label",
        default="current",
        help="with --blacklisting: names the JSON (e.g. the tree measured)",
    )
    args = parser.parse_args()
    if args.blacklisting:
        lengths: list[int | None] = [int(t) for t in args.epoch_lengths.split(",") if t] or [None]
        blacklisting(
            [int(s) for s in args.sizes.split(",")],
            lengths,
            args.seeds,
            args.jobs,
            args.timeout_s,
            args.out,
            args.label,
        )
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    table: dict[str, dict[int, dict[str, float]]] = {p: {} for p in PROTOCOLS}
    print(f"{'n':>4} " + " ".join(f"{p + ' lat (it)':>24}" for p in PROTOCOLS))
    for n in sizes:
        for p in PROTOCOLS:
            table[p][n] = measure(n, p, args.seeds)
        print(
            f"{n:>4} "
            + " ".join(
                f"{table[p][n]['latency_delta']:>14.1f} ({table[p][n]['iterations']:>5.1f})"
                for p in PROTOCOLS
            ),
            flush=True,
        )
    fits = {p: fit(sizes, [table[p][n]["latency_delta"] for n in sizes]) for p in PROTOCOLS}
    for p, fr in fits.items():
        print(
            f"{p:>13}: latency ~ exp({fr['exp_rate_per_node']:.3f} n)"
            f"  or  n^{fr['poly_exponent']:.2f}"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "attacks_exp_vs_poly.json").write_text(
        json.dumps({"sizes": sizes, "seeds": args.seeds, "table": table, "fits": fits}, indent=2)
    )
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for p in PROTOCOLS:
        ax.plot(
            sizes,
            [table[p][n]["latency_delta"] for n in sizes],
            marker="o",
            label=f"{p} (exp rate {fits[p]['exp_rate_per_node']:.2f}/node)",
        )
    ax.set_yscale("log")
    ax.set_xlabel("n (f = (n-1)/3)")
    ax.set_ylabel("median latency to agreement (delta)")
    ax.set_title("split-vote attack: local coins vs HPZ")
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out / "attacks_exp_vs_poly.png", dpi=120)
    plt.close(fig)
    print(f"wrote {args.out}/attacks_exp_vs_poly.json and .png")


if __name__ == "__main__":
    main()
