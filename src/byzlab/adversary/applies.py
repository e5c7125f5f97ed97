"""Which protocols a Byzantine strategy or a scheduler applies to, and the refusal when not.

A strategy or scheduler class answers ``applies_to(protocol)``: None when it can run on the
protocol (byzlab.node.protocol), else the reason it cannot ("it needs HPZ's coin
messages"). The built-in ones that read messages only through the protocol's ``value_of``
and ``equivocal``, or not at all, apply to every protocol; the ones that read Bracha's votes,
HPZ's blackboards or the Bracha engine's state apply to the Bracha family
(byzlab.node.bracha). A plugin class without ``applies_to`` is taken to apply everywhere:
it is its author's to say otherwise.

`refusal` is the one line a scenario, the command line or a run's assembly gives when the
pairing does not hold, e.g. ``adversary.strategy: "mirror-mimic" does not apply to protocol
"mmr" (it needs HPZ's coin messages)``.
"""

from __future__ import annotations

from byzlab.node.bracha import BrachaProtocol
from byzlab.node.protocol import Protocol

__all__ = ["bracha_only", "refusal"]


def bracha_only(needs: str | None, protocol: Protocol) -> str | None:
    """`applies_to` of a built-in that `needs` something of the Bracha family (in words), or
    None if it needs nothing of it: None when it applies to `protocol`, else the reason."""
    if needs is None or isinstance(protocol, BrachaProtocol):
        return None
    return f"it needs {needs}"


def refusal(field: str, name: str, cls: type, protocol: Protocol) -> str | None:
    """None if `cls` (the strategy or scheduler called `name` at `field`) applies to
    `protocol`, else the one-line refusal naming the field, both names and the reason."""
    applies_to = getattr(cls, "applies_to", None)
    reason = applies_to(protocol) if callable(applies_to) else None
    if reason is None:
        return None
    return f'{field}: "{name}" does not apply to protocol "{protocol.name}" ({reason})'
