"""The adversary's full-information view (HPZ §2, "Full Information & Scheduling").

The adversary sees every message in flight. `AdversaryView.observe` is called for every
send, by the simulator and by the TCP proxy alike, and keeps what the coin and vote attacks
need: every broadcast vote and blackboard cell as soon as its INITIAL leaves its sender
(before any honest node has accepted it), per board and iteration, and the order in which
the writers sent the last row of each board. The blackboard's marks (Ack, Done, Complete)
are not recorded: the scheduler sees each one in flight and needs no history of them.
Corrupted nodes and adversarial schedulers share one view, so the f corrupted nodes act as
one coordinated adversary; the view is also where they leave each other their plans
(`CoinPlan`, made by the corrupted nodes and read by the coin-aware scheduler), exactly as
one adversary would.

Quantities follow HPZ §2.1-2.2 and §3.2: Sigma_G(t) is the clipped sum of the honest
columns of BB_2t, Sigma_B(t) that of the corrupted ones, bias(t) the sum of BB_{2t-1}, and the
adversarial direction sigma(t) = -v* when A_keep is not empty (someone keeps v*), else 0.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from byzlab.node.coin import clip
from byzlab.node.messages import Kind, Message, RbcMsg, Vote, Write
from byzlab.node.params import Params

_INITIAL = int(Kind.INITIAL)


@dataclass
class CoinPlan:
    """The corrupted nodes' plan for the coin board BB_2t of one iteration (the "last word").

    Made once every honest column of BB_2t is out, so the honest coins are known. Under the
    acknowledged-writes blackboard (node/blackboard.py) two honest views of BB_2t can differ
    only in the last cell of at most f writers whose Done is missing, so that is all a plan
    can play with: each corrupted writer b writes `cells[b]`, never sends its Done, and its
    last cell is its *swing cell*; every earlier cell is followed (the next one needed n - f
    Acks covering it), so it is in every honest view. The scheduler lets the honest nodes in
    `plus` validate the swing cells between their own Complete and their fixing quorum, and
    the others only after they fixed their views. `coins` are the values the plan expects the
    nodes to carry into the next iteration (a keeper's is v*), `split` says whether they
    disagree, `mode` names the rule that chose the column sums ("interval", "mirror",
    "mimic"), `made_at` is the virtual time the plan was made (the scheduler's anchor).
    Totals are in units of weight 1: `final_total` is bias + Sigma with every cell in,
    `honest_sum` the weighted honest Sigma_G, `corrupted_sum` Sigma_B with every cell in.
    """

    iteration: int
    cells: dict[int, list[int]]
    plus: frozenset[int]
    coins: dict[int, int]
    split: bool
    keepers: frozenset[int] = frozenset()
    final_total: float = 0.0
    honest_sum: float = 0.0
    corrupted_sum: float = 0.0
    mode: str = "interval"
    made_at: float = 0.0


class AdversaryView:
    """The run's full-information view, shared by the scheduler and every corrupted node
    (see the module docstring). `votes` maps (iteration, step) to {sender: value} of every
    broadcast vote, `cells` board -> writer -> the column's values; `byzantine` and `honest`
    are the corrupted and honest nodes so far (adaptive corruption moves a node across),
    `now` the time of the last message observed."""

    def __init__(self, params: Params, byzantine: Iterable[int]) -> None:
        self.params = params
        self.byzantine = frozenset(byzantine)
        self.honest = frozenset(range(params.n)) - self.byzantine
        self.cells: dict[int, dict[int, list[int]]] = {}
        self.votes: dict[tuple[int, int], dict[int, int]] = {}
        # board -> writers in the order their INITIAL for the board's last row was sent
        self.last_row_order: dict[int, list[int]] = {}
        self.plans: dict[int, CoinPlan] = {}
        # corrupted nodes that write their coin columns to the shared plans
        self.last_word: set[int] = set()
        # set by a scheduler that delivers the coin board for the last word (coin-aware):
        # only then is writing last worth it; otherwise corrupted nodes steer as they go
        self.schedules_last_word = False
        self.now = 0.0

    def corrupt(self, node: int) -> None:
        """Adaptive corruption: from now on `node` counts as Byzantine."""
        self.byzantine = self.byzantine | {node}
        self.honest = self.honest - {node}

    def observe(self, src: int, msg: Message, now: float) -> None:
        self.now = now
        if not isinstance(msg, RbcMsg) or msg.kind != _INITIAL or msg.origin != src:
            return
        item = msg.item
        if isinstance(item, Write):
            column = self.cells.setdefault(item.board, {}).setdefault(src, [])
            if item.row == len(column) + 1:
                column.append(item.value)
                if item.row == self.params.rows(item.board):
                    self.last_row_order.setdefault(item.board, []).append(src)
        elif isinstance(item, Vote):
            self.votes.setdefault((item.iteration, item.step), {})[src] = item.value

    # -- coin quantities ---------------------------------------------------------------

    def column(self, board: int, writer: int) -> list[int]:
        return self.cells.get(board, {}).get(writer, [])

    def column_sum(self, board: int, writer: int) -> int:
        return sum(self.cells.get(board, {}).get(writer, ()))

    def rows_written(self, board: int, writer: int) -> int:
        return len(self.cells.get(board, {}).get(writer, ()))

    def complete_honest(self, board: int) -> list[int]:
        """Honest writers whose whole column of `board` is out, in the order they finished."""
        rows = self.params.rows(board)
        done = [j for j in self.last_row_order.get(board, []) if j in self.honest]
        return [j for j in done if self.rows_written(board, j) == rows]

    def sigma_g(self, iteration: int) -> int:
        xmax = self.params.xmax
        return sum(clip(self.column_sum(2 * iteration, j), xmax) for j in self.honest)

    def sigma_b(self, iteration: int) -> int:
        xmax = self.params.xmax
        return sum(clip(self.column_sum(2 * iteration, j), xmax) for j in self.byzantine)

    def bias(self, iteration: int) -> int:
        return sum(sum(col) for col in self.cells.get(2 * iteration - 1, {}).values())

    def vstar(self, iteration: int) -> int:
        """The majority value v* of an iteration, once any non-bottom step-3 vote is out."""
        for value in self.votes.get((iteration, 3), {}).values():
            if value:
                return value
        return 0

    def keep_nonempty(self, iteration: int) -> bool:
        """Has some node entered coin stage 1 with v* (x >= 1), i.e. A_keep is not empty?"""
        return any(v for v in self.votes.get((iteration, 4), {}).values())

    def sigma(self, iteration: int) -> int:
        """The adversarial direction sigma(t) = -v* if A_keep is not empty, else 0."""
        return -self.vstar(iteration) if self.keep_nonempty(iteration) else 0
