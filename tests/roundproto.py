"""Shared checks of the round-based protocols (`mmr`, `ben-or`): their codec under hostile
input, their nodes' memory bound, and many seeded simulator runs judged by agreement and
validity. Every failure message names the protocol, n and the seed."""

from __future__ import annotations

import csv
import json
import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack
from hypothesis import given, settings
from hypothesis import strategies as st

from byzlab.api import Broadcast, Decide, DecodeError, Halt, Params
from byzlab.network.framing import FrameError, unpack_batch
from byzlab.node.validity import valid_decision
from byzlab.protocols.messages import DECIDE, MAX_ROUND, RoundCodec, RoundMsg
from byzlab.seeds import derive_rng, ideal_coin_seed
from tests.simutil import build_sim, describe

BYZLAB = str(Path(sys.executable).with_name("byzlab"))
SEEDS = 200
SCHEDULERS = ("random", "split-vote")
# inputs by seed: split halves, random, and both unanimous cases (where validity bites)
INPUTS = ("split", "random", "all-plus", "all-minus")

# anything msgpack can hand a decoder, and then some (tuples, floats, bools, huge ints)
hostile = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats()
    | st.text(max_size=5)
    | st.binary(max_size=5),
    lambda inner: st.lists(inner, max_size=6) | st.tuples(inner, inner, inner),
    max_leaves=8,
)

near = st.sampled_from([-(2**64), -(2**31), -2, -1, 0, 1, 2, 3, 4, MAX_ROUND - 1, MAX_ROUND])
triples = st.tuples(near | st.integers(-5, 5), near | st.integers(0, 100), near)


def valid_messages(codec: RoundCodec) -> st.SearchStrategy[RoundMsg]:
    """Every well-formed message of `codec`'s protocol."""
    rounds = st.integers(1, MAX_ROUND - 1)
    choices = [
        st.builds(RoundMsg, st.just(kind), st.just(0) if kind == DECIDE else rounds, values)
        for kind, spec in codec.kinds.items()
        for values in [st.sampled_from(sorted(spec.values))]
    ]
    return st.one_of(choices)


def codec_tests(codec: RoundCodec) -> tuple[Callable[..., None], ...]:
    """The hypothesis tests of a protocol's codec, for its test module to bind to test_
    names: valid messages round-trip through msgpack with exact sizes, and hostile objects
    and hostile bytes decode to a message or a `DecodeError`, never an exception."""

    @settings(max_examples=500, deadline=None)
    @given(valid_messages(codec))
    def round_trip(msg: RoundMsg) -> None:
        check_round_trip(codec, msg)

    @settings(max_examples=400, deadline=None)
    @given(hostile | triples)
    def hostile_objects(obj: object) -> None:
        check_hostile(codec, obj)

    @settings(max_examples=1000, deadline=None)
    @given(st.binary(max_size=24))
    def hostile_bytes(data: bytes) -> None:
        check_hostile_bytes(codec, data)

    return round_trip, hostile_objects, hostile_bytes


def check_round_trip(codec: RoundCodec, msg: RoundMsg) -> None:
    wire = encode_bytes(codec, msg)
    assert codec.wire_size(msg) == len(wire), (msg, len(wire))
    assert codec.decoder(7)(msgpack.unpackb(wire)) == msg
    assert codec.check(msg) is None
    value = codec.value_of(msg)
    other = codec.equivocal(msg)
    assert value == msg.value and other is not None and codec.check(other) is None
    assert other.value == (-value if value else 1) and (other.kind, other.round) == (
        msg.kind,
        msg.round,
    )


def encode_bytes(codec: RoundCodec, msg: RoundMsg) -> bytes:
    packed = msgpack.packb(codec.encode(msg))
    assert isinstance(packed, bytes)
    return packed


def check_hostile(codec: RoundCodec, obj: object) -> None:
    """A decoder returns a well-formed message or a DecodeError with a reason; never raises."""
    result = codec.decoder(7)(obj)
    if isinstance(result, DecodeError):
        assert result.reason
        assert codec.value_of(obj) is None and codec.equivocal(obj) is None
        assert codec.kind(obj) == "?"
    else:
        assert isinstance(result, RoundMsg) and codec.check(result) is None, (obj, result)
        assert codec.encode(result) == list(obj)  # type: ignore[call-overload]


