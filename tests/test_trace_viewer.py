"""``byzlab trace RUN_DIR``: the text summary of a real simulator run, the page's
self-containment and escaping, hostile run directories, and the viewer in a real browser.

The run is an n = 7 coin attack: HPZ with split inputs, two nodes running sigma-correlation
and the coin-aware scheduler, seed 3, whose coin of iteration 1 splits. The browser test needs
Debian's Chromium, as the report's does (tests/browser.py says where and when it is skipped).
"""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from byzlab.cli import main
from byzlab.orchestration.dispatch import run_scenario
from byzlab.orchestration.scenario import parse_scenario
from byzlab.orchestration.traceview.command import HOW_TO_RECORD
from byzlab.orchestration.traceview.page import AGGREGATE_ABOVE, render_page
from byzlab.orchestration.traceview.rundir import load_run_dir
from tests.browser import open_page, require_chromium
from tests.exputil import invoke

SEED = 3
VIEWPORT = {"width": 1280, "height": 900}
COIN_ATTACK = {
    "run": {"n": 7, "f": 2, "seed": SEED, "protocol": "hpz", "inputs": "split", "messages": "on"},
    "adversary": {
        "scheduler": "coin-aware",
        "byzantine": [
            {"node": 5, "strategy": "sigma-correlation"},
            {"node": 6, "strategy": "sigma-correlation"},
        ],
    },
}


def coin_attack_run(out: Path) -> Path:
    outcome = run_scenario(parse_scenario(COIN_ATTACK), "sim", out_root=out)
    return outcome.out_dir


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = coin_attack_run(tmp_path_factory.mktemp("runs"))
    trace = json.loads((path / "trace.json").read_text())
    assert any(not c["unanimous"] for c in trace["coins"]), f"seed={SEED}: no split coin"
    return path


@pytest.fixture(scope="module")
def page(run_dir: Path) -> Path:
    result = invoke(main, ["trace", run_dir])
    assert result.exit_code == 0, result.output
    assert f"trace viewer: {run_dir / 'trace.html'}" in result.stdout
    return run_dir / "trace.html"


def deliveries(run_dir: Path) -> Any:
    table = pq.read_table(run_dir / "messages.parquet")
    return table.filter(pc.equal(table["event"], "deliver"))


# --------------------------------------------------------------------------- the text summary


def test_summary_states_the_runs_facts(run_dir: Path) -> None:
    result = invoke(main, ["trace", run_dir, "--summary"])
    assert result.exit_code == 0, result.output
    text = result.stdout
    summary = json.loads((run_dir / "summary.json").read_text())
    trace = json.loads((run_dir / "trace.json").read_text())
    rows = deliveries(run_dir)
    assert rows.num_rows == summary["deliveries"], f"seed={SEED}"
    assert f"{rows.num_rows:,} delivered" in text, f"seed={SEED}"
    assert "n = 7, f = 2, seed 3" in text and "agreed on" in text
    # counts per kind and verdict, as the parquet has them
    pairs = Counter(zip(rows["kind"].to_pylist(), rows["outcome"].to_pylist(), strict=True))
    lines = {line.split()[0]: line.split() for line in text.splitlines() if line.startswith("  ")}
    for kind in {k for k, _ in pairs}:
        cells = lines[kind]
        assert cells[2:5] == [str(pairs[(kind, v)]) for v in ("accepted", "dropped", "rejected")], (
            f"seed={SEED}: {kind}: {cells}"
        )
    # per node: what it received and refused, with the reasons
    dst = Counter(rows["dst"].to_pylist())
    section = text.split("per node")[1].split("\n\n")[0].splitlines()[2:]
    assert [line.split()[0] for line in section] == [str(i) for i in range(7)], section
    for node, line in enumerate(section):
        cells = line.split()
        assert cells[1] == ("honest" if node < 5 else "sigma-correlation"), line
        assert cells[2] == str(dst[node]), f"seed={SEED}: node {node}: {line}"
    late = Counter(
        d
        for d, r in zip(rows["dst"].to_pylist(), rows["reason"].to_pylist(), strict=True)
        if r == "late"
    )
    if late[0]:
        assert f"late {late[0]}" in text, f"seed={SEED}"
    # coins: outcome, bias and Sigma per node, as trace.json records them
    for coin in trace["coins"]:
        state = "unanimous" if coin["unanimous"] else "split"
        assert f"coin of iteration {coin['iteration']}: {state}" in text, f"seed={SEED}"
        for node, output in coin["outputs"].items():
            bias, sigma = coin["bias"][node], coin["sigma"][node]
            assert re.search(
                rf"\n  {node}\s+{re.escape(f'{output:+d}')}\s+{bias}\s+{sigma:.6g}\s+"
                rf"{bias + sigma:.6g}\n",
                text,
            ), f"seed={SEED}: coin {coin['iteration']} node {node}"
            assert (1 if bias + sigma >= 0 else -1) == output, f"seed={SEED}: sgn(bias + Sigma)"
    assert text.count("  epoch ") == len(trace["epoch_weights"]) >= 1
    for d in trace["decisions"]:
        value = re.escape(f"{d['value']:+d}")
        assert re.search(rf"\n  {d['node']}\s+{value}\s+{d['iteration']}\s", text), d


