"""Bracha agreement with validation, driving the HPZ coin flip (HPZ Algorithm 1 + 2).

Theory of operation
-------------------
One iteration t of Bracha-Agreement from node p's side (HPZ Algorithm 1):

1. RBC v_p; wait for n - f validated step-1 votes; v_p <- sgn(sum).
2. RBC v_p; wait for n - f; v_p <- v* if more than n/2 carry v*, else bottom.
3. RBC v_p; wait for n - f; x_p <- number of non-bottom values v*. If x_p >= 1, v_p <- v*.
   If x_p >= f + 1, decide v*. Because any two sets of n - f votes share n - 2f senders,
   |x_p - x_q| <= f, so a decision by one honest node means every honest node keeps v* and
   decides in iteration t + 1 at the latest.
4. Coin-Flip (coin.py): stage 1 (a step-4 vote), the odd blackboard, the even blackboard. If
   x_p = 0, v_p <- the coin's output.

"Wait for n - f" uses exactly the first n - f votes p validated, and p records them as the
`support` of its next vote so that everyone can validate the transition (validation.py).
Every node runs the coin every iteration, whatever its x_p, so the iterated blackboard always
has all honest writers. A node also waits until its own broadcasts have come back validated
before it moves on; that makes its fixed views cover exactly its own earlier items.

Termination: a node that decides sends DECIDE(v) to everyone. f + 1 DECIDE(v) prove that an
honest node decided v, so a node that sees them decides v too and echoes DECIDE; 2f + 1
DECIDE(v) prove that f + 1 honest nodes decided, so every honest node will receive f + 1 and
decide. A decided node halts on 2f + 1 DECIDE(v) and on nothing else: until then it keeps
playing iterations and, above all, keeps relaying ECHO and READY, because reliable
broadcast's totality (one honest acceptance implies all) holds only while honest nodes
relay. Halting "after playing one more iteration", which HPZ's Algorithm 1 suggests, is not
safe for liveness: two decided nodes can complete step 3 of the next iteration on different
quorums, halt, and leave the undecided ones short of both the step-3 votes and the f + 1
DECIDEs they need (tests/test_termination.py replays such a schedule at n = 7). DECIDE
messages are point to point and need no relaying, so once 2f + 1 arrived every honest node
is guaranteed f + 1 of them. A halted node processes nothing more; no process spins forever.

The iteration of a decision (``Decide.iteration``, and from it a run's ``iterations``: the
iteration in which its last honest node decided) is the iteration whose step 3 the node
decided at or was heading for: t for a decision at step 3 of t; for one on f + 1 DECIDEs, the
iteration of the next step 3 it would reach. A node past step 3 of t is in t + 1 at once with
an immediate coin but still in t during HPZ's Coin-Flip; counting the coin stage toward t + 1
gives every protocol the same count on the same traffic, and matches Bracha's guarantee above
(every honest node decides in iteration t + 1 at the latest).

Protocols: the engine is driven by a protocol object (node/bracha.py) whose one difference
from the others is its coin (`coin`, node/coin.py): None for HPZ's Coin-Flip above ("hpz"),
or an immediate coin flipped right after step 3 by a node with x_p = 0, with no coin stage
and no blackboard: a private fair coin per node ("bracha-local") or a shared coin from a
seed ("ideal-coin"). The engine reads nothing else of the protocol, and validation
(validation.py) checks each sender's transitions against that same coin.
"""

from __future__ import annotations

import random
import typing
from collections import Counter
from enum import Enum

from byzlab.node.blacklist import WEIGHT_ONE
from byzlab.node.coin import ImmediateCoin
from byzlab.node.effects import Broadcast, Decide, Effect, Event, Halt
from byzlab.node.messages import Ack, Complete, DecideMsg, Done, Item, Message, RbcMsg, Vote, Write
from byzlab.node.params import Params
from byzlab.node.protocol import Protocol
from byzlab.node.rbc import ReliableBroadcast
from byzlab.node.steps import kept_value, step_value, tally
from byzlab.node.validation import Knowledge, Verdict


