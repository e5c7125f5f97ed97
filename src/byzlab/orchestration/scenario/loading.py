"""Reading a scenario: from a TOML file or nested dicts to a validated ``Scenario``.

Validation happens in two passes and every problem becomes one line naming the full field
path: pydantic's errors, translated by ``byzlab.errors.format_validation_error`` into TOML
terms, then the cross-field rules (``checks.py``). All problems are reported together in one
``ScenarioError``.

Defaults have one home, the model (``model.py``): an empty file, ``byzlab sim`` without one
and ``byzlab run`` without one all take them. The one deliberate difference is the demo of
``byzlab run`` (and ``byzlab compose``) without a file, which corrupts node 3 with equivocate
(``DEMO_BYZANTINE``) so that the first command shows an attack; a file that leaves
[[adversary.byzantine]] unset runs every node honest, and those commands say so in one line
(``default_difference``).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from byzlab.errors import ScenarioError, format_validation_error
from byzlab.orchestration.scenario.checks import cross_check
from byzlab.orchestration.scenario.model import Scenario

__all__ = [
    "DEMO_BYZANTINE",
    "default_difference",
    "default_scenario",
    "load_scenario",
    "parse_scenario",
    "read_toml",
]

DEMO_BYZANTINE = {"node": 3, "strategy": "equivocate"}


def parse_scenario(data: Mapping[str, Any], *, source: str | None = None) -> Scenario:
    """Validate a scenario given as nested dicts (a parsed TOML document)."""
    try:
        scn = Scenario.model_validate(dict(data))
    except ValidationError as exc:
        raise ScenarioError(format_validation_error(exc, Scenario), source=source) from None
    problems = cross_check(scn)
    if problems:
        raise ScenarioError(problems, source=source)
    return scn


def read_toml(path: Path, error: type[ScenarioError]) -> tuple[str, dict[str, Any]]:
    """A TOML file's text and table; a file that cannot be read or parsed is ``error``
    (``ScenarioError`` or ``SweepError``) naming it."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise error(["file not found"], source=str(path)) from None
    except OSError as exc:
        raise error([f"cannot be read: {exc.strerror or exc}"], source=str(path)) from None
    try:
        text = raw.decode("utf-8")
        return text, tomllib.loads(text)
    except UnicodeDecodeError:
        raise error(["is not UTF-8 text"], source=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise error([f"invalid TOML: {exc}"], source=str(path)) from None


def load_scenario(path: Path) -> Scenario:
    """Read and validate a TOML scenario file; every problem is a ``ScenarioError``."""
    _, data = read_toml(path, ScenarioError)
    if "sweep" in data:
        # One way in: a sweep file is a grid of scenarios, and only `byzlab sweep` runs one.
        raise ScenarioError(
            [f"a sweep file ([sweep] table), not one scenario: run it with `byzlab sweep {path}`"],
            source=str(path),
        )
    return parse_scenario(data, source=str(path))


def default_scenario() -> Scenario:
    """What `byzlab run` runs without a file: the model's defaults (n=4, f=1, HPZ, split
    inputs, random scheduler, delta_s = 0.005) and node 3 equivocating."""
    return parse_scenario({"adversary": {"byzantine": [DEMO_BYZANTINE]}})


def default_difference(scn: Scenario) -> str | None:
    """The one line `byzlab run FILE` says when the file runs other defaults than `byzlab
    run` without one: it leaves [[adversary.byzantine]] unset (a single run), so every node
    is honest where the demo corrupts node 3; None otherwise."""
    if scn.multi_instance or "byzantine" in scn.adversary.model_fields_set:
        return None
    node, strategy = DEMO_BYZANTINE["node"], DEMO_BYZANTINE["strategy"]
    return (
        "scenario: no [[adversary.byzantine]], so every node is honest (byzlab run without "
        f"a file corrupts node {node} with {strategy}; the other defaults are the same)"
    )
