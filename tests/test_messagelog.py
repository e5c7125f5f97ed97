"""The simulator's message trace (messages.parquet, byzlab.network.messagelog).

Exactly one deliver row per counted delivery, on every built-in protocol and the plugin
protocols, under several schedulers and Byzantine strategies; the same trace hash with and
without recording; every honest node's decision reconstructed from the trace alone (each
delivery's payload decoded and fed to a fresh honest node built from the scenario); the
limits that end a run; ``[run] messages`` and ``byzlab sim --messages/--out``; the reading
example of docs/messages.md, run.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from byzlab.network.messagelog import (
    FILE_NAME,
    MESSAGES_FORMAT,
    decode_payload,
    read_messages,
    read_meta,
    records_messages,
)
from byzlab.node.protocol import DecodeError
from byzlab.orchestration.backend import execute
from byzlab.orchestration.scenario import ScenarioError, build_simulator, parse_scenario
from byzlab.orchestration.simrun import SimRun
from byzlab.seeds import derive_rng, ideal_coin_seed

ROOT = Path(__file__).resolve().parents[1]
BYZLAB = str(Path(sys.executable).with_name("byzlab"))


def scenario(
    seed: int,
    *,
    n: int = 7,
    protocol: str = "hpz",
    scheduler: str = "random",
    strategy: str | None = None,
    messages: str = "on",
    inputs: str = "split",
) -> Any:
    adversary: dict[str, Any] = {"scheduler": scheduler}
    if strategy is not None:
        adversary["byzantine"] = [{"node": n - 1, "strategy": strategy}]
    run = {"n": n, "seed": seed, "protocol": protocol, "messages": messages, "inputs": inputs}
    return parse_scenario({"run": run, "adversary": adversary})


def recorded(tmp_path: Path, scn: Any, **limits: Any) -> tuple[dict[str, Any], pa.Table]:
    """Run `scn` with the sim backend; its summary.json and messages.parquet."""
    outcome = execute(SimRun(scn, out_root=tmp_path, **limits))
    summary = json.loads((outcome.out_dir / "summary.json").read_text())
    return summary, read_messages(outcome.out_dir / FILE_NAME)


def deliveries(table: pa.Table) -> list[dict[str, Any]]:
    return [row for row in table.to_pylist() if row["event"] == "deliver"]


CASES = [
    ("hpz", "random", "equivocate"),
    ("hpz", "split-vote", "invalid-value"),
    ("hpz", "fifo", None),
    ("bracha-local", "split-vote", "equivocate"),
    ("bracha-local", "exponential", "silent"),
    ("ideal-coin", "random", "random-value"),
    ("ideal-coin", "hold-f", "equivocate"),
    ("mmr", "random", "equivocate"),
    ("ben-or", "split-vote", "equivocate"),
]


@pytest.mark.parametrize(("protocol", "scheduler", "strategy"), CASES)
@pytest.mark.parametrize("seed", [0, 5])
def test_one_deliver_row_per_counted_delivery(
    tmp_path: Path, protocol: str, scheduler: str, strategy: str | None, seed: int
) -> None:
    n = 6 if protocol == "ben-or" else 7
    scn = scenario(seed, n=n, protocol=protocol, scheduler=scheduler, strategy=strategy)
    summary, table = recorded(tmp_path, scn)
    where = f"seed={seed} {protocol}/{scheduler}/{strategy}"
    rows = deliveries(table)
    assert len(rows) == summary["deliveries"], where
    assert summary["engine"] == "python" and summary["message_trace"] == FILE_NAME, where
    sends = {row["msg_id"]: row for row in table.to_pylist() if row["event"] == "send"}
    assert len(sends) == table.num_rows - len(rows), f"{where}: msg_id not unique per send"
    # every delivery follows its send, carries its fields, and is for one of its receivers
    seen: set[int] = set()
    for row in table.to_pylist():
        if row["event"] == "send":
            seen.add(row["msg_id"])
            assert row["outcome"] == "" and row["time"] == row["sent"], where
            continue
        send = sends[row["msg_id"]]
        assert row["msg_id"] in seen, f"{where}: a delivery before its send"
        assert send["dst"] in (-1, row["dst"]), where
        for key in ("src", "kind", "origin", "rbc_seq", "value", "payload", "corrupt_src"):
            assert row[key] == send[key], f"{where}: {key}"
        assert row["sent"] == send["time"] <= row["time"] <= send["time"] + 1.0, where
        assert row["outcome"] in ("accepted", "dropped", "rejected"), where
        if row["src"] == row["dst"]:
            assert row["time"] == row["sent"], f"{where}: a self-delivery takes no time"
    assert any(r["src"] == r["dst"] for r in rows), f"{where}: self-deliveries are counted"
    # what the sim counts as messages and bytes: every copy to another node
    others = [(s, n - 1 if s["dst"] == -1 else int(s["dst"] != s["src"])) for s in sends.values()]
    assert sum(k for _, k in others) == summary["messages"], where
    assert sum(s["size"] * k for s, k in others) == summary["bytes"], where
    # the corrupted node's sends are marked, nobody else's
    corrupt = {s["src"] for s in sends.values() if s["corrupt_src"]}
    assert corrupt <= {n - 1} and (strategy in (None, "silent") or corrupt == {n - 1}), where
    if strategy == "invalid-value":
        assert any(r["outcome"] == "rejected" for r in rows), f"{where}: no rejection recorded"


@pytest.mark.parametrize("protocol", ["hpz", "bracha-local", "mmr"])
def test_recording_leaves_the_trace_hash_alone(tmp_path: Path, protocol: str) -> None:
    for seed in range(3):
        on, _ = recorded(tmp_path / "on", scenario(seed, protocol=protocol, strategy="equivocate"))
        scn = scenario(seed, protocol=protocol, strategy="equivocate", messages="off")
        outcome = execute(SimRun(scn, out_root=tmp_path / "off"))
        assert not (outcome.out_dir / FILE_NAME).exists(), f"seed={seed}"
        assert outcome.summary["message_trace"] is None, f"seed={seed}"
        assert on["trace_hash"] == outcome.summary["trace_hash"], f"seed={seed} {protocol}"


@pytest.mark.parametrize(
    ("protocol", "scheduler", "strategy", "n"),
    [
        ("hpz", "random", "equivocate", 7),
        ("hpz", "split-vote", "invalid-value", 4),
        ("bracha-local", "split-vote", "equivocate", 7),
        ("ideal-coin", "fifo", None, 4),
        ("mmr", "random", "equivocate", 7),
        ("ben-or", "random", "equivocate", 6),
    ],
)
def test_each_honest_decision_is_reconstructed_from_the_trace_alone(
    tmp_path: Path, protocol: str, scheduler: str, strategy: str | None, n: int
) -> None:
    for seed in (1, 2):
        where = f"seed={seed} {protocol}/{scheduler}/{strategy}"
        scn = scenario(seed, n=n, protocol=protocol, scheduler=scheduler, strategy=strategy)
        summary, table = recorded(tmp_path / str(seed), scn)
        built = build_simulator(scn)  # only for its parameters, inputs and protocol
        proto, params, inputs = built.protocol, built.params, built.inputs
        decoder = proto.decoder(params.n)
        by_node: dict[int, list[dict[str, Any]]] = {}
        for row in deliveries(table):
            if row["reason"] != "halted":  # a halted node was never handed it
                by_node.setdefault(row["dst"], []).append(row)
        honest = [int(k) for k in summary["honest_decisions"]]
        assert honest, where
        for i in honest:
            node = proto.node(
                i,
                params,
                input_value=inputs[i],
                rng=derive_rng(scn.seed, "node", i),
                ideal_seed=ideal_coin_seed(scn.seed),
            )
            node.start(0.0)
            for row in by_node.get(i, []):
                msg = decode_payload(row["payload"], decoder)
                assert not isinstance(msg, DecodeError), f"{where}: {msg} in {row}"
                node.receive(row["src"], msg, row["time"])
            assert node.decision == summary["honest_decisions"][str(i)], f"{where} node {i}"
            assert node.halted, f"{where} node {i}"


def test_a_run_stopped_by_a_limit_still_has_one_row_per_counted_delivery(tmp_path: Path) -> None:
    scn = scenario(4, strategy="equivocate")
    summary, table = recorded(tmp_path / "cap", scn, max_deliveries=500)
    rows = deliveries(table)
    assert summary["stopped"] == "max-deliveries" and len(rows) == summary["deliveries"]
    assert (rows[-1]["outcome"], rows[-1]["reason"]) == ("dropped", "max-deliveries")
    summary, table = recorded(tmp_path / "time", scn, max_time=1.5)
    rows = deliveries(table)
    assert summary["stopped"] == "max-time" and len(rows) == summary["deliveries"]
    assert max(r["time"] for r in rows) <= 1.5


def test_verdicts_name_the_receivers_reasons(tmp_path: Path) -> None:
    reasons: Counter[tuple[str, str]] = Counter()
    for seed in range(3):
        _, table = recorded(tmp_path / str(seed), scenario(seed, n=4, strategy="invalid-value"))
        reasons.update((r["outcome"], r["reason"]) for r in deliveries(table))
    assert reasons[("dropped", "halted")], reasons
    assert any(o == "dropped" and r not in ("", "halted") for o, r in reasons), reasons
    assert any(o == "rejected" and r for o, r in reasons), reasons
    assert all(bool(r) == (o != "accepted") for o, r in reasons), reasons


def test_the_file_says_what_run_it_is(tmp_path: Path) -> None:
    outcome = execute(SimRun(scenario(0, protocol="mmr"), out_root=tmp_path))
    meta = read_meta(outcome.out_dir / FILE_NAME)
    assert (meta.n, meta.f, meta.protocol, meta.time_unit, meta.backend, meta.format) == (
        7,
        2,
        "mmr",
        "delta",
        "sim",
        MESSAGES_FORMAT,
    )


def test_messages_defaults_to_runs_of_up_to_16_nodes() -> None:
    assert [records_messages("auto", n) for n in (4, 16, 17, 64)] == [True, True, False, False]
    assert records_messages("on", 64) and not records_messages("off", 4)
    assert parse_scenario({}).run.messages == "auto"


@pytest.mark.parametrize("bad", ["yes", "", 1, True])
def test_a_bad_messages_setting_is_one_line(bad: object) -> None:
    with pytest.raises(ScenarioError) as err:
        parse_scenario({"run": {"messages": bad}})
    text = str(err.value)
    assert text.startswith("run.messages: ") and "\n" not in text, text


def byzlab(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([BYZLAB, *args], cwd=cwd, capture_output=True, text=True)


def test_byzlab_sim_out_writes_the_sim_backends_run_directory(tmp_path: Path) -> None:
    args = ["sim", "--n", "7", "--seed", "3", "--byzantine", "equivocate", "--json"]
    plain = byzlab(*args, cwd=tmp_path)
    out = byzlab(*args, "--out", "run7", cwd=tmp_path)
    assert plain.returncode == out.returncode == 0, (plain.stderr, out.stderr)
    summary = json.loads(out.stdout)
    assert summary["trace_hash"] == json.loads(plain.stdout)["trace_hash"], "seed=3"
    run = tmp_path / "run7"
    names = {p.name for p in run.iterdir()}
    assert {"scenario.toml", "summary.json", "nodes.csv", "trace.json", FILE_NAME} <= names
    assert len(deliveries(read_messages(run / FILE_NAME))) == summary["deliveries"]
    off = byzlab(*args, "--out", "off", "--messages", "off", cwd=tmp_path)
    assert off.returncode == 0 and not (tmp_path / "off" / FILE_NAME).exists(), off.stderr
    again = byzlab(*args, "--out", "run7", cwd=tmp_path)
    assert again.returncode == 2 and again.stderr.count("\n") == 1, again.stderr
    alone = byzlab("sim", "--messages", "on", cwd=tmp_path)
    assert alone.returncode == 2 and "--messages needs --out" in alone.stderr, alone.stderr


def test_the_reading_example_of_docs_messages_runs(tmp_path: Path) -> None:
    text = (ROOT / "docs" / "messages.md").read_text(encoding="utf-8")
    (command,) = re.findall(r"```sh\n(byzlab sim [^\n]*)\n```", text)
    made = byzlab(*command.split()[1:], cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "docs/messages.md has no python example"
    for block in blocks:
        ran = subprocess.run(
            [sys.executable, "-c", block], cwd=tmp_path, capture_output=True, text=True
        )
        assert ran.returncode == 0, f"docs/messages.md example failed:\n{block}\n{ran.stderr}"