def test_summary_without_a_message_trace_says_how_to_record_one(
    run_dir: Path, tmp_path: Path
) -> None:
    bare = tmp_path / "bare"
    shutil.copytree(run_dir, bare)
    (bare / "messages.parquet").unlink()
    result = invoke(main, ["trace", bare, "--summary"])
    assert result.exit_code == 0, result.output
    assert (
        'messages.parquet is missing; record one by running the scenario again with [run] messages = "on"'
        in result.stdout
    )
    assert "coin of iteration 1" in result.stdout
    result = invoke(main, ["trace", bare, "--out", tmp_path / "bare.html"])
    assert result.exit_code == 0, result.output
    html = (tmp_path / "bare.html").read_text()
    assert '"missing":"messages.parquet is missing; record one' in html


# --------------------------------------------------------------------------- the page


class _Refs(HTMLParser):
    """Every URL the page would load (src, href), and its scripts and links."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.tags: Counter[str] = Counter()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        for name, value in attrs:
            if name in ("src", "href") and value is not None:
                self.urls.append(value)


def test_page_is_self_contained(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    refs = _Refs()
    refs.feed(text)
    assert refs.urls == [], f"the viewer loads outside resources: {refs.urls}"
    assert refs.tags["script"] == 2 and refs.tags["link"] == 0 and refs.tags["img"] == 0
    assert not re.search(r"https?:|@import|url\(\s*['\"]?[a-z]", text), "no URL of any kind"
    for heading in ("Spacetime diagram", "ECHO/READY grid", "Blackboards", "Coins", "Weights"):
        assert heading in text, heading


def test_untrusted_strings_are_escaped(run_dir: Path, tmp_path: Path) -> None:
    hostile = tmp_path / "hostile"
    shutil.copytree(run_dir, hostile)
    summary = json.loads((hostile / "summary.json").read_text())
    summary["run_id"] = "<script>alert(1)</script>"
    summary["byzantine"]["5"] = "</script><img src=x onerror=alert(2)>"
    (hostile / "summary.json").write_text(json.dumps(summary))
    result = invoke(main, ["trace", hostile])
    assert result.exit_code == 0, result.output
    text = (hostile / "trace.html").read_text()
    assert "<script>alert" not in text and "<img" not in text and "</script><" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text  # the headline, as text
    assert "\\u003c/script\\u003e\\u003cimg" in text  # the strategy, inside the JSON


def page_json(page_file: Path) -> dict[str, Any]:
    """The data a viewer page embeds (the JSON of its #run-data element)."""
    text = page_file.read_text(encoding="utf-8")
    start = text.index('<script type="application/json" id="run-data">')
    body = text[text.index(">", start) + 1 : text.index("</script>", start)]
    data: dict[str, Any] = json.loads(body)
    return data


def test_a_window_keeps_the_deliveries_that_overlap_it(run_dir: Path, tmp_path: Path) -> None:
    rows = deliveries(run_dir)
    sent, time = np.round(rows["sent"].to_numpy(), 6), np.round(rows["time"].to_numpy(), 6)
    out = tmp_path / "window.html"
    result = invoke(main, ["trace", run_dir, "--from", "1", "--to", "1.5", "--out", out])
    assert result.exit_code == 0, result.output
    messages = page_json(out)["messages"]
    assert messages["window"] == [1.0, 1.5] and messages["total"] == rows.num_rows
    assert messages["count"] == int(((time >= 1) & (sent <= 1.5)).sum()) > 0, f"seed={SEED}"
    assert len(messages["columns"]["time"]) == messages["count"]
    assert min(messages["columns"]["time"]) >= 1 and max(messages["columns"]["sent"]) <= 1.5
    result = invoke(main, ["trace", run_dir, "--from", "2", "--to", "1"])
    assert result.exit_code == 2 and "--from must be below --to" in result.stderr


def test_a_real_runs_trace_is_shown_in_seconds(tmp_path: Path) -> None:
    """A local run (real processes over TCP) has messages.parquet in wall-clock seconds and no
    trace.json: the summary and the page show what it has and say what it has not."""
    scn = parse_scenario(
        {
            "run": {"n": 4, "f": 1, "seed": SEED, "inputs": "split", "messages": "on"},
            "adversary": {"byzantine": [{"node": 3, "strategy": "equivocate"}]},
        }
    )
    run = run_scenario(scn, "local", out_root=tmp_path).out_dir
    rows = deliveries(run)
    result = invoke(main, ["trace", run, "--summary"])
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert f"{rows.num_rows:,} delivered; time in s" in text, text
    assert "no trace.json (only simulator runs have one)" in text
    assert re.search(r"\(local, hpz, n = 4, f = 1, seed 3\): agreed on .*latency \S+ s ", text)
    result = invoke(main, ["trace", run])
    assert result.exit_code == 0, result.output
    data = page_json(run / "trace.html")
    assert data["time_unit"] == "s" and data["trace"] is None
    assert data["messages"]["count"] == rows.num_rows


# --------------------------------------------------------------------------- hostile run dirs


def _damage(run_dir: Path, tmp_path: Path, name: str, content: bytes | None) -> Path:
    target = tmp_path / "damaged"
    shutil.copytree(run_dir, target)
    if content is None:
        (target / name).unlink()
    else:
        (target / name).write_bytes(content)
    return target


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("summary.json", None, "summary.json: missing"),
        ("summary.json", b"{not json", "summary.json: not JSON"),
        ("summary.json", b"[1, 2]", "summary.json: not a run's summary"),
        ("summary.json", b'{"agreed": true, "inputs": []}', "inputs has 0 entries"),
        ("trace.json", b"\xff\xfe", "trace.json: not JSON"),
        ("trace.json", b'{"format": "byzlab-sim-trace-v1"}', "trace.json: not a simulator trace"),
        ("messages.parquet", b"PAR1 not really", "messages.parquet: cannot be read as Parquet"),
    ],
)
def test_a_damaged_file_is_one_line_naming_it(
    run_dir: Path, tmp_path: Path, name: str, content: bytes | None, says: str
) -> None:
    target = _damage(run_dir, tmp_path, name, content)
    for args in (["trace", target], ["trace", target, "--summary"]):
        result = invoke(main, args)
        assert result.exit_code in (2, 4), result.output
        assert result.stderr.count("\n") == 1 and says in result.stderr, result.stderr
        assert "Traceback" not in result.output


