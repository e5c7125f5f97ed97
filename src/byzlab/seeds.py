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

# Inputs are -1 and +1 (``byzlab.node.protocol``): the unanimous kinds say which value they
# mean. Their former names ("zeros" meant all -1) are refused with the new name, never mapped.
INPUT_KINDS = ("split", "all-minus", "all-plus", "random")
RENAMED_INPUT_KINDS = {"zeros": "all-minus", "ones": "all-plus"}


def derive_rng(seed: int, *labels: object) -> random.Random:
    """An independent, reproducible stream per (seed, label): no shared global state."""
    material = repr((seed, *labels)).encode()
    return random.Random(int.from_bytes(hashlib.blake2b(material, digest_size=16).digest(), "big"))


def ideal_coin_seed(seed: int) -> bytes:
    """The common randomness of the ideal shared coin (the lower reference protocol)."""
    return hashlib.blake2b(f"ideal-coin:{seed}".encode(), digest_size=16).digest()


def renamed_input_kind(kind: str) -> str | None:
    """The one-line refusal of a former input kind's name (naming the new one), else None."""
    new = RENAMED_INPUT_KINDS.get(kind)
    if new is None:
        return None
    value = "-1" if new == "all-minus" else "+1"
    return f"{kind!r} is now called {new!r} (every input {value}; inputs are -1 and +1)"


def make_inputs(kind: str, n: int, seed: int) -> list[int]:
    """The n input values of a run: alternating, all -1, all +1, or drawn from the seed."""
    if kind == "split":
        return [1 if i % 2 == 0 else -1 for i in range(n)]
    if kind == "all-minus":
        return [-1] * n
    if kind == "all-plus":
        return [1] * n
    if kind == "random":
        rng = derive_rng(seed, "inputs")
        return [rng.choice((-1, 1)) for _ in range(n)]
    raise ValueError(
        renamed_input_kind(kind)
        or f"unknown inputs {kind!r}; choose one of: {', '.join(INPUT_KINDS)}"
    )
