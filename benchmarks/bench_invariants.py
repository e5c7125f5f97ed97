"""Sweep HPZ's invariants over the simulator: n x scheduler x strategy x seeds.

    python benchmarks/bench_invariants.py [--sizes 4-16] [--seeds 2] [--jobs 2]
        [--schedulers all] [--strategies all] [--max-deliveries 400000] [--budget 60]
        [--no-whp] [--json FILE]

Every run uses `Params.practical(n)`, f = (n - 1) // 3 corrupted nodes (the last f ids) of
the strategy ("none": no corrupted node), split inputs and the HPZ protocol, is instrumented
with `invariants.record_fix_order` and then checked with `invariants.check_all`. It prints:
runs; per checker, how many runs broke it and the total number of violations; the largest
number of cells in which two honest views differ on one board, over history and across
time; the largest gap between honest coin totals; how often Lemma 4 and Lemma 3 applied and
failed; and the seeds of the failing runs (n, scheduler, strategy, seed), which replay with
`byzlab sim --n N --scheduler S --byzantine STRATEGY --seed SEED`.

Certain properties (Theorem 1.2, coin totals, Lemma 4, Lemma 6.1, the construction's own
properties) must never fail; the w.h.p. ones (Lemma 3, 5(1), 12, Invariant 1) are outside
their regime at the practical preset, so their counts are measurements (see
byzlab.invariants). A figure, not a test: nothing is asserted.

Each run is bounded: at most --max-deliveries deliveries (then it stops, counted as
"capped", and the views fixed so far are still checked) and --budget seconds of wall clock
for the whole seed loop of one combination: a combination that exceeds it is cut there and
its remaining seeds are listed as skipped. Combinations run in parallel over --jobs
processes, each one's seeds in order.
"""

from __future__ import annotations

import argparse
import itertools
import json
import signal
import time
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from byzlab.adversary.assemble import assemble_simulator
from byzlab.adversary.schedulers import SCHEDULERS
from byzlab.adversary.strategies import STRATEGIES
from byzlab.errors import InvariantViolation
from byzlab.invariants import CERTAIN_CHECKERS, WHP_CHECKERS, check_all, record_fix_order
from byzlab.node.bracha import HPZ
from byzlab.node.params import Params
from byzlab.seeds import make_inputs

ALL_SCHEDULERS = tuple(sorted(set(SCHEDULERS) - {"rules"}))  # rules needs a rule list
ALL_STRATEGIES = ("none", *sorted(STRATEGIES))


class OverBudget(Exception):
    pass


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise OverBudget


@dataclass
class RunRecord:
    n: int
    scheduler: str
    strategy: str
    seed: int
    stopped: str
    agreed: bool
    iterations: int
    wall_s: float
    counts: dict[str, int] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    first_violation: str = ""
    error: str = ""


@dataclass
class ComboResult:
    n: int
    scheduler: str
    strategy: str
    runs: list[RunRecord]
    skipped_seeds: list[int]
    note: str = ""


def run_combo(
    n: int,
    scheduler: str,
    strategy: str,
    seeds: list[int],
    max_deliveries: int,
    budget: float,
    whp: bool,
) -> ComboResult:
    f = (n - 1) // 3
    params = Params.practical(n, f)
    combo = ComboResult(n, scheduler, strategy, [], [])
    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, budget)
    try:
        for i, seed in enumerate(seeds):
            byzantine = {} if strategy == "none" else dict.fromkeys(range(n - f, n), strategy)
            started = time.perf_counter()
            try:
                sim = assemble_simulator(
                    params,
                    protocol=HPZ(),
                    inputs=make_inputs("split", n, seed),
                    seed=seed,
                    scheduler=scheduler,
                    byzantine=byzantine,
                    max_deliveries=max_deliveries,
                )
                record_fix_order(sim)
                result = sim.run()
                report = check_all(sim, result, whp=whp)
            except OverBudget:
                combo.skipped_seeds = seeds[i:]
                combo.note = (
                    f"over the {budget:g} s budget at seed {seed} "
                    f"({len(seeds) - i} seed(s) skipped)"
                )
                break
            except InvariantViolation as exc:  # agreement/validity, raised by the simulator
                combo.runs.append(
                    RunRecord(
                        n,
                        scheduler,
                        strategy,
                        seed,
                        "violation",
                        False,
                        0,
                        time.perf_counter() - started,
                        error=str(exc),
                    )
                )
                continue
            combo.runs.append(
                RunRecord(
                    n,
                    scheduler,
                    strategy,
                    seed,
                    result.stopped,
                    result.agreed and result.valid,
                    result.iterations,
                    time.perf_counter() - started,
                    counts={k: v for k, v in report.counts.items() if v},
                    summary=report.summary(),
                    first_violation=(report.violations or report.whp_violations or [""])[0],
                )
            )
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return combo


def parse_sizes(text: str) -> list[int]:
    sizes: list[int] = []
    for part in text.split(","):
        if "-" in part:
            lo, hi = part.split("-")
            sizes += range(int(lo), int(hi) + 1)
        else:
            sizes.append(int(part))
    return sizes


