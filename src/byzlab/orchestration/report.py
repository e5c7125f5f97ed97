"""The HTML report of a result store: one self-contained page with figures and tables.

Theory of operation
-------------------
``build_report`` reads the runs table and the attack-matrix table (store.py), draws the
figures (plots.py) into ``DIR/plots/`` as PNG, SVG and PDF, and writes one HTML file that
needs nothing else: the PNGs are embedded as base64 ``data:`` URIs, and so are the SVG and
PDF of each figure, as download links (for a paper: LaTeX takes the PDF); the style sheet is
inline, there is no script and no link to anything outside the page. It can be mailed,
attached to an issue or opened from a CI artifact, and it renders the same offline. Every
string from the store (run ids, errors, the sweep file) is HTML-escaped.

The page has, in order: what the store holds (runs, backends, versions, commits); a summary
table per configuration (``GROUP_KEY``: protocol, backend and its delta_s, preset, n, f,
scheduler, strategy, corrupted nodes, inputs and the protocol's parameters) with the
agreement rate and its Wilson interval, the latency median with its interval and 90th
percentile, how many runs had no latency, the decision-time spread, iterations, messages and
coin unanimity with its interval over runs; above it, a note on what a row pools: a row's
runs may still differ in scenario settings that are no column of the store (scheduler or
strategy options, which nodes are corrupted, the time budget), and the note names them per
row, compared from each run's scenario.toml, or says that the runs differ in their seed only;
the sweep-wide figures, one curve per value of the ``--group-by`` columns (default the
protocol; each caption says what a curve pools); the simulator against real backends for the
scenarios that ran on both; the strategy x scheduler heatmaps of ``byzlab matrix --store``;
one *featured run* (``--run``, or by default the simulator run that played the most
iterations, HPZ first, which is usually the most instructive attack) with its weight vectors
and timeline; the runs that did not agree or raised, with the command that replays each;
and the sweep files that wrote to the store.

A run that did not agree has no latency: it is never counted as 0, in a table or a figure;
every table and legend says how many runs had none. The per-node decision-time spread of a
run (first to last honest decision) comes from the decision times its summary.json records
(virtual time in delta in the simulator, seconds on real backends, divided by delta_s).
"""

from __future__ import annotations

import base64
import html
import json
import tomllib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from byzlab import __version__
from byzlab.atomicio import atomic_write_bytes
from byzlab.orchestration import plots
from byzlab.orchestration.intervals import (
    cluster_proportion_interval,
    median_interval,
    wilson_interval,
)
from byzlab.orchestration.store import COLUMNS, Store, StoreError

__all__ = ["ReportInfo", "build_report", "choose_featured_run", "parse_group_by"]

PLOTS_DIR = "plots"
REPORT_FILE = "report.html"
MAX_LISTED_FAILURES = 50
MAX_LISTED_POOLS = 12

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto;
       max-width: 1200px; padding: 0 1rem; color: #222; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.25rem; margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.8rem; display: block;
        overflow-x: auto; }
