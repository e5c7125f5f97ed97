"""The iterated blackboard (HPZ Theorem 1): a node's record of validated cells and views.

Design note
-----------
An iterated blackboard is an endless sequence BB_1, BB_2, ... of m(t) x n matrices; column i
of every board is written by node i (HPZ §2, Theorem 1). HPZ takes the construction from
Huang, Pettie and Zhu, "Byzantine Agreement in Polynomial Time with Near-Optimal Resilience"
(STOC 2022, arXiv:2202.13452); what the analysis of the coin and of blacklisting needs from
it is property 2: *two honest views of all history differ in at most f cells* (Lemma 4,
Lemma 6.1, Lemma 12). We build it on two things the rest of `node/` provides:

* one FIFO reliable-broadcast stream per node (rbc.py): node i's l-th broadcast is accepted
  by anyone only after its (l-1)-th, and no two honest nodes accept different items at the
  same (i, l);
* validation (validation.py): an item is used only once the receiver has validated every
  item it depends on, and replayed the sender's deterministic transition.

A node's view of all history is n integers (how many of each node's items it has
validated); the cells of board b in a view are, for each writer, its writes to b among its
first view[writer] items.

Construction (acknowledged writes). Besides cells (`Write`), streams carry three marks:

* `Ack(b, view)`: "I have validated everything in `view`". b is the first board the sender
  has not declared complete. An honest node sends one whenever its stream is idle and it has
  validated cells its last Ack did not cover (so Acks batch themselves: one per RBC round
  trip), and never for a board it has completed.
* *The write rule.* Every write item of q (a cell, or `Done`) after q's first cell is valid
  only once the receiver has validated n - f Acks, from distinct nodes, of boards no later
  than the item's board, whose views cover q's previous cell. Receivers enforce it (WAIT).
* `Done(b)`: "my column of b is full" (its previous write item is row m(b) of b); a column is
  full only once its Done is validated.
* `Complete(b, view)`: sent on validating n - f Dones of b (the view shows them); then the
  node writes nothing more to b, even if its own column is unfinished (it abandons it).
  Completes go in board order. After validating n - f Completes of b a node *fixes its view*
  of b: its validated vector at that moment. Its next protocol item (row 1 of the next even
  board, or step 1 of the next iteration) carries that vector, and receivers check that it
  shows n - f Completes of b and covers the sender's own Complete.

Why property 2 holds. Call a cell c of q *followed* at t if q has a valid write item on a
board <= t after c. Such an item needed n - f Acks of boards <= t covering c; p's fixed view
of t needed n - f Completes of t; the two quorums share n - 2f >= f + 1 nodes, so an honest
h. h sent its Ack of board b' <= t before its Complete of b', hence before its Complete of t
(Completes go in board order), and h's views grow along its stream, so h's Complete of t
covers c, and p validated everything h's Complete covers: c is in p's view. So every view
fixed at t or later holds every followed cell. A cell that is not followed is the last cell
q wrote on boards <= t: one per writer. Writers with a valid Done of t have all their cells
followed; at least n - f writers have one (every honest Complete saw n - f Dones, and RBC
makes every valid Done eventually validated everywhere), so at most f writers lack it.
Hence two views fixed at t or later differ, over boards 1..t, in at most f cells, each the
last write of a different writer: exactly Theorem 1.2, over all history and across time
(what Lemma 6.1 compares: the first honest fixer's view of BB_{2t-1} against any later
view). Two honest views never hold different values for one cell, because columns are
prefixes of one RBC stream.

The other properties:

1. *Prefix columns, n - f full.* Cells of a column are consecutive writes of one stream and
   row r + 1 must follow row r; a fixed view shows n - f Completes, each of which shows n - f
   Dones, so n - f columns are full in it.
3. *Retroactive adoption.* q's first item after fixing BB^(q,t) carries q's view; p validates
   it only after everything it covers, so by the time p fixes a later board it holds q's
   whole view of the first t boards, including cells p had not seen when it fixed them.
4. *Latency O(sum m(t)).* Each row costs a write and an Ack: two RBCs, 6 message delays;
   a board adds Done and Complete. This is about twice the message delays of an
   unacknowledged construction, measured in the simulator (README).

Liveness. While no honest node has completed b, honest nodes ack every cell they validate,
so every honest writer's cells get n - f Acks and n - f honest columns reach Done; once one
honest node has seen n - f Dones, every honest node will, sends Complete and fixes. A writer
that fell behind (its last cell unacknowledged when the others completed the board) is
never stuck: its next write needs Acks of any board up to the one it writes to, and every
honest node acks, with its whole view, when it enters a board. Honest nodes ack and
complete without waiting for their own column, so no honest node waits on another's
progress. A node whose column is abandoned simply has fewer cells on that board: HPZ allows
f partial columns, and the adversary decides who is slow.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

from byzlab.node.params import Params


@dataclass(slots=True)
class Column:
    """One writer's cells in one board, in row order, with their stream positions (a
    writer's Acks and votes sit between its cells in its stream)."""

    seqs: list[int] = field(default_factory=list)
    values: list[int] = field(default_factory=list)
    prefix: list[int] = field(default_factory=lambda: [0])


