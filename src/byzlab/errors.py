"""Every exception byzlab raises on purpose, in one tree.

Code that calls byzlab catches ``ByzlabError`` for anything byzlab reports deliberately, or one of
the branches below for a kind of problem. Each message is meant to be shown as it is: one line
(or one line per problem) naming the file, the field and its limit, or the step that failed and
what to do. Lower-level errors (``OSError``, the Docker SDK's, pydantic's) are translated into
these with ``raise ... from exc``, so the cause stays in the traceback.

    ByzlabError
    +-- ConfigError          a value that cannot be used; ValueError
    |   +-- ScenarioError    a scenario file or table (``problems``: one "path: message" each)
    |   |   +-- SweepError   a sweep file
    |   +-- NodeConfigError  a node or proxy config file
    |   +-- KeyFileError     a key or roster file
    |   +-- ComposeError     a compose file and its material
    |   +-- RuleError        a rule of the `rules` scheduler
    |   +-- StoreError       a result store
    +-- RunError             a run that could not be done; RuntimeError
    |   +-- RunRefused       refused before anything was written or started (exit status 2)
    |   +-- RunIOError       a file of the run could not be written or read (exit status 4)
    |   +-- RunFailed        the run could not be set up (a process, the proxy)
    |   +-- ReplayError      a run that cannot be replayed
    |   +-- BatcherClosedError  a frame batcher closed while a message was sent
    +-- BackendUnavailable   a backend that cannot run here at all; RuntimeError
    |   +-- DockerUnavailable  no Docker engine, SDK or image
    |   +-- ImageBuildError    the image could not be built
    |   +-- ClusterUnavailable  a Dask cluster unreachable, without workers, or running other code
    +-- InvariantViolation   a safety property failed in a run; AssertionError

``byzlab.node.params.ParamsError`` (a ``ValueError``) is the one exception outside the tree: the
protocol core imports nothing else of byzlab, so it cannot derive from ``ByzlabError``. It is
re-exported here; catch ``(ByzlabError, ParamsError)`` to catch everything.

The command line prints a ``ByzlabError``'s message on one line and exits with its
``exit_code``: 2 for bad input (a scenario, a refusal), 4 for I/O, 1 otherwise.

``format_validation_error`` words pydantic's validation errors as those lines ("path:
message"), for every config file alike: scenarios, sweeps, node.json and proxy.json.
"""

from __future__ import annotations

import typing
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from byzlab.node.params import ParamsError

__all__ = [
    "EXIT_FAILED",
    "EXIT_IO",
    "EXIT_REFUSED",
    "BackendUnavailable",
    "BatcherClosedError",
    "ByzlabError",
    "ClusterUnavailable",
    "ComposeError",
    "ConfigError",
    "DockerUnavailable",
    "ImageBuildError",
    "InvariantViolation",
    "KeyFileError",
    "NodeConfigError",
    "ParamsError",
    "ReplayError",
    "RuleError",
    "RunError",
    "RunFailed",
    "RunIOError",
    "RunRefused",
    "ScenarioError",
    "StoreError",
    "SweepError",
    "format_validation_error",
]

EXIT_FAILED = 1
EXIT_REFUSED = 2  # also what click uses for a usage error: bad input, nothing done
EXIT_IO = 4


class ByzlabError(Exception):
    """Base of everything byzlab raises on purpose; the message is meant for the user."""

    exit_code: int = EXIT_FAILED


# --------------------------------------------------------------------------- bad values


class ConfigError(ByzlabError, ValueError):
    """A value that cannot be used; the message names the field and its limit."""

    exit_code = EXIT_REFUSED