td .muted { white-space: nowrap; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.55rem; text-align: right; }
th { background: #f4f4f4; }
td.l, th.l { text-align: left; }
figure { margin: 1.2rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.88rem; color: #555; max-width: 900px; }
pre { background: #f7f7f7; border: 1px solid #e3e3e3; padding: 0.8rem; overflow-x: auto;
      font-size: 0.85rem; }
code { font-size: 0.88rem; }
.muted { color: #666; }
.bad { color: #b00020; }
"""


@dataclass(frozen=True)
class ReportInfo:
    path: Path
    runs: int
    figures: list[plots.PlotFile]
    featured: str | None


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: object, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not np.isfinite(value):
            return "-"
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], left: Sequence[int] = (0,)
) -> str:
    head = "".join(
        f'<th class="{"l" if k in left else ""}">{_e(h)}</th>' for k, h in enumerate(headers)
    )
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="{"l" if k in left else ""}">{cell}</td>' for k, cell in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _kv_table(items: Sequence[tuple[str, object]]) -> str:
    body = "".join(
        f'<tr><th class="l">{_e(k)}</th><td class="l">{_e(v)}</td></tr>' for k, v in items
    )
    return f"<table><tbody>{body}</tbody></table>"


def _data_uri(path: Path, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _figure(plot: plots.PlotFile) -> str:
    links = " ".join(
        f'<a href="{_data_uri(path, mime)}" download="{_e(path.name)}">{kind}</a>'
        for kind, path, mime in (
            ("SVG", plot.svg, "image/svg+xml"),
            ("PDF", plot.pdf, "application/pdf"),
        )
    )
    return (
        f'<figure id="fig-{_e(plot.name)}"><img src="{_data_uri(plot.png, "image/png")}" '
        f'alt="{_e(plot.title)}"><figcaption><b>{_e(plot.title)}.</b> {_e(plot.caption)} '
        f'<span class="muted">Download: {links} (also {_e(PLOTS_DIR)}/{_e(plot.name)}.png, '
        f".svg, .pdf beside the report)</span></figcaption></figure>"
    )


def parse_group_by(text: str) -> plots.Grouping:
    """``--group-by``'s value: comma-separated columns of the runs table."""
    columns = tuple(c.strip() for c in text.split(",") if c.strip())
    unknown = [c for c in columns if c not in COLUMNS]
    if not columns or unknown:
        raise StoreError(
            f"--group-by {text!r}: {'unknown column ' + repr(unknown[0]) if unknown else 'empty'}"
            f"; columns: {', '.join(COLUMNS)}"
        )
    return plots.Grouping(columns)


def decision_spread(summary: Mapping[str, Any]) -> float | None:
    """First to last honest decision of a run, in delta (None without two decision times)."""
    times = [float(t) for t in (summary.get("decision_times") or {}).values()]
    if len(times) < 2:
        return None
    spread = max(times) - min(times)
    if summary.get("backend", "sim") == "sim":
        return spread
    delta_s = summary.get("delta_s")
    return spread / float(delta_s) if isinstance(delta_s, int | float) and delta_s > 0 else None


def _with_spreads(rows: Sequence[Mapping[str, Any]], store: Store) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        row = dict(r)
        path = store.run_dir(str(r["run_id"])) / "summary.json"
        try:
            summary = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            summary = {}
        row["decision_spread_delta"] = (
            decision_spread(summary) if isinstance(summary, dict) else None
        )
        out.append(row)
    return out


def _matrix_figures(store: Store, plot_dir: Path) -> list[plots.PlotFile]:
    table = store.matrix_table()
    if table is None:
        return []
    cells: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for r in table.to_pylist():
        cells[(r["protocol"], r["n"], r["f"], r["inputs"], r["params"], r["max_time"])].append(r)
    figures = []
    for k, (key, runs) in enumerate(sorted(cells.items(), key=lambda kv: str(kv[0]))):
        protocol, n, f, inputs, _, _ = key
        same = [c for c in cells if c[:3] == key[:3]]
        variant = f" (variant {same.index(key) + 1} of {len(same)})" if len(same) > 1 else ""
        figures.append(
            plots.plot_matrix_heatmap(
                runs,
                plot_dir,
                f"matrix_{k + 1}",
                f"{protocol}, n={n}, f={f}, inputs {inputs}{variant}",
            )
        )
    return figures


def choose_featured_run(rows: Sequence[Mapping[str, Any]], store: Store) -> str | None:
    """The simulator run with a trace that played the most iterations (HPZ first)."""
    candidates = [
        r
        for r in rows
        if r.get("backend") == "sim"
        and not r.get("error")
        and (store.run_dir(str(r["run_id"])) / "trace.json").exists()
    ]
    if not candidates:
        return None
    ranked = sorted(
        candidates,
        key=lambda r: (
            r.get("protocol") != "hpz",
            -int(r.get("iterations") or 0),
            -int(r.get("epochs") or 0),
            -int(r.get("coin_split") or 0),
            -float(r.get("latency_delta") or 0.0),
            str(r["run_id"]),
        ),
    )
    return str(ranked[0]["run_id"])


#: What makes a row of the summary table: every configuration column of the store (the
#: protocol's parameters too); a row's runs differ in their seed, and in whatever their
#: scenarios set that is no column (``_pooled_note`` says what).
GROUP_KEY = (
    "protocol",
    "backend",
    "delta_s",
    "preset",
    "n",
    "f",
    "scheduler",
    "strategy",
    "corrupted",
    "inputs",
    *plots.PARAMETERS,
)


def _group_key(r: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(r.get(c) for c in GROUP_KEY)


def _order(key: tuple[Any, ...]) -> tuple[tuple[bool, Any], ...]:
    return tuple((v is None, 0 if v is None else v) for v in key)


def _scenario_settings(r: Mapping[str, Any]) -> dict[str, str]:
    """The run's scenario (its scenario.toml, kept in the row) as dotted keys and their
    values, without the seed: two runs with the same settings are one configuration."""
    try:
        scenario = tomllib.loads(str(r.get("scenario") or ""))
    except tomllib.TOMLDecodeError:
        return {}
    flat: dict[str, str] = {}

    def walk(prefix: str, value: object) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        else:
            flat[prefix] = json.dumps(value, sort_keys=True, default=str)

    walk("", scenario)
    flat.pop("run.seed", None)
    return flat


def _row_label(key: tuple[Any, ...]) -> str:
    named = dict(zip(GROUP_KEY, key, strict=True))
    return ", ".join(
        f"{c} {_fmt(named[c])}"
        for c in ("protocol", "backend", "n", "scheduler", "strategy")
        if named[c] is not None
    )


def _pooled_note(groups: Mapping[tuple[Any, ...], Sequence[Mapping[str, Any]]]) -> str:
    """What the rows pool besides seeds: per row, the scenario settings its runs differ in."""
    pooled = []
    for key in sorted(groups, key=_order):
        settings = [_scenario_settings(r) for r in groups[key]]
        names = sorted({name for s in settings for name in s})
        differ = []
        for name in names:
            values = sorted({s.get(name, "(unset)") for s in settings})
            if len(values) > 1:
                shown = ", ".join(values) if len(values) <= 4 else f"{len(values)} values"
                differ.append(f"{name} ({shown})")
        if differ:
            pooled.append(f"<li>{_e(_row_label(key))}: {_e('; '.join(differ))}</li>")
    if not pooled:
        return (
            "A row holds the runs of one configuration (every column in the row, the "
            "protocol's parameters included); they differ in their seed only: every other "
            "setting of their scenario.toml is the same."
        )
    more = (
        f"<li>... and {len(pooled) - MAX_LISTED_POOLS} more rows</li>"
        if len(pooled) > MAX_LISTED_POOLS
        else ""
    )
    return (
        f'<span class="bad">{len(pooled)} row(s) pool runs whose scenarios differ in more than '
        "the seed</span>, in settings the store has no column for (compared from each run's "
        f"scenario.toml):<ul>{''.join(pooled[:MAX_LISTED_POOLS])}{more}</ul>"
    )


def _shown_parameters(keys: Sequence[tuple[Any, ...]]) -> list[str]:
    """The protocol parameters that differ between rows of one protocol, preset and n: the
    ones the table must show to tell those rows apart (the others follow from them)."""
    at = {c: GROUP_KEY.index(c) for c in ("protocol", "preset", "n", *plots.PARAMETERS)}
    shown = []
    for name in plots.PARAMETERS:
        seen: dict[tuple[Any, ...], set[Any]] = defaultdict(set)
        for k in keys:
            seen[(k[at["protocol"]], k[at["preset"]], k[at["n"]])].add(k[at[name]])
        if any(len(values) > 1 for values in seen.values()):
            shown.append(name)
    return shown


def _coins(group: Sequence[Mapping[str, Any]]) -> str:
    share = cluster_proportion_interval(plots.coin_flips(r) for r in group)
    if share is None:
        return "-"
    iv = share.interval
    return (
        f"{share.successes}/{share.trials} "
        f'<span class="muted">[{iv.low:.0%}, {iv.high:.0%}] over {share.clusters} runs</span>'
    )


def _summary(rows: Sequence[Mapping[str, Any]]) -> str:
    """The summary table, one row per configuration, and the note on what a row pools."""
    groups: dict[tuple[Any, ...], list[Mapping[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[_group_key(r)].append(r)
    parameters = _shown_parameters(list(groups))
    named = {c: k for k, c in enumerate(GROUP_KEY)}
    out = []
    for key in sorted(groups, key=_order):
        group = groups[key]
        agreed = sum(1 for r in group if r.get("agreed"))
        lat = [v for r in group if (v := plots.latency(r)) is not None]
        spreads = [
            float(v)
            for r in group
            if r.get("agreed") and isinstance(v := r.get("decision_spread_delta"), float)
        ]
        iters = [int(r["iterations"]) for r in group if isinstance(r.get("iterations"), int)]
        msgs = [int(r["messages"]) for r in group if isinstance(r.get("messages"), int)]
        inv_bad = sum(1 for r in group if r.get("invariant1_ok") is False)
        errors = sum(1 for r in group if r.get("error"))
        rate = f"{agreed}/{len(group)}"
        if agreed < len(group):
            rate = f'<span class="bad">{rate}</span>'
        wilson = wilson_interval(agreed, len(group))
        if wilson is not None:
            rate += f' <span class="muted">[{wilson.low:.0%}, {wilson.high:.0%}]</span>'
        median = median_interval(lat)
        no_latency = len(group) - len(lat)
        delta_s = key[named["delta_s"]]
        backend = _e(key[named["backend"]]) + (
            f' <span class="muted">delta {_fmt(delta_s, 3)} s</span>' if delta_s else ""
        )
        out.append(
            [
                _e(key[named["protocol"]]),
                backend,
                _e(_fmt(key[named["preset"]])),
                _fmt(key[named["n"]]),
                _fmt(key[named["f"]]),
                _e(key[named["scheduler"]]),
                _e(key[named["strategy"]]) + f" ({_fmt(key[named['corrupted']])})",
                _e(_fmt(key[named["inputs"]])),
                _e(" ".join(f"{p}={_fmt(key[named[p]], 3)}" for p in parameters) or "-"),
                rate,
                (
                    f"{_fmt(median.estimate)} "
                    f'<span class="muted">[{_fmt(median.low)}, {_fmt(median.high)}]</span>'
                    if median
                    else "-"
                ),
                _fmt(float(np.percentile(lat, 90))) if lat else "-",
                f'<span class="bad">{no_latency}</span>' if no_latency else "0",
                _fmt(float(np.median(spreads))) if spreads else "-",
                _fmt(float(np.mean(iters))) if iters else "-",
                _fmt(int(np.median(msgs))) if msgs else "-",
                _coins(group),
                f'<span class="bad">{inv_bad}</span>' if inv_bad else "0",
                f'<span class="bad">{errors}</span>' if errors else "0",
            ]
        )
    table = _table(
        [
            "protocol",
            "backend",
            "preset",
            "n",
            "f",
            "scheduler",
            "strategy (corrupted)",
            "inputs",
            "parameters",
            "agreed",
            "latency p50 [95% CI]",
            "latency p90",
            "no latency",
            "decision spread p50",
            "iterations (mean)",
            "messages (median)",
            "coins unanimous [95% CI]",
            "Invariant 1 fails",
            "errors",
        ],
        out,
        left=(0, 1, 2, 5, 6, 7, 8),
    )
    others = [p for p in plots.PARAMETERS if p not in parameters]
    return (
        f"<div>{_pooled_note(groups)} The parameters column names the protocol "
        "parameters that differ between rows of one protocol, preset and n"
        + (f" ({', '.join(parameters)})" if parameters else " (none here)")
        + f"; the others ({', '.join(others)}) follow from those and are in the store's "
        f"columns of the same names. Coins unanimous: {_e(plots.COIN_INTERVAL)}</div>" + table
    )


def _failures(rows: Sequence[Mapping[str, Any]], store_dir: Path) -> str:
    bad = [r for r in rows if not r.get("agreed") or r.get("error")]
    if not bad:
        return "<p>Every run agreed.</p>"
    listed = []
    for r in bad[:MAX_LISTED_FAILURES]:
        why = r.get("error") or f"stopped: {r.get('stopped')}"
        replay = (
            f"<code>byzlab replay {_e(r['run_id'])} --store {_e(store_dir)}</code>"
            if r.get("backend") == "sim"
            else "-"
        )
        listed.append([_e(r["run_id"]), _fmt(r.get("seed")), _e(why), replay])
    more = (
        f'<p class="muted">... and {len(bad) - MAX_LISTED_FAILURES} more '
        f"(<code>byzlab results ls {_e(store_dir)} --where agreed=false</code>).</p>"
        if len(bad) > MAX_LISTED_FAILURES
        else ""
    )
    return (
        f"<p>{len(bad)} run(s) did not agree or raised an error.</p>"
        + _table(["run", "seed", "why", "replay"], listed, left=(0, 2, 3))
        + more
    )


def _overview(rows: Sequence[Mapping[str, Any]]) -> str:
    def distinct(key: str) -> str:
        values = sorted(
            {str(r.get(key)) for r in rows if r.get(key) is not None}, key=lambda v: (len(v), v)
        )
        return ", ".join(values) if len(values) <= 12 else f"{len(values)} values"

    agreed = sum(1 for r in rows if r.get("agreed"))
    errors = sum(1 for r in rows if r.get("error"))
    items = [
        (
            "runs",
            f"{len(rows):,} ({agreed:,} agreed, {len(rows) - agreed:,} did not"
            + (f", {errors:,} raised" if errors else "")
            + ")",
        ),
        ("backends", distinct("backend")),
        ("protocols", distinct("protocol")),
        ("n", distinct("n")),
        ("schedulers", distinct("scheduler")),
        ("strategies", distinct("strategy")),
        ("seeds", distinct("seed")),
        ("byzlab versions", distinct("byzlab_version")),
        ("git commits", distinct("git_commit")),
    ]
    return _kv_table(items)


def _sweep_files(store_dir: Path) -> list[str]:
    """Every sweep file that wrote to the store, oldest first (or the latest one alone)."""
    kept = sorted((store_dir / "sweeps").glob("*.toml"), key=lambda p: (p.stat().st_mtime, p))
    if kept:
        return [p.read_text(encoding="utf-8") for p in kept]
    latest = store_dir / "sweep.toml"
    return [latest.read_text(encoding="utf-8")] if latest.exists() else []


def build_report(
    store_dir: Path,
    out: Path | None = None,
    *,
    run_id: str | None = None,
    grouping: plots.Grouping | None = None,
) -> ReportInfo:
    """Write the report of the store at ``store_dir`` (default ``DIR/report.html``)."""
    grouping = grouping or plots.Grouping()
    store = Store(store_dir)
    if not store.exists() and store.matrix_path.exists():
        rows: list[dict[str, Any]] = []  # a store that holds an attack matrix alone
    else:
        rows = _with_spreads(store.table().to_pylist(), store)
    out_path = out if out is not None else store_dir / REPORT_FILE
    plot_dir = store_dir / PLOTS_DIR
    figures = [
        *plots.sweep_plots(rows, plot_dir, grouping),
        plots.plot_agreement_vs_n(rows, plot_dir, grouping),
        plots.plot_decision_spread(rows, plot_dir, grouping),
    ]
    sim_vs_real = plots.plot_sim_vs_real(rows, plot_dir)
    real_html = (
        _figure(sim_vs_real)
        if sim_vs_real
        else "<p>No scenario ran both in the simulator and on a real backend.</p>"
    )
    matrix_figures = _matrix_figures(store, plot_dir)
    matrix_html = (
        "".join(_figure(p) for p in matrix_figures)
        if matrix_figures
        else f"<p>No attack matrix in this store (<code>byzlab matrix --store "
        f"{_e(store_dir)}</code> records one).</p>"
    )
    featured = store.find(run_id)["run_id"] if run_id else choose_featured_run(rows, store)
    run_figures: list[plots.PlotFile] = []
    featured_html = "<p>No simulator run with a trace in this store.</p>"
    if featured is not None:
        trace_file = store.run_dir(featured) / "trace.json"
        if not trace_file.exists():
            raise StoreError(f"run {featured} has no trace.json (only simulator runs have one)")
        trace = json.loads(trace_file.read_text(encoding="utf-8"))
        run_figures = [
            plots.plot_weights(trace, plot_dir, featured),
            plots.plot_timeline(trace, plot_dir, featured),
        ]
        row = next(r for r in rows if r["run_id"] == featured)
        facts = [
            ("run", featured),
            ("seed", row.get("seed")),
            ("agreed / decision", f"{_fmt(row.get('agreed'))} / {_fmt(row.get('decision'))}"),
            (
                "latency (delta)",
                _fmt(plots.latency(row)) if plots.latency(row) else "none (did not agree)",
            ),
            ("decision-time spread (delta)", _fmt(row.get("decision_spread_delta"))),
            ("iterations / epochs", f"{row.get('iterations')} / {row.get('epochs')}"),
            ("coins unanimous / split", f"{row.get('coin_unanimous')} / {row.get('coin_split')}"),
            ("Invariant 1", _fmt(row.get("invariant1_ok"))),
            ("trace hash", row.get("trace_hash")),
        ]
        featured_html = (
            _kv_table(facts)
            + f"<p>Scenario (<code>runs/{_e(featured)}/scenario.toml</code>):</p>"
            + f"<pre>{_e(row.get('scenario') or '')}</pre>"
            + "".join(_figure(p) for p in run_figures)
        )
    sweeps = _sweep_files(store_dir)
    sweep_html = (
        "".join(f"<pre>{_e(text)}</pre>" for text in sweeps)
        if sweeps
        else "<p>No sweep file recorded in the store.</p>"
    )
    if len(sweeps) > 1:
        sweep_html = (
            f"<p>{len(sweeps)} sweep files wrote to this store, oldest first:</p>" + sweep_html
        )
    summary = _summary(rows)
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>byzlab report: {_e(store_dir.name or store_dir)}</title>
<style>{_CSS}</style>
</head>
<body>
<h1>byzlab report: {_e(store_dir.name or store_dir)}</h1>
<p class="muted">{len(rows):,} runs from <code>{_e(store_dir)}</code>; generated {generated}
by byzlab {_e(__version__)}. Latency is in units of delta (the maximum message delay): virtual
time in the simulator, wall time / delta_s on real backends. A run that did not agree has no
latency; it is counted (column "no latency", and in each legend), never plotted as 0. Intervals
are 95%: Wilson for the agreement rate, order statistics for medians, over runs (not flips) for
unanimous coins, and a t-interval on sizes - 2 degrees of freedom for a growth exponent fitted
through the per-size medians. {_e(plots.NUMBERING)}</p>
<h2 id="overview">What the store holds</h2>
{_overview(rows)}
<h2 id="summary">Summary per configuration</h2>
{summary if rows else "<p>The store has no runs yet.</p>"}
<h2 id="figures">Figures</h2>
<p>Curves are grouped by <b>{_e(grouping.name)}</b> (<code>byzlab report --group-by
COLUMN[,COLUMN...]</code> picks others); each caption says what a curve pools.</p>
{"".join(_figure(p) for p in figures)}
<h2 id="sim-vs-real">Simulator vs real backends</h2>
{real_html}
<h2 id="matrix">Attack matrix</h2>
{matrix_html}
<h2 id="featured">Featured run</h2>
{featured_html}
<h2 id="failures">Runs that did not agree</h2>
{_failures(rows, store_dir)}
<h2 id="sweep">Sweep file</h2>
{sweep_html}
</body>
</html>
"""
    atomic_write_bytes(out_path, page.encode("utf-8"))
    all_figures = [*figures, *([sim_vs_real] if sim_vs_real else []), *matrix_figures]
    return ReportInfo(out_path, len(rows), [*all_figures, *run_figures], featured)
