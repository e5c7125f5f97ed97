"""The protocol interface: the contract a protocol plugin meets so that byzlab runs it everywhere.

A *protocol* is one object (a `Protocol`) that the whole testbed uses instead of a name: the
simulator, the node process, the adversary proxy and the Byzantine strategies and schedulers
ask it for what they need and never look inside its messages on their own. byzlab's own
protocols are objects of this kind (HPZ, local-coin Bracha and the ideal coin, all on the one
Bracha engine of ``byzlab.node.agreement``; HPZ is Huang, Pettie, Zhu, "Byzantine Agreement
with Optimal Resilience via Statistical Fraud Detection", arXiv 2206.15335), and a protocol
written elsewhere (a plugin, named as ``"package.module:Name"`` or by an entry point of the
group ``byzlab.protocols``) meets the same contract and then runs in the simulator, on local
processes and in containers, under the same adversary.

What a protocol provides
------------------------
Binary agreement: every node has an input in {-1, +1} and decides one of them.

* ``name``: how scenarios, results and the command line call it (``"hpz"``).
* ``node(me, params, input_value=, rng=, ideal_seed=)``: a new honest node, a `ProtocolNode`
  (a sans-IO state machine: ``start`` and ``receive`` answer with effects,
  ``byzlab.node.effects``). Its randomness is `rng` (the node's own stream, derived from the
  run's seed) and `ideal_seed` (the run's common randomness, for protocols that assume an
  ideal common coin); it reads no clock and no global random state, so a seed replays a run.
* The wire codec: ``encode(msg)`` gives a msgpack-ready list (ints, bytes, lists, None),
  ``decoder(n)`` a function from a decoded msgpack object to a message or a `DecodeError`.
  The decoder stands between the network and the node: it must accept exactly the messages
  ``encode`` produces and return a `DecodeError` (never raise) for anything else, since a
  Byzantine peer may send anything. ``wire_size(msg)`` estimates the encoded size in bytes
  (the simulator's byte counts).
* ``kind(msg)``: a short name of the message's kind ("ECHO", "BVAL"), for per-kind counts;
  it must not raise on a message a corrupted node built by hand.
* ``trace_fields(msg)``: two integers ``(key, value)`` the simulator folds into its trace
  hash for every message sent (``byzlab.network.sim``): ``key`` identifies the message (its
  kind and position in the protocol), ``value`` what it says. Equal messages give equal
  fields; the simulator combines them with the sender's id as ``src | key << 10``.
* ``value_of(msg)`` and ``equivocal(msg)``: what the adversary's value-based attacks read and
  forge, so that they work on any protocol. ``value_of`` is the binary value the message
  votes for (-1 or +1), 0 for an explicit vote for neither (Bracha's bottom, Ben-Or's "?"),
  and None if the message is not a vote. ``equivocal`` is the same message with the
  opposite value, as its sender could have sent it instead (bottom becomes +1), or None if
  the sender has no value of its own to choose there (a relay of someone else's vote, a
  message with no value).

What a node provides (`ProtocolNode`)
-------------------------------------
``me``, ``halted``, ``start``, ``receive`` (the runtime's `Process`), ``decision`` (None
until it decides), ``iteration`` (the round or iteration it is in, from 1), ``phase`` (any
hashable value naming where it is within the iteration: the node process sends its snapshot
to the adversary whenever ``(phase, iteration, decision, halted)`` changes) and
``snapshot()`` (its state as a JSON-ready dict: the adversary's state oracle on real runs,
and the node's result file).

Optional capabilities
---------------------
Whatever else the runtime reports is read only from protocols and nodes that have it,
checked with ``isinstance`` against these runtime-checkable protocols:

* `Refusals` (a node): ``rejected`` and ``dropped``, counts by reason of the inputs it
  refused as invalid and of the messages it dropped (bounds, duplicates); the results show
  them, and the message trace reads each delivery's verdict from them: the reasons whose
  counts one ``receive`` raised (``byzlab.network.messagelog.VerdictWatch``), so a node
  needs nothing more to have its verdicts traced.
* `CoinFlips` (a node): ``coin_outputs``, iteration -> the coin it used; the results count
  the iterations whose coin every honest node saw alike.
* `Weighted` (a node): ``consensus_weights()``, the weight of each node in the current
  iteration as a fraction of 1 (HPZ §3.3, epochs of ``params.T`` iterations); the live
  metrics show them, and the results count epochs only for protocols whose nodes have them.
* `Instances` (a protocol): ``instance(msg)``, the broadcast instance a message opens (a
  reliable broadcast's INITIAL) as a tuple of ints, or None; the simulator and the proxy
  count the instances opened.
* `Describes` (a protocol): ``describe(msg)``, the fields of a message the message trace
  shows in columns (``byzlab.network.messagelog``): ``(origin, rbc_seq, iteration, step,
  board, row, value)``, each -1 where the message has no such field and `value` None when it
  carries no value (-1 is a value). A protocol without it still gets its messages traced,
  by kind, size and encoding. Like ``kind``, it must not raise on a hand-built message.
* `Resilience` (a protocol): ``max_faults(n)``, the largest f it tolerates at n when that is
  less than Byzantine agreement's f < n/3 (Ben-Or's Byzantine protocol needs n > 5f). A
  scenario, ``byzlab sim`` and the simulator's assembly refuse more (`fault_refusal`); the
  matrix leaves such a protocol out at that n and f.

Nothing here raises on hostile input: a protocol's decoder filters the network, and its
nodes drop (and count) whatever the decoder lets through but the protocol cannot use.
"""

