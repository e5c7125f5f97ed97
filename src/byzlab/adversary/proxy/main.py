"""The adversary proxy's entry point: ``byzlab proxy --config proxy.json`` (also
``python -m byzlab.adversary.proxy``). Exit status 0 on a clean stop, 1 on a bug, 2 for a
config (or key file) that cannot be used.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from byzlab.adversary.proxy.config import ProxyConfig
from byzlab.adversary.proxy.runtime import Proxy
from byzlab.network.configfile import load_config
from byzlab.network.process import run_with_loop, setup_logging

__all__ = ["main", "run_proxy"]


def main(argv: Sequence[str] | None = None) -> int:
    """``byzlab proxy --config proxy.json`` (also ``python -m byzlab.adversary.proxy``)."""
    parser = argparse.ArgumentParser(
        prog="byzlab proxy",
        description="Run the adversary proxy: relay, schedule, and run the Byzantine nodes.",
    )
    parser.add_argument("--config", required=True, type=Path, help="proxy.json")
    args = parser.parse_args(argv)
    return run_proxy(args.config)


def run_proxy(config_path: Path) -> int:
    setup_logging("proxy")
    try:
        config = load_config(config_path, ProxyConfig)
        proxy = Proxy(config)
    except ValueError as exc:  # NodeConfigError, KeyFileError and ParamsError included
        print(f"byzlab proxy: {exc}", file=sys.stderr)
        return 2
    return run_with_loop(proxy.run, name="proxy")