class ScenarioError(ConfigError):
    """A scenario that cannot run. ``problems`` holds one "path: message" line each."""

    def __init__(self, problems: Sequence[str], *, source: str | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        prefix = f"{source}: " if source else ""
        if len(self.problems) == 1:
            text = prefix + self.problems[0]
        else:
            text = f"{prefix}{len(self.problems)} problems:\n" + "\n".join(
                f"  {p}" for p in self.problems
            )
        super().__init__(text)


class SweepError(ScenarioError):
    """A sweep file that cannot run; ``problems`` holds one "path: message" line each."""


class NodeConfigError(ConfigError):
    """A node or proxy config file that cannot be used; the message names file and field."""


class KeyFileError(ConfigError):
    """A key or roster file is missing, unreadable, or does not describe this run."""


class ComposeError(ConfigError):
    """A compose file that cannot be written or does not match its material."""


class RuleError(ConfigError):
    """A rule that cannot be compiled; the message names the offending part."""


class StoreError(ConfigError):
    """A store that cannot be read or written as asked (the message says which file)."""


# --------------------------------------------------------------------------- runs


class RunError(ByzlabError, RuntimeError):
    """A run that could not be done as asked."""


class RunRefused(RunError):
    """The run cannot be done here as asked; nothing was written or started."""

    exit_code = EXIT_REFUSED


class RunIOError(RunError):
    """A file of the run could not be written (or read): one line with the path and errno."""

    exit_code = EXIT_IO


class RunFailed(RunError):
    """The run could not be set up (the proxy did not come up, a process failed to start)."""


class ReplayError(RunError):
    """The run cannot be replayed (not found, not a simulator run, incomplete record)."""


class BatcherClosedError(RunError):
    """The Batcher was closed (or its flushing task ended) while a message was sent."""


# --------------------------------------------------------------------------- backends


class BackendUnavailable(ByzlabError, RuntimeError):
    """The backend cannot run at all here (no Docker engine, no image)."""


class DockerUnavailable(BackendUnavailable):
    """The Docker engine (or the SDK, or the image) is missing: one sentence on what to do."""


class ImageBuildError(BackendUnavailable):
    """The image could not be built; the message says what failed and what to do."""


class ClusterUnavailable(BackendUnavailable):
    """A Dask cluster cannot take byzlab's runs: unreachable, no workers, or other code."""


# --------------------------------------------------------------------------- safety


class InvariantViolation(ByzlabError, AssertionError):
    """A safety property failed; the message names the seed to replay it."""


# --------------------------------------------------------------------------- wording


def _path(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(scenario)"


def _model_at(model: type[BaseModel], loc: Sequence[int | str]) -> type[BaseModel] | None:
    """The model class holding the field at ``loc`` (for listing the keys it allows)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(part)
        if field is None:
            return None
        current = field.annotation
        # unwrap list[X] and X | None down to a model class, if there is one
        for _ in range(3):
            args = [a for a in typing.get_args(current) if a is not type(None)]
            if isinstance(current, type) and issubclass(current, BaseModel):
                break
            if not args:
                break
            current = args[0]
    if isinstance(current, type) and issubclass(current, BaseModel):
        return current
    return None


_TYPE_WORDS = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "string_type": "a string",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a table",
    "model_type": "a table",
    "model_attributes_type": "a table",
}
_BOUND_WORDS = {
    "greater_than_equal": (">=", "ge"),
    "greater_than": (">", "gt"),
    "less_than_equal": ("<=", "le"),
    "less_than": ("<", "lt"),
}


def _describe(value: object) -> str:
    kind = {
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        list: "list",
        dict: "table",
    }.get(type(value), type(value).__name__)
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{kind} {text}"


def format_validation_error(exc: ValidationError, model: type[BaseModel]) -> list[str]:
    """One "path: message" line per pydantic error, in the words of a config file (TOML
    or JSON): the scenario, node.json and proxy.json report their problems alike."""
    lines: list[str] = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        path = _path(loc)
        kind = err["type"]
        ctx = err.get("ctx") or {}
        value = err.get("input")
        if kind == "extra_forbidden":
            parent = _model_at(model, loc[:-1]) if len(loc) > 1 else model
            allowed = ", ".join(sorted(parent.model_fields)) if parent is not None else ""
            msg = "unknown key" + (f"; expected one of: {allowed}" if allowed else "")
        elif kind == "missing":
            msg = "required key is missing"
        elif kind in _TYPE_WORDS:
            msg = f"expected {_TYPE_WORDS[kind]}, got {_describe(value)}"
        elif kind in _BOUND_WORDS:
            op, key = _BOUND_WORDS[kind]
            bound = ctx.get(key)
            if isinstance(bound, float) and bound.is_integer():
                bound = int(bound)  # "> 0", not "> 0.0", for a bound written as 0
            msg = f"must be {op} {bound}, got {value!r}"
        elif kind in ("value_error", "assertion_error") and "error" in ctx:
            msg = str(ctx["error"])
        elif kind == "finite_number":
            msg = f"must be a finite number, got {value!r}"
        else:
            msg = str(err["msg"])
        lines.append(f"{path}: {msg}")
    return lines
