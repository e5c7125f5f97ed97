"""Measured WAN latencies: the shipped preset, nodes placed in its regions, and the
``latency-matrix`` scheduler taking it by name from a scenario file, in the simulator and
(by the same constructor path the proxy uses) on the real backends."""

from __future__ import annotations

import tomllib
from importlib import resources

import pytest

from byzlab.adversary.context import AdversaryContext
from byzlab.adversary.options import plugin_kwargs
from byzlab.adversary.regions import (
    PRESETS,
    assign_regions,
    delay_matrix,
    delta_ms,
    load_preset,
)
from byzlab.adversary.schedulers import SCHEDULERS, make_scheduler
from byzlab.adversary.view import AdversaryView
from byzlab.errors import ScenarioError
from byzlab.node.bracha import HPZ
from byzlab.orchestration.scenario import build_params, build_simulator, parse_scenario

PRESET = "ibm-cloud-2026-08"

SCENARIO = f"""
[run]
n = 7
seed = 11

[adversary]
scheduler = "latency-matrix"

[adversary.scheduler_options]
matrix = "{PRESET}"
regions = ["us-east", "eu-de", "jp-tok"]
jitter = 0.05
"""


def test_the_preset_cites_its_source_and_date() -> None:
    text = resources.files("byzlab.adversary").joinpath("data", PRESETS[PRESET]).read_text()
    header = "".join(line for line in text.splitlines(keepends=True) if line.startswith("#"))
    assert "github.com/ibm-cloud-docs/vpc" in header
    assert "18 Jul 2026 to" in header and "16 Aug 2026" in header
    data = load_preset(PRESET)
    assert len(data.regions) == 13 and "eu-de" in data.regions
    k = len(data.regions)
    for a in range(k):
        assert data.rtt_ms[a][a] < 2  # two zones of one region: about a millisecond
        for b in range(k):
            if a != b:
                # measured per direction: close to symmetric, and a real WAN figure
                assert 5 <= data.rtt_ms[a][b] <= 400
                assert abs(data.rtt_ms[a][b] - data.rtt_ms[b][a]) <= 12
    fra, lon = data.index("eu-de"), data.index("eu-gb")
    assert data.rtt_ms[fra][lon] == 13


def test_nodes_are_placed_round_robin_or_by_table() -> None:
    data = load_preset(PRESET)
    assert assign_regions(data, 15) == [i % 13 for i in range(15)]
    picked = assign_regions(data, 5, ["jp-tok", "eu-de"])
    assert picked == [data.index(r) for r in ["jp-tok", "eu-de", "jp-tok", "eu-de", "jp-tok"]]
    table = assign_regions(data, 4, {"br-sao": [0, 3], "au-syd": [1, 2]})
    assert table == [data.index(r) for r in ["br-sao", "au-syd", "au-syd", "br-sao"]]
    with pytest.raises(ValueError, match="not in latency preset"):
        assign_regions(data, 4, ["mars-1"])
    with pytest.raises(ValueError, match="two regions"):
        assign_regions(data, 2, {"eu-de": [0, 1], "eu-gb": [1]})
    with pytest.raises(ValueError, match=r"nodes \[1\] are in no region"):
        assign_regions(data, 2, {"eu-de": [0]})
    with pytest.raises(ValueError, match="unknown latency preset"):
        load_preset("aws-1999")


def test_delays_are_half_the_round_trip_in_units_of_delta() -> None:
    data = load_preset(PRESET)
    regions = ["us-east", "eu-de", "jp-tok"]
    jitter = 0.05
    d_ms = delta_ms(PRESET, 4, regions, jitter)
    at = [data.index(r) for r in regions]
    slowest = max(data.rtt_ms[a][b] for a in at for b in at) / 2
    assert d_ms == pytest.approx(slowest / (1 - jitter))
    m = delay_matrix(PRESET, 4, regions, jitter)
    us, fra = at[0], at[1]
    assert m[0][1] == pytest.approx(data.rtt_ms[us][fra] / 2 / d_ms)
    assert m[0][3] == pytest.approx(data.rtt_ms[us][us] / 2 / d_ms)  # node 3 is in us-east too
    assert max(max(row) for row in m) == pytest.approx(1 - jitter)


def test_a_scenario_file_takes_the_preset_and_the_simulator_agrees() -> None:
    scn = parse_scenario(tomllib.loads(SCENARIO))
    params = build_params(scn)
    options = scn.adversary.scheduler_options
    # the constructor path of the proxy (adversary/proxy/runtime.py) and of the simulator
    ctx = AdversaryContext(params, AdversaryView(params, []), protocol=HPZ())
    scheduler = make_scheduler(
        "latency-matrix", ctx, **plugin_kwargs(SCHEDULERS["latency-matrix"], options)
    )
    expected = delay_matrix(PRESET, 7, ["us-east", "eu-de", "jp-tok"], 0.05)
    for src in range(7):
        for dst in range(7):
            d = scheduler.delay(src, dst, None, 0.0)  # type: ignore[arg-type]
            assert expected[src][dst] <= d <= expected[src][dst] + 0.05 + 1e-12
    result = build_simulator(scn).run()
    assert result.agreed and result.valid


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ('matrix = "aws-1999"', "unknown latency preset"),
        (f'matrix = "{PRESET}"\nregions = ["mars-1"]', "not in latency preset"),
        ('regions = ["eu-de"]', "regions places nodes in a latency preset"),
        (f'matrix = "{PRESET}"\nregions = {{ eu-de = [0, 1, 2] }}', "are in no region"),
    ],
)
def test_bad_preset_options_are_scenario_errors(options: str, problem: str) -> None:
    text = SCENARIO.split("[adversary.scheduler_options]")[0]
    text += f"[adversary.scheduler_options]\n{options}\n"
    with pytest.raises(ScenarioError, match=problem) as info:
        parse_scenario(tomllib.loads(text))
    assert "adversary.scheduler_options" in str(info.value)