def check_hostile_bytes(codec: RoundCodec, data: bytes) -> None:
    """Random bytes as the node process reads them: a batch of one message (a msgpack array
    header, then the bytes) unpacked by the real framing, then each item decoded."""
    batch = unpack_batch(b"\x91" + data)
    if not isinstance(batch, FrameError):
        for obj in batch:
            check_hostile(codec, obj)


def nodes(protocol: Any, n: int, f: int, inputs: list[int], seed: int = 0) -> list[Any]:
    params = Params.practical(n, f)
    return [
        protocol.node(
            i,
            params,
            input_value=inputs[i],
            rng=derive_rng(seed, "node", i),
            ideal_seed=ideal_coin_seed(seed),
        )
        for i in range(n)
    ]


def check_flood_is_bounded(protocol: Any, node_window: int) -> None:
    """A Byzantine sender floods a node with every kind of message for 5,000 rounds and
    junk: nothing raises, junk is counted as rejected, far rounds as dropped, and the node
    keeps at most `node_window` rounds of state."""
    node = nodes(protocol, 7, 2, [1] * 7)[0]
    node.start(0.0)
    rng = random.Random(1)
    kinds = [k for k in protocol.kinds if k != DECIDE]
    for rnd in range(1, 5_000):
        for kind in kinds:
            node.receive(6, RoundMsg(kind, rnd, rng.choice((-1, 1))), 0.0)
        assert len(node.rounds) <= node_window, len(node.rounds)
    for junk in (RoundMsg(99, 1, 1), RoundMsg(kinds[0], 0, 1), RoundMsg(kinds[0], 1, 7), "x"):
        assert node.receive(6, junk, 0.0) == []
    assert node.receive(99, RoundMsg(kinds[0], 1, 1), 0.0) == []
    assert sum(node.rejected.values()) == 5 and node.dropped["round-window"] > 0


def check_decide_gadget(protocol: Any) -> None:
    """f + 1 DECIDE(v) make a node decide v, 2f + 1 make it halt; a sender's second DECIDE
    is a duplicate; a halted node takes nothing more."""
    n, f = 16, 3
    node = nodes(protocol, n, f, [-1] * n)[0]
    node.start(0.0)
    for sender in range(1, f + 1):
        assert node.receive(sender, RoundMsg(DECIDE, 0, 1), 0.0) == []
        node.receive(sender, RoundMsg(DECIDE, 0, -1), 0.0)
    assert node.snapshot()["decision"] is None and node.dropped["duplicate-decide"] == f
    effects = node.receive(f + 1, RoundMsg(DECIDE, 0, 1), 0.0)
    assert Decide(1, node.iteration) in effects and Broadcast(RoundMsg(DECIDE, 0, 1)) in effects
    assert node.decision == 1 and not node.halted
    for sender in range(f + 2, 2 * f + 1):
        assert node.receive(sender, RoundMsg(DECIDE, 0, 1), 0.0) == []
    assert not node.halted
    assert node.receive(2 * f + 1, RoundMsg(DECIDE, 0, 1), 0.0) == [Halt("2f+1 DECIDE")]
    assert node.halted and node.phase == "halted"
    assert node.receive(2 * f + 2, RoundMsg(DECIDE, 0, 1), 0.0) == []


# Virtual time a run may take, in units of delta: about 4x the slowest of 200 seeds x 2
# schedulers measured at n = 4..13 (mmr: 19.6 delta at n = 11; ben-or: 22.1 at n = 7 among the
# tested sizes, 48.3 at n = 12), so a run that stops deciding fails instead of running on
MAX_TIME = 100.0


def check_seeds(protocol: Any, n: int, scheduler: str, seeds: range = range(SEEDS)) -> None:
    """`SEEDS` simulator runs at n with f = the protocol's own bound, f nodes equivocating
    (the same message with opposite values to two halves): every run halts within
    `MAX_TIME` with every honest node decided, in agreement, on a valid value
    (byzlab.node.validity; the simulator also checks both at every decision, and
    tests/conftest.py byzlab.invariants after each run)."""
    f = protocol.max_faults(n)
    for seed in seeds:
        sim = build_sim(
            n,
            f,
            seed=seed,
            protocol=protocol,
            strategy="equivocate",
            scheduler=scheduler,
            inputs=INPUTS[seed % len(INPUTS)],
        )
        sim.max_time = MAX_TIME
        result = sim.run()
        what = f"{protocol.name} n={n} f={f} {describe(result)}"
        assert result.stopped == "all-honest-halted", what
        assert result.agreed and result.valid and result.decision is not None, what
        assert valid_decision(result.decision, sim.inputs, sim.honest_ids), what
        assert len(result.honest_decisions) == n - f, what


