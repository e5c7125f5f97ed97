"""PoW difficulty adjustment: a Bayesian log-hashrate filter, Bitcoin's window rule, ASERT.

Source: "ベイズ推定でProof of Workの難易度調整アルゴリズムを導出する" (deriving a PoW difficulty
adjustment algorithm by Bayesian estimation), a Japanese technical note (2019, revised
2020-03-21) prompted by S. Noda, K. Okumura, Y. Hashimoto, "A Lucas Critique to the
Difficulty Adjustment Algorithm of the Bitcoin System". Section names in the modules are the
note's (Japanese) headings with a translation.

Everything is expressed in the note's *winning rate* ``w`` — the probability per hash per second
of finding a block, i.e. the inverse of difficulty.  With hashrate ``h`` a block takes an
exponential time with mean ``1 / (w h)``; the target block time is ``b0`` (600 s).

One concept per module, every public name importable from ``byzlab.sidecars.difficulty``:

* ``algorithm``: what a difficulty adjustment algorithm is here (one winning rate per block);
* ``bayesian``: the note's Bayesian log-hashrate filter, derived step by step (``LevelDAA``);
* ``baselines``: Bitcoin's window rule and ASERT;
* ``simulation``: inelastic and elastic hashrate, the step response every algorithm is compared
  on, and why the window rule diverges;
* ``plot``: the step response as a PNG;
* ``cli``: the ``byzlab difficulty`` command group (``command``).
"""

from __future__ import annotations

from byzlab.sidecars.difficulty.algorithm import DifficultyAlgorithm
from byzlab.sidecars.difficulty.baselines import ASERT, BitcoinDAA
from byzlab.sidecars.difficulty.bayesian import LevelDAA
from byzlab.sidecars.difficulty.cli import command
from byzlab.sidecars.difficulty.plot import plot_step_response
from byzlab.sidecars.difficulty.simulation import (
    HashrateModel,
    StepResponse,
    default_algorithms,
    oscillation_amplitude,
    simulate,
    step_response,
)

__all__ = [
    "ASERT",
    "BitcoinDAA",
    "DifficultyAlgorithm",
    "HashrateModel",
    "LevelDAA",
    "StepResponse",
    "command",
    "default_algorithms",
    "oscillation_amplitude",
    "plot_step_response",
    "simulate",
    "step_response",
]
