"""A protocol plugin, coin-vote: Ben-Or's rounds with an ideal common coin, correct for n > 5f.

Ben-Or, "Another Advantage of Free Choice" (PODC 1983), the coin shared as in Rabin,
"Randomized Byzantine Generals" (FOCS 1983): byzlab's ideal coin, a bit of the run's seed
and the round, read only once a node has waited for its n - f PROPs. The rules of a round are
in node.py, the messages in wire.py; the tutorial (docs/tutorial-plugins.md) says why the
rules are correct when n > 5f and why the round window costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable

import msgpack
from pydantic import Field

from byzlab.api import DecodeError, Params, ParamsError, PluginOptions

from .node import Node
from .wire import KINDS, Msg, decode, encode


class CoinVote:
    name = "coin-vote"
    description = "Ben-Or's rounds with an ideal common coin, for n > 5f"

    class Options(PluginOptions):
        window: int = Field(default=64, ge=8, le=4096, description="rounds a node keeps ahead")

    def __init__(self, window: int = 64) -> None:
        self.window = window

    def node(
        self, me: int, params: Params, *, input_value: int, rng: object, ideal_seed: bytes
    ) -> Node:
        if params.n <= 5 * params.f:
            raise ParamsError(f"coin-vote needs n > 5f, got n = {params.n}, f = {params.f}")
        return Node(me, params, input_value, ideal_seed, self.window)  # no private coins: no rng

    def encode(self, msg: Msg) -> list[object]:
        return encode(msg)

    def decoder(self, n: int) -> Callable[[object], Msg | DecodeError]:
        return decode

    def wire_size(self, msg: Msg) -> int:
        return len(msgpack.packb(encode(msg)))

    def kind(self, msg: Msg) -> str:
        return msg.kind

    def trace_fields(self, msg: Msg) -> tuple[int, int]:
        return KINDS.index(msg.kind) + 3 * msg.round, msg.value  # (kind and round, value)

    def value_of(self, msg: Msg) -> int:
        return msg.value  # every message is a vote; a PROP's 0 votes for neither value

    def equivocal(self, msg: Msg) -> Msg:
        return msg._replace(value=-msg.value or 1)
