"""A scheduler's or strategy's options as a scenario file or the command line gives them.

A plugin class may declare its options as a pydantic model, ``Options`` (see
``byzlab.api.PluginOptions``): its fields are the options, validated strictly, and the
validated values are what the constructor receives. A bad one is refused in the words every
config file uses (``byzlab.errors.format_validation_error``), one line per field.

The built-in strategies and schedulers have no such model: their options are their
constructor's parameters (strategies) or dataclass fields (schedulers), typed by
annotations. TOML (and ``--scheduler-option KEY=VALUE``) has lists but no sets, while some
options are typed as sets of node ids (``hold-f``'s ``held: frozenset[int]``), so a list
becomes a frozenset exactly where the option's annotation asks for one, and everything else
(the ``rules`` scheduler's list of tables, ``latency-matrix``'s list of rows) is passed as it
is. The scenario loader, its checks, the simulator's assembly and the proxy all go through
``plugin_kwargs``, which is the one place either conversion happens.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from byzlab.errors import format_validation_error

__all__ = ["option_hints", "options_model", "options_problems", "plugin_kwargs"]


def options_model(cls: type) -> type[BaseModel] | None:
    """The pydantic model ``cls`` declares for its options (``cls.Options``), if any."""
    model = getattr(cls, "Options", None)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _validate(model: type[BaseModel], options: Mapping[str, Any]) -> BaseModel | list[str]:
    try:
        return model.model_validate(dict(options))
    except ValidationError as exc:
        return format_validation_error(exc, model)


def options_problems(model: type[BaseModel], options: Mapping[str, Any], where: str) -> list[str]:
    """``options`` checked against a plugin's ``Options`` model: one "``where``KEY: message"
    line per problem, worded like every other config field's."""
    checked = _validate(model, options)
    return [f"{where}{line}" for line in checked] if isinstance(checked, list) else []


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
    """``options`` as keyword arguments of ``cls``: validated by its ``Options`` model if it
    declares one (a bad option raises ValueError, one line per field), else with lists made
    frozensets where the option's annotation wants one (see the module docstring)."""
    model = options_model(cls)
    if model is not None:
        checked = _validate(model, options)
        if isinstance(checked, list):
            raise ValueError("; ".join(checked))
        return {name: getattr(checked, name) for name in type(checked).model_fields}
    hints = option_hints(cls)
    return {
        key: frozenset(value)
        if isinstance(value, list) and _wants_frozenset(hints.get(key))
        else value
        for key, value in options.items()
    }
