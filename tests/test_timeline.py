"""RelayTimeline: bounded memory, totals kept through coarsening, quantile times and the
sustained rate on known inputs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from byzlab.network.timeline import RelayTimeline


def test_steady_stream_gives_its_rate() -> None:
    timeline = RelayTimeline(width_s=0.001)
    for ms in range(100):  # 50 messages every millisecond for 0.1 s: 50k/s
        timeline.add(ms / 1000 + 0.0005, 50)
    assert timeline.total == 5000
    assert timeline.time_of(0.1) == pytest.approx(0.010)
    assert timeline.time_of(0.9) == pytest.approx(0.090)
    assert timeline.sustained_rate() == pytest.approx(50_000)


def test_ramp_and_tail_are_left_out_of_the_sustained_rate() -> None:
    timeline = RelayTimeline(width_s=0.001)
    timeline.add(0.0, 10)  # a slow start: 10 messages in the first 20 ms
    for ms in range(20, 40):
        timeline.add(ms / 1000, 500)  # 10 000 messages at 500k/s
    timeline.add(0.2, 10)  # a straggler much later
    average = timeline.total / 0.2
    assert timeline.sustained_rate() == pytest.approx(500_000, rel=0.01)
    assert average < 60_000


def test_nothing_relayed_has_no_rate() -> None:
    timeline = RelayTimeline()
    timeline.add(0.5, 0)
    assert timeline.sustained_rate() is None and timeline.time_of(0.5) is None
    assert timeline.to_json()["total"] == 0


def test_a_burst_inside_one_bucket_has_no_rate() -> None:
    """Everything in one bucket: the 10 % and 90 % points share it, and any rate computed
    from them would be the bucket width's, not the traffic's."""
    timeline = RelayTimeline(width_s=0.001)
    timeline.add(0.0102, 500)
    timeline.add(0.0103, 500)
    assert timeline.sustained_rate() is None
    assert timeline.time_of(0.5) == pytest.approx(0.0105)


def test_negative_times_count_at_the_start() -> None:
    timeline = RelayTimeline()
    timeline.add(-1.0, 3)
    assert timeline.counts == [3]


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="width_s"):
        RelayTimeline(width_s=0)
    with pytest.raises(ValueError, match="width_s"):
        RelayTimeline(max_buckets=1)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0, 1000, allow_nan=False), st.integers(0, 10**6)), max_size=200),
    st.integers(2, 64),
)
def test_memory_is_bounded_and_totals_survive_coarsening(
    events: list[tuple[float, int]], max_buckets: int
) -> None:
    timeline = RelayTimeline(width_s=0.001, max_buckets=max_buckets)
    for t, count in events:
        timeline.add(t, count)
        assert len(timeline.counts) <= max_buckets
    total = sum(c for _, c in events)
    assert timeline.total == total == sum(timeline.counts)
    if total:
        # Every message is in the bucket that covers its time (or the last one).
        last = max(t for t, c in events if c)
        assert timeline.time_of(1.0) == pytest.approx(
            (int(last / timeline.width_s) + 1) * timeline.width_s, abs=timeline.width_s
        )
        rate = timeline.sustained_rate()
        assert rate is None or rate > 0


def test_count_until_and_a_json_round_trip() -> None:
    timeline = RelayTimeline(width_s=0.001)
    for ms in range(10):
        timeline.add(ms / 1000, 100)
    again = RelayTimeline.from_json(timeline.to_json())
    assert again.counts == timeline.counts and again.total == 1000
    assert again.count_until(0) == 0
    assert again.count_until(0.0045) == pytest.approx(450)
    assert again.count_until(1.0) == 1000
