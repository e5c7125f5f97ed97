"""`mmr`: Mostefaoui-Moumen-Raynal binary Byzantine agreement with an ideal common coin.

Mostefaoui, Moumen, Raynal, "Signature-Free Asynchronous Binary Byzantine Consensus with
t < n/3, O(n^2) Messages, and O(1) Expected Time" (PODC 2014; JACM 62(4), 2015), the binary
agreement (ABA) of HoneyBadgerBFT. Optimal resilience: f < n/3.

Theory of operation
-------------------
BV-broadcast (the paper's binary-value broadcast). A node broadcasts BVAL(r, v); when it has
BVAL(r, v) from f + 1 distinct senders it broadcasts BVAL(r, v) itself if it has not yet
(one honest sender is among them, so v is an honest value), and when it has 2f + 1 it adds v
to bin_values[r]. A value only Byzantine nodes sent never enters an honest bin_values, and
one that enters an honest node's enters every honest node's (the f + 1 relay), but only
while honest nodes keep relaying: a node keeps answering BVALs of the rounds it has left
(rounds.py's window), and a decided node keeps playing.

Round r, from node p's side, est_p being its estimate (its input in round 1):

1. BV-broadcast BVAL(r, est_p); wait until bin_values[r] is not empty.
2. Broadcast AUX(r, w), w the first value in bin_values[r] (once per round).
3. Wait for AUX(r, .) from n - f distinct senders whose values all lie in bin_values[r]
   (each sender's first AUX counts); `values` is the set of values they carry. A single
   value is preferred when n - f AUXs carry it, so values = {v} whenever it can be.
4. Only now is the common coin s of round r revealed to p: s = ideal_coin(seed, r), the
   same shared coin byzlab's `ideal-coin` protocol reads (a bit of BLAKE2b of the run's coin
   seed and r). If values = {v}: est_p <- v, and p decides v if v = s. Otherwise
   (values = {-1, +1}) est_p <- s. Go to round r + 1.

Two honest `values` singletons are equal (each holds n - f AUXs whose honest senders
intersect), so deciders in a round agree, and every honest node then has est = v; from the
next round on only v is an honest BVAL and everyone decides v at the first coin equal to v.
Expected rounds to decide are constant (the coin matches with probability 1/2 once estimates
converge).

Termination: the paper's processes decide and keep running. Here a decided node keeps
playing rounds (and relaying) until the f + 1 / 2f + 1 DECIDE gadget of byzlab's Bracha
engine lets it halt (termination.py).

Inputs are -1/+1 (byzlab's convention) in place of the paper's 0/1.
"""

from __future__ import annotations

import random
from typing import Final

from byzlab.api import Broadcast, Effect, Event, Params, ideal_coin
from byzlab.protocols.messages import BINARY, KindSpec, RoundCodec, RoundMsg
from byzlab.protocols.rounds import RoundWindow
from byzlab.protocols.termination import DecidingNode

BVAL: Final = 1
AUX: Final = 2
# rounds a node keeps relaying after it left them (rounds.py)
BEHIND: Final = 16


class _Round:
    """What a node knows of one round."""

    __slots__ = ("aux_count", "aux_from", "aux_sent", "bin_values", "bval_from", "bval_sent")

    def __init__(self) -> None:
        self.bval_from = {1: 0, -1: 0}  # value -> bitmask of senders
        self.bval_sent: set[int] = set()
        self.bin_values: list[int] = []  # in the order values entered
        self.aux_from = 0  # bitmask of senders whose AUX counted
        self.aux_count = {1: 0, -1: 0}
        self.aux_sent = False


