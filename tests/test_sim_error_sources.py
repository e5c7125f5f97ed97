"""``byzlab sim`` names the real source of a refusal raised while it builds its run: the
strategy's or the scheduler's constructor (by its flag), or the protocol building its nodes
(by --protocol, with n and f), never a blanket ``--scheduler-option/--strategy-option``.

`Picky` and `Fussy` are plugins whose constructors refuse an option value that their
annotations accept (so only building them finds it); coin-vote (examples/plugins) refuses
n <= 5f when it builds a node (here n = 10, f = 2), which no earlier check knows about.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from byzlab.api import AdversaryContext, ByzantineNode, NodeSpec, Scheduler
from byzlab.cli import main

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "plugins" / "src"
COIN_VOTE = "byzlab_examples.coinvote:CoinVote"
SEED = 4


class Picky(ByzantineNode):
    """Silent; refuses a level above 2 when it is built."""

    def __init__(self, spec: NodeSpec, ctx: AdversaryContext, level: int = 0) -> None:
        if level > 2:
            raise ValueError(f"level must be at most 2, got {level}")
        super().__init__(spec, ctx)


@dataclass
class Fussy(Scheduler):
    """The constant-delay scheduler; refuses a level above 2 when it is built."""

    level: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.level > 2:
            raise ValueError(f"level must be at most 2, got {self.level}")


def _sim(*args: str) -> str:
    result = CliRunner().invoke(main, ["sim", "--seed", str(SEED), *args])
    assert result.exit_code == 2, f"seed {SEED}, {args}: {result.output}"
    return result.output.strip()


def test_a_strategy_refusal_names_the_strategy_option() -> None:
    out = _sim("--n", "4", "--byzantine", f"{__name__}:Picky", "--strategy-option", "level=3")
    assert out == "Error: --strategy-option: level must be at most 2, got 3", out


def test_a_scheduler_refusal_names_the_scheduler_option() -> None:
    out = _sim("--n", "4", "--scheduler", f"{__name__}:Fussy", "--scheduler-option", "level=3")
    assert out == "Error: --scheduler-option: level must be at most 2, got 3", out


@pytest.mark.parametrize("attack", [[], ["--byzantine", "equivocate"]])
def test_a_protocols_fault_bound_names_the_protocol(
    attack: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLES))
    try:
        out = _sim("--n", "10", "--f", "2", "--protocol", COIN_VOTE, *attack)
    finally:
        for name in [m for m in sys.modules if m.split(".")[0] == "byzlab_examples"]:
            del sys.modules[name]
    assert out == (
        f"Error: --protocol {COIN_VOTE} (n=10, f=2): coin-vote needs n > 5f, got n = 10, f = 2"
    ), out
