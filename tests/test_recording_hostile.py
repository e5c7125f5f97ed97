"""Hostile messages and hostile run directories against the message trace.

A strategy plugin may hand the simulator any object as a message. In the simulator a
corrupted node's messages make the trip over the wire (byzlab.network.wire): what its
protocol's codec cannot carry never reaches an honest node, as on a real run, and is counted
as the receivers' ``decode-<reason>``. Each run here is made twice, with the recording off
and on, and must end alike with the same trace hash. The recorder itself must still record
whatever it is given (a real run's proxy and plugins' ``describe`` hand it messages too):
fed the hostile messages directly, its rows carry their fields as they are (an origin of
2**40, a vote's value 5), a field no int64 holds as "does not apply", and a ``describe``
that raises gives no fields. ``byzlab trace`` must show such a run, and refuse a run
directory whose file was edited (a delivery before its send, a summary whose values are of
the wrong type or negative) in one line naming the file and what is wrong.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from byzlab.adversary.strategies import ByzantineNode
from byzlab.cli import main
from byzlab.network.messagelog import FILE_NAME, MessageRecorder, MessagesMeta, read_messages
from byzlab.node.bracha import BUILTIN_PROTOCOLS, HPZ
from byzlab.node.effects import Broadcast, Effect
from byzlab.node.messages import Kind, RbcMsg, Vote, Write
from byzlab.node.protocol import Protocol
from byzlab.orchestration.backend import execute
from byzlab.orchestration.scenario import parse_scenario
from byzlab.orchestration.simrun import SimRun
from byzlab.orchestration.traceview.rundir import load_run_dir
from byzlab.plugins import protocol as load_protocol
from byzlab.protocols.messages import RoundMsg
from tests.exputil import invoke

HUGE = 2**70  # more than an int64 holds
INITIAL = int(Kind.INITIAL)


class HostileBracha(ByzantineNode):
    """Broadcasts hand-built Bracha messages no decoder would let through, then is silent."""

    name = "hostile-bracha"
    description = "broadcasts malformed messages"
    messages: ClassVar[list[object]] = [
        RbcMsg(INITIAL, 2**40, 0, Vote(1, 1, 1)),  # an origin past int32
        # a board that is not an int (of a kind the receivers drop: validation would raise)
        RbcMsg(9, 6, 1, Write("x", 0, 1)),  # type: ignore[arg-type]
        RbcMsg(INITIAL, 6, 2, Vote(1, 1, 5)),  # a value out of {-1, 0, 1}
        RbcMsg(INITIAL, 6, 3, Vote(1, 1, -128)),
        RbcMsg(INITIAL, 6, 4, Vote(1, 2**62, 2**62)),
        RbcMsg(INITIAL, 6, 5, Vote(HUGE, 1, HUGE)),  # past int64
        RbcMsg(INITIAL, 6, 6, Vote(1, 1, True)),  # a bool is not an int
    ]

    def start(self, now: float = 0.0) -> list[Effect]:
        return [Broadcast(msg) for msg in self.messages]  # type: ignore[arg-type]

    def receive(self, sender: int, msg: Any, now: float = 0.0) -> list[Effect]:
        return []


class HostileRounds(HostileBracha):
    """The same for a round protocol: fields out of the protocol's ranges."""

    name = "hostile-rounds"
    messages: ClassVar[list[object]] = [RoundMsg(1, 1, 5), RoundMsg(1, 2**40, 1), RoundMsg(9, 1, 1)]


class BrittleHPZ(HPZ):
    """HPZ whose optional `describe` raises on every message (a plugin with a bug): the run is
    recorded all the same, its messages with no fields."""

    name = "brittle-hpz"

    def describe(self, msg: object) -> Any:
        raise RuntimeError("planted bug in describe")


def run(tmp: Path, protocol: str, strategy: str, messages: str, seed: int) -> Path:
    scn = parse_scenario(
        {
            "run": {"n": 7, "seed": seed, "protocol": protocol, "messages": messages},
            "adversary": {
                "scheduler": "random",
                "byzantine": [{"node": 6, "strategy": f"tests.test_recording_hostile:{strategy}"}],
            },
        }
    )
    return execute(SimRun(scn, out_root=tmp / messages)).out_dir


def both(tmp: Path, protocol: str, strategy: str, seed: int) -> tuple[dict[str, Any], pa.Table]:
    """The run with its recording off and on: it must end alike. The recorded run's summary
    and messages."""
    off = json.loads((run(tmp, protocol, strategy, "off", seed) / "summary.json").read_text())
    on_dir = run(tmp, protocol, strategy, "on", seed)
    on = json.loads((on_dir / "summary.json").read_text())
    for key in ("trace_hash", "agreed", "stopped", "deliveries", "messages", "rejected"):
        assert on[key] == off[key], f"seed={seed} {protocol}/{strategy}: recording changed {key}"
    return on, read_messages(on_dir / FILE_NAME)


def hostile_sends(table: pa.Table) -> list[dict[str, Any]]:
    sends = table.filter(pc.and_(pc.equal(table["event"], "send"), table["corrupt_src"]))
    return sends.to_pylist()


def recorded(protocol: Protocol, messages: list[object]) -> pa.Table:
    """The rows a recorder makes of `messages`, each broadcast by corrupted node 6."""
    recorder = MessageRecorder(protocol)
    for msg in messages:
        recorder.send(0.0, 6, -1, msg, corrupt=True)
    return recorder.table(MessagesMeta(7, 2, protocol.name, "delta", "sim"))