class MMRNode(DecidingNode):
    """One honest mmr node as a pure state machine (inputs in, effects out)."""

    def __init__(
        self,
        me: int,
        params: Params,
        *,
        input_value: int,
        ideal_seed: bytes,
        codec: RoundCodec,
    ) -> None:
        super().__init__(me, params, input_value, codec)
        self.ideal_seed = ideal_seed
        self.est = input_value
        self.rounds: RoundWindow[_Round] = RoundWindow(_Round, behind=BEHIND)
        self.coin_outputs: dict[int, int] = {}

    # -- the rounds ----------------------------------------------------------------------

    def begin(self, out: list[Effect]) -> None:
        self._enter(1, out)
        self._progress(out)

    def on_round(self, sender: int, msg: RoundMsg, out: list[Effect]) -> None:
        state = self.rounds.get(msg.round)
        if state is None:
            self.dropped[self.rounds.refusal(msg.round)] += 1
            return
        bit = 1 << sender
        if msg.kind == BVAL:
            self._on_bval(msg.round, state, bit, msg.value, out)
        elif state.aux_from & bit:
            self.dropped["duplicate-aux"] += 1
            return
        else:
            state.aux_from |= bit
            state.aux_count[msg.value] += 1
        self._progress(out)

    def _on_bval(self, rnd: int, state: _Round, bit: int, value: int, out: list[Effect]) -> None:
        senders = state.bval_from[value]
        if senders & bit:
            self.dropped["duplicate-bval"] += 1
            return
        senders |= bit
        state.bval_from[value] = senders
        count = senders.bit_count()
        if count >= self.params.f + 1:
            self._bval(rnd, state, value, out)
        if count >= 2 * self.params.f + 1 and value not in state.bin_values:
            state.bin_values.append(value)
            if rnd == self.iteration:
                self._aux(rnd, state, out)

    def _bval(self, rnd: int, state: _Round, value: int, out: list[Effect]) -> None:
        if value not in state.bval_sent:
            state.bval_sent.add(value)
            out.append(Broadcast(RoundMsg(BVAL, rnd, value)))

    def _aux(self, rnd: int, state: _Round, out: list[Effect]) -> None:
        if not state.aux_sent and state.bin_values:
            state.aux_sent = True
            out.append(Broadcast(RoundMsg(AUX, rnd, state.bin_values[0])))

    def _enter(self, rnd: int, out: list[Effect]) -> None:
        self.iteration = rnd
        self.rounds.advance(rnd)
        state = self.rounds.get(rnd)
        assert state is not None  # the current round is always in the window
        self._bval(rnd, state, self.est, out)
        self._aux(rnd, state, out)

    def _progress(self, out: list[Effect]) -> None:
        """Finish rounds while their AUX wait is over (messages of later rounds may already
        be here)."""
        while not self.halted:
            rnd = self.iteration
            state = self.rounds.get(rnd)
            assert state is not None
            values = self._values(state)
            if values is None:
                return
            coin = ideal_coin(self.ideal_seed, rnd)  # revealed only after the AUX wait
            self.coin_outputs[rnd] = coin
            if len(values) == 1:
                self.est = values[0]
                if self.est == coin and self.decision is None:
                    self.decide(self.est, "coin", out)
            else:
                self.est = coin
            out.append(Event("round", {"round": rnd, "values": values, "coin": coin}))
            self._enter(rnd + 1, out)

    def _values(self, state: _Round) -> tuple[int, ...] | None:
        """The AUX wait: the values of n - f AUXs that all lie in bin_values, a single value
        when n - f AUXs carry it, or None while there are not enough."""
        if not state.aux_sent:
            return None
        quorum = self.params.quorum
        for value in state.bin_values:
            if state.aux_count[value] >= quorum:
                return (value,)
        if len(state.bin_values) == 2 and state.aux_count[1] + state.aux_count[-1] >= quorum:
            return (-1, 1)
        return None

    @property
    def phase(self) -> str:
        """Where the node is in its round: waiting for bin_values ("bval"), for the n - f
        AUXs ("aux"), or halted."""
        if self.halted:
            return "halted"
        state = self.rounds.get(self.iteration)
        return "aux" if state is not None and state.aux_sent else "bval"

    def snapshot(self) -> dict[str, object]:
        return {
            "node": self.me,
            "phase": self.phase,
            "iteration": self.iteration,
            "value": self.est,
            "decision": self.decision,
            "halted": self.halted,
        }


class MMR(RoundCodec):
    """The `mmr` protocol: its messages (BVAL, AUX, DECIDE) and its honest node."""

    name = "mmr"
    description = "Mostefaoui-Moumen-Raynal binary agreement (HoneyBadgerBFT's ABA), ideal coin"

    def __init__(self) -> None:
        super().__init__({BVAL: KindSpec("bval", BINARY), AUX: KindSpec("aux", BINARY)})

    def max_faults(self, n: int) -> int:
        """f < n/3: BV-broadcast's f + 1 and 2f + 1 thresholds and the n - f AUX wait."""
        return (n - 1) // 3

    def node(
        self,
        me: int,
        params: Params,
        *,
        input_value: int,
        rng: random.Random,
        ideal_seed: bytes,
    ) -> MMRNode:
        """Node `me`'s honest state machine (mmr draws no private coins: `rng` is unused)."""
        return MMRNode(me, params, input_value=input_value, ideal_seed=ideal_seed, codec=self)
