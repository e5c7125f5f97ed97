"""Consensus weights per epoch, recomputed by everyone from each node's own carried view.

Theory of operation (HPZ §3.3, Algorithm 3 line 6)
--------------------------------------------------
At the end of epoch k every node p computes local weights w^(p)_{.,k+1} from its view of the
epoch's even blackboards (correlations -> excess graph -> Rising-Tide, see blacklist.py). The
consensus weight of node i is i's *own* opinion w^(i)_{i,k+1}, rounded to 0 at or below
w_min = sqrt(n)/T. Node i carries its end-of-epoch view in its first vote of epoch k+1
(Theorem 1 property 3), so every p recomputes w^(i)_{i,k+1} exactly from i's view: a
Byzantine node cannot claim a weight its view does not justify, and all honest nodes that
need i's weight agree on it bit for bit (fixed point, see blacklist.py).

A node p only ever needs w_i for epochs in which i has cells in the view being evaluated;
those cells come after i's epoch-opening vote in i's FIFO stream, so p has validated that
vote and knows i's view. For a node p knows nothing about, the weight is irrelevant: its
columns are empty, every edge at it has capacity 0 and Rising-Tide never touches it. We use
0 there and never cache it.

Weights restart at 1 every K_max + 1 epochs (Theorem 15), via `Params.epoch_of`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from byzlab.node.blackboard import BlackboardStore
from byzlab.node.blacklist import WEIGHT_ONE, consensus_weight, update_weights
from byzlab.node.coin import clip
from byzlab.node.params import Params


class WeightBook:
    """Lazily computed consensus weights w_{i,e} (absolute epoch e = 0, 1, 2, ...)."""

    def __init__(
        self,
        params: Params,
        store: BlackboardStore,
        epoch_views: Sequence[dict[int, tuple[int, ...]]],
    ) -> None:
        self.params = params
        self.store = store
        self._epoch_views = epoch_views
        self._memo: dict[tuple[int, int], int] = {}
        self._ones = [WEIGHT_ONE] * params.n

    def epoch_index(self, iteration: int) -> int:
        return (iteration - 1) // self.params.T

    def weights_for_iteration(self, iteration: int) -> list[int]:
        e = self.epoch_index(iteration)
        if e % (self.params.k_max + 1) == 0:
            return self._ones
        return [self.weight(j, e) for j in range(self.params.n)]

    def known(self, j: int, e: int) -> bool:
        """Can this node compute w_{j,e}? (It has validated j's view opening epoch e.)"""
        return e % (self.params.k_max + 1) == 0 or (e * self.params.T + 1) in self._epoch_views[j]

    def weight(self, j: int, e: int) -> int:
        """w_{j,e} in fixed point; 0 when j's view for epoch e is not known here."""
        p = self.params
        if e % (p.k_max + 1) == 0:
            return WEIGHT_ONE
        cached = self._memo.get((j, e))
        if cached is not None:
            return cached
        view = self._epoch_views[j].get(e * p.T + 1)
        if view is None:
            return 0
        local = self.local_weights(view, e)
        w = consensus_weight(float(local[j]), p.w_min)
        fixed = round(w * WEIGHT_ONE)
        self._memo[(j, e)] = fixed
        return fixed

    def local_weights(self, view: tuple[int, ...], e: int) -> np.ndarray:
        """w^(view)_{.,e}: Algorithm 3 lines 3-5 on the epoch e-1 boards within `view`."""
        p = self.params
        prev = np.array([self.weight(i, e - 1) for i in range(p.n)], dtype=np.float64)
        prev /= WEIGHT_ONE
        first = (e - 1) * p.T + 1
        x = np.zeros((p.T, p.n), dtype=np.int64)
        for row, t in enumerate(range(first, first + p.T)):
            for i in range(p.n):
                s = self.store.cells_in_view(2 * t, i, view[i])[1]
                if s:
                    x[row, i] = clip(s, p.xmax)
        return update_weights(x, prev, eps=p.eps, f=p.f, m=p.m, T=p.T, beta=p.beta)
