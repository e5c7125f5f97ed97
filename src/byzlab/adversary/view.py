"""The adversary's full-information view (HPZ §2, "Full Information & Scheduling").

The adversary sees every message in flight. `AdversaryView.observe` is called for every
send, by the simulator and by the TCP proxy alike, and keeps what the coin and vote attacks
need: every broadcast vote and blackboard cell as soon as its INITIAL leaves its sender
(before any honest node has accepted it), per board and iteration. Corrupted nodes and
adversarial schedulers share one view, so the f corrupted nodes act as one coordinated
adversary.

Quantities follow HPZ §2.1-2.2 and §3.2: Sigma_G(t) is the clipped sum of the honest
columns of BB_2t, Sigma_B(t) that of the corrupted ones, bias(t) the sum of BB_{2t-1}, and the
adversarial direction sigma(t) = -v* when A_keep is not empty (someone keeps v*), else 0.
"""

from __future__ import annotations

from collections.abc import Iterable

from byzlab.node.coin import clip
from byzlab.node.messages import Kind, Message, RbcMsg, Vote, Write
from byzlab.node.params import Params

_INITIAL = int(Kind.INITIAL)


class AdversaryView:
    def __init__(self, params: Params, byzantine: Iterable[int]) -> None:
        self.params = params
        self.byzantine = frozenset(byzantine)
        self.honest = frozenset(range(params.n)) - self.byzantine
        self.cells: dict[int, dict[int, list[int]]] = {}
        self.votes: dict[tuple[int, int], dict[int, int]] = {}
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
        elif isinstance(item, Vote):
            self.votes.setdefault((item.iteration, item.step), {})[src] = item.value

    # -- coin quantities ---------------------------------------------------------------

    def column_sum(self, board: int, writer: int) -> int:
        return sum(self.cells.get(board, {}).get(writer, ()))

    def rows_written(self, board: int, writer: int) -> int:
        return len(self.cells.get(board, {}).get(writer, ()))

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
