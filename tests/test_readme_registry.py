"""The README's lists of schedulers and strategies are the registry's, no more and no less.

The scenario section of README.md lists every scheduler and every Byzantine strategy in the
example scenario's comments (`scheduler = ...  # default random; one of` and
`strategy = ...  # one of`, each followed by comment lines of names separated by `|`), and the
adversary section describes each of them. A scheduler or strategy added to the registry
without a line in the README, or a name left in the README after it is gone, fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from byzlab.adversary.schedulers import SCHEDULERS
from byzlab.adversary.strategies import STRATEGIES

README = Path(__file__).resolve().parents[1] / "README.md"
NAME = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")


def _section(text: str, heading: str) -> str:
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def _listed(section: str, key: str) -> list[str]:
    """The names in the comment lines that follow `key = "..."  # ... one of` in the section."""
    lines = section.splitlines()
    starts = [
        i for i, line in enumerate(lines) if re.match(rf'{key} = "[^"]*"\s+#.*\bone of$', line)
    ]
    assert len(starts) == 1, (
        f"README: expected one `{key} = ...  # ... one of` line, got {len(starts)}"
    )
    names: list[str] = []
    for line in lines[starts[0] + 1 :]:
        comment = re.fullmatch(r"\s+#(.*)", line)
        if comment is None:
            break
        for item in comment.group(1).split("|"):
            item = item.strip()
            if item:
                assert NAME.fullmatch(item), f"README: {item!r} in the {key} list is not a name"
                names.append(item)
    assert names, f"README: no names follow the `{key} = ...` line"
    return names


@pytest.mark.parametrize(
    ("key", "registry"),
    [("scheduler", SCHEDULERS), ("strategy", STRATEGIES)],
)
def test_scenario_section_lists_exactly_the_registry(key: str, registry: dict[str, object]) -> None:
    listed = _listed(_section(README.read_text(encoding="utf-8"), "Scenario files"), key)
    assert len(listed) == len(set(listed)), f"README lists a {key} twice: {sorted(listed)}"
    missing = sorted(set(registry) - set(listed))
    unknown = sorted(set(listed) - set(registry))
    assert not missing, f"README's scenario section does not list these {key}s: {missing}"
    assert not unknown, f"README's scenario section lists {key}s that do not exist: {unknown}"


@pytest.mark.parametrize(
    ("bullet", "registry"),
    [("**Schedulers**", SCHEDULERS), ("**Byzantine strategies**", STRATEGIES)],
)
def test_adversary_section_describes_every_registered_name(
    bullet: str, registry: dict[str, object]
) -> None:
    section = _section(README.read_text(encoding="utf-8"), "The adversary")
    start = section.index(f"* {bullet}")
    end = section.find("\n* ", start + 1)
    described = set(re.findall(r"`([^`]+)`", section[start : end if end != -1 else None]))
    missing = sorted(set(registry) - described)
    assert not missing, f"README's adversary section does not describe: {missing}"
