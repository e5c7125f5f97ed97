"""Peak memory of an honest node process flooded by a Byzantine peer at full speed.

    python benchmarks/bench_flood.py [--sizes 4,7,16] [--messages 2000000] [--out DIR]

A real run (local backend: real node processes, the real proxy, real MACs). Before the
protocol starts, the proxy, holding the corrupted node's keys, writes to one honest node as
fast as that node reads: garbage frames, forged frames, frames with a valid MAC but invalid
contents, then ``--messages`` well-formed, validly MACed protocol messages (see
``_flood_messages`` in adversary/proxy/inject.py: RBC instances of every origin opened up to the
window with a different value each, instances far beyond the window, the peer's own stream
claiming far-future iterations and boards, repeated DECIDEs), then one oversized frame. The
benchmark samples the node's resident set (``/proc/PID/status`` VmRSS) while it works
through the flood and reads its high-water mark (VmHWM) at the end; then the run goes on
and must still agree.

The bound it is compared with (``memory_bound_bytes``): what node/ may keep for hostile
input is capped by construction — RBC instances: n origins x ``window`` each; per instance
one ECHO and one READY per sender; items pending validation: ``window`` per origin; the
decoder's memory of recent messages: 4096 entries; the inbox: a bounded number of frames of
at most 1 MiB. The figure per kept object is measured here, not assumed.
A figure, not a test: nothing is asserted except that the run agrees.
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from byzlab.node.params import Params
from byzlab.orchestration.local import LocalRun
from byzlab.orchestration.scenario import parse_scenario


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for pid {pid}")


def flood_once(n: int, messages: int, seed: int, out_root: Path) -> dict[str, Any]:
    f = (n - 1) // 3
    byz = n - 1
    done = out_root / f"inject-done-{n}-{seed}.json"
    scn = parse_scenario(
        {
            "run": {"n": n, "f": f, "seed": seed, "timeout_s": 600},
            "adversary": {"scheduler": "fifo", "byzantine": [{"node": byz, "strategy": "silent"}]},
        }
    )
    inject = {
        "target": 0,
        "from_node": byz,
        "done_file": str(done),
        "garbage_frames": 2000,
        "forged_frames": 500,
        "invalid_frames": 2000,
        "flood_messages": messages,
    }
    with LocalRun(scn, out_root=out_root, proxy_options={"inject": inject}) as lr:
        lr.start()
        deadline = time.monotonic() + 120
        while lr.status().get("connected") != n - 1:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nodes did not connect: {lr.describe()}")
            time.sleep(0.05)
        pid = lr.procs["node-0"].pid
        time.sleep(0.5)
        before = _status_kib(pid, "VmRSS")
        started = time.monotonic()
        lr.signal_proxy(signal.SIGUSR1)
        samples: list[tuple[float, int]] = []
        while not done.exists() or lr.status().get("connected") != n - 1:
            samples.append((time.monotonic() - started, _status_kib(pid, "VmRSS")))
            if time.monotonic() - started > 600:
                raise RuntimeError(f"flood did not finish: {lr.describe()}")
            time.sleep(0.05)
        flood_s = time.monotonic() - started
        time.sleep(1.0)  # the node works through what it had read before the reset
        after = _status_kib(pid, "VmRSS")
        peak = _status_kib(pid, "VmHWM")
        lr.signal_proxy(signal.SIGUSR1)  # now the protocol runs
        outcome = lr.collect(lr.wait(timeout=600))
    res = json.loads((lr.node_dir(0) / "out" / "result.json").read_text())
    summary = outcome.summary
    return {
        "n": n,
        "seed": seed,
        "messages": messages,
        "flood_s": round(flood_s, 2),
        "rate_msgs_s": round(messages / flood_s),
        "rss_before_kib": before,
        "rss_after_kib": after,
        "peak_rss_kib": peak,
        "growth_kib": peak - before,
        "agreed": summary["agreed"],
        "valid": summary["valid"],
        "samples": samples[:: max(1, len(samples) // 200)],
        "rbc_dropped": res.get("rbc_dropped"),
        "rejected": res.get("rejected"),
    }


def bound_objects(n: int) -> dict[str, int]:
    """How many hostile objects node/ may hold at once, from the parameters (see docstring)."""
    window = Params.practical(n, (n - 1) // 3).window
    return {
        "rbc_instances": n * window,
        "votes_per_instance": 2 * n,
        "pending_items": n * window,
        "decoder_entries": 4096,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="4,7,16", help="n values, comma-separated")
    parser.add_argument(
        "--messages", type=int, default=2_000_000, help="well-formed hostile messages per flood"
    )
    parser.add_argument("--repeats", type=int, default=1, help="floods per n (median)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="byzlab-flood-") as tmp:
        for n in (int(x) for x in args.sizes.split(",")):
            runs = [flood_once(n, args.messages, seed, Path(tmp)) for seed in range(args.repeats)]
            row = {
                "n": n,
                "messages": args.messages,
                "peak_rss_mib": statistics.median(r["peak_rss_kib"] for r in runs) / 1024,
                "rss_before_mib": statistics.median(r["rss_before_kib"] for r in runs) / 1024,
                "rate_msgs_s": statistics.median(r["rate_msgs_s"] for r in runs),
                "agreed": all(r["agreed"] and r["valid"] for r in runs),
                "bound_objects": bound_objects(n),
                "runs": runs,
            }
            rows.append(row)
            print(
                f"n={n:3d}  flood {args.messages:,} msgs at {row['rate_msgs_s']:,.0f}/s  "
                f"RSS before {row['rss_before_mib']:.1f} MiB  peak {row['peak_rss_mib']:.1f} MiB"
                f"  agreed={row['agreed']}",
                flush=True,
            )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "flood_memory.json").write_text(json.dumps(rows, indent=1))
    print(f"wrote {args.out / 'flood_memory.json'}")


if __name__ == "__main__":
    main()