def test_a_message_trace_with_wrong_columns_or_ids_is_refused(
    run_dir: Path, tmp_path: Path
) -> None:
    table = pq.read_table(run_dir / "messages.parquet")
    cases = {
        "not the message trace's columns": table.drop_columns(["payload"]),
        "src 9 is out of range for n = 7": table.set_column(
            table.schema.get_field_index("src"),
            table.schema.field("src"),
            pc.add(table["src"], 9).cast("int32"),
        ),
        "not a byzlab message trace": table.replace_schema_metadata({}),
    }
    for case, (says, bad) in enumerate(cases.items()):
        target = tmp_path / f"case{case}"
        shutil.copytree(run_dir, target)
        pq.write_table(bad, target / "messages.parquet")
        result = invoke(main, ["trace", target, "--summary"])
        assert result.exit_code == 2 and says in result.stderr, (says, result.stderr)
    result = invoke(main, ["trace", tmp_path / "nowhere"])
    assert result.exit_code == 4 and "not a run directory" in result.stderr


# --------------------------------------------------------------------------- in a browser


def _settle(page: Any) -> dict[str, int]:
    """The diagram's counts once the pending redraw has run."""
    page.evaluate("() => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)))")
    return {
        "in_view": int(page.get_attribute("#diagram", "data-in-view")),
        "arrows": page.locator("#diagram .arrow").count(),
        # bundles are painted on a canvas; the diagram says how many
        "bundles": int(page.get_attribute("#diagram", "data-bundles") or 0)
        if page.get_attribute("#diagram", "data-aggregated") == "1"
        else 0,
    }


