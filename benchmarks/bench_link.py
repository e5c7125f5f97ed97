"""What the authenticated link layer costs per frame and per message.

    python benchmarks/bench_link.py [--repeat 51] [--run-ms 5]

The measurements live in src/byzlab/bench/transport.py (``link_costs``; ``byzlab bench
--only transport`` runs them too, with the proxy throughput): MAC seal and open for 64 B,
1 KiB and 16 KiB payloads, msgpack pack/unpack of 100 small messages, frame decoding, the
whole path for one batch, Ed25519 sign and verify, and link-key setup. Each row is the
median (and the best) of ``--repeat`` short timed runs; the last line compares per-message
authentication by MAC per frame against a signature per message, from the best runs.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys

import msgpack
import nacl

from byzlab.bench.transport import link_costs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=51, help="timed runs per row")
    parser.add_argument(
        "--run-ms", type=float, default=5.0, help="length of one timed run, in milliseconds"
    )
    args = parser.parse_args(argv)
    print(
        f"byzlab link-layer benchmark: Python {platform.python_version()}, "
        f"msgpack {'.'.join(map(str, msgpack.version))}, PyNaCl {nacl.__version__}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"us/op: median of {args.repeat} runs of ~{args.run_ms:g} ms; best: fastest run; "
        "ops/s and msgs/s from the median"
    )
    header = f"{'operation':<32} {'size':>12} {'us/op':>9} {'best':>9} {'ops/s':>11} {'msgs/s':>11}"
    print(header)
    print("-" * len(header))
    costs = link_costs(args.repeat, args.run_ms / 1000)
    for r in costs["rows"]:
        print(
            f"{r['operation']:<32} {r['size']:>12} {r['us_per_op']:>9.2f} "
            f"{r['best_us_per_op']:>9.2f} {r['ops_per_s']:>11,.0f} {r['msgs_per_s']:>11,.0f}"
        )
    print()
    print(
        f"authentication per message (best runs): Ed25519 sign+verify "
        f"{costs['signature_per_message_us']:.1f} us; MAC seal+open of a 1 KiB frame "
        f"{costs['mac_frame_us']:.1f} us, i.e. {costs['mac_per_message_us']:.3f} us per message "
        f"at {costs['batch']} messages per frame ({costs['signature_over_mac']:,.0f}x less)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
