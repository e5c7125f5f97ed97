"""Validation: a node that broadcasts what its history cannot justify is ignored, and hostile
input never crashes an honest node or grows its memory without bound."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from byzlab.node.agreement import HonestNode
from byzlab.node.bracha import HPZ, BrachaLocal
from byzlab.node.effects import Broadcast, Effect
from byzlab.node.messages import Kind, RbcMsg, Vote, Write
from byzlab.node.params import Params
from byzlab.node.validation import Knowledge, Verdict
from tests.simutil import run_sim

N, F = 4, 1


def _deliver_stream(know: Knowledge, origin: int, items: list[Vote | Write]) -> list[str]:
    verdicts = []
    for seq, item in enumerate(items, start=1):
        check = know.check(origin, seq, item)
        verdicts.append(check.verdict.value if not check.reason else check.reason)
        if check.verdict is Verdict.VALID:
            know.apply(origin, seq, item)
        else:
            break
    return verdicts


def test_step_values_must_follow_from_their_support() -> None:
    know = Knowledge(Params.practical(N, F), HPZ.coin)
    for q, v in enumerate([1, 1, -1, 1]):
        assert _deliver_stream(know, q, [Vote(1, 1, v)]) == ["valid"]
    support = 0b0111  # the step-1 votes of nodes 0, 1, 2: +1, +1, -1 -> sgn = +1
    honest = Knowledge(Params.practical(N, F), HPZ.coin)
    for q, v in enumerate([1, 1, -1, 1]):
        honest.apply(q, 1, Vote(1, 1, v))
    assert honest.check(3, 2, Vote(1, 2, 1, support)).verdict is Verdict.VALID
    assert honest.check(3, 2, Vote(1, 2, -1, support)).reason == "step-2-value"
    assert honest.check(3, 2, Vote(1, 2, 1, 0b0011)).reason == "support-size"
    assert honest.check(3, 2, Vote(1, 3, 1, support)).reason == "out-of-order"


def test_support_on_unvalidated_votes_waits() -> None:
    know = Knowledge(Params.practical(N, F), HPZ.coin)
    know.apply(0, 1, Vote(1, 1, 1))
    know.apply(1, 1, Vote(1, 1, 1))
    assert know.check(0, 2, Vote(1, 2, 1, 0b0111)).verdict is Verdict.WAIT
    know.apply(2, 1, Vote(1, 1, -1))
    assert know.check(0, 2, Vote(1, 2, 1, 0b0111)).verdict is Verdict.VALID


def test_blackboard_write_rules() -> None:
    know = Knowledge(Params.practical(N, F), HPZ.coin)
    # a write before any vote is out of order; a Write in a baseline protocol is invalid
    assert know.check(0, 1, Write(1, 1, 1)).reason == "out-of-order"
    assert (
        Knowledge(Params.practical(N, F), BrachaLocal.coin).check(0, 1, Write(1, 1, 1)).reason
        == "no-blackboard-in-baseline"
    )


def test_invalid_value_broadcasters_are_ignored_and_recorded() -> None:
    total = 0
    for seed in range(20):
        _, result = run_sim(7, 2, seed=seed, strategy="random-value")
        assert result.agreed and result.valid, f"seed={seed}"
        total += sum(result.rejected.values())
    assert total > 0  # the random values were caught by validation, not by luck


def _running_node(seed: int) -> HonestNode:
    node = HonestNode(
        0, Params.practical(N, F), protocol=HPZ(), input_value=1, rng=random.Random(seed)
    )
    node.start()
    return node


_items = st.one_of(
    st.builds(
        Vote,
        st.integers(1, 5),
        st.integers(1, 4),
        st.integers(-1, 1),
        st.integers(0, 15),
        st.none() | st.tuples(*[st.integers(0, 50)] * N),
    ),
    st.builds(
        Write,
        st.integers(1, 10),
        st.integers(1, 10),
        st.integers(-1, 1),
        st.integers(0, 15),
        st.none() | st.tuples(*[st.integers(0, 50)] * N),
    ),
)
_messages = st.builds(
    RbcMsg,
    st.sampled_from([int(k) for k in (Kind.INITIAL, Kind.ECHO, Kind.READY)]),
    st.integers(0, N - 1),
    st.integers(1, 10_000),
    _items,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(1, N - 1), _messages), max_size=200))
def test_hostile_messages_never_crash_an_honest_node(batch: list[tuple[int, RbcMsg]]) -> None:
    node = _running_node(0)
    for sender, msg in batch:
        effects: list[Effect] = node.receive(sender, msg)  # must not raise
        # an honest node only ever broadcasts its own items and RBC echoes, never garbage
        for e in effects:
            if isinstance(e, Broadcast) and isinstance(e.msg, RbcMsg):
                assert e.msg.kind != Kind.INITIAL or e.msg.origin == 0
    # memory stays bounded by the RBC window, whatever the peers send
    assert node.rbc.open_instances() <= N * node.params.window


def test_flood_of_far_future_instances_is_bounded() -> None:
    node = _running_node(1)
    for seq in range(1, 50_000):
        node.receive(2, RbcMsg(int(Kind.ECHO), 3, seq, Vote(10**6, 1, 1)))
    assert node.rbc.open_instances() <= node.params.window + 1
    assert node.rbc.dropped["beyond-window"] >= 50_000 - node.params.window - 1


def test_in_process_adversary_cannot_crash_a_node_with_malformed_fields() -> None:
    """Byzantine strategies in the simulator bypass the wire decoder; the node still copes."""
    node = _running_node(2)
    hostile = [
        RbcMsg(int(Kind.INITIAL), 99, 1, Vote(1, 1, 1)),
        RbcMsg(int(Kind.INITIAL), 1, 0, Vote(1, 1, 1)),
        RbcMsg(int(Kind.INITIAL), 1, 1, Vote(1, 1, 7)),
        RbcMsg(int(Kind.INITIAL), 1, 1, Vote(1, 2, 1, support=1 << 40 | 0b111)),
        RbcMsg(int(Kind.INITIAL), 1, 1, Write(2, 1, 1, view=(1, 2))),
    ]
    for msg in hostile:
        for sender in range(N):  # enough ECHO/READY from everyone to accept it
            for kind in (Kind.INITIAL, Kind.ECHO, Kind.READY):
                node.receive(sender, RbcMsg(int(kind), msg.origin, msg.seq, msg.item))
    from byzlab.node.messages import DecideMsg

    node.receive(1, DecideMsg(5))
    assert node.rejected["malformed-rbc"] > 0
    assert node.rejected["malformed-decide"] == 1
    assert not node.halted


def test_a_stream_that_can_never_validate_cannot_pile_up() -> None:
    """A Byzantine origin whose items all wait forever is cut off at `window` pending items."""
    params = Params.practical(N, F, window=96)
    node = HonestNode(0, params, protocol=HPZ(), input_value=1, rng=random.Random(0))
    node.start()
    origin = 3
    for seq in range(1, 200):
        # each item claims support from votes that never arrive, so it waits forever
        item = Vote(1, 1, 1) if seq == 1 else Vote(1, 2, 1, support=0b0111)
        for sender in range(N):
            for kind in (Kind.INITIAL, Kind.ECHO, Kind.READY):
                if kind == Kind.INITIAL and sender != origin:
                    continue
                node.receive(sender, RbcMsg(int(kind), origin, seq, item))
    assert node.rejected["pending-overflow"] == 1
    assert sum(len(q) for q in node._pending) <= params.window
