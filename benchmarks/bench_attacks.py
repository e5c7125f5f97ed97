"""Exponential versus polynomial: latency under the split-vote attack, local coins vs HPZ;
and how often HPZ's blacklisting catches the coin attacks (HPZ §3.2-3.4).

    python benchmarks/bench_attacks.py [--sizes 4,7,10,13,16,19] [--seeds 8]
    python benchmarks/bench_attacks.py --blacklisting [--epoch-lengths 4,8,12] [--seeds 100]

f = (n-1)/3 corrupted nodes vote the honest minority and the split-vote scheduler admits
balanced quorums (adversary/schedulers.py), the classic attack that makes local-coin Bracha
take exponentially many iterations. For each n it reports the median latency (units of
delta) and iterations of bracha-local, hpz and ideal-coin, fits log(latency) = a + b n
(exponential) and log(latency) = a + k log n (polynomial), and writes a table (JSON) and a
plot (PNG) under benchmarks/results/. A figure, not a test: nothing here is asserted.

With --blacklisting it runs coin-interval and mirror-mimic with the coin-aware scheduler at
n = 4 for each epoch length T (everything else `Params.practical`) and reports, per attack
and T, how many runs outlast the first epoch, how many end with every corrupted weight at
0 (and after how many epochs), the most honest weight lost, and Invariant 1 violations.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import time
from pathlib import Path

import numpy as np

from byzlab.adversary.schedulers import make_scheduler
from byzlab.adversary.strategies import make_strategy
from byzlab.network.sim import Simulator, make_inputs
from byzlab.node.params import Params

PROTOCOLS = ("bracha-local", "hpz", "ideal-coin")


def measure(n: int, protocol: str, seeds: int) -> dict[str, float]:
    f = (n - 1) // 3
    lat, its, wall = [], [], 0.0
    for seed in range(seeds):
        byz = {i: (lambda spec: make_strategy("split-vote", spec)) for i in range(n - f, n)}
        sim = Simulator(Params.practical(n, f), protocol=protocol,
                        inputs=make_inputs("split", n, seed), seed=seed,
                        scheduler=make_scheduler("split-vote"), byzantine=byz)
        started = time.perf_counter()
        result = sim.run()
        wall += time.perf_counter() - started
        lat.append(result.latency_delta)
        its.append(result.iterations)
    return {"latency_delta": statistics.median(lat), "iterations": statistics.median(its),
            "iterations_max": max(its), "wall_s": wall}


def fit(ns: list[int], ys: list[float]) -> dict[str, float]:
    x = np.array(ns, dtype=float)
    y = np.log(np.array(ys, dtype=float))
    b_exp = float(np.polyfit(x, y, 1)[0])
    k_poly = float(np.polyfit(np.log(x), y, 1)[0])
    return {"exp_rate_per_node": b_exp, "poly_exponent": k_poly}


def blacklisting(epoch_lengths: list[int], seeds: int, out: Path) -> None:
    from byzlab.invariants import check_invariant1, epoch_weights

    n, f = 4, 1
    table: dict[str, dict[int, dict[str, object]]] = {}
    print(f"{'attack':>14} {'T':>3} {'outlast 1':>10} {'zeroed':>7} {'after':>8} "
          f"{'honest lost':>12} {'inv1 bad':>9}")
    for strategy in ("coin-interval", "mirror-mimic"):
        table[strategy] = {}
        for T in epoch_lengths:
            params = Params.practical(n, f, T=T)
            outlast = zeroed = broken = 0
            after: list[int] = []
            lost = 0.0
            for seed in range(seeds):
                byz = {n - 1: functools.partial(make_strategy, strategy)}
                sim = Simulator(params, protocol="hpz", inputs=make_inputs("split", n, seed),
                                seed=seed, scheduler=make_scheduler("coin-aware"),
                                byzantine=byz)
                result = sim.run()
                honest, bad = sim.honest_nodes(), {n - 1}
                weights = epoch_weights(honest, bad, result.epochs)
                outlast += result.epochs >= 2
                broken += bool(check_invariant1(honest, bad, result.epochs))
                known = [w for w in weights if w is not None]
                if known:
                    lost = max(lost, sum(1.0 - x for i, x in enumerate(known[-1]) if i not in bad))
                hit = next((e for e, w in enumerate(weights) if w is not None and w[n - 1] == 0),
                           None)
                if hit is not None:
                    zeroed += 1
                    after.append(hit)
            table[strategy][T] = {"runs": seeds, "outlast_epoch_1": outlast, "zeroed": zeroed,
                                  "epochs_to_zero": after, "honest_weight_lost_max": lost,
                                  "invariant1_violations": broken, "params": params.to_dict()}
            print(f"{strategy:>14} {T:>3} {outlast:>10} {zeroed:>7} "
                  f"{(str(sorted(set(after))) if after else '-'):>8} {lost:>12.2f} {broken:>9}",
                  flush=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / "blacklisting.json").write_text(json.dumps({"n": n, "f": f, "table": table},
                                                      indent=2))
    print(f"wrote {out}/blacklisting.json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="4,7,10,13,16")
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--blacklisting", action="store_true",
                        help="measure blacklisting against the coin attacks instead")
    parser.add_argument("--epoch-lengths", default="4,8,12")
    args = parser.parse_args()
    if args.blacklisting:
        blacklisting([int(t) for t in args.epoch_lengths.split(",")], args.seeds, args.out)
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    table: dict[str, dict[int, dict[str, float]]] = {p: {} for p in PROTOCOLS}
    print(f"{'n':>4} " + " ".join(f"{p + ' lat (it)':>24}" for p in PROTOCOLS))
    for n in sizes:
        for p in PROTOCOLS:
            table[p][n] = measure(n, p, args.seeds)
        print(f"{n:>4} " + " ".join(
            f"{table[p][n]['latency_delta']:>14.1f} ({table[p][n]['iterations']:>5.1f})"
            for p in PROTOCOLS), flush=True)
    fits = {p: fit(sizes, [table[p][n]["latency_delta"] for n in sizes]) for p in PROTOCOLS}
    for p, fr in fits.items():
        print(f"{p:>13}: latency ~ exp({fr['exp_rate_per_node']:.3f} n)"
              f"  or  n^{fr['poly_exponent']:.2f}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "attacks_exp_vs_poly.json").write_text(
        json.dumps({"sizes": sizes, "seeds": args.seeds, "table": table, "fits": fits},
                   indent=2))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for p in PROTOCOLS:
        ax.plot(sizes, [table[p][n]["latency_delta"] for n in sizes], marker="o",
                label=f"{p} (exp rate {fits[p]['exp_rate_per_node']:.2f}/node)")
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
