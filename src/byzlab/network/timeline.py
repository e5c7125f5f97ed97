"""Messages relayed over time, in bounded memory, and the sustained rate they show.

A run's average rate (messages / latency) mixes three regimes: the start, when only the
first nodes to be scheduled are sending; the middle, when every node has work; and the
tail, when nodes halt one by one. Short runs (an honest n = 7 run lasts about 20 ms on two
cores) are mostly start and tail, so their average says more about latency than about how
many messages the transport can carry. ``RelayTimeline`` keeps how many messages the proxy
relayed in each time bucket since the protocol started; ``sustained_rate`` is the rate
between the moments the first ``lo`` and the first ``hi`` fraction of them had been
relayed (10 % and 90 % by default), the usual way to read throughput off a finite run
without its ramp-up and drain. Both figures are reported; neither replaces the other.

Memory: at most ``max_buckets`` counters. Buckets start at 50 us, fine enough for a 20 ms
run; a run that outgrows them merges neighbouring buckets pairwise and doubles the bucket
width, so a long run keeps the same number of counters at a coarser resolution.

The timeline belongs to one proxy process: a restarted proxy starts a new one at its own
start (``incarnation`` in its statistics says which), so after a restart the sustained rate
describes the last incarnation only.
"""

from __future__ import annotations

from typing import Any

__all__ = ["RelayTimeline"]


class RelayTimeline:
    """Counts per time bucket of width ``width_s`` (which doubles as the run outgrows
    ``max_buckets`` buckets)."""

    __slots__ = ("counts", "max_buckets", "total", "width_s")

    def __init__(self, width_s: float = 50e-6, max_buckets: int = 4096) -> None:
        if width_s <= 0 or max_buckets < 2:
            raise ValueError("need width_s > 0 and max_buckets >= 2")
        self.width_s = width_s
        self.max_buckets = max_buckets
        self.counts: list[int] = []
        self.total = 0

    def add(self, t: float, count: int) -> None:
        """``count`` messages relayed ``t`` seconds after the start (clamped at 0)."""
        if count <= 0:
            return
        bucket = int(t / self.width_s) if t > 0 else 0
        while bucket >= self.max_buckets:
            self._coarsen()
            bucket //= 2
        counts = self.counts
        if bucket >= len(counts):
            counts.extend([0] * (bucket + 1 - len(counts)))
        counts[bucket] += count
        self.total += count

    def _coarsen(self) -> None:
        counts = self.counts
        if len(counts) % 2:
            counts.append(0)
        self.counts = [counts[i] + counts[i + 1] for i in range(0, len(counts), 2)]
        self.width_s *= 2

    def time_of(self, fraction: float) -> float | None:
        """When the first ``fraction`` of all relayed messages had been relayed (messages
        are taken as spread evenly within a bucket); None before anything was relayed."""
        located = self._locate(fraction)
        return None if located is None else located[1]

    def _locate(self, fraction: float) -> tuple[int, float] | None:
        """(bucket, time) of the ``fraction`` quantile of relay times."""
        if self.total == 0:
            return None
        target = fraction * self.total
        done = 0
        for bucket, count in enumerate(self.counts):
            if count and done + count >= target:
                return bucket, (bucket + (target - done) / count) * self.width_s
            done += count
        return len(self.counts) - 1, len(self.counts) * self.width_s

    def sustained_rate(self, lo: float = 0.1, hi: float = 0.9) -> float | None:
        """Messages per second between the ``lo`` and ``hi`` quantiles of relay times;
        None if there is too little to tell: nothing relayed, or both quantiles in one
        bucket (the rate would then be an artefact of the bucket width)."""
        start, end = self._locate(lo), self._locate(hi)
        if start is None or end is None or end[0] <= start[0]:
            return None
        return (hi - lo) * self.total / (end[1] - start[1])

    def count_until(self, t: float) -> float:
        """Messages relayed in the first ``t`` seconds (evenly spread within a bucket)."""
        if t <= 0:
            return 0.0
        whole = int(t / self.width_s)
        done = float(sum(self.counts[:whole]))
        if whole < len(self.counts):
            done += self.counts[whole] * (t / self.width_s - whole)
        return done

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RelayTimeline:
        """The timeline ``to_json`` wrote (the proxy's statistics)."""
        timeline = cls(float(data["bucket_s"]), max(2, len(data["counts"])))
        timeline.counts = [int(c) for c in data["counts"]]
        timeline.total = int(data["total"])
        return timeline

    def to_json(self) -> dict[str, Any]:
        return {
            "bucket_s": self.width_s,
            "counts": list(self.counts),
            "total": self.total,
            "t10_s": self.time_of(0.1),
            "t90_s": self.time_of(0.9),
            "sustained_rate": self.sustained_rate(),
        }
