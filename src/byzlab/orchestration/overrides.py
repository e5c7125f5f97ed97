"""Protocol-parameter overrides given on the command line as ``--param NAME=VALUE``.

``byzlab sim`` and ``byzlab matrix`` both take them: each pair names a field of ``Params``
(n and f aside, they have options of their own) and gives it a number, as a scenario's
[params] table does. A bad pair is a ``click.BadParameter`` naming ``--param``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

import click

from byzlab.node.params import Params

__all__ = ["parse_param_overrides"]


def parse_param_overrides(
    pairs: Sequence[str], known: Iterable[str] | None = None
) -> dict[str, Any]:
    """``--param NAME=VALUE`` pairs as numbers, names checked against ``known`` (default:
    every field of ``Params`` but n and f). Shared by ``byzlab sim`` and ``byzlab matrix``."""
    names = sorted(
        known
        if known is not None
        else (f.name for f in dataclasses.fields(Params) if f.name not in ("n", "f"))
    )
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        name = key.strip()
        if not sep or not name:
            raise click.BadParameter(f"expected NAME=VALUE, got {pair!r}", param_hint="--param")
        if name not in names:
            raise click.BadParameter(
                f"unknown parameter {name!r}; known: {', '.join(names)}", param_hint="--param"
            )
        try:
            value: Any = int(raw)
        except ValueError:
            try:
                value = float(raw)
            except ValueError:
                raise click.BadParameter(
                    f"{name} must be a number, got {raw!r}", param_hint="--param"
                ) from None
        out[name] = value
    return out
