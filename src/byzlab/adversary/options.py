"""A scheduler's or strategy's options as a scenario file or the command line gives them.

TOML (and ``--scheduler-option KEY=VALUE``) has lists but no sets, while some options are
typed as sets of node ids (``hold-f``'s ``held: frozenset[int]``). This module is the one
place that turns the TOML value into what the constructor wants: a list becomes a
frozenset exactly where the option's annotation asks for one, and everything else (the
``rules`` scheduler's list of tables, ``latency-matrix``'s list of rows) is passed as it
is. The scenario loader, its checks, the simulator's assembly and the proxy all go
through ``plugin_kwargs``.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any

__all__ = ["option_hints", "plugin_kwargs"]


def option_hints(cls: type) -> dict[str, Any]:
    """The annotations of ``cls``'s options: its dataclass fields (schedulers), else its
    ``__init__`` parameters (strategies); empty when they cannot be resolved."""
    target: Any = cls
    if not dataclasses.is_dataclass(cls):
        target = next(vars(k)["__init__"] for k in cls.__mro__ if "__init__" in vars(k))
    try:
        return typing.get_type_hints(target)
    except Exception:  # unresolvable annotations: nothing to convert, no type to check
        return {}


def _wants_frozenset(hint: Any) -> bool:
    if hint is frozenset or typing.get_origin(hint) is frozenset:
        return True
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return any(_wants_frozenset(arg) for arg in typing.get_args(hint))
    return False


def plugin_kwargs(cls: type, options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` as keyword arguments of ``cls``: lists become frozensets where the
    option's annotation wants one (see the module docstring)."""
    hints = option_hints(cls)
    return {
        key: frozenset(value)
        if isinstance(value, list) and _wants_frozenset(hints.get(key))
        else value
        for key, value in options.items()
    }
