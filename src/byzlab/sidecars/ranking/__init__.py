"""Peer ranking with connectivity-based trust: ranks, trust, incentive and stake inflation.

Source: Y. Rao, J. Steeves, A. Shaabana, D. Attevelt, M. McAteer, "BitTensor: A Peer-to-Peer
Intelligence Market" (2020), arXiv:2003.03917. Equation, section and appendix numbers in the
modules are the paper's. One concept per module, every public name importable from
``byzlab.sidecars.ranking``:

* ``mechanism``: ranks, connectivity, trust, incentive and inflation (Eqs. 1, 2, 4, 5,
  Figure 6 and appendix 12.7);
* ``collusion``: the §"Collusion" experiment, an honest majority against a disjoint cabal, as
  the paper's two-group program and on an explicit random network;
* ``readings``: which reading of the paper's ambiguous text reproduces its printed numbers;
* ``cli``: the ``byzlab ranking`` command group (``command``).
"""

from __future__ import annotations

from byzlab.sidecars.ranking.cli import command
from byzlab.sidecars.ranking.collusion import (
    PAPER_CABAL_SHARES,
    disjoint_cabal_network,
    random_weight_matrix,
    simulate_cabal,
    two_group_cabal_share,
)
from byzlab.sidecars.ranking.mechanism import (
    connectivity_matrix,
    incentive,
    inflate,
    rank_scores,
    sigmoid,
    trust_scores,
)
from byzlab.sidecars.ranking.readings import (
    READINGS,
    Reading,
    cabal_share_under_reading,
    reading_table,
)

__all__ = [
    "PAPER_CABAL_SHARES",
    "READINGS",
    "Reading",
    "cabal_share_under_reading",
    "command",
    "connectivity_matrix",
    "disjoint_cabal_network",
    "incentive",
    "inflate",
    "random_weight_matrix",
    "rank_scores",
    "reading_table",
    "sigmoid",
    "simulate_cabal",
    "trust_scores",
    "two_group_cabal_share",
]
