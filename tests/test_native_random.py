"""The native engine's Mersenne Twister against CPython's `random.Random`, bit for bit.

Every draw a simulator run makes (the schedulers' `random()` and `expovariate`, the local
coins' `choice`) must come out of the native engine exactly as CPython computes it, or the
trace hashes part; these tests compare the extension's generator with CPython's on random
seeds, states and arguments (hypothesis). Skipped when the extension is not built.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from byzlab import native
from tests.nativeutil import requires_native

pytestmark = requires_native

seeds = st.integers(min_value=-(2**200), max_value=2**200)


def _pair(seed: int) -> tuple[random.Random, object]:
    return random.Random(seed), native.native_random(seed)


@settings(max_examples=300, deadline=None)
@given(seed=seeds, draws=st.integers(min_value=1, max_value=1400))
def test_random_and_seeding_match(seed: int, draws: int) -> None:
    """Seeding from any int (init_by_array over its words) and random(), across a twist."""
    py, nat = _pair(seed)
    got = [nat.random() for _ in range(draws)]
    want = [py.random() for _ in range(draws)]
    assert got == want, f"seed={seed}: first difference at draw {_first_diff(got, want)}"
    assert nat.state() == list(py.getstate()[1]), f"seed={seed}"


@settings(max_examples=300, deadline=None)
@given(seed=seeds, ks=st.lists(st.integers(min_value=0, max_value=300), max_size=40))
def test_getrandbits_matches(seed: int, ks: list[int]) -> None:
    py, nat = _pair(seed)
    for k in ks:
        words = nat.getrandbits_words(k)
        got = sum(w << (32 * i) for i, w in enumerate(words))
        assert got == py.getrandbits(k), f"seed={seed} k={k}"


@settings(max_examples=300, deadline=None)
@given(seed=seeds, bounds=st.lists(st.integers(min_value=1, max_value=2**64 - 1), max_size=40))
def test_randbelow_and_choice_match(seed: int, bounds: list[int]) -> None:
    py, nat = _pair(seed)
    for bound in bounds:
        assert nat.randbelow(bound) == py._randbelow(bound), f"seed={seed} n={bound}"
    seq = list(range(7))
    for _ in range(20):
        assert seq[nat.choice_index(len(seq))] == py.choice(seq), f"seed={seed}"
    assert nat.choice_index(2) == [-1, 1].index(py.choice((-1, 1))), f"seed={seed}"


@settings(max_examples=200, deadline=None)
@given(seed=seeds, length=st.integers(min_value=0, max_value=300))
def test_shuffle_matches(seed: int, length: int) -> None:
    py, nat = _pair(seed)
    want = list(range(length))
    py.shuffle(want)
    assert nat.shuffle_indices(length) == want, f"seed={seed} len={length}"


@settings(max_examples=300, deadline=None)
@given(seed=seeds, data=st.data())
def test_sample_matches(seed: int, data: st.DataObject) -> None:
    """Both of CPython's methods: the pool for small populations, the set for large ones."""
    n = data.draw(st.integers(min_value=0, max_value=3000), label="n")
    k = data.draw(st.integers(min_value=0, max_value=min(n, 200)), label="k")
    py, nat = _pair(seed)
    want = py.sample(range(n), k)
    assert nat.sample_indices(n, k) == want, f"seed={seed} n={n} k={k}"


@settings(max_examples=300, deadline=None)
@given(
    seed=seeds,
    lambd=st.floats(min_value=1e-3, max_value=1e3, allow_nan=False, allow_infinity=False),
)
def test_expovariate_matches(seed: int, lambd: float) -> None:
    py, nat = _pair(seed)
    for _ in range(50):
        assert nat.expovariate(lambd) == py.expovariate(lambd), f"seed={seed} lambd={lambd}"


@settings(max_examples=100, deadline=None)
@given(seed=seeds, skip=st.integers(min_value=0, max_value=2000))
def test_state_handover_continues_the_stream(seed: int, skip: int) -> None:
    """A run hands its streams over as getstate() snapshots, mid-stream."""
    py = random.Random(seed)
    for _ in range(skip):
        py.random()
    nat = native.extension().Random.from_state(native.mt_state(py))
    assert [nat.random() for _ in range(700)] == [py.random() for _ in range(700)], (
        f"seed={seed} skip={skip}"
    )


def test_a_bad_state_is_refused() -> None:
    ext = native.extension()
    assert ext is not None
    with pytest.raises(ValueError, match="624 words"):
        ext.Random.from_state([0] * 10)
    with pytest.raises(ValueError, match="624 words"):
        ext.Random.from_state([0] * 624 + [625])


def _first_diff(a: list[float], b: list[float]) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y), -1)
