"""``byzlab trace RUN_DIR --summary``: the viewer's facts as plain text, for a terminal and
for tests.

The same facts as the page (facts.py): the run in one line, message counts per kind and
verdict, per node what it received and what it refused with the reasons, per iteration the
coin outcomes with each node's bias and Sigma, the weights per epoch, and the decisions and
halts with their times. A run without a message trace says so and how to record one.
"""

from __future__ import annotations

from collections import Counter

from byzlab.orchestration.traceview.facts import message_counts, node_counts
from byzlab.orchestration.traceview.rundir import RunDir

__all__ = ["summary_text"]

VERDICTS = ("accepted", "dropped", "rejected")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    """Columns padded to their widest cell, the first left-aligned, the others right."""
    widths = [max(len(r[c]) for r in [header, *rows]) for c in range(len(header))]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [cell.rjust(w) for cell, w in zip(cells[1:], widths[1:], strict=True)]
        return "  " + "  ".join([first, *rest]).rstrip()

    return [line(header), *(line(r) for r in rows)]


def _reasons(counts: Counter[str]) -> str:
    return ", ".join(f"{reason} {count}" for reason, count in counts.most_common())


def _num(x: float) -> str:
    return f"{x:.6g}"


def headline(run: RunDir) -> str:
    """The run in one line: id, backend, protocol, n, f, seed, outcome, latency."""
    s = run.summary
    f = run.trace.f if run.trace is not None else s.params.get("f", "?")
    outcome = f"agreed on {s.decision:+d}" if s.agreed and s.decision else "did not agree"
    if s.latency_s is not None:  # a real run: wall clock, and in units of its delta
        latency = f"latency {s.latency_s:.4g} s"
        latency += f" ({s.latency_delta:.2f} delta)" if s.latency_delta is not None else ""
    elif s.latency_delta is not None:
        latency = f"latency {s.latency_delta:.2f} delta"
    else:
        latency = "no latency (no agreement)"
    return (
        f"run {s.run_id or run.path.name} ({s.backend or '?'}, {s.protocol or '?'}, "
        f"n = {run.n}, f = {f}, seed {s.seed}): {outcome}, {s.stopped or '?'}, {latency}"
    )


def summary_text(run: RunDir, how_to_record: str) -> str:
    s = run.summary
    out = [headline(run)]
    if s.byzantine:
        out.append(
            "corrupted: " + ", ".join(f"{i} {name}" for i, name in sorted(s.byzantine.items()))
        )
    table = run.messages
    out.append("")
    if table is None:
        out.append(f"messages: {run.messages_missing}; {how_to_record}")
    else:
        out.append(
            f"messages ({table.sends:,} sent, {table.deliveries:,} delivered; time in "
            f"{table.meta['time_unit']}):"
        )
        rows = [
            [kind, str(c["sent"]), *(str(c[v]) for v in VERDICTS)]
            for kind, c in message_counts(table).items()
        ]
        out += _table(["kind", "sent", *VERDICTS], rows)
        out += ["", "per node (deliveries received, and what it refused and why):"]
        rows = []
        for i, c in enumerate(node_counts(table, run.n)):
            role = s.byzantine.get(i, "honest")
            refused = "; ".join(
                f"{verdict}: {_reasons(counts)}"
                for verdict, counts in (("rejected", c.rejected), ("dropped", c.dropped))
                if counts
            )
            rows.append(
                [
                    str(i),
                    role,
                    str(c.received),
                    str(c.accepted),
                    str(c.dropped.total()),
                    str(c.rejected.total()),
                    refused or "-",
                ]
            )
        out += _table(
            ["node", "role", "received", "accepted", "dropped", "rejected", "reasons"], rows
        )
    trace = run.trace
    if trace is None:
        out += ["", "coins, weights and iterations: no trace.json (only simulator runs have one)"]
        out += ["", "decisions (time in s since the start):"]
        rows = [
            [str(i), f"{s.honest_decisions.get(i, 0):+d}", "-", _num(t)]
            for i, t in sorted(s.decision_times.items())
        ]
        out += _table(["node", "value", "iteration", "time"], rows)
        return "\n".join(out) + "\n"
    out.append("")
    if not trace.coins:
        out.append("coins: none (every honest node decided without one)")
    for coin in trace.coins:
        outs = Counter(coin.outputs.values())
        split = "unanimous" if coin.unanimous else "split"
        tally = ", ".join(f"{v:+d} x{c}" for v, c in sorted(outs.items()))
        out.append(f"coin of iteration {coin.iteration}: {split} ({tally})")
        rows = []
        for i, value in sorted(coin.outputs.items()):
            bias, sigma = coin.bias.get(i), coin.sigma.get(i)
            total = "-" if bias is None or sigma is None else _num(bias + sigma)
            rows.append(
                [
                    str(i),
                    f"{value:+d}",
                    "-" if bias is None else str(bias),
                    "-" if sigma is None else _num(sigma),
                    total,
                ]
            )
        out += _table(["node", "output", "bias", "sigma", "bias+sigma"], rows)
    out += ["", "weights per epoch (node 0 .. n-1):"]
    if not trace.epoch_weights:
        out.append(f"  none ({trace.protocol} has no weights)")
    for e, weights in enumerate(trace.epoch_weights, start=1):
        shown = "unknown to every honest node" if weights is None else " ".join(map(_num, weights))
        out.append(f"  epoch {e}: {shown}")
    out += ["", "decisions and halts (time in delta):"]
    halts = trace.halts
    rows = [
        [
            str(d.node),
            f"{d.value:+d}",
            str(d.iteration),
            _num(d.time),
            _num(halts[d.node]) if d.node in halts else "-",
        ]
        for d in sorted(trace.decisions, key=lambda d: d.node)
    ]
    out += _table(["node", "value", "iteration", "decided at", "halted at"], rows)
    starts = {i: [at for _, at in log] for i, log in trace.iteration_starts.items()}
    if starts:
        out += ["", "iteration starts (time each honest node entered iteration 1, 2, ...):"]
        out += [f"  node {i}: " + " ".join(map(_num, ts)) for i, ts in sorted(starts.items())]
    return "\n".join(out) + "\n"
