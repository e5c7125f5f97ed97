"""byzlab's public extension API: everything a strategy, scheduler or protocol plugin may use.

A plugin imports from this module only; every other module of byzlab is internal and may
change between releases. The names, by what they are for:

Writing a Byzantine strategy (a corrupted node's behaviour)
    `Strategy` is what the runtime drives (structural: any class with these members is one);
    `ByzantineNode` is the base to derive from (it sends nothing), `Wrapper` runs an honest
    node inside and rewrites its effects, `ItemRewriter` rewrites the items of the node's own
    broadcasts one at a time, and `QuorumPicker` claims, for each vote, the quorum of
    validated votes whose outcome the adversary prefers. A strategy class is built as
    ``cls(spec, ctx, **options)`` with the corrupted node's `NodeSpec` and the run's
    `AdversaryContext`.

Writing a scheduler (the adversary's choice of every delay in [0, delta])
    `Scheduler` is the base class (a dataclass: options are its fields), built as
    ``cls(ctx, **options)``; `DeliveryPolicy` is the structural type the runtime asks for
    each delay. The runtime holds every answer to [0, delta] whatever the scheduler returns.

What both see
    `AdversaryContext` (the run's `Params`, the shared view, the scheduler's random stream,
    delta, the honest nodes' state on real runs), `AdversaryView` (HPZ's full information:
    every vote and blackboard cell as soon as it is sent, HPZ §2 "Full Information &
    Scheduling") and `CoinPlan` (the corrupted writers' shared plan for a coin board).

Options
    A plugin class may declare ``Options``, a pydantic model (derive it from `PluginOptions`
    to forbid unknown keys, nan and infinity); a scenario's or the command line's options
    are validated against it and a bad one is refused in one line naming the field
    (``adversary.strategy_options.bias: Input should be a valid number``).

Writing a protocol (binary agreement, run under the same adversary everywhere)
    `Protocol` is the contract a protocol object meets (its nodes, its wire codec, and what
    the adversary and the results read of its messages); its honest nodes are
    `ProtocolNode`s. Optional capabilities a node or protocol may have, and the runtime then
    reports: `Refusals` (counts of refused and dropped inputs), `CoinFlips` (the coin of each
    iteration), `Weighted` (HPZ's weights), `Instances` (broadcast instances opened),
    `Describes` (the fields of a message for the message trace, messages.parquet). A
    protocol's `Decoder` turns untrusted data into its messages or a `DecodeError`, never
    raising. A protocol entry point (or reference) names the protocol object or a class whose
    no-argument constructor makes one.

Messages and effects
    A state machine answers each input with effects: `Broadcast`, `Send`, `Decide`, `Halt`,
    `Event` (the union is `Effect`). The wire messages are `RbcMsg` (INITIAL/ECHO/READY of
    one item, `Kind`) and `DecideMsg`; items are `Vote`, `Write`, `Ack`, `Done`, `Complete`
    (the union is `Item`, the messages' `Message`): the Bracha engine's (HPZ, local-coin
    Bracha, the ideal coin), which the built-in strategies read and forge. `decode` turns
    untrusted data into one of them or a `DecodeError`, `encode` is its inverse.

Randomness and parameters
    `Params` (validated protocol parameters; a bad one raises `ParamsError`), `derive_rng`
    (one reproducible stream per seed and label: a plugin draws from its own label, never
    from the global `random` state, so a run replays from its seed), `ideal_coin` and
    `ideal_coin_seed` (the ideal common coin).

Registering a plugin
    Either name it in a scenario or on the command line as ``"package.module:Name"``, or
    register it under the entry-point group ``byzlab.strategies``, ``byzlab.schedulers`` or
    ``byzlab.protocols`` of your distribution's metadata and use the entry point's name
    (``byzlab.plugins`` resolves both and records each plugin's provenance in the run's
    ``summary.json``).

The protocol this testbed was built around is HPZ: Huang, Pettie, Zhu, "Byzantine Agreement
with Optimal Resilience via Statistical Fraud Detection", arXiv 2206.15335.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from byzlab.adversary.context import AdversaryContext
from byzlab.adversary.schedulers.base import Scheduler
from byzlab.adversary.strategies.base import ByzantineNode, ItemRewriter, NodeSpec, Wrapper
from byzlab.adversary.strategies.votes import QuorumPicker
from byzlab.adversary.view import AdversaryView, CoinPlan
from byzlab.node.coin import ideal_coin
from byzlab.node.effects import Broadcast, Decide, Effect, Event, Halt, Send
from byzlab.node.messages import (
    Ack,
    Complete,
    DecideMsg,
    Done,
    Item,
    Kind,
    Message,
    RbcMsg,
    Vote,
    Write,
    decode,
    encode,
)
from byzlab.node.params import Params, ParamsError
from byzlab.node.protocol import (
    CoinFlips,
    DecodeError,
    Decoder,
    Describes,
    Instances,
    Protocol,
    ProtocolNode,
    Refusals,
    Weighted,
)
from byzlab.runtime.interfaces import DeliveryPolicy
from byzlab.runtime.interfaces import Process as Strategy
from byzlab.seeds import derive_rng, ideal_coin_seed

__all__ = [
    "Ack",
    "AdversaryContext",
    "AdversaryView",
    "Broadcast",
    "ByzantineNode",
    "CoinFlips",
    "CoinPlan",
    "Complete",
    "Decide",
    "DecideMsg",
    "DecodeError",
    "Decoder",
    "DeliveryPolicy",
    "Describes",
    "Done",
    "Effect",
    "Event",
    "Halt",
    "Instances",
    "Item",
    "ItemRewriter",
    "Kind",
    "Message",
    "NodeSpec",
    "Params",
    "ParamsError",
    "PluginOptions",
    "Protocol",
    "ProtocolNode",
    "QuorumPicker",
    "RbcMsg",
    "Refusals",
    "Scheduler",
    "Send",
    "Strategy",
    "Vote",
    "Weighted",
    "Wrapper",
    "Write",
    "decode",
    "derive_rng",
    "encode",
    "ideal_coin",
    "ideal_coin_seed",
]


class PluginOptions(BaseModel):
    """A convenient base for a plugin's ``Options`` model: unknown keys, nan and infinity are
    refused, and values are not coerced (``"0.5"`` is not a number), as in a scenario file.

    The validated fields are passed to the plugin's constructor as keyword arguments."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)