def choose(text: str, options: tuple[str, ...]) -> list[str]:
    if text == "all":
        return list(options)
    picked = text.split(",")
    unknown = [p for p in picked if p not in options]
    if unknown:
        raise SystemExit(f"unknown {unknown}; choose from {', '.join(options)}")
    return picked


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="4-16", help="n values: 4-16 or 4,7,10")
    ap.add_argument("--seeds", type=int, default=2, help="seeds per combination (0..K-1)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--schedulers", default="all")
    ap.add_argument("--strategies", default="all")
    ap.add_argument("--max-deliveries", type=int, default=400_000)
    ap.add_argument(
        "--budget",
        type=float,
        default=60.0,
        help="wall-clock seconds per combination (all its seeds)",
    )
    ap.add_argument("--no-whp", action="store_true", help="only the certain checkers")
    ap.add_argument("--json", type=Path, help="write every run record here")
    args = ap.parse_args()
    sizes = parse_sizes(args.sizes)
    schedulers = choose(args.schedulers, ALL_SCHEDULERS)
    strategies = choose(args.strategies, ALL_STRATEGIES)
    seeds = list(range(args.seeds))
    combos = list(itertools.product(sizes, schedulers, strategies))
    print(
        f"{len(combos)} combinations x {len(seeds)} seeds: n in {sizes}, "
        f"{len(schedulers)} schedulers, {len(strategies)} strategies, "
        f"cap {args.max_deliveries} deliveries, budget {args.budget:g} s per combination, "
        f"{args.jobs} processes",
        flush=True,
    )
    started = time.perf_counter()
    results: list[ComboResult] = []
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = [
            pool.submit(
                run_combo, n, sch, st, seeds, args.max_deliveries, args.budget, not args.no_whp
            )
            for n, sch, st in combos
        ]
        for done, future in enumerate(as_completed(futures), 1):
            results.append(future.result())
            if done % 50 == 0 or done == len(futures):
                print(
                    f"  {done}/{len(futures)} combinations, {time.perf_counter() - started:.0f} s",
                    flush=True,
                )
    report(results, time.perf_counter() - started, args.json)


def report(results: list[ComboResult], wall: float, out: Path | None) -> None:
    runs = [r for c in results for r in c.runs]
    stopped = Counter(r.stopped for r in runs)
    broke_runs: Counter[str] = Counter()
    broke_total: Counter[str] = Counter()
    failing: dict[str, list[tuple[int, str, str, int]]] = defaultdict(list)
    maxima: dict[str, float] = defaultdict(float)
    where_max: dict[str, tuple[int, str, str, int]] = {}
    lemma = Counter[str]()
    per_n: dict[int, Counter[str]] = defaultdict(Counter)
    for r in runs:
        key = (r.n, r.scheduler, r.strategy, r.seed)
        per_n[r.n]["runs"] += 1
        if r.error:
            broke_runs["agreement/validity"] += 1
            failing["agreement/validity"].append(key)
        for name, count in r.counts.items():
            broke_runs[name] += 1
            broke_total[name] += count
            failing[name].append(key)
        if any(r.counts.get(c) for c in CERTAIN_CHECKERS):
            per_n[r.n]["certain"] += 1
        if any(r.counts.get(c) for c in ("thm1.2-board", "thm1.2-history", "thm1.2-cross-time")):
            per_n[r.n]["thm1.2"] += 1
        s = r.summary
        for k in (
            "max_cells_board",
            "max_cells_history",
            "max_cells_cross_time",
            "max_cells_missing_vs_union",
            "max_coin_total_gap",
            "max_bias_spread",
            "max_local_weight_gap",
        ):
            if s and s[k] > maxima[k]:
                maxima[k] = s[k]
                where_max[k] = key
        for k in ("lemma4_applied", "lemma4_failures", "lemma3_applied", "lemma3_failures"):
            lemma[k] += s.get(k, 0) if s else 0
    print(
        f"\nruns: {len(runs)} in {wall:.0f} s; stopped: {dict(stopped)}; "
        f"agreed: {sum(r.agreed for r in runs)}"
    )
    print("\ncertain properties (must never fail):")
    for name in (*CERTAIN_CHECKERS, "agreement/validity"):
        print(f"  {name:20s} runs broken {broke_runs[name]:5d}   violations {broke_total[name]:6d}")
    print("w.h.p. properties (outside their regime at the practical preset):")
    for name in WHP_CHECKERS:
        print(f"  {name:20s} runs broken {broke_runs[name]:5d}   violations {broke_total[name]:6d}")
    print("\nlargest gaps (f = (n-1)//3; where):")
    for k, v in maxima.items():
        print(f"  {k:28s} {v:8.3g}   {where_max.get(k)}")
    print(
        f"Lemma 4: applied {lemma['lemma4_applied']} times, failed "
        f"{lemma['lemma4_failures']}; Lemma 3: applied {lemma['lemma3_applied']}, failed "
        f"{lemma['lemma3_failures']}"
    )
    print("\nper n: runs / runs breaking a certain property / breaking Theorem 1.2:")
    for n in sorted(per_n):
        tally = per_n[n]
        print(f"  n={n:3d}: {tally['runs']:5d} / {tally['certain']:5d} / {tally['thm1.2']:5d}")
    print("\nfailing seeds (n, scheduler, strategy, seed), first 12 per checker:")
    for name, keys in sorted(failing.items()):
        print(f"  {name}: {len(keys)} run(s): {sorted(keys)[:12]}")
    skipped = [c for c in results if c.note]
    if skipped:
        print(f"\nskipped ({len(skipped)} combination(s)):")
        for c in sorted(skipped, key=lambda c: (c.n, c.scheduler, c.strategy)):
            print(f"  n={c.n} {c.scheduler} x {c.strategy}: {c.note}")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps([asdict(c) for c in results], indent=1))
        print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
