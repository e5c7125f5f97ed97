"""The viewer's HTML page: one self-contained file, its script, style and data inline.

The page is a fixed skeleton (the panels' headings and containers) written here, the
package's ``viewer.css`` and ``viewer.js`` copied in, and the run's data as one JSON object
in a ``<script type="application/json">`` element that the script parses. Nothing is loaded
at view time: no URL, no font, no library.

Untrusted strings (a run id, a strategy's name, a kind, a reason, a decoded payload) reach
the page two ways, both escaped: text written into the skeleton goes through
``html.escape``, and the JSON has ``<``, ``>`` and ``&`` written as ``\\u003c``-style escapes so
that no string can close the script element; the script puts strings into the document only
as text nodes, never as markup.
"""

from __future__ import annotations

import html
import json
import math
from importlib import resources
from typing import Any

import numpy as np

from byzlab.orchestration.traceview.facts import board_fill
from byzlab.orchestration.traceview.messages import MessageTable
from byzlab.orchestration.traceview.rundir import RunDir
from byzlab.orchestration.traceview.text import headline

__all__ = ["AGGREGATE_ABOVE", "EMBED_LIMIT", "page_data", "render_page"]

# more deliveries than this in view are drawn aggregated (per time bucket and node pair)
AGGREGATE_ABOVE = 2000
# more deliveries than this are not embedded one by one (a page of 250,000 is about 17 MB):
# the page gets them aggregated in Python instead, and --from/--to pick a window to embed
EMBED_LIMIT = 250_000
BUCKETS = 200  # time buckets of the Python-side aggregation, over the whole window


def _asset(name: str) -> str:
    return resources.files(__package__ or __name__).joinpath(name).read_text(encoding="utf-8")


def _json_safe(x: Any) -> Any:
    """Non-finite floats as strings (JSON has none) and integers past 2^53 as strings (a
    browser's numbers would round them)."""
    if isinstance(x, float) and not math.isfinite(x):
        return repr(x)
    if isinstance(x, int) and not isinstance(x, bool) and abs(x) > 2**53:
        return str(x)
    if isinstance(x, list):
        return [_json_safe(v) for v in x]
    if isinstance(x, dict):
        return {str(k): _json_safe(v) for k, v in x.items()}
    return x


def _bundles(table: MessageTable, rows: np.ndarray[Any, Any], n: int) -> dict[str, Any]:
    """`rows` aggregated per time bucket (of the send time) and node pair: each bundle's
    count, mean arrival, and kind (-1 when it mixes kinds); the script draws them as it draws
    its own bundles."""
    cols = table.columns
    sent, recv = cols["sent"][rows], cols["time"][rows]
    t0 = float(sent.min()) if len(rows) else 0.0
    width = max((float(recv.max()) - t0) / BUCKETS, 1e-9) if len(rows) else 1.0
    bucket = np.minimum(((sent - t0) / width).astype(np.int64), BUCKETS - 1)
    src, dst, kind = cols["src"][rows], cols["dst"][rows], cols["kind"][rows]
    keys, inverse, counts = np.unique(
        (bucket * n + src) * n + dst, return_inverse=True, return_counts=True
    )
    mean_recv = np.bincount(inverse, weights=recv) / counts
    low = np.full(len(keys), np.iinfo(np.int32).max)
    high = np.full(len(keys), -1)
    np.minimum.at(low, inverse, kind)
    np.maximum.at(high, inverse, kind)
    pair, dst_of = np.divmod(keys, n)
    bucket_of, src_of = np.divmod(pair, n)
    return {
        "t0": t0,
        "width": width,
        "bucket": bucket_of.tolist(),
        "src": src_of.tolist(),
        "dst": dst_of.tolist(),
        "count": counts.tolist(),
        "recv": np.round(mean_recv, 6).tolist(),
        "kind": np.where(low == high, low, -1).tolist(),
    }


def _messages(
    run: RunDir, table: MessageTable, window: tuple[float, float] | None, embed_limit: int
) -> dict[str, Any]:
    rows = table.rows_in(window)
    out: dict[str, Any] = {
        "count": len(rows),
        "total": table.deliveries,
        "sends": table.sends,
        "sends_by_kind": table.sends_by_kind,
        "labels": table.labels,
        "window": window,
        "embed_limit": embed_limit,
        "columns": None,
        "payloads": None,
        "bundles": None,
    }
    if len(rows) <= embed_limit:
        out["columns"], out["payloads"] = table.rows_json(rows)
    else:
        out["bundles"] = _bundles(table, rows, run.n)
    return out