def test_viewer_draws_one_arrow_per_delivery_in_chromium(
    run_dir: Path, page: Path, tmp_path: Path
) -> None:
    require_chromium()
    rows = deliveries(run_dir)
    src, dst = rows["src"].to_numpy(), rows["dst"].to_numpy()
    it = rows["iteration"].to_numpy()
    origin, seq = rows["origin"].to_numpy(), rows["rbc_seq"].to_numpy()
    sent, time = np.round(rows["sent"].to_numpy(), 6), np.round(rows["time"].to_numpy(), 6)
    kind = np.array(rows["kind"].to_pylist())
    instance = (it == 1) & (origin == 0) & (seq == 1)
    window = (time >= 0.5) & (sent <= 0.75) & (kind != "ECHO")
    expect = {
        "whole": rows.num_rows,
        "instance": int(instance.sum()),
        "instance without 3": int((instance & (src != 3) & (dst != 3)).sum()),
        "window": int(window.sum()),
        "window without 0": int((window & (src != 0) & (dst != 0)).sum()),
    }
    assert expect["whole"] > AGGREGATE_ABOVE >= expect["instance"] > 0, expect
    assert 0 < expect["window"] <= AGGREGATE_ABOVE, expect
    shot = tmp_path / "trace-viewer.png"

    def actions(p: Any) -> dict[str, Any]:
        seen: dict[str, Any] = {"whole": _settle(p)}
        seen["banner"] = p.locator("#aggregated").inner_text()
        p.select_option("#iteration", "1")
        p.select_option("#origin", "0")
        p.fill("#seq", "1")
        seen["instance"] = _settle(p)
        p.uncheck("#node-3")
        seen["instance without 3"] = _settle(p)
        p.click("#t-fit")  # zoomed to the instance: the same arrows, spread out
        seen["fitted"] = _settle(p)
        click_near_an_arrow(p)
        seen["details"] = p.locator("#details-table").inner_text()
        # back to everything, then a time window without ECHOs, then without node 0
        p.check("#node-3")
        p.select_option("#iteration", "all")
        p.select_option("#origin", "all")
        p.fill("#seq", "")
        p.uncheck(f"#kind-{seen_kind_index(p, 'ECHO')}")
        p.fill("#t-from", "0.5")
        p.fill("#t-to", "0.75")
        p.locator("#t-to").dispatch_event("change")
        seen["window"] = _settle(p)
        p.uncheck("#node-0")
        seen["window without 0"] = _settle(p)
        seen["grid"] = p.locator("#grid-table tr").count()
        seen["coins"] = p.locator("#coins table").count()
        screenshot(p, shot)
        return seen

    seen, errors, requests = open_page(page, tmp_path / "profile", actions, VIEWPORT)
    assert errors == [], errors
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == [], requests
    whole = seen["whole"]
    assert whole["in_view"] == expect["whole"] and whole["arrows"] == 0 < whole["bundles"], whole
    assert "Aggregated" in seen["banner"], seen["banner"]
    seen["fitted"]["expect"] = expect["instance without 3"]
    for name in ("instance", "instance without 3", "window", "window without 0", "fitted"):
        got = seen[name]
        want = got.pop("expect", None) or expect[name]
        assert got["arrows"] == got["in_view"] == want, (f"seed={SEED}", name, got)
        assert got["bundles"] == 0, (name, got)
    assert expect["instance without 3"] < expect["instance"], expect
    assert "payload item" in seen["details"] and "outcome" in seen["details"], seen["details"]
    assert seen["grid"] == 7 + 2  # the header, the INITIAL row, one row per sender
    trace = json.loads((run_dir / "trace.json").read_text())
    assert seen["coins"] == len(trace["coins"])
    assert shot.stat().st_size > 10_000


