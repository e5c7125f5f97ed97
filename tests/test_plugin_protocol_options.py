"""A protocol plugin's options ([run.protocol_options], ``byzlab sim --protocol-option``):
validated by its ``Options`` model in one line per field, and given to every process that
builds the protocol (the simulator, each node process and the proxy).

`Bounded` is the example package's coin-vote (examples/plugins) with one more option,
``max_n``: it refuses to build nodes of a system larger than that, 4 by default. A run at
n = 6 with ``max_n = 6`` therefore agrees only if every process that builds a node (the
simulator; on local processes each node and the proxy, which builds the Byzantine node)
received the scenario's options.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pydantic import Field

from byzlab import plugins
from byzlab.api import Params, ParamsError, PluginOptions
from byzlab.cli import main
from byzlab.orchestration.dispatch import run_scenario
from byzlab.orchestration.plan import RunPlan
from byzlab.orchestration.scenario import ScenarioError, parse_scenario

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "plugins" / "src"
if str(EXAMPLES) not in sys.path:  # node and proxy processes inherit it (import_path_env)
    sys.path.insert(0, str(EXAMPLES))

from byzlab_examples.coinvote import CoinVote  # noqa: E402

SEED = 5
BOUNDED = f"{__name__}:Bounded"
COIN_VOTE = "byzlab_examples.coinvote:CoinVote"


class Bounded(CoinVote):
    """coin-vote that builds no node of a system larger than ``max_n``."""

    class Options(PluginOptions):
        window: int = Field(default=64, ge=8, le=4096)
        max_n: int = Field(default=4, ge=4, le=64)

    def __init__(self, window: int = 64, max_n: int = 4) -> None:
        super().__init__(window)
        self.max_n = max_n

    def node(self, me: int, params: Params, **kwargs: Any) -> Any:
        if params.n > self.max_n:
            raise ParamsError(f"bounded: n = {params.n} exceeds max_n = {self.max_n}")
        return super().node(me, params, **kwargs)


def _scenario(protocol: str, options: dict[str, Any]) -> Any:
    return parse_scenario(
        {
            "run": {
                "n": 6,
                "f": 1,
                "seed": SEED,
                "protocol": protocol,
                "protocol_options": options,
            },
            "adversary": {
                "delta_s": 0.05,
                "byzantine": [{"node": 5, "strategy": "equivocate"}],
            },
        }
    )


def _refusal(protocol: str, options: dict[str, Any]) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        _scenario(protocol, options)
    return [line.strip() for line in str(caught.value).splitlines()]


def test_a_bad_protocol_option_is_one_line_naming_the_field() -> None:
    lines = _refusal(COIN_VOTE, {"window": 4})
    assert lines == ["run.protocol_options.window: must be >= 8, got 4"], lines
    lines = _refusal(COIN_VOTE, {"windows": 16})
    assert lines == ["run.protocol_options.windows: unknown key; expected one of: window"], lines
    lines = _refusal("hpz", {"window": 16})
    assert lines == ['run.protocol_options: protocol "hpz" takes no options, got window'], lines


def test_options_reach_the_protocol_and_every_process_config() -> None:
    scn = _scenario(COIN_VOTE, {"window": 16})
    assert scn.build_protocol().window == 16  # type: ignore[attr-defined]
    assert "[run.protocol_options]\nwindow = 16" in scn.to_toml()
    plan = RunPlan.of(scn, run_id="t")
    configs = [
        plan.node_config(0, key_dir="k", proxy_host="h", proxy_port=1, out_dir="o"),
        plan.proxy_config(key_dir="k", port=1, stats_file="s", ready_file="r"),
    ]
    for cfg in configs:
        built = plugins.protocol(cfg["protocol"], cfg["protocol_options"])
        assert built.window == 16, cfg  # type: ignore[attr-defined]


@pytest.mark.parametrize("backend", ["sim", "local"])
def test_every_process_builds_the_protocol_with_the_scenarios_options(
    backend: str, tmp_path: Path
) -> None:
    outcome = run_scenario(_scenario(BOUNDED, {"max_n": 6}), backend, out_root=tmp_path)
    summary = outcome.summary
    assert summary["agreed"] and summary["valid"], f"{backend}, seed {SEED}: {summary}"
    decided = summary["honest_decisions"]
    assert sorted(decided) == ["0", "1", "2", "3", "4"], f"{backend}, seed {SEED}: {decided}"


def test_without_the_option_the_protocol_refuses_the_run() -> None:
    # the scenario checks build the Byzantine node's strategy, which builds a node
    with pytest.raises(ScenarioError, match="exceeds max_n = 4"):
        _scenario(BOUNDED, {})


def test_sim_takes_protocol_options_from_the_command_line() -> None:
    runner = CliRunner()
    base = ["sim", "--n", "6", "--f", "1", "--seed", str(SEED), "--protocol", BOUNDED]
    ok = runner.invoke(main, [*base, "--protocol-option", "max_n=6", "--json"])
    assert ok.exit_code == 0, f"seed {SEED}: {ok.output}"
    bad = runner.invoke(main, [*base, "--protocol-option", "max_n=3"])
    assert bad.exit_code == 2, bad.output
    assert bad.output.strip() == ("Error: --protocol-option max_n: must be >= 4, got 3"), bad.output
    builtin = runner.invoke(main, ["sim", "--protocol-option", "window=8"])
    assert builtin.output.strip() == (
        'Error: --protocol-option: protocol "hpz" takes no options, got window'
    ), builtin.output
