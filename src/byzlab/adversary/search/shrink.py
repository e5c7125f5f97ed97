"""Delta debugging: shrink a set of adversary choices to a minimal one that still reproduces.

Zeller and Hildebrandt's ddmin ("Simplifying and Isolating Failure-Inducing Input", IEEE TSE
28(2), 2002) over the non-default choices of a schedule: split the set into n chunks, keep a
chunk alone if it reproduces, else keep a complement if one does, else split finer; stop when
no single choice can go. The result is 1-minimal: removing any one choice loses the
reproduction (unless the budget ran out first, which the result says). Which choices are
tested in which order is fixed, so a shrink replays when the test (`reproduces`) does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["Shrunk", "ddmin"]

T = TypeVar("T")


@dataclass(frozen=True)
class Shrunk(Generic[T]):
    """What ddmin kept, how many tests it ran, and whether it finished (1-minimal) or ran out
    of budget first."""

    kept: list[T]
    tests: int
    minimal: bool


def ddmin(items: Sequence[T], reproduces: Callable[[list[T]], bool], budget: int) -> Shrunk[T]:
    """The smallest subset of `items` (in their order) that ddmin finds `reproduces`, within
    `budget` tests; `items` itself is assumed to reproduce and is not tested."""
    cache: dict[tuple[int, ...], bool] = {}

    def test(subset: list[int]) -> bool:
        key = tuple(subset)
        if key not in cache:
            cache[key] = reproduces([items[i] for i in subset])
        return cache[key]

    def done(kept: list[int], minimal: bool) -> Shrunk[T]:
        return Shrunk([items[i] for i in kept], len(cache), minimal)

    current = list(range(len(items)))
    chunks = 2
    while len(current) >= 2:
        size = len(current)
        bounds = [size * k // chunks for k in range(chunks + 1)]
        parts = [current[bounds[k] : bounds[k + 1]] for k in range(chunks)]
        # the chunks alone, then (with more than two chunks) their complements
        tries = [(part, 2) for part in parts]
        if chunks > 2:
            tries += [
                ([x for j, part in enumerate(parts) if j != k for x in part], chunks - 1)
                for k in range(chunks)
            ]
        for subset, next_chunks in tries:
            if len(cache) >= budget:
                return done(current, False)
            if test(subset):
                current, chunks = subset, next_chunks
                break
        else:
            if chunks >= size:
                break
            chunks = min(size, 2 * chunks)
    if len(current) == 1:
        if len(cache) >= budget:
            return done(current, False)
        if test([]):
            current = []
    return done(current, True)