def test_hostile_bracha_messages_are_recorded_as_they_are() -> None:
    rows = hostile_sends(recorded(BUILTIN_PROTOCOLS["hpz"], HostileBracha.messages))
    got = [(r["origin"], r["iteration"], r["step"], r["board"], r["row"], r["value"]) for r in rows]
    assert got == [
        (2**40, 1, 1, -1, -1, 1),
        (6, -1, -1, -1, 0, 1),  # board "x": no board, no iteration; its row and value kept
        (6, 1, 1, -1, -1, 5),
        (6, 1, 1, -1, -1, -128),
        (6, 1, 2**62, -1, -1, 2**62),
        (6, -1, 1, -1, -1, None),  # past int64: "does not apply"
        (6, 1, 1, -1, -1, None),
    ]
    assert all(r["dst"] == -1 for r in rows)


def test_hostile_round_messages_are_recorded_as_they_are() -> None:
    rows = hostile_sends(recorded(load_protocol("mmr"), HostileRounds.messages))
    assert [r["kind"] for r in rows] == ["?"] * 3
    # a round protocol describes only messages of its own (`check` passes): none of these
    assert {(r["iteration"], r["step"], r["value"]) for r in rows} == {(-1, -1, None)}


def test_a_describe_that_raises_gives_no_fields() -> None:
    table = recorded(BrittleHPZ(), HostileBracha.messages)
    fields = ("origin", "rbc_seq", "iteration", "step", "board", "row")
    assert all(pc.all(pc.equal(table[f], -1)).as_py() for f in fields)
    assert table["value"].null_count == table.num_rows


@pytest.mark.parametrize(
    ("protocol", "strategy", "refused"),
    [("hpz", "HostileBracha", 7), ("mmr", "HostileRounds", 3)],
)
@pytest.mark.parametrize("seed", [0, 1])
def test_hostile_messages_never_reach_an_honest_node(
    tmp_path: Path, protocol: str, strategy: str, refused: int, seed: int
) -> None:
    """None of the hostile messages survives the wire: none is on the trace, each is counted
    as a decode refusal once per honest receiver (6 of them), and the run ends alike with the
    recording off and on."""
    summary, table = both(tmp_path, protocol, strategy, seed)
    where = f"seed={seed} {protocol}/{strategy}"
    assert hostile_sends(table) == [], where
    decode = {k: v for k, v in summary["rejected"].items() if k.startswith("decode-")}
    assert sum(decode.values()) == 6 * refused, (decode, where)
    assert summary["message_trace"] == FILE_NAME, where


# --------------------------------------------------------------------------- byzlab trace


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A recorded run of `HostileBracha`, seed 0."""
    return run(tmp_path_factory.mktemp("hostile"), "hpz", "HostileBracha", "on", 0)


def test_byzlab_trace_shows_a_run_of_hostile_messages(hostile_run: Path) -> None:
    out = hostile_run
    summary = invoke(main, ["trace", out, "--summary"])
    assert summary.exit_code == 0, f"seed=0: {summary.output}"
    page = invoke(main, ["trace", out])
    assert page.exit_code == 0, f"seed=0: {page.output}"
    table = load_run_dir(out).messages
    assert table is not None and table.deliveries > 0, "seed=0"


def edited(run_dir: Path, tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copytree(run_dir, target)
    return target


def refusal(target: Path) -> str:
    """The one line byzlab trace refuses `target` with."""
    result = invoke(main, ["trace", target, "--summary"])
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output, result.output
    return result.stderr


def test_a_delivery_before_its_send_is_refused_naming_its_row(
    hostile_run: Path, tmp_path: Path
) -> None:
    out = hostile_run
    table = pq.read_table(out / FILE_NAME)
    row = [i for i, e in enumerate(table["event"].to_pylist()) if e == "deliver"][5]
    sent = table["sent"].to_pylist()
    sent[row] += 100.0  # the arrow would be drawn backwards
    index = table.schema.get_field_index("sent")
    target = edited(out, tmp_path, "early")
    pq.write_table(
        table.set_column(index, table.schema.field(index), pa.array(sent, pa.float64())),
        target / FILE_NAME,
    )
    says = refusal(target)
    assert f"{target / FILE_NAME}: row {row} is a delivery at time" in says, says


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"agreed": "yes"}, "agreed: "),
        ({"iterations": -7}, "iterations: "),
        ({"latency_delta": -3.0}, "latency_delta: "),
        ({"epochs": 2.5}, "epochs: "),
        ({"inputs": [1, "1"]}, "inputs[1]: "),
        ({"decision_times": {"0": -0.5}}, "decision_times.0: "),
        ({"messages_by_kind": {"ECHO": -1}}, "messages_by_kind.ECHO: "),
        ({"byzantine": {"6": 3}}, "byzantine.6: "),
    ],
)
def test_a_summary_of_wrong_types_or_negative_values_is_refused(
    hostile_run: Path, tmp_path: Path, change: dict[str, Any], says: str
) -> None:
    target = edited(hostile_run, tmp_path, "summary")
    path = target / "summary.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **change}))
    line = refusal(target)
    assert f"{path}: not a run's summary: {says}" in line, (change, line)
