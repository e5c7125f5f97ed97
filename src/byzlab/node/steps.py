"""The Bracha step rule: the value a vote takes from the n - f validated votes before it.

HPZ Algorithm 1 (lines 3-7) and Algorithm 2 (line 3), from node p's side, each time p has
the first n - f validated votes of a step (its *support*):

* step 2: sgn of the n - f step-1 values, sgn(0) = +1;
* step 3: v* if more than n/2 of the n - f step-2 values are v*, else bottom (0);
* step 4 (coin stage 1): v* if x >= 1, else bottom, where x is the number of non-bottom
  values among the n - f step-3 votes and v* the value they carry (all equal when they are
  validated: two majorities of more than n/2 share a sender). The same "v* if any, else
  bottom" is the value p keeps into the next iteration when x >= 1, and the value of its
  odd-board cells from the n - f stage-1 votes.

This is the one copy of the rule: the honest node computes its next vote with it
(agreement.py), validation replays another node's transition with it (validation.py), and
the adversary's quorum picking predicts what a support it could claim would yield.
"""

from __future__ import annotations

from collections.abc import Sequence

from byzlab.node.coin import sgn


def tally(values: Sequence[int]) -> tuple[int, int]:
    """(x, v*) of a quorum of step-3 (or stage-1) votes: how many values are non-bottom, and
    the first of them (0 if none)."""
    nonzero = [v for v in values if v]
    return len(nonzero), nonzero[0] if nonzero else 0


def kept_value(values: Sequence[int]) -> int:
    """v* if any of `values` is non-bottom (the first such), else bottom (0)."""
    return next((v for v in values if v), 0)


def step_value(step: int, values: Sequence[int], n: int) -> int:
    """The value of a step-`step` vote (2, 3 or 4) whose support holds `values`, the votes of
    step `step - 1`."""
    if step == 2:
        return sgn(sum(values))
    if step == 3:
        half = n / 2
        return 1 if values.count(1) > half else -1 if values.count(-1) > half else 0
    return kept_value(values)
