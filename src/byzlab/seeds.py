"""Seed derivation: one independent, reproducible random stream per (seed, label).

Every random choice in a run (each node's coins, the scheduler's delays, the inputs, the
corrupted nodes' choices) draws from its own stream derived from the run's seed and a label,
so adding a draw in one place never shifts the draws anywhere else, and no code touches the
global `random` state. A leaf module: the node process, the simulator and the proxy import it
without importing each other.
"""

from __future__ import annotations

import hashlib
import random

INPUT_KINDS = ("split", "zeros", "ones", "random")


def derive_rng(seed: int, *labels: object) -> random.Random:
    """An independent, reproducible stream per (seed, label): no shared global state."""
    material = repr((seed, *labels)).encode()
    return random.Random(int.from_bytes(hashlib.blake2b(material, digest_size=16).digest(), "big"))


def ideal_coin_seed(seed: int) -> bytes:
    """The common randomness of the ideal shared coin (the lower reference protocol)."""
    return hashlib.blake2b(f"ideal-coin:{seed}".encode(), digest_size=16).digest()


def make_inputs(kind: str, n: int, seed: int) -> list[int]:
    """The n input values of a run: alternating, all -1, all +1, or drawn from the seed."""
    if kind == "split":
        return [1 if i % 2 == 0 else -1 for i in range(n)]
    if kind == "zeros":
        return [-1] * n
    if kind == "ones":
        return [1] * n
    if kind == "random":
        rng = derive_rng(seed, "inputs")
        return [rng.choice((-1, 1)) for _ in range(n)]
    raise ValueError(f"unknown inputs {kind!r}; choose one of: {', '.join(INPUT_KINDS)}")
