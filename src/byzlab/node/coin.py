"""The two-stage weighted coin flip (HPZ Algorithm 2) and the baseline coins.

Theory of operation (HPZ §3.1)
------------------------------
Stage 1 reliably broadcasts v_p in {v*, bottom} (a `Vote` with step 4) and waits for n - f
validated; val_p = v* if any of them is v*, else 0, and p writes val_p into all
m0 = ceil(sqrt(m c ln n)) cells of its column of the odd board BB_{2t-1}. Stage 2 writes m
fair coin flips into its column of the even board BB_{2t}. With p's view fixed after BB_{2t}
(which includes cells of BB_{2t-1} adopted retroactively),

    bias = sum of BB_{2t-1}               X_q = clip(column sum of BB_{2t}, -Xmax, Xmax)
    Sigma = sum_q w_q X_q                 output = sgn(bias + Sigma),  sgn(0) = +1.

If |A_keep| >= f + 1, every view holds at least n - f full odd columns of v*, so
v* * bias >= (n - f) m0, which dominates the honest coins' noise and the f clipped Byzantine
columns: everyone outputs v* (Lemmas 2-3). Clipping is what bounds a corrupted column's
influence to Xmax.

Weights are fixed-point integers (blacklist.WEIGHT_ONE = 1), so Sigma is an exact integer
sum and every node that evaluates the same view gets the same bit on every machine; this is
what lets a receiver validate a sender's claimed coin outcome exactly.

Baselines on the same engine flip an *immediate* coin right after step 3, with no coin stage
and no blackboard (`ImmediateCoin`): `LocalCoin` (Bracha 1987: each node flips its own coin,
so the outcome cannot be validated) and `CommonCoin` (a common coin that every node reads from
a shared seed, Rabin 1983; the lower reference). Which coin a protocol uses is the one thing
that tells byzlab's three built-in protocols apart (node/bracha.py).
"""

from __future__ import annotations

import hashlib
import random
import typing
from collections.abc import Sequence

from byzlab.node.blackboard import BlackboardStore
from byzlab.node.blacklist import WEIGHT_ONE


def sgn(x: int) -> int:
    return 1 if x >= 0 else -1


def clip(x: int, bound: int) -> int:
    return bound if x > bound else -bound if x < -bound else x


def hpz_coin(
    store: BlackboardStore, view: tuple[int, ...], iteration: int, weights: Sequence[int]
) -> int:
    """p's output of Coin-Flip in `iteration` from its fixed view (Algorithm 2 lines 8-10)."""
    odd, even = 2 * iteration - 1, 2 * iteration
    xmax = store.params.xmax
    bias = 0
    total = 0
    for j in range(store.n):
        length = view[j]
        bias += store.cells_in_view(odd, j, length)[1]
        _, s = store.cells_in_view(even, j, length)
        if s:
            total += weights[j] * clip(s, xmax)
    return sgn(bias * WEIGHT_ONE + total)


def coin_terms(
    store: BlackboardStore, view: tuple[int, ...], iteration: int, weights: Sequence[int]
) -> tuple[int, float]:
    """(bias, Sigma) of a view, Sigma in units of weight 1; for traces and invariant checks."""
    odd, even = 2 * iteration - 1, 2 * iteration
    xmax = store.params.xmax
    bias = sum(store.column_sums(odd, view))
    total = sum(weights[j] * clip(s, xmax) for j, s in enumerate(store.column_sums(even, view)))
    return bias, total / WEIGHT_ONE


def ideal_coin(seed: bytes, iteration: int) -> int:
    """The shared coin of iteration `iteration`: one bit of BLAKE2b(seed, iteration)."""
    digest = hashlib.blake2b(seed + iteration.to_bytes(8, "big"), digest_size=8).digest()
    return 1 if digest[0] & 1 else -1


class ImmediateCoin(typing.Protocol):
    """A coin flipped right after step 3 by a node with x_p = 0, instead of HPZ's Coin-Flip.

    `private`: each node flips its own, so nobody can check an outcome (a corrupted node
    may claim either value). `flip` is the node's outcome of `iteration` (from its own
    stream `rng` or the run's common seed); `valid` says whether a receiver accepts `value`
    as a sender's outcome (node/validation.py)."""

    @property
    def private(self) -> bool: ...

    def flip(self, rng: random.Random, ideal_seed: bytes, iteration: int) -> int: ...

    def valid(self, ideal_seed: bytes, iteration: int, value: int) -> bool: ...


class LocalCoin:
    """Bracha's local coin: a private fair flip from the node's own stream."""

    private = True

    def flip(self, rng: random.Random, ideal_seed: bytes, iteration: int) -> int:
        return rng.choice((-1, 1))

    def valid(self, ideal_seed: bytes, iteration: int, value: int) -> bool:
        return True


class CommonCoin:
    """The ideal common coin: every node reads the same bit from the run's shared seed."""

    private = False

    def flip(self, rng: random.Random, ideal_seed: bytes, iteration: int) -> int:
        return ideal_coin(ideal_seed, iteration)

    def valid(self, ideal_seed: bytes, iteration: int, value: int) -> bool:
        return value == ideal_coin(ideal_seed, iteration)
