"""What an adversary object (a scheduler or a corrupted node's strategy) is given when it is built.

HPZ's adversary is one full-information entity (§2, "Full Information & Scheduling"): it sees
every message in flight, schedules every delivery within [0, delta], and drives the corrupted
nodes. byzlab splits it into objects (one scheduler, one strategy per corrupted node) that
share one `AdversaryView`; each object receives its context as a constructor argument, so a
scheduler or strategy is complete from the moment it exists (no attribute is set on it later,
and none of its methods needs to check that it was). One context serves the whole run.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from byzlab.adversary.view import AdversaryView
from byzlab.node.params import Params
from byzlab.node.protocol import Protocol


@dataclass(frozen=True)
class AdversaryContext:
    """The run as the adversary sees it.

    `view` is shared by every adversary object of the run (the corrupted nodes coordinate
    through it), `rng` is the scheduler's stream, ``derive_rng(seed, "scheduler")`` (a
    corrupted node draws from its node's own stream instead, see `ByzantineNode`), and
    `delta` is the delay bound in the runtime's time unit (1.0: the simulator's virtual time,
    and the unit the proxy's schedulers work in). The set of corrupted nodes lives in the
    view, because adaptive corruption grows it during the run. `oracle` is the honest nodes'
    state as the proxy learns it from their side channel (node id -> snapshot, read-only and
    live); the simulator has none to offer, so it is empty there. `protocol` is the run's protocol
    object (byzlab.node.protocol): value-based attacks read and forge messages through it,
    and a scheduler that does not apply to it refuses to be built.
    """

    params: Params
    view: AdversaryView
    rng: random.Random = field(default_factory=random.Random)
    delta: float = 1.0
    oracle: Mapping[int, Mapping[str, Any]] = field(default_factory=lambda: MappingProxyType({}))
    protocol: Protocol = field(kw_only=True)

    @property
    def n(self) -> int:
        return self.params.n

    @property
    def f(self) -> int:
        return self.params.f

    @property
    def byzantine(self) -> frozenset[int]:
        return self.view.byzantine
