"""The honest node process's entry point: ``byzlab node --config node.json`` (also
``python -m byzlab.network.tcp``). Exit status 0 on a clean stop, 1 on a bug, 2 for a
config (or key file) that cannot be used.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from byzlab.network.configfile import load_config
from byzlab.network.process import batch_scheduling, run_with_loop, setup_logging
from byzlab.network.tcp.config import NodeConfig
from byzlab.network.tcp.incarnation import previous_incarnation, rejoin_as_crashed
from byzlab.network.tcp.runtime import NodeRuntime

__all__ = ["main", "run_node"]


def main(argv: Sequence[str] | None = None) -> int:
    """``byzlab node --config node.json`` (also ``python -m byzlab.network.tcp``)."""
    parser = argparse.ArgumentParser(
        prog="byzlab node", description="Run one honest node over TCP through the adversary proxy."
    )
    parser.add_argument("--config", required=True, type=Path, help="node.json")
    args = parser.parse_args(argv)
    return run_node(args.config)


def run_node(config_path: Path) -> int:
    try:
        config = load_config(config_path, NodeConfig)
        setup_logging(f"node {config.node}")
        previous = previous_incarnation(config)
        if previous is not None:
            return rejoin_as_crashed(config, previous)
        runtime = NodeRuntime(config)
    except ValueError as exc:  # ConfigError (node.json, the key files) and ParamsError
        print(f"byzlab node: {exc}", file=sys.stderr)
        return 2
    runtime.scheduling = "batch" if config.batch_scheduling and batch_scheduling() else "normal"
    return run_with_loop(runtime.run, name=f"node {config.node}")
