"""Consensus weights through the protocol plumbing: the views, column sums and epoch indexing
of weights.py feed Rising-Tide, and an anti-correlated column loses its weight."""

from __future__ import annotations

import numpy as np

from byzlab.node.blacklist import WEIGHT_ONE
from byzlab.node.bracha import HPZ
from byzlab.node.params import Params
from byzlab.node.validation import Knowledge


def _epoch_of_boards(seed: int, params: Params) -> tuple[Knowledge, tuple[int, ...]]:
    """Epoch 0's even boards: honest columns 0..2 fair coins, column 3 writes, cell by cell,
    the opposite of the honest majority of that row (a scripted anti-correlated writer)."""
    rng = np.random.default_rng(seed)
    know = Knowledge(params, HPZ.coin)
    n = params.n
    seqs = [0] * n
    for t in range(1, params.T + 1):
        board = 2 * t
        for row in range(1, params.m + 1):
            honest = [int(v) for v in rng.choice([-1, 1], size=n - 1)]
            values = [*honest, -1 if sum(honest) >= 0 else 1]
            for j in range(n):
                seqs[j] += 1
                know.store.record(j, seqs[j], board, row, values[j])
    return know, tuple(seqs)


def test_anticorrelated_column_loses_weight_and_honest_pairs_do_not() -> None:
    params = Params.practical(4, 1, m=8, T=40)
    for seed in range(5):
        know, view = _epoch_of_boards(seed, params)
        local = know.weights.local_weights(view, e=1)
        assert local[3] < 0.5, f"seed={seed}: corrupted column kept weight {local[3]}"
        # pairs are docked equally (HPZ §3.3): the honest side loses no more than node 3
        honest_loss = float(np.sum(1.0 - local[:3]))
        assert honest_loss <= 1.0 - local[3] + 1e-12, f"seed={seed}: weights {local}"
        # every node recomputes node 3's consensus weight from node 3's own view
        know.epoch_views[3][params.T + 1] = view
        assert know.weights.weight(3, 1) < WEIGHT_ONE // 2, f"seed={seed}"


def test_weights_restart_after_k_max_plus_one_epochs() -> None:
    params = Params.practical(4, 1, T=2)
    know = Knowledge(params, HPZ.coin)
    cycle = params.k_max + 1
    first_of_restart = cycle * params.T + 1
    assert know.weights.weights_for_iteration(1) == [WEIGHT_ONE] * 4
    assert know.weights.weights_for_iteration(first_of_restart) == [WEIGHT_ONE] * 4
    # without any validated view, other epochs' weights are unknown and count as 0
    assert know.weights.weights_for_iteration(params.T + 1) == [0] * 4
    assert not know.weights.known(0, 1)
