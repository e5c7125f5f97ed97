"""The iterated blackboard (HPZ Theorem 1): a node's record of validated cells and views.

Design note
-----------
An iterated blackboard is an endless sequence BB_1, BB_2, ... of m(t) x n matrices; column i
of every board is written by node i (HPZ §2, Theorem 1). We build it on top of two things the
rest of `node/` already provides:

* one FIFO reliable-broadcast stream per node (rbc.py): node i's l-th broadcast is accepted
  by anyone only after its (l-1)-th, and no two honest nodes accept different items at the
  same (i, l);
* validation (validation.py): an item is used only once the receiver has replayed the
  sender's deterministic transition from the items the sender claims to have used.

Construction. Each cell is one item `Write(board, row, value)` in its writer's stream. A
node enters board b by writing row 1, and writes row r+1 once it has validated n - f writes
of row r (row gating). Board b is *complete* for a node once n - f columns are full (m(b)
cells). At that moment the node *fixes its view*: the vector of its validated stream lengths
per node. Its next broadcast (row 1 of the next board, or step 1 of the next iteration)
carries that vector, and a receiver validates that item only after it has validated every
item the vector covers, checked that the vector shows board b complete and that it covers
exactly the sender's own earlier items. A node's view of all history is thus just n integers
(ARCHITECTURE.md §3), and the cells of board b in a view are, for each writer, the writes to
b among that writer's first view[writer] items.

How each property of Theorem 1 is guaranteed:

1. *Prefix columns, n - f full columns.* Writes of a column are consecutive items of one
   FIFO stream, validated in order, and row r+1 must follow row r (validation rejects a
   gap), so every column in every view is a prefix. A node fixes its view of b only when n - f
   columns are full; a carried view that does not show that is invalid.
2. *Views agree.* Every view is a vector of prefixes of the writers' unique streams, so two
   honest views never hold different values for the same cell: they differ only in how
   long each column is (a cell is either the true value or bottom). The difference is
   confined to columns that are not full in both views, i.e. at most 2f columns of the board
   being fixed, and to cells that a slow writer added after others had fixed their view;
   retroactive adoption (3) closes it for every writer that goes on writing. Our tests
   measure the number of differing cells under random and adversarial schedules and assert
   the bound this construction guarantees. The stronger "only the last write of at most f
   columns" form of HPZ Theorem 1.2 relies on the HPZ22 construction, which is not in
   papers/; the coin and blacklisting code never depend on it for safety (a node's coin and
   weight are recomputed by everyone from its own carried view, see validation.py).
3. *Retroactive adoption of a writer's view.* If q writes to board t+1, its first item after
   fixing BB^(q,t) carries q's view; p validates q's writes only after validating that
   item, and validating it requires p to have validated every cell q's view covers. So when
   p fixes BB^(p,t+1), every cell of BB^(q,t) is in p's view, including cells of earlier
   boards that p had not seen when it fixed them: p adopts them retroactively.
4. *Latency O(sum of m(t')).* Row r+1 of board t needs n - f validated writes of row r, each a
   constant number of RBC hops (INITIAL, ECHO, READY) after the previous row, and completing
   a board needs its m(t) rows; so fixing BB^(p,t) takes O(sum_{t' <= t} m(t')) message
   delays. The simulator reports the measured latency in units of delta.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from byzlab.node.params import Params


@dataclass(slots=True)
class Column:
    """One writer's cells in one board: consecutive stream items from `start_seq` on."""

    start_seq: int
    values: list[int] = field(default_factory=list)
    prefix: list[int] = field(default_factory=lambda: [0])


class BlackboardStore:
    """All validated blackboard cells of one node, indexed for fast view queries."""

    def __init__(self, params: Params) -> None:
        self.params = params
        self.n = params.n
        self._columns: dict[int, list[Column | None]] = {}
        self._row_counts: dict[int, list[int]] = {}
        self._full: dict[int, int] = {}

    def _board(self, board: int) -> list[Column | None]:
        cols = self._columns.get(board)
        if cols is None:
            cols = self._columns[board] = [None] * self.n
            self._row_counts[board] = [0] * (self.params.rows(board) + 1)
            self._full[board] = 0
        return cols

    def record(self, writer: int, seq: int, board: int, row: int, value: int) -> None:
        """Record a validated write; validation guarantees rows arrive in order from 1."""
        cols = self._board(board)
        col = cols[writer]
        if col is None:
            col = cols[writer] = Column(start_seq=seq)
        col.values.append(value)
        col.prefix.append(col.prefix[-1] + value)
        self._row_counts[board][row] += 1
        if row == self.params.rows(board):
            self._full[board] += 1

    def writers_at_row(self, board: int, row: int) -> int:
        counts = self._row_counts.get(board)
        return 0 if counts is None else counts[row]

    def full_columns(self, board: int) -> int:
        return self._full.get(board, 0)

    def is_complete(self, board: int) -> bool:
        return self._full.get(board, 0) >= self.params.quorum

    def column(self, board: int, writer: int) -> Column | None:
        cols = self._columns.get(board)
        return None if cols is None else cols[writer]

    def cells_in_view(self, board: int, writer: int, length: int) -> tuple[int, int]:
        """(number of cells, their sum) of `writer`'s column in `board` within its first
        `length` stream items."""
        cols = self._columns.get(board)
        if cols is None:
            return 0, 0
        col = cols[writer]
        if col is None:
            return 0, 0
        k = length - col.start_seq + 1
        if k <= 0:
            return 0, 0
        size = len(col.values)
        if k > size:
            k = size
        return k, col.prefix[k]

    def column_sums(self, board: int, view: tuple[int, ...]) -> list[int]:
        return [self.cells_in_view(board, j, view[j])[1] for j in range(self.n)]

    def view_complete(self, board: int, view: tuple[int, ...]) -> bool:
        """Does `view` show n - f full columns of `board`?"""
        rows = self.params.rows(board)
        full = 0
        for j in range(self.n):
            if self.cells_in_view(board, j, view[j])[0] == rows:
                full += 1
        return full >= self.params.quorum

    def view_matrix(self, board: int, view: tuple[int, ...]) -> list[list[int | None]]:
        """The board as rows x columns within `view`, None for bottom (for checkers/tests)."""
        rows = self.params.rows(board)
        grid: list[list[int | None]] = [[None] * self.n for _ in range(rows)]
        for j in range(self.n):
            k, _ = self.cells_in_view(board, j, view[j])
            col = self.column(board, j)
            for r in range(k):
                assert col is not None
                grid[r][j] = col.values[r]
        return grid

    def boards(self) -> list[int]:
        return sorted(self._columns)
