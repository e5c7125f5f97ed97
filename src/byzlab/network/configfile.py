"""Reading a transport process's JSON config file (node.json, proxy.json) into its model.

Every problem (unreadable file, bad JSON, an unknown key, a value out of range) becomes one
``NodeConfigError`` that names the file and each offending field, worded like a scenario's
problems, so a hand-written config fails with the same messages as a generated one.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from byzlab.errors import NodeConfigError, format_validation_error

__all__ = ["load_config"]

_M = TypeVar("_M", bound=BaseModel)


def load_config(path: Path, model: type[_M]) -> _M:
    """Read a JSON config file into ``model``; every problem is a ``NodeConfigError``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise NodeConfigError(f"{path}: cannot be read: {exc.strerror or exc}") from exc
    try:
        return model.model_validate_json(text)
    except ValidationError as exc:
        lines = "; ".join(format_validation_error(exc, model))
        raise NodeConfigError(f"{path}: {lines}") from exc