from __future__ import annotations

import random
import typing
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, runtime_checkable

from byzlab.node.effects import Effect
from byzlab.node.params import Params

__all__ = [
    "CoinFlips",
    "DecodeError",
    "Decoder",
    "Describes",
    "Description",
    "Instances",
    "Protocol",
    "ProtocolNode",
    "Refusals",
    "Resilience",
    "Weighted",
    "fault_refusal",
    "max_faults",
]


@dataclass(frozen=True, slots=True)
class DecodeError:
    """What a decoder returns instead of a message: `reason` names the first check that
    failed (it is counted per reason and written to the node's trace)."""

    reason: str


# A protocol's decoder for one n: a msgpack-decoded object -> a message or a DecodeError.
Decoder = Callable[[object], Any]


@runtime_checkable
class ProtocolNode(typing.Protocol):
    """One honest node of a protocol, as the runtime drives and reports it: a sans-IO state
    machine (`start` and `receive` answer with effects). `me` is its id, `decision` None
    until it decides, `iteration` the round or iteration it is in, from 1."""

    me: int
    decision: int | None
    iteration: int

    @property
    def halted(self) -> bool:
        """True once the node has stopped (its `Halt` effect): it takes no more input."""

    @property
    def phase(self) -> Hashable:
        """Where the node is within its iteration, any hashable value: the node process sends
        its snapshot to the adversary whenever (phase, iteration, decision, halted) changes."""

    def start(self, now: float) -> list[Effect]:
        """The node's first effects, once, at time `now`."""

    def receive(self, src: int, msg: Any, now: float) -> list[Effect]:
        """The effects of `msg` from node `src` (decoded and validated by the protocol's
        decoder) arriving at time `now`."""

    def snapshot(self) -> dict[str, object]:
        """The node's state as a JSON-ready dict: the adversary's state oracle on real runs,
        and the node's result file."""


@runtime_checkable
class Refusals(typing.Protocol):
    """A node that counts what it refused (invalid inputs) and dropped (bounds, duplicates)."""

    @property
    def rejected(self) -> Mapping[str, int]: ...

    @property
    def dropped(self) -> Mapping[str, int]: ...


@runtime_checkable
class CoinFlips(typing.Protocol):
    """A node that uses a coin each iteration: iteration -> the coin's output it used."""

    @property
    def coin_outputs(self) -> Mapping[int, int]: ...


@runtime_checkable
class Weighted(typing.Protocol):
    """A node that weighs the others (HPZ §3.3): their weights in its current iteration."""

    def consensus_weights(self) -> Sequence[float]: ...


