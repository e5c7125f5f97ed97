"""Every field of the scenario format has an error message that names it.

tests/test_scenario.py pins the exact wording for hand-picked bad values. This file walks
the scenario model itself, so a field added later is covered without anyone remembering to:
for every field of every section (and of the entries of list sections), a value of the
wrong type, and an unknown key next to it, must each give exactly one problem, and that
problem must start with the field's dotted path.
"""

from __future__ import annotations

import types
import typing
from typing import Any

import pytest
from pydantic import BaseModel

from byzlab.orchestration.scenario import Scenario, ScenarioError, parse_scenario


def _model_of(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """(the model inside ``annotation``, whether it sits in a list)."""
    origin = typing.get_origin(annotation)
    if origin in (list, tuple):
        inner, _ = _model_of(typing.get_args(annotation)[0])
        return inner, True
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            inner, in_list = _model_of(arg)
            if inner is not None:
                return inner, in_list
        return None, False
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    return None, False


_SAMPLES = {
    "node": 0,
    "strategy": "silent",
    "action": "kill",
    "stakes": [1, 1, 1, 1, 1],
    "seats": 4,
    "active": 4,
}


def _minimal(model: type[BaseModel]) -> dict[str, Any]:
    """The smallest valid-looking entry of a list section: its required fields."""
    return {
        name: _SAMPLES[name]
        for name, field in model.model_fields.items()
        if field.is_required() and name in _SAMPLES
    }


def _wrong(annotation: Any) -> Any:
    """A value of the wrong type for a field: a table, or a string where tables belong."""
    return "not a table" if typing.get_origin(annotation) is dict else {"not": "a value"}


Path = tuple[str | int, ...]


def _leaf_paths(model: type[BaseModel], path: Path = ()) -> list[tuple[Path, Any]]:
    """(path of each leaf field, its annotation); list sections get index 0."""
    out: list[tuple[Path, Any]] = []
    for name, field in model.model_fields.items():
        key = field.alias or name
        inner, in_list = _model_of(field.annotation)
        if inner is None:
            out.append(((*path, key), field.annotation))
        else:
            out.extend(_leaf_paths(inner, (*path, key, 0) if in_list else (*path, key)))
    return out


def _model_at(path: Path) -> type[BaseModel]:
    model: type[BaseModel] = Scenario
    for part in path:
        if isinstance(part, int):
            continue
        inner, _ = _model_of(model.model_fields[part].annotation)
        assert inner is not None, path
        model = inner
    return model


def _scenario_with(path: Path, value: Any) -> dict[str, Any]:
    """A scenario holding ``value`` at ``path``, plus the required keys of every table on
    the way (so the only problem is the one under test)."""
    root: dict[str, Any] = {}
    node: Any = root
    for depth, part in enumerate(path[:-1]):
        nxt = path[depth + 1]
        if isinstance(part, int):
            continue
        table = _minimal(_model_at(path[: depth + 1]))
        if isinstance(nxt, int):
            node[part] = [table]
            node = table
        else:
            node[part] = table
            node = table
    node[path[-1]] = value
    return root


def _dotted(path: tuple[str | int, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


LEAVES = _leaf_paths(Scenario)
IDS = [_dotted(p) for p, _ in LEAVES]


def test_the_walk_finds_every_section() -> None:
    sections = {path[0] for path, _ in LEAVES}
    assert {"run", "params", "adversary", "docker"} <= sections, sections


@pytest.mark.parametrize(("path", "annotation"), LEAVES, ids=IDS)
def test_a_wrong_type_names_the_field(path: Path, annotation: Any) -> None:
    data = _scenario_with(path, _wrong(annotation))
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data)
    found = info.value.problems
    assert len(found) == 1 and found[0].startswith(_dotted(path) + ":"), (data, found)


@pytest.mark.parametrize(("path", "annotation"), LEAVES, ids=IDS)
def test_an_unknown_key_beside_the_field_is_named(path: Path, annotation: Any) -> None:
    typo = (*path[:-1], f"{path[-1]}_typo")
    data = _scenario_with(typo, 1)
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data)
    found = info.value.problems
    assert len(found) == 1 and found[0].startswith(_dotted(typo) + ":"), (data, found)


def _numeric(annotation: Any) -> type | None:
    """int or float if the field holds a single number (maybe optional), else None."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)] or [annotation]
    if len(args) == 1 and args[0] in (int, float):
        return typing.cast(type, args[0])
    return None


NUMERIC = [(p, a) for p, a in LEAVES if _numeric(a) is not None]
# a value no field can hold: nan and the infinities (TOML has all three), and numbers far
# beyond any limit of the simulator, in both directions
_HOSTILE: dict[type, list[Any]] = {
    float: [float("nan"), float("inf"), float("-inf"), 1e300, -1e300],
    int: [2**64, -(2**64)],
}


def test_the_numeric_walk_finds_the_parameters() -> None:
    names = {_dotted(p) for p, _ in NUMERIC}
    assert {
        "run.n",
        "run.timeout_s",
        "params.m",
        "params.window",
        "params.beta",
        "adversary.delta_s",
        "docker.faults[0].at_s",
    } <= names, names


@pytest.mark.parametrize(("path", "annotation"), NUMERIC, ids=[_dotted(p) for p, _ in NUMERIC])
def test_nan_inf_and_huge_numbers_name_the_field(path: Path, annotation: Any) -> None:
    kind = _numeric(annotation)
    assert kind is not None
    for value in _HOSTILE[kind]:
        data = _scenario_with(path, value)
        if path[0] == "docker" and path[-1] not in ("at_s", "at_iteration"):
            data["docker"]["faults"][0]["at_s"] = 0.0  # a fault needs exactly one trigger
        if path[0] == "sortition" and path[-1] != "pool":
            data["sortition"]["pool"] = 5  # required without [committee]
        with pytest.raises(ScenarioError) as info:
            parse_scenario(data)
        found = info.value.problems
        assert len(found) == 1 and found[0].startswith(_dotted(path) + ":"), (value, found)