class BrachaFamily(Protocol, typing.Protocol):
    """A protocol that runs on this engine: the protocol interface (node/protocol.py) and the
    engine's one choice, its coin: None for HPZ's Coin-Flip on the iterated blackboard, or
    an immediate coin (node/coin.py)."""

    @property
    def coin(self) -> ImmediateCoin | None: ...


class Phase(Enum):
    IDLE = "idle"
    VOTE = "vote"
    BOARD = "board"
    HALTED = "halted"


class HonestNode:
    """One honest HPZ (or baseline) player as a pure state machine."""

    def __init__(
        self,
        me: int,
        params: Params,
        *,
        protocol: BrachaFamily,
        input_value: int,
        rng: random.Random,
        ideal_seed: bytes = b"",
    ) -> None:
        if input_value not in (-1, 1):
            raise ValueError(f"input_value must be -1 or +1, got {input_value!r}")
        if not 0 <= me < params.n:
            raise ValueError(f"node id {me} out of range for n={params.n}")
        self.me = me
        self.params = params
        self.protocol = protocol
        self.input_value = input_value
        self.rng = rng
        self.ideal_seed = ideal_seed
        self.rbc = ReliableBroadcast(me, params.n, params.f, params.window)
        self.know = Knowledge(params, protocol.coin, ideal_seed)
        self.phase = Phase.IDLE
        self.iteration = 1
        self.step = 0
        self.value = input_value
        self.x = 0
        self.vstar = 0
        self.board = 0
        self.row = 0
        self.board_value = 0
        self.board_support = 0
        self.completed = 0  # the last board this node declared complete
        self.done_board = 0  # the last board it declared its column full in
        self.fixed_view: tuple[int, ...] | None = None  # to carry in the next even row 1
        self.cells_acked = 0  # validated cells when this node last sent an Ack
        self.decision: int | None = None
        self.decided_iteration = 0
        self.halted = False
        self.views: dict[int, tuple[int, ...]] = {}
        self.coin_outputs: dict[int, int] = {}
        self.rejected: Counter[str] = Counter()
        self._pending: list[list[tuple[int, Item]]] = [[] for _ in range(params.n)]
        self._decide_from: dict[int, int] = {1: 0, -1: 0}

    # -- inputs ----------------------------------------------------------------------

    def start(self, now: float = 0.0) -> list[Effect]:
        out: list[Effect] = []
        if self.phase is Phase.IDLE:
            self._vote(1, 1, self.value, 0, None, out)
        return out

    def receive(self, sender: int, msg: Message, now: float = 0.0) -> list[Effect]:
        out: list[Effect] = []
        if self.halted:
            return out
        if isinstance(msg, RbcMsg):
            # the TCP decoder checks these too; in-process adversaries bypass it
            if not 0 <= msg.origin < self.params.n or msg.seq < 1:
                self.rejected["malformed-rbc"] += 1
                return out
            delivered = self.rbc.handle(sender, msg, out)
            if delivered:
                limit = self.params.window
                for origin, seq, item in delivered:
                    shadow = self.know.shadows[origin]
                    if shadow.dead is not None:
                        continue
                    queue = self._pending[origin]
                    if len(queue) >= limit:
                        # items that can never be validated must not pile up without bound
                        shadow.dead = "pending-overflow"
                        self.rejected["pending-overflow"] += 1
                        queue.clear()
                        continue
                    queue.append((seq, item))
                self._drain(out)
                self._progress(out)
        elif isinstance(msg, DecideMsg):
            if msg.value in (-1, 1):
                self._on_decide_msg(sender, msg.value, out)
            else:
                self.rejected["malformed-decide"] += 1
        return out

    # -- validation pipeline -----------------------------------------------------------

    def _drain(self, out: list[Effect]) -> None:
        know = self.know
        progressed = True
        while progressed:
            progressed = False
            for q, queue in enumerate(self._pending):
                taken = 0
                for seq, item in queue:
                    check = know.check(q, seq, item)
                    if check.verdict is Verdict.WAIT:
                        break
                    taken += 1
                    if check.verdict is Verdict.VALID:
                        know.apply(q, seq, item)
                        progressed = True
                    else:
                        know.shadows[q].dead = check.reason
                        self.rejected[check.reason] += 1
                        out.append(
                            Event("invalid", {"origin": q, "seq": seq, "reason": check.reason})
                        )
                        taken = len(queue)
                        break
                if taken:
                    del queue[:taken]

    # -- own state machine ---------------------------------------------------------------

    def _broadcast(self, item: Item, out: list[Effect]) -> None:
        out.append(Broadcast(self.rbc.broadcast(item)))

    def _vote(
        self,
        t: int,
        step: int,
        value: int,
        support: int,
        view: tuple[int, ...] | None,
        out: list[Effect],
    ) -> None:
        self.phase = Phase.VOTE
        self.iteration = t
        self.step = step
        self._broadcast(Vote(t, step, value, support, view), out)

    def _write(
        self,
        board: int,
        row: int,
        value: int,
        support: int,
        view: tuple[int, ...] | None,
        out: list[Effect],
    ) -> None:
        self.phase = Phase.BOARD
        self.board = board
        self.row = row
        self._broadcast(Write(board, row, value, support, view), out)

    def _progress(self, out: list[Effect]) -> None:
        """Send what the protocol allows now. One own item is in flight at a time: a node
        moves on only once its previous broadcast came back validated, so every view it
        carries covers exactly its own earlier items."""
        know = self.know
        quorum = self.params.quorum
        while not self.halted and know.validated[self.me] == self.rbc.own_seq:
            if self.phase is Phase.VOTE:
                t, step = self.iteration, self.step
                if know.vote_count(t, step) >= quorum:
                    support, values = know.first_quorum(t, step)
                    self._after_vote(t, step, support, values, out)
                    continue
            elif self.phase is Phase.BOARD:
                if self._board_progress(out):
                    continue
            else:
                return
            self._maybe_ack(out)
            return

    def _after_vote(
        self, t: int, step: int, support: int, values: list[int], out: list[Effect]
    ) -> None:
        if step in (1, 2):
            self._vote(t, step + 1, step_value(step + 1, values, self.params.n), support, None, out)
        elif step == 3:
            self.x, self.vstar = tally(values)
            if self.x >= 1:
                self.value = self.vstar
            if self.x >= self.params.f + 1 and self.decision is None:
                self._decide(self.vstar, t, "protocol", out)
            coin = self.protocol.coin
            if coin is None:
                self._vote(t, 4, self.vstar if self.x else 0, support, None, out)
                return
            if not self.x:
                self.value = coin.flip(self.rng, self.ideal_seed, t)
                self.coin_outputs[t] = self.value
            self._vote(t + 1, 1, self.value, support, None, out)
        else:
            # coin stage 1 done: enter the odd board; row 1 goes out when the write rule
            # allows (blackboard.py), in _board_progress
            self.board_value = kept_value(values)
            self.board_support = support
            self.phase = Phase.BOARD
            self.board = 2 * t - 1
            self.row = 0

    def _write_allowed(self, board: int) -> bool:
        """The write rule for this node's next write item on `board` (blackboard.py)."""
        prev = self.know.shadows[self.me].last_cell_seq
        return (
            prev == 0 or self.know.store.acks_covering(self.me, prev, board) >= self.params.quorum
        )

    def _board_progress(self, out: list[Effect]) -> bool:
        """One step of the blackboard construction on the current board; False if nothing
        can happen until more items are validated."""
        know = self.know
        store = know.store
        b = self.board
        if self.completed < b:
            if store.done_count(b) >= self.params.quorum:
                # n - f columns are full: declare the board complete, abandoning ours if
                # it is not, and write nothing more to it
                self.completed = b
                self._broadcast(Complete(b, 0, 0, tuple(know.validated)), out)
                return True
            if self.row < self.params.rows(b):
                if not self._write_allowed(b):
                    return False
                r = self.row + 1
                if b % 2 == 1:
                    value, view = self.board_value, None
                    support = self.board_support if r == 1 else 0
                else:
                    value, support = self.rng.choice((-1, 1)), 0
                    view = self.fixed_view if r == 1 else None
                self._write(b, r, value, support, view, out)
                return True
            if self.done_board < b and self._write_allowed(b):
                self.done_board = b
                self._broadcast(Done(b), out)
                return True
            return False
        if not store.is_complete(b):
            return False
        view = tuple(know.validated)
        self.views[b] = view
        if b % 2 == 1:
            self.fixed_view = view
            self.board = b + 1
            self.row = 0
            return True
        t = b // 2
        coin = know.coin(view, t)
        self.coin_outputs[t] = coin
        if not self.x:
            self.value = coin
        self._vote(t + 1, 1, self.value, 0, view, out)
        return True

    def _maybe_ack(self, out: list[Effect]) -> None:
        """Acknowledge every cell validated since the last Ack, with the whole view, for the
        first board not yet completed (an honest node never acks for a completed board)."""
        if self.protocol.coin is not None:
            return
        cells = self.know.store.cells
        if cells > self.cells_acked:
            self.cells_acked = cells
            self._broadcast(Ack(self.completed + 1, 0, 0, tuple(self.know.validated)), out)

    # -- deciding and halting ----------------------------------------------------------

    def _decide(self, value: int, iteration: int, how: str, out: list[Effect]) -> None:
        self.decision = value
        self.decided_iteration = iteration
        out.append(Decide(value, iteration))
        out.append(Event("decide", {"value": value, "iteration": iteration, "how": how}))
        out.append(Broadcast(DecideMsg(value)))

    def _on_decide_msg(self, sender: int, value: int, out: list[Effect]) -> None:
        bit = 1 << sender
        if (self._decide_from[1] | self._decide_from[-1]) & bit:
            self.rejected["duplicate-decide"] += 1
            return
        mask = self._decide_from[value] | bit
        self._decide_from[value] = mask
        count = mask.bit_count()
        if count >= self.params.f + 1 and self.decision is None:
            # past step 3 of its iteration (HPZ's coin stage), its next step 3 is the next one
            past_step3 = self.phase is Phase.BOARD or (self.phase is Phase.VOTE and self.step == 4)
            self._decide(value, self.iteration + past_step3, "f+1 DECIDE", out)
        if count >= 2 * self.params.f + 1 and self.decision == value:
            self._halt("2f+1 DECIDE", out)

    def _halt(self, reason: str, out: list[Effect]) -> None:
        self.halted = True
        self.phase = Phase.HALTED
        out.append(Halt(reason))

    # -- introspection (the adversary's state oracle, the runtime's reports, the invariant
    # checkers; node/protocol.py's optional capabilities) ------------------------------

    @property
    def dropped(self) -> Counter[str]:
        """Messages reliable broadcast dropped, by reason (bounds, duplicates)."""
        return self.rbc.dropped

    def consensus_weights(self) -> list[float]:
        """w_{j,e} of every node j in this node's current iteration, as fractions of 1 (0
        where it does not know j's view yet; HPZ §3.3)."""
        return [w / WEIGHT_ONE for w in self.know.weights.weights_for_iteration(self.iteration)]

    def snapshot(self) -> dict[str, object]:
        return {
            "node": self.me,
            "phase": self.phase.value,
            "iteration": self.iteration,
            "step": self.step,
            "value": self.value,
            "x": self.x,
            "vstar": self.vstar,
            "board": self.board,
            "row": self.row,
            "decision": self.decision,
            "halted": self.halted,
        }
