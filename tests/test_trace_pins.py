"""The simulator does for each seed exactly what it did when the pins were written.

The pins (tests/data/trace_pins.json) cover every protocol, strategy and scheduler; see
tests/trace_pins.py for the cases and for how to regenerate them after a deliberate change.
"""

from __future__ import annotations

import json

import pytest

from tests.trace_pins import PINS, cases, key, trace_hash

_PINNED: dict[str, str] = json.loads(PINS.read_text())


@pytest.mark.parametrize("case", cases(), ids=key)
def test_trace_hash_is_pinned(case: dict[str, object]) -> None:
    got = trace_hash(case)
    assert got == _PINNED[key(case)], (
        f"seed={case['seed']}: trace hash {got} differs from the pin for {key(case)}; "
        "if the change is deliberate, regenerate with `python -m tests.trace_pins --write`"
    )


def test_every_case_is_pinned() -> None:
    assert sorted(_PINNED) == sorted(key(c) for c in cases())
