"""Validation: a node uses another node's item only if that node's history justifies it.

Theory of operation (HPZ §2 "Validation"; Bracha 1987; ARCHITECTURE.md §2)
-------------------------------------------------------------------------
p validates q's l-th item only after it validated q's items 1..l-1 (FIFO) and after it has
itself validated every item that q's transition depends on. Honest behaviour is
deterministic given (a) which n - f items a step used, (b) the fixed blackboard view, (c) the
input and the fair coin flips. Items carry (a) as a `support` bitmask and (b) as a `view`
vector, so p replays q's transition exactly:

* step 1 of iteration 1: any input in {-1, +1};
* step 2: sgn of the n - f step-1 values in `support` (Algorithm 1 line 3);
* step 3: v* if more than n/2 of the n - f step-2 values are v*, else bottom (line 4);
* step 4 (coin stage 1): v* if x >= 1 else bottom, x = number of non-bottom step-3 values in
  `support` (line 5; Algorithm 2 line 3);
* step 1 of iteration t+1: v* if x >= 1 (lines 6-7), else the coin outcome: for HPZ the
  exact Coin-Flip output of q's carried view of BB_{2t} (recomputed here with the consensus
  weights, weights.py), for the ideal coin the shared coin, for local coins anything;
* blackboard writes: row 1 of the odd board holds val = v* if any of the n - f stage-1 votes
  in `support` is v*, else 0, and every later row repeats it; even boards hold +-1 (a fair
  coin cannot be checked); row r > 1 needs n - f validated writes of row r - 1; the first item
  after a board carries a view that covers exactly q's earlier items and shows the board
  complete (blackboard.py).

Every check has three outcomes: VALID, INVALID (q broke the protocol: the item and the
rest of q's stream are ignored, and the reason is recorded) or WAIT (p has not yet
validated something the item depends on; it is retried when p learns more). Nothing here
raises on hostile input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Final

from byzlab.node.blackboard import BlackboardStore
from byzlab.node.coin import hpz_coin, ideal_coin, sgn
from byzlab.node.messages import Item, Vote, Write
from byzlab.node.params import Params
from byzlab.node.weights import WeightBook

PROTOCOLS: Final = ("hpz", "bracha-local", "ideal-coin")


class Verdict(Enum):
    VALID = "valid"
    WAIT = "wait"
    INVALID = "invalid"


@dataclass(slots=True)
class Shadow:
    """What p knows of q's protocol state: the consequences of q's validated items."""

    last: Item | None = None
    view: tuple[int, ...] | None = None
    x: dict[int, int] = field(default_factory=dict)
    vstar: dict[int, int] = field(default_factory=dict)
    odd_value: dict[int, int] = field(default_factory=dict)
    dead: str | None = None


@dataclass(slots=True)
class Check:
    verdict: Verdict
    reason: str = ""


_VALID: Final = Check(Verdict.VALID)
_WAIT: Final = Check(Verdict.WAIT)


def _invalid(reason: str) -> Check:
    return Check(Verdict.INVALID, reason)


class Knowledge:
    """Everything p has validated: votes, blackboard cells, per-node shadows and weights."""

    def __init__(self, params: Params, protocol: str, ideal_seed: bytes = b"") -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}; got {protocol!r}")
        self.params = params
        self.protocol = protocol
        self.ideal_seed = ideal_seed
        n = params.n
        self.n = n
        self.validated = [0] * n
        self.votes: dict[tuple[int, int], list[int | None]] = {}
        self.vote_order: dict[tuple[int, int], list[int]] = {}
        self.store = BlackboardStore(params)
        self.shadows = [Shadow() for _ in range(n)]
        self.epoch_views: list[dict[int, tuple[int, ...]]] = [{} for _ in range(n)]
        # board -> the view of that board each node carried (for property-3 checks)
        self.carried_views: list[dict[int, tuple[int, ...]]] = [{} for _ in range(n)]
        self.weights = WeightBook(params, self.store, self.epoch_views)

    # -- queries used by the node's own state machine ---------------------------------

    def vote_count(self, iteration: int, step: int) -> int:
        order = self.vote_order.get((iteration, step))
        return 0 if order is None else len(order)

    def first_quorum(self, iteration: int, step: int) -> tuple[int, list[int]]:
        """The first n - f validated votes of a step: (support bitmask, their values)."""
        order = self.vote_order[(iteration, step)][: self.params.quorum]
        votes = self.votes[(iteration, step)]
        support = 0
        values = []
        for j in order:
            support |= 1 << j
            value = votes[j]
            assert value is not None
            values.append(value)
        return support, values

    def coin(self, view: tuple[int, ...], iteration: int) -> int:
        return hpz_coin(self.store, view, iteration, self.weights.weights_for_iteration(iteration))

    # -- validation ------------------------------------------------------------------

    def check(self, q: int, seq: int, item: Item) -> Check:
        if item.value not in (-1, 0, 1):
            return _invalid("value-out-of-range")
        shadow = self.shadows[q]
        if isinstance(item, Vote):
            return self._check_vote(q, seq, item, shadow)
        return self._check_write(q, seq, item, shadow)

    def _support_values(self, support: int, iteration: int, step: int) -> list[int] | Check:
        if support < 0 or support >> self.n or support.bit_count() != self.params.quorum:
            return _invalid("support-size")
        votes = self.votes.get((iteration, step))
        if votes is None:
            return _WAIT
        values = []
        j = 0
        while support:
            if support & 1:
                value = votes[j]
                if value is None:
                    return _WAIT
                values.append(value)
            support >>= 1
            j += 1
        return values

    def _check_view(self, q: int, seq: int, view: tuple[int, ...] | None, board: int,
                    shadow: Shadow) -> Check:
        if view is None:
            return _invalid("missing-view")
        if len(view) != self.n:
            return _invalid("view-length")
        if view[q] != seq - 1:
            return _invalid("view-not-own-prefix")
        if shadow.view is not None and any(a < b for a, b in zip(view, shadow.view, strict=True)):
            return _invalid("view-not-monotone")
        validated = self.validated
        for j in range(self.n):
            if view[j] > validated[j]:
                return _WAIT
        if not self.store.view_complete(board, view):
            return _invalid("view-board-incomplete")
        return _VALID

    def _check_vote(self, q: int, seq: int, item: Vote, shadow: Shadow) -> Check:
        t, step, value, last = item.iteration, item.step, item.value, shadow.last
        hpz = self.protocol == "hpz"
        if step == 1:
            if value == 0:
                return _invalid("bottom-in-step-1")
            if t == 1:
                if last is not None:
                    return _invalid("out-of-order")
                return _VALID if item.view is None and item.support == 0 else _invalid("extra")
            if hpz:
                if not (isinstance(last, Write) and last.board == 2 * (t - 1)):
                    return _invalid("out-of-order")
                check = self._check_view(q, seq, item.view, 2 * (t - 1), shadow)
                if check.verdict is not Verdict.VALID:
                    return check
                assert item.view is not None
                x, vstar = shadow.x[t - 1], shadow.vstar[t - 1]
                expected = vstar if x >= 1 else self.coin(item.view, t - 1)
                return _VALID if value == expected else _invalid("coin-outcome")
            if not (isinstance(last, Vote) and last.iteration == t - 1 and last.step == 3):
                return _invalid("out-of-order")
            values = self._support_values(item.support, t - 1, 3)
            if isinstance(values, Check):
                return values
            nonzero = [v for v in values if v]
            if nonzero:
                return _VALID if value == nonzero[0] else _invalid("kept-value")
            if self.protocol == "ideal-coin" and value != ideal_coin(self.ideal_seed, t - 1):
                return _invalid("coin-outcome")
            return _VALID
        if not (isinstance(last, Vote) and last.iteration == t and last.step == step - 1):
            return _invalid("out-of-order")
        if step == 4 and not hpz:
            return _invalid("no-coin-stage-in-baseline")
        values = self._support_values(item.support, t, step - 1)
        if isinstance(values, Check):
            return values
        if step == 2:
            expected = sgn(sum(values))
        elif step == 3:
            plus = values.count(1)
            minus = values.count(-1)
            half = self.n / 2
            expected = 1 if plus > half else -1 if minus > half else 0
        else:
            nonzero = [v for v in values if v]
            expected = nonzero[0] if nonzero else 0
        return _VALID if value == expected else _invalid(f"step-{step}-value")

    def _check_write(self, q: int, seq: int, item: Write, shadow: Shadow) -> Check:
        if self.protocol != "hpz":
            return _invalid("no-blackboard-in-baseline")
        b, r, value, last = item.board, item.row, item.value, shadow.last
        if r > self.params.rows(b):
            return _invalid("row-out-of-range")
        odd = b % 2 == 1
        if r == 1:
            if odd:
                t = (b + 1) // 2
                if not (isinstance(last, Vote) and last.iteration == t and last.step == 4):
                    return _invalid("out-of-order")
                values = self._support_values(item.support, t, 4)
                if isinstance(values, Check):
                    return values
                nonzero = [v for v in values if v]
                expected = nonzero[0] if nonzero else 0
                return _VALID if value == expected else _invalid("odd-board-value")
            if not (isinstance(last, Write) and last.board == b - 1):
                return _invalid("out-of-order")
            check = self._check_view(q, seq, item.view, b - 1, shadow)
            if check.verdict is not Verdict.VALID:
                return check
            return _VALID if value in (-1, 1) else _invalid("coin-not-pm1")
        if not (isinstance(last, Write) and last.board == b and last.row == r - 1):
            return _invalid("out-of-order")
        if item.view is not None or item.support:
            return _invalid("extra")
        if self.store.writers_at_row(b, r - 1) < self.params.quorum:
            return _WAIT
        if odd:
            return _VALID if value == shadow.odd_value[b] else _invalid("odd-board-value")
        return _VALID if value in (-1, 1) else _invalid("coin-not-pm1")

    # -- applying a validated item -----------------------------------------------------

    def apply(self, q: int, seq: int, item: Item) -> None:
        shadow = self.shadows[q]
        if isinstance(item, Vote):
            key = (item.iteration, item.step)
            votes = self.votes.get(key)
            if votes is None:
                votes = self.votes[key] = [None] * self.n
                self.vote_order[key] = []
            votes[q] = item.value
            self.vote_order[key].append(q)
            if item.step == 4:
                values = self._support_values(item.support, item.iteration, 3)
                assert isinstance(values, list)
                nonzero = [v for v in values if v]
                shadow.x[item.iteration] = len(nonzero)
                shadow.vstar[item.iteration] = nonzero[0] if nonzero else 0
        else:
            self.store.record(q, seq, item.board, item.row, item.value)
            if item.row == 1 and item.board % 2 == 1:
                shadow.odd_value[item.board] = item.value
        if item.view is not None:
            shadow.view = item.view
            if isinstance(item, Vote):
                self.epoch_views[q][item.iteration] = item.view
                self.carried_views[q][2 * (item.iteration - 1)] = item.view
            else:
                self.carried_views[q][item.board - 1] = item.view
        shadow.last = item
        self.validated[q] = seq
