"""Measured WAN latencies: cloud regions, their round-trip times, and nodes placed in them.

A *latency preset* is a measured matrix of round-trip times (RTT) between cloud regions,
shipped as a CSV file in ``adversary/data/`` whose header cites its source and date (see
docs/latency-presets.md). The ``latency-matrix`` scheduler takes a preset by name
(``matrix = "ibm-cloud-2026-08"``) and places the n nodes in its regions: round-robin over
all of them in the file's order by default, round-robin over a chosen few
(``regions = ["us-east", "eu-de", "jp-tok"]``), or exactly (``regions = {us-east = [0, 1],
eu-de = [2, 3]}``, every node in one region).

How a round trip becomes a delay in units of delta: a message from node a to node b takes
the one-way time RTT(region a, region b) / 2 (the file's row is the sender). HPZ's delta is
the bound on every message delay, so delta is the slowest one-way link among the regions in
use, with room for the scheduler's jitter: delta_ms = max one-way / (1 - jitter), and a
link's delay is one-way / delta_ms (plus the jitter) in units of delta. The simulator runs
in those units; a real run (local processes, containers) reproduces the measured times
when its ``delta_s`` is ``delta_ms / 1000`` (``delta_ms`` below), and scales them all by the
same factor otherwise.
"""

from __future__ import annotations

import csv
import functools
import io
from dataclasses import dataclass
from importlib import resources

__all__ = ["PRESETS", "RttDataset", "assign_regions", "delay_matrix", "delta_ms", "load_preset"]

# Preset name -> its file in adversary/data/.
PRESETS = {"ibm-cloud-2026-08": "ibm-cloud-2026-08.csv"}

# A ``regions`` option: None (round-robin over every region), a list of regions (round-robin
# over those), or a table region -> the nodes placed there.
Regions = list[str] | dict[str, list[int]] | None


@dataclass(frozen=True)
class RttDataset:
    """One preset: its regions (in the file's order) and the RTT matrix in milliseconds,
    ``rtt_ms[a][b]`` from region a to region b (the diagonal: two zones of one region)."""

    name: str
    regions: tuple[str, ...]
    rtt_ms: tuple[tuple[float, ...], ...]

    def index(self, region: str) -> int:
        try:
            return self.regions.index(region)
        except ValueError:
            known = ", ".join(self.regions)
            raise ValueError(
                f"region {region!r} is not in latency preset {self.name!r}; known: {known}"
            ) from None


@functools.cache
def load_preset(name: str) -> RttDataset:
    """The preset ``name`` (ValueError naming the known ones if there is none)."""
    if name not in PRESETS:
        raise ValueError(f"unknown latency preset {name!r}; known: {', '.join(sorted(PRESETS))}")
    text = resources.files(__package__).joinpath("data", PRESETS[name]).read_text("utf-8")
    rows = list(csv.reader(line for line in io.StringIO(text) if not line.startswith("#")))
    header, body = rows[0], rows[1:]
    regions = tuple(header[2:])  # columns: region, city, then one per receiving region
    if [row[0] for row in body] != list(regions):
        raise ValueError(f"latency preset {name!r}: rows and columns name different regions")
    rtt = tuple(tuple(float(x) for x in row[2:]) for row in body)
    return RttDataset(name, regions, rtt)


def assign_regions(data: RttDataset, n: int, regions: Regions = None) -> list[int]:
    """Node -> index of its region in ``data``, as the ``regions`` option places them."""
    if regions is None or isinstance(regions, list):
        order = [data.index(r) for r in (data.regions if regions is None else regions)]
        if not order:
            raise ValueError("regions: the list names no region")
        return [order[i % len(order)] for i in range(n)]
    placed: dict[int, int] = {}
    for region, nodes in regions.items():
        where = data.index(region)
        for node in nodes:
            if not 0 <= node < n:
                raise ValueError(f"regions.{region}: node {node} is out of range 0..{n - 1}")
            if node in placed:
                raise ValueError(f"regions: node {node} is placed in two regions")
            placed[node] = where
    missing = [i for i in range(n) if i not in placed]
    if missing:
        raise ValueError(f"regions: nodes {missing} are in no region (place every node)")
    return [placed[i] for i in range(n)]


def _one_way_ms(data: RttDataset, placement: list[int]) -> list[list[float]]:
    return [[data.rtt_ms[a][b] / 2 for b in placement] for a in placement]


def delta_ms(name: str, n: int, regions: Regions = None, jitter: float = 0.0) -> float:
    """delta in milliseconds for this placement: the slowest one-way link, with room for
    ``jitter`` (a fraction of delta) on top of it."""
    data = load_preset(name)
    slowest = max(max(row) for row in _one_way_ms(data, assign_regions(data, n, regions)))
    if not 0 <= jitter < 1:
        raise ValueError("a latency preset needs jitter in [0, 1) (a fraction of delta)")
    return slowest / (1 - jitter)


def delay_matrix(
    name: str, n: int, regions: Regions = None, jitter: float = 0.0
) -> list[list[float]]:
    """The n x n delays in units of delta (the ``latency-matrix`` scheduler's ``matrix``)."""
    data = load_preset(name)
    one_way = _one_way_ms(data, assign_regions(data, n, regions))
    scale = delta_ms(name, n, regions, jitter)
    return [[x / scale for x in row] for row in one_way]
