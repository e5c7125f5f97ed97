"""Stake-weighted committees: the Dirichlet-multinomial seat model, BFT sizing, verifiable draws.

Everything here is checked against R. Jones, "A Bayesian Model for Committee Selection in
Blockchain Consensus Protocols" (April 2025; "the paper"); section, equation and algorithm
numbers in the modules are the paper's. The package holds one concept per module, and every
public name is importable from ``byzlab.sidecars.committee``:

* ``seats``: the seat model ``p ~ Dir(alpha)``, ``X ~ Mult(k, p)``, its moments and likelihood
  (§2, §4, §5, eqs. 1-5 and 10);
* ``inference``: fitting it to observed committees, the conjugate posterior of ``p`` and an
  MCMC sampler for ``alpha`` (§4, §8.1, eqs. 6-7);
* ``thresholds``: the largest tolerable top-stake coalitions and the committee size from
  expected or apportioned seats (§10-§11.4, Algorithms 1-3);
* ``chernoff``: the committee size from a Chernoff bound, with its exact and simulated check
  (§11.5, Algorithm 4);
* ``seed`` and ``draw``: the public seed from members' signatures and the verifiable
  stake-weighted draw it drives (not in the paper; byte-level specifications in the modules);
* ``fait_accompli``: weighted Fait Accompli committees against a plain draw (Gaži, Kiayias,
  Russell, ACM CCS 2023);
* ``coalitions``: synthetic stakes and adversary coalitions for experiments;
* ``cli``: the ``byzlab committee`` command group (``command``);
* ``inputs``: the argument checks the modules share.
"""

from __future__ import annotations

from byzlab.sidecars.committee.chernoff import (
    ChernoffValidation,
    KSearch,
    adversary_share,
    chernoff_committee_size,
    chernoff_tail_bound,
    dirichlet_tail_floor,
    exact_tail_probability,
    simulate_tail_curve,
    smallest_simulated_k,
    validate_chernoff,
)
from byzlab.sidecars.committee.cli import command
from byzlab.sidecars.committee.coalitions import (
    random_stake_coalition,
    synthetic_stakes,
    tail_stake_coalition,
    top_stake_coalition,
)
from byzlab.sidecars.committee.draw import draw_committee, draw_seats, verify_committee
from byzlab.sidecars.committee.fait_accompli import (
    FaitAccompliCommittee,
    FaitAccompliSplit,
    SchemeStats,
    compare_fait_accompli,
    draw_fait_accompli,
    fait_accompli_split,
)
from byzlab.sidecars.committee.inference import (
    AlphaPosterior,
    dirichlet_posterior,
    fit_alpha_mcmc,
)
from byzlab.sidecars.committee.seats import (
    dirichlet_multinomial_logpmf,
    expected_seats,
    seat_variance,
    simulate_seats,
)
from byzlab.sidecars.committee.seed import (
    public_seed,
    seed_message,
    sign_seed_share,
    verify_seed_share,
)
from byzlab.sidecars.committee.thresholds import (
    BftThresholds,
    apportion_seats,
    bft_thresholds,
    optimal_committee_size,
)

__all__ = [
    "AlphaPosterior",
    "BftThresholds",
    "ChernoffValidation",
    "FaitAccompliCommittee",
    "FaitAccompliSplit",
    "KSearch",
    "SchemeStats",
    "adversary_share",
    "apportion_seats",
    "bft_thresholds",
    "chernoff_committee_size",
    "chernoff_tail_bound",
    "command",
    "compare_fait_accompli",
    "dirichlet_multinomial_logpmf",
    "dirichlet_posterior",
    "dirichlet_tail_floor",
    "draw_committee",
    "draw_fait_accompli",
    "draw_seats",
    "exact_tail_probability",
    "expected_seats",
    "fait_accompli_split",
    "fit_alpha_mcmc",
    "optimal_committee_size",
    "public_seed",
    "random_stake_coalition",
    "seat_variance",
    "seed_message",
    "sign_seed_share",
    "simulate_seats",
    "simulate_tail_curve",
    "smallest_simulated_k",
    "synthetic_stakes",
    "tail_stake_coalition",
    "top_stake_coalition",
    "validate_chernoff",
    "verify_committee",
    "verify_seed_share",
]
