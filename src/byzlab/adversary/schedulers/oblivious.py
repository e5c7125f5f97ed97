"""Oblivious schedulers: delays that depend on the endpoints and the clock, never on contents.

They model networks rather than attacks on the protocol's logic: global FIFO, uniform or
exponential delays, a fixed latency matrix (a geography), slow nodes, a partition that heals,
and `hold-f`, which makes exactly n - f nodes take part in every quorum. None of them decodes
a message (`inspects_messages` is False), so behind the TCP proxy they cost no decoding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from byzlab.adversary.regions import delay_matrix
from byzlab.adversary.schedulers.base import Scheduler
from byzlab.node.messages import Message

__all__ = [
    "ExponentialScheduler",
    "FifoScheduler",
    "HoldScheduler",
    "LatencyMatrixScheduler",
    "PartitionScheduler",
    "TargetedScheduler",
    "UniformScheduler",
]


@dataclass
class FifoScheduler(Scheduler):
    pass


@dataclass
class UniformScheduler(Scheduler):
    name: str = "random"
    description: str = "independent uniform delays in [0, delta]"

    def delay(self, src: int, dst: int, msg: Message, now: float) -> float:
        return self.rng.random() * self.delta


@dataclass
class HoldScheduler(Scheduler):
    """The messages of `held` nodes (default: f honest nodes) take delta; all others at most
    delta/4. Every quorum of n - f then forms from the others first, so exactly n - f nodes
    participate, and the held columns of the blackboards stay partial."""

    name: str = "hold-f"
    description: str = "messages of f chosen nodes arrive last, so exactly n-f participate"
    held: frozenset[int] | None = None
    _held: frozenset[int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        n, f = self.n, self.f
        if self.held is None:
            honest = [i for i in range(n) if i not in self.byzantine]
            self._held = frozenset(honest[-f:])
        elif any(not 0 <= i < n for i in self.held):
            raise ValueError(f"held nodes {sorted(self.held)} out of range for n={n}")
        else:
            self._held = frozenset(self.held)

    def delay(self, src: int, dst: int, msg: Message, now: float) -> float:
        if src in self._held and src != dst:
            return self.delta
        return self.rng.random() * self.delta * 0.25

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "held": sorted(self._held)}


@dataclass
class ExponentialScheduler(Scheduler):
    """Delays drawn from an exponential distribution of mean `mean` x delta, cut at delta:
    mostly fast messages with a long tail, like a real network."""

    name: str = "exponential"
    description: str = "exponential delays (mean 0.25 delta) truncated at delta"
    mean: float = 0.25

    def delay(self, src: int, dst: int, msg: Message, now: float) -> float:
        return min(self.delta, self.rng.expovariate(1.0 / (self.mean * self.delta)))


@dataclass
class LatencyMatrixScheduler(Scheduler):
    """Fixed per-link latencies (a geography): `matrix[src][dst]` in units of delta, plus
    `jitter` x delta of uniform noise; values are cut at delta. Default: a ring where latency
    grows with the distance between ids. `matrix` may instead name a measured preset, with
    the nodes placed in its regions by `regions` (adversary/regions.py)."""

    name: str = "latency-matrix"
    description: str = "per-link latency matrix (default: ring distance), plus jitter"
    matrix: list[list[float]] | str | None = None
    jitter: float = 0.05
    regions: list[str] | dict[str, list[int]] | None = None
    _matrix: list[list[float]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        n = self.n
        matrix = self.matrix
        if isinstance(matrix, str):
            matrix = delay_matrix(matrix, n, self.regions, self.jitter)
        elif self.regions is not None:
            raise ValueError("regions places nodes in a latency preset: name one with matrix")
        if matrix is None:
            matrix = [
                [min(abs(i - j), n - abs(i - j)) / (n / 2) * 0.8 for j in range(n)]
                for i in range(n)
            ]
        if len(matrix) != n or any(len(row) != n for row in matrix):
            raise ValueError(f"latency matrix must be {n} x {n}")
        if any(not 0 <= x <= 1 for row in matrix for x in row):
            raise ValueError("latency matrix entries must be in [0, 1] (units of delta)")
        self._matrix = matrix

    def delay(self, src: int, dst: int, msg: Message, now: float) -> float:
        return min(
            self.delta, (self._matrix[src][dst] + self.rng.random() * self.jitter) * self.delta
        )


@dataclass
class TargetedScheduler(Scheduler):
    """Slow or targeted nodes: every message to or from `nodes` (default: f honest nodes)
    takes `slowdown` x delta; all others are uniform in [0, delta/4]."""

    name: str = "targeted"
    description: str = "chosen nodes are slow: their traffic takes the full delta"
    nodes: list[int] | None = None
    slowdown: float = 1.0
    _nodes: list[int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.nodes is None:
            self._nodes = [i for i in range(self.n) if i not in self.byzantine][: self.f]
        else:
            self._nodes = list(self.nodes)
        if not 0 <= self.slowdown <= 1:
            raise ValueError("slowdown must be in [0, 1] (a fraction of delta)")

    def delay(self, src: int, dst: int, msg: Message, now: float) -> float:
        if src in self._nodes or dst in self._nodes:
            return self.slowdown * self.delta
        return self.rng.random() * 0.25 * self.delta


@dataclass
class PartitionScheduler(Scheduler):
    """Partition and heal: until `heal_at` (virtual time, units of delta) messages between
    the two groups take the full delta while messages inside a group are fast; after it,
    uniform. An asynchronous partition can only slow links down to delta, never cut them."""

    name: str = "partition"
    description: str = "two groups: cross-group links take delta until heal_at, then heal"
    group: list[int] | None = None
    heal_at: float = 30.0
    _group: list[int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        self._group = list(range(self.n // 2)) if self.group is None else list(self.group)

    def delay(self, src: int, dst: int, msg: Message, now: float) -> float:
        group = self._group
        if now < self.heal_at * self.delta and (src in group) != (dst in group):
            return self.delta
        return self.rng.random() * 0.25 * self.delta