def click_near_an_arrow(p: Any, min_width: int = 0) -> None:
    """Click where a user would: near a slanted arrow (the diagram picks the arrow within a
    few pixels of the click)."""
    point = p.evaluate(
        "(w) => { const s = document.getElementById('diagram').getBoundingClientRect();"
        " for (const a of document.querySelectorAll('#diagram .arrow')) {"
        " const b = a.getBoundingClientRect();"
        " if (a.getAttribute('d').includes(' L') && b.height > 5 && b.width >= w)"
        " return {x: b.x + b.width / 2 - s.x, y: b.y + b.height / 2 - s.y}; } }",
        min_width,
    )
    assert point, "no arrow to click"
    p.locator("#diagram").click(position=point)


def screenshot(p: Any, path: Path) -> None:
    """The viewer as docs/img/trace-viewer.png shows it: the reliable broadcast of node 1's
    first vote (INITIAL, ECHOs, READYs, the late READYs dropped), one ECHO clicked."""
    for i in range(7):
        p.check(f"#node-{i}")
    for box in p.locator("#diagram-controls input[type=checkbox]").all():
        box.check()
    p.select_option("#iteration", "1")
    p.select_option("#origin", "1")
    p.fill("#seq", "1")
    p.fill("#t-from", "0")
    p.fill("#t-to", "0.45")
    p.locator("#t-to").dispatch_event("change")
    _settle(p)
    click_near_an_arrow(p, min_width=40)
    _settle(p)
    p.screenshot(path=str(path), clip={"x": 0, "y": 60, "width": 1280, "height": 760})


def seen_kind_index(page: Any, kind: str) -> int:
    """The index of `kind` among the page's kinds (its checkbox is #kind-<index>)."""
    labels: list[str] = page.evaluate(
        "() => JSON.parse(document.getElementById('run-data').textContent).messages.labels.kind"
    )
    return labels.index(kind)


def test_a_page_too_large_to_embed_is_aggregated_when_written(
    run_dir: Path, tmp_path: Path
) -> None:
    """Above the embed limit (250,000 deliveries; 1,000 here, on the same run) the page holds
    bundles computed in Python, and the node filter still counts exactly."""
    require_chromium()
    rows = deliveries(run_dir)
    src, dst = rows["src"].to_numpy(), rows["dst"].to_numpy()
    page_file = tmp_path / "aggregated.html"
    page_file.write_text(
        render_page(load_run_dir(run_dir), HOW_TO_RECORD, embed_limit=1000), encoding="utf-8"
    )
    data = page_json(page_file)["messages"]
    assert data["columns"] is None and sum(data["bundles"]["count"]) == rows.num_rows

    def actions(p: Any) -> dict[str, Any]:
        seen: dict[str, Any] = {"whole": _settle(p)}
        seen["banner"] = p.locator("#aggregated").inner_text()
        p.uncheck("#node-0")
        seen["without 0"] = _settle(p)
        seen["grid"] = p.locator("#grid").inner_text()
        return seen

    seen, errors, _ = open_page(page_file, tmp_path / "profile", actions, VIEWPORT)
    assert errors == [], errors
    assert seen["whole"]["in_view"] == rows.num_rows and seen["whole"]["bundles"] > 0, seen
    assert seen["without 0"]["in_view"] == int(((src != 0) & (dst != 0)).sum()), seen
    assert seen["without 0"]["arrows"] == 0, seen
    assert "bundled when it was written" in seen["banner"], seen["banner"]
    assert "needs single messages" in seen["grid"], seen["grid"]


if __name__ == "__main__":
    # python -m tests.test_trace_viewer docs/img/trace-viewer.png: the README's screenshot
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        run = coin_attack_run(Path(scratch))
        assert invoke(main, ["trace", run]).exit_code == 0
        _, errors, _ = open_page(
            run / "trace.html",
            Path(scratch) / "profile",
            lambda p: screenshot(p, Path(sys.argv[1])),
            VIEWPORT,
        )
        assert errors == [], errors
