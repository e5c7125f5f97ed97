"""`byzlab bench`: the quick suite runs for real end to end and writes what it promises.

No timing is asserted anywhere: benchmarks report figures, tests check their shape (every
benchmark's section, numeric medians, valid PNG plots) and the search and option logic.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from matplotlib.image import imread

from byzlab.bench.common import BENCHMARKS
from byzlab.bench.limits import search_largest
from byzlab.bench.runner import bench_command

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _invoke(args: list[str]) -> Any:
    result = CliRunner().invoke(bench_command, args, catch_exceptions=False)
    return result


@pytest.mark.slow
def test_quick_suite_writes_every_section_with_numeric_medians_and_plots(tmp_path: Path) -> None:
    out = tmp_path / "results"
    result = _invoke(["--quick", "--out", str(out), "--backends", "sim,local"])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "bench-quick.json").read_text())
    assert report["schema"] == "byzlab-bench/1"
    assert report["quick"] is True
    assert report["errors"] == {}
    env = report["environment"]
    assert env["cpu_count"] >= 1
    assert env["python"]
    assert env["git_commit"]
    assert set(report["benchmarks"]) == set(BENCHMARKS)
    plots: list[str] = []
    for key, section in report["benchmarks"].items():
        medians = section["medians"]
        numeric = [v for v in medians.values() if v is not None]
        assert numeric, f"{key}: no numeric median"
        for name, value in medians.items():
            assert value is None or (
                isinstance(value, int | float)
                and not isinstance(value, bool)
                and math.isfinite(value)
            ), f"{key}: {name} = {value!r}"
        for name, values in section["samples"].items():
            assert isinstance(values, list) and values, f"{key}: no samples for {name}"
        assert section["figures"], f"{key}: no figures"
        plots += section["plots"]
    # the table names every benchmark
    for key in BENCHMARKS:
        assert key in result.output
    # the simulator core carries its profile; scaling its theory checks
    assert report["benchmarks"]["sim"]["profile"]["top"]
    checks = report["benchmarks"]["scaling"]["checks"]
    assert {c["y"] for c in checks} == {"msgs_per_rbc", "bb_msgs_per_flip"}
    assert all(isinstance(c["fit"]["exponent"], float) for c in checks)
    # scaling, latency and memory are plotted
    assert {
        "bench-quick-scaling.png",
        "bench-quick-scaling-theory.png",
        "bench-quick-latency.png",
        "bench-quick-memory.png",
    } <= set(plots)
    for name in plots:
        path = out / name
        assert path.read_bytes()[:8] == PNG_MAGIC, name
        image = imread(path)
        assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100, name


def test_docker_without_engine_is_skipped_with_a_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'no-engine.sock'}")
    result = _invoke(
        ["--quick", "--only", "limits", "--backends", "docker", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    section = json.loads((tmp_path / "bench-quick.json").read_text())["benchmarks"]["limits"]
    assert any(note.startswith("docker: skipped:") for note in section["notes"])
    (figure,) = section["figures"]
    assert figure["value"] is None and figure["met"] is None
    assert "skipped" in figure["note"]


def test_unknown_benchmark_or_backend_is_a_usage_error(tmp_path: Path) -> None:
    for args in (["--only", "sim,bogus"], ["--backends", "cloud"]):
        result = CliRunner().invoke(bench_command, [*args, "--out", str(tmp_path)])
        assert result.exit_code == 2
        assert "bogus" in result.output or "cloud" in result.output
    assert not (tmp_path / "bench.json").exists()


def test_help_names_every_benchmark_and_option() -> None:
    result = CliRunner().invoke(bench_command, ["--help"])
    assert result.exit_code == 0
    for word in (
        *BENCHMARKS,
        "--quick",
        "--only",
        "--repeats",
        "--out",
        "--budget",
        "--backends",
        "--baseline",
    ):
        assert word in result.output


@pytest.mark.parametrize(
    ("limit", "start", "cap", "expected"),
    [
        (100, 16, 256, (96, 112)),  # doubles to 128 (fails), bisects within a quarter
        (1000, 16, 128, (128, None)),  # reaches the cap
        (10, 16, 128, (10, 12)),  # the start fails: halves, then bisects
        (3, 16, 128, (None, 4)),  # nothing runs
    ],
)
def test_search_doubles_then_bisects(
    limit: int, start: int, cap: int, expected: tuple[int | None, int | None]
) -> None:
    tried: list[int] = []

    def attempt(n: int) -> bool:
        tried.append(n)
        return n <= limit

    assert search_largest(attempt, start, cap) == expected
    assert len(tried) == len(set(tried)), f"a size was tried twice: {tried}"


def test_search_from_a_known_size_with_a_tolerance() -> None:
    """What bench_docker.py does: sizes already run, then search above the largest that
    passed, to within one container."""
    tried: list[int] = []

    def attempt(n: int) -> bool:
        tried.append(n)
        return n <= 45

    assert search_largest(attempt, 64, 128, good=32, tolerance=1) == (45, 46)
    assert 32 not in tried and len(tried) == len(set(tried)), tried


def test_faithful_delay_climbs_the_ladder_until_the_ratio_is_met(tmp_path: Path) -> None:
    """Real runs at n = 4. No timing asserted (a loaded machine may need a rung or two
    more): the delays tried are the ladder's in order from above DELTA_S, the search stops
    at the first within the target, and that is the figure."""
    from byzlab.bench.common import Context, Section
    from byzlab.bench.latency import DELAY_LADDER, DELTA_S, TARGET_RATIO, _faithful_delay
    from byzlab.bench.realrun import Variant

    ctx = Context(
        quick=False,
        repeats=1,
        out=tmp_path / "out",
        tmp=tmp_path / "tmp",
        budget_s=120.0,
        backends=("local",),
        variants=[Variant("current")],
    )
    section = Section("latency", "test")
    _faithful_delay(ctx, section, ctx.variants[0], 4, depth=9.0, hop=50e-6, iterations=1)
    (figure,) = section.figures
    assert figure.name == "smallest delta_s within 3x, n=4"
    ladder = [d for d in DELAY_LADDER if d > DELTA_S]
    ratios = [
        section.medians[f"n=4 delta_s={d:g}: ratio"]
        for d in ladder
        if f"n=4 delta_s={d:g}: ratio" in section.medians
    ]
    assert ratios, section.medians
    assert all(r is not None and r > TARGET_RATIO for r in ratios[:-1]), ratios
    found = section.medians["n=4: faithful_delta_s"]
    if found is None:
        assert len(ratios) == len(ladder) and figure.value is None
    else:
        assert found == ladder[len(ratios) - 1] and ratios[-1] <= TARGET_RATIO
        assert figure.value == pytest.approx(found * 1e3)
    assert figure.note.startswith(f"real / predicted at {ladder[0] * 1e3:g} ms: ")


@pytest.mark.parametrize("tolerance", [0, -3])
def test_search_ends_whatever_the_tolerance(tolerance: int) -> None:
    tried: list[int] = []

    def attempt(n: int) -> bool:
        tried.append(n)
        assert len(tried) < 50, f"the search does not end: {tried}"
        return n <= 45

    assert search_largest(attempt, 64, 128, good=32, tolerance=tolerance) == (45, 46)


def test_search_refuses_a_known_size_above_the_start() -> None:
    with pytest.raises(ValueError, match="must be below the start"):
        search_largest(lambda n: True, 16, 128, good=32)
