"""What a corrupted node's messages become on the wire, in the simulator.

Theory of operation
-------------------
On a real run every message crosses the network as bytes: the sender encodes it with its
protocol's codec (``encode``, then msgpack), and the receiver's process decodes it
(msgpack, then the protocol's decoder, byzlab.plugins.decoder) before its state machine
sees it; what the decoder refuses is dropped and counted as ``decode-<reason>``. An honest
node's messages always survive that trip (its protocol's own tests hold encode and decode to
each other). A corrupted node's need not: a strategy, a plugin's above all, hands over any
object it likes. In the simulator messages are passed as objects, so without this step an
honest node there could be fed a message no wire could carry (a blackboard write whose board
is a string), and crash or act on it, where on a real run the receiver's decoder would have
dropped it: the two backends would disagree on what the adversary can do.

`WireBound` holds a corrupted node's messages to the wire: it wraps the process, and every
message of its ``Broadcast`` and ``Send`` effects makes the trip, encode, pack, unpack,
decode, exactly as the node process does it; the receivers get the decoded message (as they
would on a real run), and a message that does not survive is not sent at all, counted per
reason once per honest node it was for (as each of their processes would count it). Only
corrupted nodes are wrapped, so an honest run pays nothing, and a message that survives is
equal to what was sent, so the trace hash of every run whose corrupted nodes send
well-formed messages is unchanged.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from byzlab.network.messagelog import decode_payload, encode_payload
from byzlab.node.effects import Broadcast, Effect, Send
from byzlab.node.protocol import DecodeError, Protocol
from byzlab.runtime.interfaces import Process

__all__ = ["WireBound"]


class WireBound:
    """A corrupted node's process whose messages make the trip over the wire (see the module
    docstring). `honest` is the simulator's live list of honest ids (adaptive corruption
    shrinks it); `refused` counts the messages that did not survive, per ``decode-<reason>``
    and honest receiver, as the receivers' processes would have counted them."""

    __slots__ = ("_decoder", "_honest", "_protocol", "inner", "me", "refused")

    def __init__(
        self,
        inner: Process,
        protocol: Protocol,
        decoder: Callable[[object], Any],
        honest: Sequence[int],
        refused: Counter[str],
    ) -> None:
        self.inner = inner
        self.me = inner.me
        self._protocol = protocol
        self._decoder = decoder
        self._honest = honest
        self.refused = refused

    @property
    def halted(self) -> bool:
        return self.inner.halted

    def start(self, now: float) -> list[Effect]:
        return self._carry(self.inner.start(now))

    def receive(self, src: int, msg: Any, now: float) -> list[Effect]:
        return self._carry(self.inner.receive(src, msg, now))

    def _carry(self, effects: list[Effect]) -> list[Effect]:
        out: list[Effect] = []
        for effect in effects:
            if isinstance(effect, Broadcast):
                msg = self._trip(effect.msg, [i for i in self._honest if i != self.me])
                if msg is not None:
                    out.append(Broadcast(msg))
            elif isinstance(effect, Send):
                msg = self._trip(effect.msg, [i for i in self._honest if i == effect.dst])
                if msg is not None:
                    out.append(Send(effect.dst, msg))
            else:
                out.append(effect)
        return out

    def _trip(self, msg: Any, receivers: list[int]) -> Any:
        """`msg` as its receivers decode it, or None (counted) if it does not survive."""
        decoded = decode_payload(encode_payload(self._protocol, msg), self._decoder)
        if isinstance(decoded, DecodeError):
            if receivers:
                self.refused[f"decode-{decoded.reason}"] += len(receivers)
            return None
        return decoded