class BlackboardStore:
    """All validated blackboard cells and marks of one node, indexed for fast view queries."""

    def __init__(self, params: Params) -> None:
        self.params = params
        self.n = params.n
        self._columns: dict[int, list[Column | None]] = {}
        # board -> writer -> seq of its Done / Complete of that board
        self._done: dict[int, dict[int, int]] = {}
        self._complete: dict[int, dict[int, int]] = {}
        # per acker: the boards of its Acks in order, and the latest view per board
        self._ack_boards: list[list[int]] = [[] for _ in range(params.n)]
        self._ack_views: list[dict[int, tuple[int, ...]]] = [{} for _ in range(params.n)]
        self.cells = 0

    def _board(self, board: int) -> list[Column | None]:
        cols = self._columns.get(board)
        if cols is None:
            cols = self._columns[board] = [None] * self.n
        return cols

    def record(self, writer: int, seq: int, board: int, row: int, value: int) -> None:
        """Record a validated write; validation guarantees rows arrive in order from 1."""
        cols = self._board(board)
        col = cols[writer]
        if col is None:
            col = cols[writer] = Column()
        col.seqs.append(seq)
        col.values.append(value)
        col.prefix.append(col.prefix[-1] + value)
        self.cells += 1

    # -- marks -------------------------------------------------------------------------

    def record_done(self, writer: int, seq: int, board: int) -> None:
        self._done.setdefault(board, {})[writer] = seq

    def record_complete(self, writer: int, seq: int, board: int) -> None:
        self._complete.setdefault(board, {})[writer] = seq

    def record_ack(self, acker: int, board: int, view: tuple[int, ...]) -> None:
        boards = self._ack_boards[acker]
        if not boards or boards[-1] != board:
            boards.append(board)
        self._ack_views[acker][board] = view

    def done_count(self, board: int) -> int:
        return len(self._done.get(board, ()))

    def complete_count(self, board: int) -> int:
        return len(self._complete.get(board, ()))

    def complete_seq(self, board: int, writer: int) -> int:
        """The seq of `writer`'s Complete of `board`, 0 if none is validated."""
        return self._complete.get(board, {}).get(writer, 0)

    def acks_covering(self, writer: int, seq: int, max_board: int) -> int:
        """How many nodes have a validated Ack of a board <= `max_board` whose view covers
        `writer`'s item `seq` (the write rule, see the module docstring)."""
        count = 0
        for acker in range(self.n):
            boards = self._ack_boards[acker]
            if not boards:
                continue
            # an acker's Ack boards never decrease, and its views grow along its stream, so
            # its latest Ack of a board <= max_board is the one that covers most
            i = len(boards) - 1
            while i >= 0 and boards[i] > max_board:
                i -= 1
            if i >= 0 and self._ack_views[acker][boards[i]][writer] >= seq:
                count += 1
        return count

    def _view_shows(self, marks: dict[int, int] | None, view: tuple[int, ...]) -> int:
        if not marks:
            return 0
        return sum(1 for w, seq in marks.items() if seq <= view[w])

    def view_dones(self, board: int, view: tuple[int, ...]) -> int:
        """How many Dones of `board` `view` covers."""
        return self._view_shows(self._done.get(board), view)

    def view_completes(self, board: int, view: tuple[int, ...]) -> int:
        """How many Completes of `board` `view` covers."""
        return self._view_shows(self._complete.get(board), view)

    def is_complete(self, board: int) -> bool:
        """Has this node validated n - f Completes of `board` (so it may fix its view)?"""
        return self.complete_count(board) >= self.params.quorum

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
        seqs = col.seqs
        if length >= seqs[-1]:
            k = len(seqs)
        elif length < seqs[0]:
            return 0, 0
        else:
            k = bisect_right(seqs, length)
        return k, col.prefix[k]

    def column_sums(self, board: int, view: tuple[int, ...]) -> list[int]:
        return [self.cells_in_view(board, j, view[j])[1] for j in range(self.n)]

    def view_complete(self, board: int, view: tuple[int, ...]) -> bool:
        """Does `view` show n - f Completes of `board` (a view fixed after it)?"""
        return self.view_completes(board, view) >= self.params.quorum

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
