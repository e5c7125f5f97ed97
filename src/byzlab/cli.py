"""The `byzlab` command line."""

from __future__ import annotations

import click

from byzlab import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="byzlab")
def main() -> None:
    """byzlab: spin up nodes, inject Byzantine strategies, measure latency to agreement."""