@runtime_checkable
class Instances(typing.Protocol):
    """A protocol whose messages open broadcast instances (reliable broadcast's INITIAL)."""

    def instance(self, msg: Any) -> tuple[int, ...] | None: ...


# what `Describes.describe` returns: (origin, rbc_seq, iteration, step, board, row, value)
Description = tuple[int, int, int, int, int, int, int | None]


@runtime_checkable
class Describes(typing.Protocol):
    """A protocol that names the fields of its messages for the message trace."""

    def describe(self, msg: Any) -> Description:
        """(origin, rbc_seq, iteration, step, board, row, value) of `msg`: -1 for a field
        it has not, `value` None when it carries no value. Never raises (a corrupted node
        may hand the simulator any object)."""
        ...


@runtime_checkable
class Resilience(typing.Protocol):
    """A protocol that tolerates fewer faults than f < n/3."""

    def max_faults(self, n: int) -> int:
        """The largest f the protocol tolerates at n (0 if none)."""
        ...


def max_faults(protocol: object, n: int) -> int:
    """The largest f `protocol` tolerates at n: its own bound (`Resilience`), else
    (n - 1) // 3, Byzantine agreement's f < n/3."""
    if isinstance(protocol, Resilience):
        return min(protocol.max_faults(n), (n - 1) // 3)
    return (n - 1) // 3


def fault_refusal(field: str, protocol: Protocol, n: int, f: int) -> str | None:
    """None if `protocol` tolerates f faults at n, else the one line that refuses it,
    naming `field` (``run.f``, ``--f``) and the limit. An f of n/3 or more is left to the
    parameters' own check (`Params`), which refuses it for every protocol."""
    limit = max_faults(protocol, n)
    if f <= limit or 3 * f >= n:
        return None
    if limit == 0:
        return (
            f'{field}: protocol "{protocol.name}" tolerates no fault at n={n} (f must be at '
            f"least 1); choose a larger n"
        )
    return (
        f'{field}: f={f} is too large for n={n} under protocol "{protocol.name}" (at most {limit})'
    )


@runtime_checkable
class Protocol(typing.Protocol):
    """The contract a protocol plugin meets: one object that the simulator, the node
    process, the adversary proxy and the strategies and schedulers ask for everything about
    the protocol (the module docstring tells the whole contract). `name` is how scenarios,
    results and the command line call it."""

    name: str

    def node(
        self,
        me: int,
        params: Params,
        *,
        input_value: int,
        rng: random.Random,
        ideal_seed: bytes,
    ) -> ProtocolNode:
        """A new honest node `me` with input `input_value` (-1 or +1). Its randomness is `rng`
        (the node's own stream, derived from the run's seed) and `ideal_seed` (the run's
        common randomness, for a protocol that assumes an ideal common coin); it reads no
        clock and no global random state, so a seed replays the run."""

    def encode(self, msg: Any) -> list[object]:
        """The message as a msgpack-ready list (ints, bytes, lists, None)."""

    def decoder(self, n: int) -> Decoder:
        """The decoder for `n` nodes, between the network and the nodes: it accepts exactly
        what `encode` produces and returns a `DecodeError`, never raises, for anything else
        (a Byzantine peer may send anything)."""

    def wire_size(self, msg: Any) -> int:
        """The message's encoded size in bytes, as the simulator's byte counts add it up."""

    def kind(self, msg: Any) -> str:
        """A short name of the message's kind ("ECHO", "BVAL") for per-kind counts; it must
        not raise on a message a corrupted node built by hand."""

    def trace_fields(self, msg: Any) -> tuple[int, int]:
        """Two integers (key, value) the simulator folds into its trace hash for every
        message sent: `key` identifies the message (its kind and place in the protocol),
        `value` what it says. Equal messages give equal fields."""

    def value_of(self, msg: Any) -> int | None:
        """The binary value the message votes for (-1 or +1), 0 for an explicit vote for
        neither (Bracha's bottom), None if it is not a vote: what value-based attacks read."""

    def equivocal(self, msg: Any) -> Any | None:
        """The same message with the opposite value (0 becomes +1), as its sender could have
        sent it instead, or None if the sender has no value of its own to choose there (a
        relay of someone else's vote): what value-based attacks forge."""
