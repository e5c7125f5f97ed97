"""summary.json says the same about the adversary on every backend: ``byzantine`` names each
corrupted node's strategy by the reference the scenario gave (a plugin's ``module:Name``, not
its class's ``name``) and ``scheduler`` is the scheduler's ``describe()`` (its options with
their defaults), in the simulator and on local processes alike.

The plugins are the example package's (examples/plugins), named by ``module:Name``, with a
scheduler option left at its default, and built-in ones with an option."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from byzlab.orchestration.dispatch import run_scenario
from byzlab.orchestration.scenario import parse_scenario

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "plugins" / "src"
if str(EXAMPLES) not in sys.path:  # node and proxy processes inherit it (import_path_env)
    sys.path.insert(0, str(EXAMPLES))

SEED = 2
CASES = {
    "plugins": ("byzlab_examples.opposite:Opposite", "byzlab_examples.slow_node:SlowNode", {}),
    "built-in": ("equivocate", "hold-f", {"held": [1]}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_sim_and_local_summaries_name_the_adversary_alike(case: str, tmp_path: Path) -> None:
    strategy, scheduler, options = CASES[case]
    scn = parse_scenario(
        {
            "run": {"n": 4, "seed": SEED, "protocol": "ideal-coin"},
            "adversary": {
                "scheduler": scheduler,
                "scheduler_options": options,
                "delta_s": 0.05,
                "byzantine": [{"node": 3, "strategy": strategy}],
            },
        }
    )
    summaries: dict[str, Any] = {
        backend: run_scenario(scn, backend, out_root=tmp_path / backend).summary
        for backend in ("sim", "local")
    }
    sim, local = summaries["sim"], summaries["local"]
    assert sim["byzantine"] == local["byzantine"] == {"3": strategy}, f"seed {SEED}: {summaries}"
    assert sim["scheduler"] == local["scheduler"], f"seed {SEED}: {sim['scheduler']}"
    assert set(sim["scheduler"]) > {"name"}, f"seed {SEED}: options missing: {sim['scheduler']}"
