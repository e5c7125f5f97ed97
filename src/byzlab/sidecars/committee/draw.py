"""The verifiable stake-weighted draw of a committee from a public seed (not in the paper).

:func:`draw_committee` turns ``(stakes, k, seed)`` into seat counts with a counter-mode PRF and
inverse-CDF sampling on exact integer prefix sums ``P_i = s_0 + ... + s_i``, ``T = P_{n-1}``::

    block(c) = BLAKE2b-512(key=seed, person="byzlab-cdraw-v1", data=uint64_be(c)),  c = 0, 1, ...
    r = int_be(block(c));  if r >= 2^512 - (2^512 mod T): c += 1 and retry  (exact rejection)
    u = r mod T  (uniform on [0, T));  seat owner = min{i : P_i > u};  c += 1

Only integer arithmetic and BLAKE2b are involved (no NumPy generator, no floats), so any machine
and any language reproduces the committee; :func:`verify_committee` recomputes it. Seat ``j``
normally uses block ``j`` (a retry happens with probability below ``2^-256``). The seed comes
from :mod:`byzlab.sidecars.committee.seed`.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from byzlab.sidecars.committee.inputs import (
    IntArray,
    _as_int_stakes,
    _check_k,
    _check_seed_bytes,
)

DRAW_PERSON = b"byzlab-cdraw-v1"
_BLOCK_BITS = 512


def _prf_block(seed: bytes, counter: int) -> int:
    digest = hashlib.blake2b(
        counter.to_bytes(8, "big"), digest_size=64, key=seed, person=DRAW_PERSON
    ).digest()
    return int.from_bytes(digest, "big")


def draw_seats(stakes: Sequence[int] | npt.ArrayLike, k: int, seed: bytes) -> list[int]:
    """Owner of each of the ``k`` seats, in draw order (see the module doc for the spec)."""
    return _draw_owners(_as_int_stakes(stakes), _check_k(k), _check_seed_bytes(seed))


def _draw_owners(values: list[int], kk: int, key: bytes) -> list[int]:
    prefix = list(itertools.accumulate(values))
    total = prefix[-1]
    limit = (1 << _BLOCK_BITS) - ((1 << _BLOCK_BITS) % total)
    owners: list[int] = []
    counter = 0
    while len(owners) < kk:
        r = _prf_block(key, counter)
        counter += 1
        if r >= limit:  # exact rejection keeps u uniform on [0, total)
            continue
        owners.append(bisect.bisect_right(prefix, r % total))
    return owners


def draw_committee(stakes: Sequence[int] | npt.ArrayLike, k: int, seed: bytes) -> IntArray:
    """Seat counts of a verifiable stake-weighted draw of ``k`` seats with replacement."""
    values = _as_int_stakes(stakes)
    owners = _draw_owners(values, _check_k(k), _check_seed_bytes(seed))
    return np.bincount(np.asarray(owners, dtype=np.int64), minlength=len(values)).astype(np.int64)


def verify_committee(
    stakes: Sequence[int] | npt.ArrayLike, k: int, seed: bytes, seats: npt.ArrayLike
) -> bool:
    """True iff ``seats`` is exactly the committee drawn from ``(stakes, k, seed)``."""
    expected = draw_committee(stakes, k, seed)
    claimed = np.asarray(seats)
    if claimed.shape != expected.shape or not np.issubdtype(claimed.dtype, np.integer):
        return False
    return bool(np.array_equal(claimed, expected))
