"""Validation: a node uses another node's item only if that node's history justifies it.

Theory of operation (HPZ §2 "Validation"; Bracha 1987)
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
  coin cannot be checked); row r > 1 follows row r - 1 of q's column; no write to a board q
  has declared complete; and every write item after q's first cell waits for n - f Acks
  covering q's previous cell (the write rule, blackboard.py);
* marks: an Ack is for q's first uncompleted board and covers exactly q's earlier items; a
  Done follows q's last row of its board; a Complete is for the next board in order, after q
  entered it, and its view shows n - f Dones; the first protocol item after a board carries
  q's fixed view, which shows n - f Completes of it, including q's own (blackboard.py).

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
from byzlab.node.coin import ImmediateCoin, hpz_coin
from byzlab.node.messages import Ack, Complete, Done, Item, Vote, Write
from byzlab.node.params import Params
from byzlab.node.steps import kept_value, step_value, tally
from byzlab.node.weights import WeightBook


class Verdict(Enum):
    VALID = "valid"
    WAIT = "wait"
    INVALID = "invalid"


@dataclass(slots=True)
class Shadow:
    """What p knows of q's protocol state: the consequences of q's validated items."""

    last: Vote | Write | None = None  # q's latest protocol item (marks aside)
    vote: tuple[int, int] = (0, 0)  # (iteration, step) of q's latest vote
    last_cell: tuple[int, int] = (0, 0)  # (board, row) of q's latest cell
    last_cell_seq: int = 0  # its stream position, 0 before q's first cell
    completed: int = 0  # the last board q declared complete
    done: int = 0  # the last board q declared its column full in
    view: tuple[int, ...] | None = None  # q's latest fixed view
    live_view: tuple[int, ...] | None = None  # q's latest Ack or Complete view
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
    """Everything p has validated: votes, blackboard cells, per-node shadows and weights.

    `coin` is the protocol's immediate coin (node/coin.py), or None for HPZ's Coin-Flip:
    then a step-4 vote, the blackboards and their marks are part of the protocol, and
    otherwise each of them is invalid."""

    def __init__(self, params: Params, coin: ImmediateCoin | None, ideal_seed: bytes = b"") -> None:
        self.params = params
        self.immediate = coin
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
        if isinstance(item, Write):
            return self._check_write(q, seq, item, shadow)
        if self.immediate is not None:
            return _invalid("no-blackboard-in-baseline")
        if item.value or item.support or (item.view is None) != isinstance(item, Done):
            return _invalid("extra")
        if isinstance(item, Ack):
            return self._check_ack(q, seq, item, shadow)
        if isinstance(item, Done):
            return self._check_done(q, item, shadow)
        return self._check_complete(q, seq, item, shadow)

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

    def _check_view(
        self, q: int, seq: int, view: tuple[int, ...] | None, board: int, shadow: Shadow
    ) -> Check:
        """A fixed view of `board` carried by q's item `seq`: it covers q's own Complete of
        the board and nothing of q's beyond its earlier items (q may have sent Acks between
        fixing and this item), grows, and shows n - f Completes of the board."""
        if view is None:
            return _invalid("missing-view")
        if len(view) != self.n:
            return _invalid("view-length")
        if not self.store.complete_seq(board, q) <= view[q] <= seq - 1:
            return _invalid("view-not-own-prefix")
        if shadow.view is not None and any(a < b for a, b in zip(view, shadow.view, strict=True)):
            return _invalid("view-not-monotone")
        if not self._covered(view):
            return _WAIT
        if not self.store.view_complete(board, view):
            return _invalid("view-board-incomplete")
        return _VALID

    def _covered(self, view: tuple[int, ...]) -> bool:
        validated = self.validated
        return all(view[j] <= validated[j] for j in range(self.n))

    def _check_live_view(
        self, q: int, seq: int, view: tuple[int, ...] | None, shadow: Shadow
    ) -> Check:
        """The view of an Ack or a Complete: exactly q's validated items when it sent it."""
        if view is None or len(view) != self.n:
            return _invalid("view-length")
        if view[q] != seq - 1:
            return _invalid("view-not-own-prefix")
        last = shadow.live_view
        if last is not None and any(a < b for a, b in zip(view, last, strict=True)):
            return _invalid("view-not-monotone")
        return _VALID if self._covered(view) else _WAIT

    def _write_rule(self, q: int, board: int, shadow: Shadow) -> Check:
        """n - f Acks of boards <= `board` must cover q's previous cell (blackboard.py)."""
        if shadow.last_cell_seq == 0:
            return _VALID
        covering = self.store.acks_covering(q, shadow.last_cell_seq, board)
        return _VALID if covering >= self.params.quorum else _WAIT

    def _check_ack(self, q: int, seq: int, item: Ack, shadow: Shadow) -> Check:
        if item.board != shadow.completed + 1:
            return _invalid("ack-board")
        return self._check_live_view(q, seq, item.view, shadow)

    def _check_done(self, q: int, item: Done, shadow: Shadow) -> Check:
        b = item.board
        if shadow.completed >= b or shadow.done >= b:
            return _invalid("out-of-order")
        if shadow.last_cell != (b, self.params.rows(b)):
            return _invalid("done-before-full")
        return self._write_rule(q, b, shadow)

    def _check_complete(self, q: int, seq: int, item: Complete, shadow: Shadow) -> Check:
        b = item.board
        if b != shadow.completed + 1:
            return _invalid("out-of-order")
        if b % 2 == 1 and shadow.vote != ((b + 1) // 2, 4):
            return _invalid("out-of-order")
        check = self._check_live_view(q, seq, item.view, shadow)
        if check.verdict is not Verdict.VALID:
            return check
        assert item.view is not None
        if self.store.view_dones(b, item.view) < self.params.quorum:
            return _invalid("complete-without-dones")
        return _VALID

    def _check_vote(self, q: int, seq: int, item: Vote, shadow: Shadow) -> Check:
        t, step, value = item.iteration, item.step, item.value
        immediate = self.immediate
        if step == 1:
            if value == 0:
                return _invalid("bottom-in-step-1")
            if t == 1:
                if shadow.vote != (0, 0):
                    return _invalid("out-of-order")
                return _VALID if item.view is None and item.support == 0 else _invalid("extra")
            if immediate is None:
                if shadow.vote != (t - 1, 4) or shadow.completed != 2 * (t - 1):
                    return _invalid("out-of-order")
                check = self._check_view(q, seq, item.view, 2 * (t - 1), shadow)
                if check.verdict is not Verdict.VALID:
                    return check
                assert item.view is not None
                x, vstar = shadow.x[t - 1], shadow.vstar[t - 1]
                expected = vstar if x >= 1 else self.coin(item.view, t - 1)
                return _VALID if value == expected else _invalid("coin-outcome")
            if shadow.vote != (t - 1, 3):
                return _invalid("out-of-order")
            if item.view is not None:
                return _invalid("extra")
            values = self._support_values(item.support, t - 1, 3)
            if isinstance(values, Check):
                return values
            vstar = kept_value(values)
            if vstar:
                return _VALID if value == vstar else _invalid("kept-value")
            if not immediate.valid(self.ideal_seed, t - 1, value):
                return _invalid("coin-outcome")
            return _VALID
        if shadow.vote != (t, step - 1):
            return _invalid("out-of-order")
        if step == 4 and immediate is not None:
            return _invalid("no-coin-stage-in-baseline")
        if item.view is not None:
            return _invalid("extra")
        values = self._support_values(item.support, t, step - 1)
        if isinstance(values, Check):
            return values
        expected = step_value(step, values, self.n)
        return _VALID if value == expected else _invalid(f"step-{step}-value")

    def _check_write(self, q: int, seq: int, item: Write, shadow: Shadow) -> Check:
        if self.immediate is not None:
            return _invalid("no-blackboard-in-baseline")
        b, r, value = item.board, item.row, item.value
        if r > self.params.rows(b):
            return _invalid("row-out-of-range")
        if shadow.completed >= b:
            return _invalid("write-after-complete")
        odd = b % 2 == 1
        t = (b + 1) // 2
        if r == 1:
            if shadow.last_cell[0] >= b or shadow.completed != b - 1 or shadow.vote != (t, 4):
                return _invalid("out-of-order")
            if odd:
                if item.view is not None:
                    return _invalid("extra")
                values = self._support_values(item.support, t, 4)
                if isinstance(values, Check):
                    return values
                if value != kept_value(values):
                    return _invalid("odd-board-value")
            else:
                if item.support:
                    return _invalid("extra")
                check = self._check_view(q, seq, item.view, b - 1, shadow)
                if check.verdict is not Verdict.VALID:
                    return check
                if value not in (-1, 1):
                    return _invalid("coin-not-pm1")
            return self._write_rule(q, b, shadow)
        if shadow.last_cell != (b, r - 1):
            return _invalid("out-of-order")
        if item.view is not None or item.support:
            return _invalid("extra")
        if odd:
            if value != shadow.odd_value[b]:
                return _invalid("odd-board-value")
        elif value not in (-1, 1):
            return _invalid("coin-not-pm1")
        return self._write_rule(q, b, shadow)

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
            shadow.vote = key
            if item.step == 4:
                values = self._support_values(item.support, item.iteration, 3)
                assert isinstance(values, list)
                shadow.x[item.iteration], shadow.vstar[item.iteration] = tally(values)
            if item.view is not None:
                shadow.view = item.view
                self.epoch_views[q][item.iteration] = item.view
                self.carried_views[q][2 * (item.iteration - 1)] = item.view
            shadow.last = item
        elif isinstance(item, Write):
            self.store.record(q, seq, item.board, item.row, item.value)
            if item.row == 1 and item.board % 2 == 1:
                shadow.odd_value[item.board] = item.value
            shadow.last_cell = (item.board, item.row)
            shadow.last_cell_seq = seq
            if item.view is not None:
                shadow.view = item.view
                self.carried_views[q][item.board - 1] = item.view
            shadow.last = item
        elif isinstance(item, Ack):
            assert item.view is not None
            self.store.record_ack(q, item.board, item.view)
            shadow.live_view = item.view
        elif isinstance(item, Done):
            self.store.record_done(q, seq, item.board)
            shadow.done = item.board
        else:
            self.store.record_complete(q, seq, item.board)
            shadow.completed = item.board
            shadow.live_view = item.view
        self.validated[q] = seq
