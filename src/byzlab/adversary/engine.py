"""The simulator's engines: run an assembled `Simulator` on the native engine or in Python.

`run_simulator(sim, engine)` is the one place that chooses. The native engine
(byzlab.native, a Rust extension) runs a simulator whose every node is an honest
"bracha-local" or "ideal-coin" node and whose scheduler is an oblivious one (fifo, random,
hold-f, exponential, latency-matrix, targeted, partition), with no observers (adaptive
corruption): such a run never needs Python per message. It starts from the simulator
exactly as assembled (the nodes' inputs and the `random.Random` streams of the nodes and the
scheduler, handed over as Mersenne Twister states), so it gives the Python engine's trace
hash for every seed. Any other run (HPZ's coin, corrupted nodes, full-information
schedulers, observers, a run that records its message trace) runs in Python, and byzlab
says once why when the native engine was asked for by name; `native_support` gives that
reason.

`run_native_timeline` is the native run a recorded run (orchestration/runtrace.py) makes:
its result and the timeline its trace keeps (per node, the iterations entered and when,
when it halted, its coins), which the native engine reports as the Python recorder reads
it. `delivery_log` runs a simulator on either engine recording every delivery a node
receives, which is what locates the first difference when two engines disagree.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from byzlab import native
from byzlab.adversary.schedulers import SCHEDULERS
from byzlab.errors import InvariantViolation
from byzlab.network.sim import DecisionRecord, SimResult, Simulator, iterations_taken
from byzlab.node.agreement import HonestNode
from byzlab.node.bracha import BUILTIN_PROTOCOLS
from byzlab.node.effects import Effect
from byzlab.node.messages import DecideMsg, Message
from byzlab.node.validity import valid_decision
from byzlab.runtime.interfaces import Process

__all__ = ["Timeline", "delivery_log", "native_support", "run_native_timeline", "run_simulator"]

# (time, dst, src, kind, origin, seq, iteration, step, value); a DECIDE is kind 3
Delivery = tuple[float, int, int, int, int, int, int, int, int]


def _scheduler_args(sim: Simulator, native_names: Sequence[str]) -> dict[str, Any] | str:
    """The native form of the simulator's scheduler, or why it has none: it must be exactly
    the class the registry holds under one of the extension's scheduler names (a subclass
    may override `delay`), and its resolved fields are what the extension reads."""
    policy: Any = sim.scheduler
    name = next((k for k in native_names if type(policy) is SCHEDULERS.get(k)), None)
    if name is None:
        return f"the scheduler {getattr(policy, 'name', type(policy).__name__)!r} is not native"
    n = sim.params.n
    ids: list[Any] = []
    matrix: list[float] = []
    param = 0.0
    if name == "hold-f":
        ids = sorted(policy._held)
    elif name == "exponential":
        param = float(policy.mean)
        if not param > 0:
            return "an exponential scheduler's mean must be > 0"
    elif name == "latency-matrix":
        matrix = [float(x) for row in policy._matrix for x in row]
        param = float(policy.jitter)
    elif name == "targeted":
        ids, param = policy._nodes, float(policy.slowdown)
    elif name == "partition":
        ids, param = policy._group, float(policy.heal_at)
    if any(type(i) is not int for i in ids):
        return f"the {name} scheduler's node ids are not all integers"
    return {
        "scheduler": name,
        "scheduler_delta": float(policy.delta),
        "scheduler_state": native.mt_state(policy.rng),
        # ids outside 0..n-1 are never an endpoint: the Python scheduler never matches them
        "members_ids": [i for i in ids if 0 <= i < n],
        "matrix": matrix,
        "param": param,
    }


def native_support(sim: Simulator) -> str | None:
    """Why the native engine cannot run `sim`, in one line, or None when it can."""
    ext = native.extension()
    if ext is None:
        return native.missing_reason()
    # exactly the built-in objects: a plugin's protocol may share their engine, not its rules
    protocol = sim.protocol
    if protocol.name not in ext.PROTOCOLS or protocol is not BUILTIN_PROTOCOLS[protocol.name]:
        return f"the native engine runs {' and '.join(ext.PROTOCOLS)}, not {protocol.name}, yet"
    if sim.byzantine_ids or any(type(node) is not HonestNode for node in sim.nodes):
        return "corrupted nodes run only on the Python engine, for now"
    if sim.observers:
        return "observers (adaptive corruption) run only on the Python engine"
    if sim.recording is not None:
        return "the message trace (messages.parquet) is recorded only by the Python engine"
    if sim.deliveries or sim.messages:
        return "the simulator has already run"
    reason = _scheduler_args(sim, ext.SCHEDULERS)
    return reason if isinstance(reason, str) else None


def _native(sim: Simulator, *, log: bool) -> dict[str, Any]:
    ext = native.extension()
    assert ext is not None, "checked by native_support"
    scheduler = _scheduler_args(sim, ext.SCHEDULERS)
    assert isinstance(scheduler, dict), "checked by native_support"
    nodes = [node for node in sim.nodes if isinstance(node, HonestNode)]
    params = sim.params
    out: dict[str, Any] = ext.run(
        n=params.n,
        f=params.f,
        quorum=params.quorum,
        window=params.window,
        ideal=sim.protocol.name == "ideal-coin",
        ideal_seed=nodes[0].ideal_seed,
        inputs=[node.input_value for node in nodes],
        node_states=[native.mt_state(node.rng) for node in nodes],
        delta=sim.delta,
        max_time=sim.max_time,
        max_deliveries=sim.max_deliveries,
        timeout_s=sim.timeout_s,
        log=log,
        **scheduler,
    )
    if out["violation"] is not None:
        raise InvariantViolation(f"{out['violation']} (seed={sim.seed}, native engine)")
    return out


def _coin_agreement(coin_outputs: Sequence[Sequence[tuple[int, int]]]) -> tuple[int, int]:
    outcomes: dict[int, set[int]] = {}
    for outputs in coin_outputs:
        for t, v in outputs:
            outcomes.setdefault(t, set()).add(v)
    unanimous = sum(1 for vs in outcomes.values() if len(vs) == 1)
    return unanimous, len(outcomes) - unanimous


def _native_result(sim: Simulator, out: dict[str, Any]) -> SimResult:
    """The `SimResult` the Python engine gives for the run the native engine made."""
    decisions = [DecisionRecord(node, v, t, time) for node, v, t, time in out["decisions"]]
    decided = {d.node: d.value for d in decisions}
    honest = sim.honest_ids
    agreed = len(decided) == len(honest) and len(set(decided.values())) == 1
    decision = next(iter(decided.values())) if agreed else None
    iterations = iterations_taken(
        dict(enumerate(out["iterations"])), {d.node: d.iteration for d in decisions}
    )
    stopped = out["stopped"]
    unanimous, split = _coin_agreement(out["coin_outputs"])
    digest = hashlib.blake2b(
        repr((out["hash"], sorted(decided.items()), stopped)).encode(), digest_size=16
    ).hexdigest()
    return SimResult(
        agreed=agreed,
        decision=decision,
        valid=decision is None or valid_decision(decision, sim.inputs, honest),
        honest_decisions=decided,
        latency_delta=max(d.time for d in decisions) / sim.delta if agreed else None,
        iterations=iterations,
        epochs=(iterations - 1) // sim.params.T + 1 if iterations else 0,
        rbc_instances=out["initials"],
        messages=out["messages"],
        bytes=out["bytes"],
        trace_hash=digest,
        seed=sim.seed,
        params=sim.params.to_dict(),
        protocol=sim.protocol.name,
        scheduler=sim.scheduler.describe(),
        byzantine={},
        inputs=sim.inputs,
        stopped=stopped,
        deliveries=out["deliveries"],
        decisions=decisions,
        messages_by_kind=dict(out["by_kind"]),
        rejected=dict(sum((Counter(dict(r)) for r in out["rejected"]), Counter())),
        dropped=dict(out["dropped"]),
        node_rejected={i: dict(r) for i, r in enumerate(out["rejected"])},
        coin_unanimous=unanimous,
        coin_split=split,
        limits={
            "max_deliveries": sim.max_deliveries,
            "max_time": sim.max_time,
            "timeout_s": sim.timeout_s,
        },
        stopped_detail=sim.stop_detail(stopped),
    )


def run_simulator(sim: Simulator, engine: str = "native", *, explain: bool = True) -> SimResult:
    """Run `sim` on `engine` ("native" or "python"); a run the native engine does not
    support (or a machine without it) runs in Python, and, with `explain`, byzlab says
    why, once per process (the default engine falls back quietly; one asked for by name
    says why it is not used)."""
    if engine not in native.ENGINES:
        raise ValueError(f"engine must be one of {', '.join(native.ENGINES)}, got {engine!r}")
    if engine == "native":
        reason = native_support(sim)
        if reason is None:
            return _native_result(sim, _native(sim, log=False))
        if explain:
            native.warn_once(reason)
    return sim.run()


@dataclass(frozen=True)
class Timeline:
    """What a recorded run keeps of a run besides its result: per honest node the
    iterations it entered and when (iteration 1 at time 0), when it halted, every node's
    coin per iteration, and the virtual time the run ended."""

    starts: dict[int, list[tuple[int, float]]]
    halts: dict[int, float]
    coins: dict[int, dict[int, int]]
    end_time: float


def run_native_timeline(sim: Simulator) -> tuple[SimResult, Timeline]:
    """Run `sim` on the native engine (``native_support(sim)`` must be None) and return
    its result and timeline, the same as the Python run's."""
    out = _native(sim, log=False)
    coins: dict[int, dict[int, int]] = {}
    for i, outputs in zip(sim.honest_ids, out["coin_outputs"], strict=True):
        for t, v in outputs:
            coins.setdefault(t, {})[i] = v
    timeline = Timeline(
        starts={i: list(log) for i, log in zip(sim.honest_ids, out["starts"], strict=True)},
        halts={i: at for i, at in zip(sim.honest_ids, out["halts"], strict=True) if at is not None},
        coins=coins,
        end_time=out["now"],
    )
    return _native_result(sim, out), timeline


