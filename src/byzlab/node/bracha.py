"""byzlab's built-in protocols as objects: HPZ, local-coin Bracha and the ideal coin.

All three run on one engine, Bracha agreement with validation over FIFO reliable broadcast
(agreement.py, validation.py, rbc.py; Bracha 1987 as HPZ Algorithm 1 uses it), with one
message format (messages.py), and differ only in their coin (coin.py):

* `HPZ` ("hpz"): the two-stage weighted Coin-Flip on the iterated blackboard (Huang, Pettie,
  Zhu, "Byzantine Agreement with Optimal Resilience via Statistical Fraud Detection", arXiv
  2206.15335, Algorithm 2);
* `BrachaLocal` ("bracha-local"): each node flips its own coin (Bracha 1987);
* `IdealCoin` ("ideal-coin"): a common coin read from the run's shared seed (Rabin 1983), the
  lower reference.

Each is a `byzlab.node.protocol.Protocol`; `BUILTIN_PROTOCOLS` maps their names to them (the
names a scenario's ``run.protocol`` has always taken). `BrachaProtocol` is what they share:
building an `HonestNode`, the codec, the trace fields and the values the adversary reads and
forges; the Byzantine strategies and schedulers that read Bracha's votes, HPZ's blackboards or
the engine's state recognise the family by it.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Final

from byzlab.node.agreement import HonestNode
from byzlab.node.coin import CommonCoin, ImmediateCoin, LocalCoin
from byzlab.node.messages import (
    Ack,
    Complete,
    DecideMsg,
    Decoder,
    Done,
    Kind,
    Message,
    RbcMsg,
    Vote,
    Write,
    encode,
    wire_size,
)
from byzlab.node.params import Params
from byzlab.node.protocol import Description

__all__ = ["BUILTIN_PROTOCOLS", "HPZ", "BrachaLocal", "BrachaProtocol", "IdealCoin"]

_INITIAL: Final = int(Kind.INITIAL)
_DECIDE: Final = int(Kind.DECIDE)
_NO_FIELDS: Final[Description] = (-1, -1, -1, -1, -1, -1, None)


def _iteration_of(board: object) -> int:
    """The iteration of blackboard `board` (boards 2t - 1 and 2t belong to iteration t), -1
    when a hand-built item's board is not an int."""
    return (board + 1) // 2 if type(board) is int else -1


class BrachaProtocol:
    """A protocol on the Bracha engine; subclasses choose `name` and `coin`."""

    name: str
    coin: ImmediateCoin | None

    def node(
        self,
        me: int,
        params: Params,
        *,
        input_value: int,
        rng: random.Random,
        ideal_seed: bytes,
    ) -> HonestNode:
        return HonestNode(
            me, params, protocol=self, input_value=input_value, rng=rng, ideal_seed=ideal_seed
        )

    def encode(self, msg: Message) -> list[object]:
        return encode(msg)

    def decoder(self, n: int) -> Decoder:
        return Decoder(n)

    def wire_size(self, msg: Message) -> int:
        return wire_size(msg)

    def kind(self, msg: Message) -> str:
        if isinstance(msg, DecideMsg):
            return "DECIDE"
        # a corrupted node's strategy hands the simulator its messages without a decoder in
        # between, so a kind may be anything; the receivers drop it, the counts name it
        kind = msg.kind
        return Kind(kind).name if type(kind) is int and 0 <= kind < _DECIDE else "MALFORMED"

    def trace_fields(self, msg: Message) -> tuple[int, int]:
        # the simulator's historical fold: src | kind << 10 | origin << 12 | seq << 22, and
        # the value + 1 (so bottom counts); a DECIDE is kind 3
        if isinstance(msg, RbcMsg):
            return msg.kind | msg.origin << 2 | msg.seq << 12, msg.item.value + 1
        return _DECIDE, msg.value + 1

    def describe(self, msg: object) -> Description:
        """The message's fields for the trace: an RBC message's instance (origin, seq) and
        its item's place (a vote's iteration and step; a cell's or a mark's board, in
        iteration (board + 1) // 2, and a cell's row) and value (a mark has none)."""
        if isinstance(msg, DecideMsg):
            return -1, -1, -1, -1, -1, -1, msg.value
        if not isinstance(msg, RbcMsg):
            return _NO_FIELDS
        item: object = msg.item  # a corrupted node's hand-built message may hold anything
        if isinstance(item, Vote):
            return msg.origin, msg.seq, item.iteration, item.step, -1, -1, item.value
        if isinstance(item, Write):
            board = item.board
            return msg.origin, msg.seq, _iteration_of(board), -1, board, item.row, item.value
        if isinstance(item, Ack | Done | Complete):
            board = item.board
            return msg.origin, msg.seq, _iteration_of(board), -1, board, -1, None
        return msg.origin, msg.seq, -1, -1, -1, -1, None

    def instance(self, msg: Message) -> tuple[int, int] | None:
        """The reliable-broadcast instance (origin, seq) an INITIAL opens."""
        if isinstance(msg, RbcMsg) and msg.kind == _INITIAL:
            return msg.origin, msg.seq
        return None

    def value_of(self, msg: Message) -> int | None:
        """A vote's value (0 is bottom), a blackboard cell's, or a DECIDE's; a mark has none."""
        if isinstance(msg, DecideMsg):
            return msg.value
        item = msg.item
        return item.value if isinstance(item, Vote | Write) else None

    def equivocal(self, msg: Message) -> Message | None:
        """The INITIAL of the sender's own broadcast with the item's value negated (bottom,
        and the marks' 0, become +1). ECHO and READY relay another node's item, whose value
        is not theirs to choose, and a DECIDE is the termination gadget's, not a vote."""
        if isinstance(msg, RbcMsg) and msg.kind == _INITIAL:
            item = msg.item
            return replace(msg, item=replace(item, value=-item.value if item.value else 1))
        return None

    def __repr__(self) -> str:
        return f"<protocol {self.name}>"


class HPZ(BrachaProtocol):
    """HPZ's protocol: Bracha agreement with the weighted Coin-Flip on the blackboards."""

    name = "hpz"
    coin: ImmediateCoin | None = None


class BrachaLocal(BrachaProtocol):
    """Bracha 1987: a private fair coin per node, which nobody can validate."""

    name = "bracha-local"
    coin = LocalCoin()


class IdealCoin(BrachaProtocol):
    """The lower reference: an ideal common coin from the run's shared seed."""

    name = "ideal-coin"
    coin = CommonCoin()


BUILTIN_PROTOCOLS: Final[Mapping[str, BrachaProtocol]] = MappingProxyType(
    {p.name: p for p in (HPZ(), BrachaLocal(), IdealCoin())}
)