def page_data(
    run: RunDir,
    how_to_record: str,
    window: tuple[float, float] | None = None,
    embed_limit: int = EMBED_LIMIT,
) -> dict[str, Any]:
    """Everything the script draws, as one JSON-ready object; `window` (from, to) keeps only
    the deliveries that overlap it, and more than `embed_limit` of them are aggregated."""
    s = run.summary
    trace = run.trace
    nodes = [
        {
            "id": i,
            "role": "corrupted" if i in s.byzantine else "honest",
            "strategy": s.byzantine.get(i, ""),
            "input": s.inputs[i],
            "decision": s.honest_decisions.get(i),
            "decided_at": s.decision_times.get(i),
        }
        for i in range(run.n)
    ]
    data: dict[str, Any] = {
        "headline": headline(run),
        "n": run.n,
        "f": trace.f if trace is not None else s.params.get("f"),
        "protocol": s.protocol,
        "time_unit": run.time_unit,
        "aggregate_above": AGGREGATE_ABOVE,
        "nodes": nodes,
        "trace": None,
        "messages": None,
        "missing": None if run.messages is not None else f"{run.messages_missing}; {how_to_record}",
        "boards": None,
    }
    if trace is not None:
        data["trace"] = {
            "end_time": trace.end_time,
            "starts": {str(i): log for i, log in trace.iteration_starts.items()},
            "halts": {str(i): t for i, t in trace.halts.items()},
            "decisions": [d.model_dump() for d in trace.decisions],
            "coins": [c.model_dump() for c in trace.coins],
            "epoch_weights": trace.epoch_weights,
            "T": trace.T,
        }
    table = run.messages
    if table is not None:
        data["messages"] = _messages(run, table, window, embed_limit)
        fill = board_fill(run)
        data["boards"] = fill.to_json() if fill is not None else None
    return data


def _script_json(data: dict[str, Any]) -> str:
    text = json.dumps(_json_safe(data), separators=(",", ":"), allow_nan=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


_SKELETON = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>byzlab trace: {title}</title>
<style>
{css}</style>
</head>
<body>
<h1>byzlab trace</h1>
<p class="note" id="headline">{headline}</p>
<div id="missing" class="notice" hidden></div>

<h2 id="h-diagram">Spacetime diagram</h2>
<p class="note">One horizontal line per node, time to the right; an arrow per delivery from
its send to its receipt, coloured by kind. Wheel: zoom in time; drag: pan; double-click:
whole run. Click an arrow for the message's fields.</p>
<div id="diagram-controls" class="controls"></div>
<p><span id="diagram-count"></span> <span id="aggregated" class="aggregated" hidden></span></p>
<div class="svgbox">
<canvas id="bundles"></canvas><svg id="diagram" width="1100" height="300"></svg>
</div>
<div class="legend" id="legend"></div>
<div id="details"></div>

<h2 id="h-grid">ECHO/READY grid of one reliable broadcast</h2>
<p class="note">Rows: the sender of an ECHO or READY; columns: the node it reached; each cell
the time it arrived (E: ECHO, R: READY; struck through if the receiver refused it).</p>
<div id="grid-controls" class="controls"></div>
<div id="grid"></div>

<h2 id="h-boards">Blackboards, as one node saw them fill</h2>
<p class="note">Each board is a grid of rows by columns (column q is node q's). A cell appears
once it reached the chosen node by reliable broadcast (2f+1 READYs, in the FIFO order of its
writer's stream); the slider sets the time.</p>
<div id="board-controls" class="controls"></div>
<div id="boards" class="boards"></div>

<h2 id="h-coins">Coins</h2>
<p class="note">Per iteration that flipped a coin: each honest node's output, and for HPZ's
weighted coin the two terms it summed: bias (the odd board's cells in its view) and Sigma
(the weighted, clipped column sums of the even board); output = sgn(bias + Sigma).</p>
<div id="coins"></div>

<h2 id="h-weights">Weights per epoch</h2>
<div id="weights"></div>

<h2 id="h-timeline">Iterations, decisions and halts</h2>
<div id="timeline"></div>

<script type="application/json" id="run-data">{data}</script>
<script>
{js}</script>
</body>
</html>
"""


def render_page(
    run: RunDir,
    how_to_record: str,
    window: tuple[float, float] | None = None,
    embed_limit: int = EMBED_LIMIT,
) -> str:
    """The viewer page of `run` (of the deliveries that overlap `window`, if given)."""
    return _SKELETON.format(
        title=html.escape(run.summary.run_id or run.path.name),
        headline=html.escape(headline(run)),
        css=_asset("viewer.css"),
        js=_asset("viewer.js"),
        data=_script_json(page_data(run, how_to_record, window, embed_limit)),
    )