class _Logged:
    """A process that records every delivery it receives, then hands it on."""

    def __init__(self, inner: Process, log: list[Delivery]) -> None:
        self.inner = inner
        self.me = inner.me
        self.log = log

    @property
    def halted(self) -> bool:
        return self.inner.halted

    def start(self, now: float) -> list[Effect]:
        return self.inner.start(now)

    def receive(self, src: int, msg: Message, now: float) -> list[Effect]:
        if isinstance(msg, DecideMsg):
            self.log.append((now, self.me, src, 3, 0, 0, 0, 0, msg.value))
        else:
            item: Any = msg.item
            first = getattr(item, "iteration", getattr(item, "board", 0))
            second = getattr(item, "step", getattr(item, "row", 0))
            entry = (now, self.me, src, msg.kind, msg.origin, msg.seq, first, second, item.value)
            self.log.append(entry)
        return self.inner.receive(src, msg, now)


def delivery_log(sim: Simulator, engine: str) -> list[Delivery]:
    """Run `sim` on `engine` and return every delivery handed to a node, in order (a
    delivery to a halted node is not handed over, so it is not in the log)."""
    if engine == "native":
        reason = native_support(sim)
        if reason is not None:
            raise ValueError(reason)
        return [tuple(entry) for entry in _native(sim, log=True)["log"]]
    log: list[Delivery] = []
    sim.nodes = [_Logged(node, log) for node in sim.nodes]
    sim.run()
    return log
