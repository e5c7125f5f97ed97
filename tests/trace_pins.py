"""Pinned simulator trace hashes: the cases, and the command that regenerates the pins.

A refactor of the runtime, a new engine or a new scheduler API must not change what the
simulator does for a given seed. `tests/test_trace_pins.py` replays every case below and
compares its trace hash with `tests/data/trace_pins.json`. A deliberate change of behaviour
(a protocol fix) regenerates the pins, and the commit says why:

    .venv/bin/python -m tests.trace_pins --write
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from tests.simutil import build_sim

PINS = Path(__file__).parent / "data" / "trace_pins.json"

PROTOCOLS = ("hpz", "bracha-local", "ideal-coin")
STRATEGIES = (
    None,
    "silent",
    "crash",
    "random-value",
    "invalid-value",
    "equivocate",
    "random-coins",
    "biased-coins",
    "mirror-mimic",
    "coin-interval",
    "split-vote",
    "force-decide",
    "deadlock",
    "split-hold",
    "sigma-correlation",
)
SCHEDULERS = (
    "fifo",
    "random",
    "hold-f",
    "split-vote",
    "exponential",
    "latency-matrix",
    "targeted",
    "partition",
    "coin-aware",
    "finger-suppression",
    "keepers",
)


def cases() -> list[dict[str, Any]]:
    """Every protocol x strategy x scheduler once at n = 4 (f = 1), every HPZ strategy x
    scheduler at n = 7, and a diagonal at n = 10; no two cases share a seed."""
    out: list[dict[str, Any]] = []
    seed = 1000
    for protocol in PROTOCOLS:
        for strategy in STRATEGIES:
            for scheduler in SCHEDULERS:
                out.append(
                    {
                        "n": 4,
                        "f": 1,
                        "protocol": protocol,
                        "strategy": strategy,
                        "scheduler": scheduler,
                        "seed": seed,
                    }
                )
                seed += 1
    for strategy in STRATEGIES:
        for scheduler in SCHEDULERS:
            out.append(
                {
                    "n": 7,
                    "f": 2,
                    "protocol": "hpz",
                    "strategy": strategy,
                    "scheduler": scheduler,
                    "seed": seed,
                }
            )
            seed += 1
    for k, strategy in enumerate(STRATEGIES):
        for protocol in PROTOCOLS:
            out.append(
                {
                    "n": 10,
                    "f": 3,
                    "protocol": protocol,
                    "strategy": strategy,
                    "scheduler": SCHEDULERS[k % len(SCHEDULERS)],
                    "seed": seed,
                }
            )
            seed += 1
    return out


def key(case: dict[str, Any]) -> str:
    return (
        f"n{case['n']}/{case['protocol']}/{case['strategy'] or 'honest'}/"
        f"{case['scheduler']}/seed{case['seed']}"
    )


def trace_hash(case: dict[str, Any]) -> str:
    sim = build_sim(
        case["n"],
        case["f"],
        seed=case["seed"],
        protocol=case["protocol"],
        strategy=case["strategy"],
        scheduler=case["scheduler"],
    )
    sim.max_deliveries = 2_000_000
    return sim.run().trace_hash


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite the pins file")
    args = parser.parse_args(argv)
    pins = {}
    started = time.monotonic()
    for case in cases():
        t0 = time.monotonic()
        pins[key(case)] = trace_hash(case)
        took = time.monotonic() - t0
        if took > 2:
            print(f"slow case {key(case)}: {took:.1f} s", file=sys.stderr)
    print(f"{len(pins)} cases in {time.monotonic() - started:.1f} s", file=sys.stderr)
    if args.write:
        PINS.write_text(json.dumps(pins, indent=1, sort_keys=True) + "\n")
    else:
        old = json.loads(PINS.read_text())
        bad = [k for k in pins if old.get(k) != pins[k]]
        print(f"{len(bad)} differ", *bad[:20], sep="\n")
        return 1 if bad else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
