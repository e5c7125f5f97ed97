"""A scheduler plugin: delay everything sent to node 2 by the full delta.

Every message to the target node (2 unless the ``target`` option says otherwise) arrives
exactly delta after it was sent, the latest the model allows; every other message arrives
after a uniform delay in [0, delta/2], drawn from the scheduler's own random stream so that a
seed replays the run. It looks at endpoints only, never inside a message, so it works with
every protocol. The target hears everything last: in a run's ``decision_times`` it decides
after the others.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field

from byzlab.api import PluginOptions, Scheduler


@dataclass
class SlowNode(Scheduler):
    class Options(PluginOptions):
        target: int = Field(default=2, ge=0, description="the node whose inbox is slow")

    target: int = 2
    name: str = "slow-node"
    description: str = "everything sent to one node (2) takes delta; the rest [0, delta/2]"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.target >= self.n:
            raise ValueError(f"target: must be a node id below n = {self.n}, got {self.target}")

    def delay(self, src: int, dst: int, msg: object, now: float) -> float:
        if dst == self.target:
            return self.delta
        return self.rng.uniform(0.0, self.delta / 2)

    def describe(self) -> dict[str, object]:
        return {"name": self.name, "target": self.target}
