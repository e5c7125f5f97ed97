"""coin-vote's honest node, a sans-IO state machine (effects out; no clock, no I/O).

Round r: broadcast EST(r, x), wait for n - f ESTs; PROP(r, v) if more than (n + f)/2 carry v,
else PROP(r, 0); wait for n - f PROPs. More than (n + f)/2 PROPs of v: decide v, broadcast
DONE(r, v) (its EST and PROP of v in every later round) and halt. Otherwise x becomes v if
f + 1 PROPs carry v, else the coin of round r. Messages over `window` rounds ahead are dropped.
"""

from __future__ import annotations

from byzlab.api import Broadcast, Decide, Effect, Halt, Params, ideal_coin

from .wire import Msg


class Node:
    def __init__(self, me: int, params: Params, x: int, seed: bytes, window: int) -> None:
        self.me, self.n, self.f, self.x, self.seed = me, params.n, params.f, x, seed
        self.window, self.iteration, self.phase, self.halted = window, 1, "EST", False
        self.decision: int | None = None
        self.got: dict[tuple[int, str], dict[int, int]] = {}  # (round, kind) -> sender -> value
        self.done: dict[int, Msg] = {}  # sender -> its DONE

    def start(self, now: float) -> list[Effect]:
        return [Broadcast(Msg("EST", 1, self.x))]

    def receive(self, src: int, msg: Msg, now: float) -> list[Effect]:
        if msg.kind == "DONE":
            self.done.setdefault(src, msg)
        elif self.iteration <= msg.round <= self.iteration + self.window:
            self.got.setdefault((msg.round, msg.kind), {}).setdefault(src, msg.value)
        out: list[Effect] = []
        while not self.halted and (votes := self.votes()):
            self.step(votes, max((-1, 1), key=votes.count), out)
        return out

    def votes(self) -> list[int]:
        """The values of this phase's messages once n - f senders are in, else []."""
        got = self.got.get((self.iteration, self.phase), {})
        late = [d.value for s, d in self.done.items() if d.round < self.iteration and s not in got]
        return [*got.values(), *late] if len(got) + len(late) >= self.n - self.f else []

    def step(self, votes: list[int], v: int, out: list[Effect]) -> None:
        r, most = self.iteration, votes.count(v) > (self.n + self.f) / 2
        if self.phase == "EST":
            self.phase = "PROP"
            out.append(Broadcast(Msg("PROP", r, v if most else 0)))
        elif most:
            self.decision, self.halted = v, True
            out += [Decide(v, r), Broadcast(Msg("DONE", r, v)), Halt("decided")]
        else:
            self.x = v if votes.count(v) > self.f else ideal_coin(self.seed, r)
            self.iteration, self.phase = r + 1, "EST"
            self.got = {key: got for key, got in self.got.items() if key[0] > r}
            out.append(Broadcast(Msg("EST", r + 1, self.x)))

    def snapshot(self) -> dict[str, object]:
        return {"node": self.me, "round": self.iteration, "x": self.x, "decision": self.decision}