def byzlab(*args: str) -> str:
    """Run the real ``byzlab`` command; its stdout, or a failure showing its stderr."""
    proc = subprocess.run([BYZLAB, *args], capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, (args, proc.returncode, proc.stderr[-3000:])
    return proc.stdout


def check_local_run(tmp_path: Path, protocol: Any, n: int, scheduler: str = "split-vote") -> None:
    """``byzlab run --backend local`` on a scenario file naming the protocol: one process
    per honest node, the f corrupted ones equivocating inside the real adversary proxy. The
    honest nodes agree on a valid value, their messages are the protocol's own, and the
    run records where the protocol's code came from."""
    f = protocol.max_faults(n)
    byzantine = "".join(
        f'\n[[adversary.byzantine]]\nnode = {i}\nstrategy = "equivocate"\n' for i in range(n - f, n)
    )
    scenario = tmp_path / f"{protocol.name}.toml"
    scenario.write_text(
        f'[run]\nn = {n}\nf = {f}\nseed = 3\nprotocol = "{protocol.name}"\n'
        f'inputs = "split"\ntimeout_s = 60\n\n[adversary]\nscheduler = "{scheduler}"\n'
        f"delta_s = 0.002\n{byzantine}"
    )
    out = tmp_path / "out"
    summary = json.loads(
        byzlab("run", str(scenario), "--backend", "local", "--json", "--out", str(out))
    )
    what = f"{protocol.name} n={n} f={f} seed=3 on local processes: {summary}"
    assert summary["backend"] == "local" and summary["protocol"] == protocol.name, what
    assert summary["agreed"] and summary["valid"], what
    assert summary["stopped"] == "all-honest-halted", what
    assert len(summary["honest_decisions"]) == n - f, what
    kinds = {spec.name for spec in protocol.kinds.values()}
    assert set(summary["messages_by_kind"]) == kinds, what
    assert [(p["kind"], p["module"]) for p in summary["plugins"]] == [
        ("protocol", type(protocol).__module__)
    ], what


def check_matrix_and_sweep(tmp_path: Path, protocol: Any, n: int) -> None:
    """``byzlab matrix`` and ``byzlab sweep`` run the protocol like a built-in one: every
    cell and every run agrees."""
    f = protocol.max_faults(n)
    table = tmp_path / "matrix.csv"
    byzlab(
        "matrix", "--n", str(n), "--f", str(f), "--seeds", "3", "--protocols", protocol.name,
        "--strategies", "equivocate,silent", "--schedulers", "random,split-vote",
        "--jobs", "1", "--out", str(table),
    )  # fmt: skip
    with table.open() as fh:
        rows = list(csv.DictReader(fh))
    cells = {(r["strategy"], r["scheduler"]) for r in rows}
    assert cells == {(a, b) for a in ("equivocate", "silent") for b in SCHEDULERS}, rows
    assert all(r["protocol"] == protocol.name and r["agreement_rate"] == "1.0" for r in rows), rows
    sweep = tmp_path / "sweep.toml"
    sweep.write_text(
        f"[run]\nn = {n}\nf = {f}\n\n[sweep]\n"
        f'"run.protocol" = ["{protocol.name}"]\n'
        '"adversary.scheduler" = ["random", "split-vote"]\n'
        '"adversary.strategy" = ["equivocate"]\nseeds = [0, 1]\n'
    )
    store = tmp_path / "store"
    byzlab("sweep", str(sweep), "--out", str(store), "--jobs", "1")
    runs = [json.loads(line) for line in byzlab("results", "ls", str(store), "--json").splitlines()]
    assert len(runs) == 4, runs
    assert all(r["protocol"] == protocol.name and r["agreed"] for r in runs), runs
