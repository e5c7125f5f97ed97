"""Bracha reliable broadcast: thresholds, FIFO delivery, duplicates and equivocation."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from byzlab.node.effects import Broadcast, Effect, Event
from byzlab.node.messages import Kind, RbcMsg, Vote
from byzlab.node.rbc import ReliableBroadcast


def _network(n: int, f: int) -> list[ReliableBroadcast]:
    return [ReliableBroadcast(i, n, f, window=64) for i in range(n)]


def _run(
    nodes: list[ReliableBroadcast],
    initial: list[tuple[int, int, RbcMsg]],
    rng: random.Random,
    honest: set[int],
) -> dict[int, list[tuple[int, int, object]]]:
    """Deliver messages in a random order until quiet; Byzantine ids in `nodes` are skipped
    as receivers (they do not relay)."""
    pending = list(initial)
    delivered: dict[int, list[tuple[int, int, object]]] = {i: [] for i in honest}
    while pending:
        sender, dst, msg = pending.pop(rng.randrange(len(pending)))
        if dst not in honest:
            continue
        out: list[Effect] = []
        got = nodes[dst].handle(sender, msg, out)
        if got:
            delivered[dst].extend(got)
        for effect in out:
            if isinstance(effect, Broadcast):
                assert isinstance(effect.msg, RbcMsg)
                pending.extend((dst, d, effect.msg) for d in range(len(nodes)))
    return delivered


def test_thresholds() -> None:
    rbc = ReliableBroadcast(0, 4, 1, window=16)
    assert (rbc.echo_threshold, rbc.amplify_threshold, rbc.accept_threshold) == (3, 2, 3)
    rbc = ReliableBroadcast(0, 10, 3, window=16)
    assert (rbc.echo_threshold, rbc.amplify_threshold, rbc.accept_threshold) == (7, 4, 7)


def test_honest_broadcast_is_accepted_by_all_in_fifo_order() -> None:
    n, f = 7, 2
    nodes = _network(n, f)
    initial = []
    for seq in (1, 2, 3):
        msg = nodes[0].broadcast(Vote(1, seq, 1))
        initial.extend((0, d, msg) for d in range(n))
    for seed in range(20):
        nodes = _network(n, f)
        for seq in (1, 2, 3):
            nodes[0].broadcast(Vote(1, seq, 1))
        delivered = _run(nodes, initial, random.Random(seed), set(range(n)))
        for i in range(n):
            assert [s for _, s, _ in delivered[i]] == [1, 2, 3], f"seed={seed} node={i}"


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    n_f=st.sampled_from([(4, 1), (7, 2), (10, 3)]),
    split=st.integers(0, 100),
)
def test_equivocating_sender_gets_at_most_one_value_accepted(
    seed: int, n_f: tuple[int, int], split: int
) -> None:
    n, f = n_f
    rng = random.Random(seed)
    nodes = _network(n, f)
    byzantine = 0
    honest = set(range(1, n))
    a = RbcMsg(int(Kind.INITIAL), byzantine, 1, Vote(1, 1, 1))
    b = RbcMsg(int(Kind.INITIAL), byzantine, 1, Vote(1, 1, -1))
    cut = 1 + split % (n - 1)
    initial = [(byzantine, d, a if d <= cut else b) for d in range(n)]
    # the Byzantine origin also echoes and readies both values to everyone
    for value in (a.item, b.item):
        for kind in (Kind.ECHO, Kind.READY):
            initial.extend((byzantine, d, RbcMsg(int(kind), byzantine, 1, value)) for d in range(n))
    delivered = _run(nodes, initial, rng, honest)
    accepted = {item for got in delivered.values() for _, _, item in got}
    assert len(accepted) <= 1, f"seed={seed} accepted {accepted}"
    # totality: if one honest node accepted, all did
    counts = {len(got) for got in delivered.values()}
    assert counts in ({0}, {1}), f"seed={seed} counts {counts}"


def test_duplicates_and_conflicts_are_dropped_and_recorded() -> None:
    rbc = ReliableBroadcast(0, 4, 1, window=16)
    out: list[Effect] = []
    echo = RbcMsg(int(Kind.ECHO), 2, 1, Vote(1, 1, 1))
    rbc.handle(1, echo, out)
    rbc.handle(1, echo, out)
    rbc.handle(1, RbcMsg(int(Kind.ECHO), 2, 1, Vote(1, 1, -1)), out)
    assert rbc.dropped["duplicate-echo"] == 1
    assert rbc.dropped["conflicting-echo"] == 1
    assert any(isinstance(e, Event) and e.name == "rbc-conflicting-echo" for e in out)
    # an INITIAL that does not come from its origin is forged
    rbc.handle(3, RbcMsg(int(Kind.INITIAL), 2, 2, Vote(1, 2, 1)), out)
    assert rbc.dropped["initial-not-from-origin"] == 1


def test_only_first_message_of_each_type_counts() -> None:
    rbc = ReliableBroadcast(0, 4, 1, window=16)
    out: list[Effect] = []
    ready = RbcMsg(int(Kind.READY), 1, 1, Vote(1, 1, 1))
    for _ in range(5):
        assert rbc.handle(2, ready, out) is None
    assert rbc.delivered_count(1) == 0  # one sender's READYs never reach 2f+1


def test_window_bounds_instances_per_origin() -> None:
    rbc = ReliableBroadcast(0, 4, 1, window=16)
    out: list[Effect] = []
    for seq in range(1, 1000):
        rbc.handle(1, RbcMsg(int(Kind.ECHO), 1, seq, Vote(1, 1, 1)), out)
    assert rbc.open_instances() == 16
    assert rbc.dropped["beyond-window"] == 1000 - 1 - 16


def test_a_sender_repeating_new_values_cannot_grow_an_instance() -> None:
    """Found by benchmarks/bench_flood.py: every conflicting ECHO used to be stored before
    it was recognised as the sender's second one, so one Byzantine peer could grow a single
    instance (memory, and the linear scan of its values) without bound."""
    n = 4
    rbc = ReliableBroadcast(0, n, 1, window=16)
    out: list[Effect] = []
    for support in range(10_000):
        for kind in (Kind.ECHO, Kind.READY):
            rbc.handle(
                3,
                RbcMsg(
                    int(kind), 1, 1, Vote(1, 1, 1, support=support % 16, view=(support, 0, 0, 0))
                ),
                out,
            )
    inst = rbc._instances[1][1]
    assert len(inst.items) <= 2 * n
    assert rbc.dropped["conflicting-echo"] == rbc.dropped["conflicting-ready"] == 9_999
    # the honest senders' votes still count as before
    for sender in (0, 1, 2):
        rbc.handle(sender, RbcMsg(int(Kind.READY), 1, 1, Vote(1, 1, 1)), out)
    assert rbc.delivered_count(1) == 1
