"""One recorded simulator run: its summary, and a compact trace for plots and replay.

Theory of operation
-------------------
A sweep (sweep.py) and a replay (replay.py) run a scenario in the simulator the same way:
``run_recorded`` parses nothing and decides nothing on its own, it builds the simulator with
``scenario.build_simulator`` (exactly what ``byzlab sim --scenario`` does), so a recorded run,
its replay and a hand-run ``byzlab sim --scenario runs/<id>/scenario.toml`` have the same
trace hash.

Besides ``SimResult.summary()`` a run yields a compact *trace* (``trace.json``, format
``TRACE_FORMAT``) with what the per-run figures need and nothing more; the full event
stream of a large run would be gigabytes:

* ``iteration_starts``: per honest node, the virtual times at which it entered each
  iteration (iteration 1 at time 0), and ``halts``: when it halted;
* ``decisions``: per honest node, value, iteration and time;
* ``coins``: per iteration, every honest node's coin output and whether they were unanimous,
  and for HPZ's weighted coin the two terms each node summed (``bias``, the sum of the odd
  board's cells in its view, and ``sigma``, the weighted clipped column sums of the even
  board, in units of weight 1; output = sgn(bias + sigma), HPZ Algorithm 2), recomputed after
  the run from the node's fixed view, store and weights as the invariant checker's
  coin-recompute does (empty for a coin without terms: a local or common coin);
* ``epoch_weights``: the consensus weight vector of every epoch (``invariants.epoch_weights``,
  HPZ only; the baselines have no weights; null for an epoch whose weights no honest node
  knows, because the run ended as it began) and ``invariant1``: the violations of
  Invariant 1.

Iteration starts are recorded by wrapping each honest node's ``receive`` with a function
that calls it unchanged and then compares the node's ``iteration`` with the last one seen:
O(1) per delivery, and it cannot change the run (it reads state after the node has acted),
so the trace hash is the same with and without the recorder; a test checks this. A node
enters a new iteration only while handling a delivery, never on its own, so nothing is
missed. A run on the native engine (``engine``, docs/native.md) reports the same timeline
from the extension (``adversary.engine.run_native_timeline``), so its trace is the Python
run's; the engine that ran is part of the recorded run.

A run may also record its message trace (``messages.parquet``, network/messagelog.py): as
the scenario's ``[run] messages`` says (``auto``: up to 16 nodes), unless the caller says
otherwise. Recording changes nothing of the run (the same trace hash), but only the Python
engine records, so such a run runs in Python.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from byzlab import native
from byzlab.adversary.assemble import SchedulerFactory
from byzlab.adversary.corruption import AdaptiveCorruption
from byzlab.adversary.engine import Timeline, native_support, run_native_timeline
from byzlab.errors import InvariantViolation
from byzlab.invariants import check_invariant1, epoch_weights
from byzlab.network.messagelog import MessageRecorder, records_messages
from byzlab.network.sim import SimResult, Simulator
from byzlab.node.agreement import HonestNode
from byzlab.node.coin import coin_terms
from byzlab.node.messages import Message
from byzlab.node.protocol import CoinFlips, ProtocolNode
from byzlab.orchestration.scenario import Scenario, build_simulator

__all__ = ["TRACE_FORMAT", "RecordedRun", "run_recorded"]

TRACE_FORMAT = "byzlab-sim-trace-v1"


@dataclass(frozen=True)
class RecordedRun:
    result: SimResult
    trace: dict[str, Any]
    wall_s: float
    engine: str  # the engine that ran: "python" or "native"
    messages: MessageRecorder | None = None  # the message trace, if the run recorded it
    # the agreement or validity violation that ended the run (with keep_violation)
    violation: str | None = None


class _IterationRecorder:
    """Per honest node: [(iteration, time entered)], and the time it halted."""

    def __init__(self, sim: Simulator) -> None:
        self.starts: dict[int, list[tuple[int, float]]] = {}
        self.halts: dict[int, float] = {}
        for i in sim.honest_ids:
            node = sim.nodes[i]
            if isinstance(node, ProtocolNode):
                self.starts[i] = [(node.iteration, 0.0)]
                setattr(node, "receive", self._wrap(i, node))  # noqa: B010 - an instance hook

    def _wrap(self, i: int, node: ProtocolNode) -> Callable[[int, Message, float], list[Any]]:
        original = node.receive
        log = self.starts[i]
        halts = self.halts

        def receive(src: int, msg: Message, now: float = 0.0) -> list[Any]:
            effects = original(src, msg, now)
            if node.iteration != log[-1][0]:
                log.append((node.iteration, now))
            if node.halted and i not in halts:
                halts[i] = now
            return effects

        return receive

    def timeline(self, sim: Simulator) -> Timeline:
        coins: dict[int, dict[int, int]] = {}
        for node in sim.protocol_nodes():
            if isinstance(node, CoinFlips):
                for t, v in node.coin_outputs.items():
                    coins.setdefault(t, {})[node.me] = v
        return Timeline(self.starts, self.halts, coins, sim.now)


def run_recorded(
    scn: Scenario,
    *,
    max_time: float | None = None,
    timeout_s: float | None = None,
    engine: str | None = None,
    messages: str | None = None,
    max_deliveries: int | None = None,
    scheduler: SchedulerFactory | None = None,
    keep_violation: bool = False,
) -> RecordedRun:
    """Run ``scn`` in the simulator and return its result and compact trace; ``timeout_s``
    is a wall-clock budget (none by default: a recorded run must replay). ``engine``
    (default: the scenario's ``[run] engine``) is python, native or auto; native runs in
    Python, saying once why, when the native engine cannot run the scenario, and auto falls
    back quietly. ``messages`` (default: the scenario's ``[run] messages``) is auto, on or
    off: whether the run records its message trace (``RecordedRun.messages``).
    ``max_deliveries`` replaces the simulator's delivery cap, ``scheduler`` the scenario's
    scheduler (a schedule over it, orchestration/schedules.py). With ``keep_violation`` an
    agreement or validity violation ends the run instead of raising: the result and trace
    are the run's up to the violating decision (``Simulator.result_after_violation``) and
    ``RecordedRun.violation`` is the simulator's message; such a run runs in Python."""
    sim = build_simulator(scn, max_time=max_time, scheduler=scheduler)
    if timeout_s is not None:
        sim.timeout_s = timeout_s
    if max_deliveries is not None:
        sim.max_deliveries = max_deliveries
    recorder = None
    if records_messages(messages or scn.run.messages, scn.n):
        recorder = MessageRecorder(sim.protocol)
        sim.record_messages(recorder)
    wanted = engine or scn.run.engine
    reason = native_support(sim) if wanted != "python" else "the Python engine was asked for"
    if reason is None and keep_violation:
        reason = "a run that keeps its violation runs in Python"
    started = time.perf_counter()
    violation = None
    if reason is None:
        result, timeline = run_native_timeline(sim)
    else:
        if wanted == "native":
            native.warn_once(reason)
        iterations = _IterationRecorder(sim)
        try:
            result = sim.run()
        except InvariantViolation as exc:
            if not keep_violation:
                raise
            result, violation = sim.result_after_violation(), str(exc)
        timeline = iterations.timeline(sim)
    wall = time.perf_counter() - started
    ran = "native" if reason is None else "python"
    return RecordedRun(result, _trace(sim, result, timeline), wall, ran, recorder, violation)


def _coin_terms(sim: Simulator) -> dict[int, dict[int, tuple[int, float]]]:
    """iteration -> honest node -> (bias, Sigma) of its view fixed after BB_{2t}, for the HPZ
    coin; read after the run, so it cannot change it."""
    terms: dict[int, dict[int, tuple[int, float]]] = {}
    for node in sim.protocol_nodes():
        if not isinstance(node, HonestNode) or node.protocol.name != "hpz":
            continue
        for board, view in node.views.items():
            if board % 2 == 0:
                t = board // 2
                weights = node.know.weights.weights_for_iteration(t)
                terms.setdefault(t, {})[node.me] = coin_terms(node.know.store, view, t, weights)
    return terms


def _trace(sim: Simulator, result: SimResult, timeline: Timeline) -> dict[str, Any]:
    honest = sim.honest_nodes()
    byzantine = set(sim.byzantine_ids)
    weights: list[list[float] | None] = []
    invariant1: list[str] = []
    if result.protocol == "hpz" and honest and result.epochs:
        weights = epoch_weights(honest, byzantine, result.epochs)
        invariant1 = check_invariant1(honest, byzantine, result.epochs)
    terms = _coin_terms(sim)
    return {
        "format": TRACE_FORMAT,
        "n": sim.params.n,
        "f": sim.params.f,
        "T": sim.params.T,
        "protocol": result.protocol,
        "seed": result.seed,
        "delta": sim.delta,
        "honest": list(sim.honest_ids),
        "byzantine": {str(k): v for k, v in sorted(result.byzantine.items())},
        # adaptive corruptions as {node, at (virtual time), rule, strategy}, in time order
        "corrupted": [
            c.to_json()
            for c in sorted(
                c
                for rule in sim.observers
                if isinstance(rule, AdaptiveCorruption)
                for c in rule.corrupted
            )
        ],
        "inputs": list(result.inputs),
        "stopped": result.stopped,
        "end_time": timeline.end_time,
        "latency_delta": result.latency_delta,
        "trace_hash": result.trace_hash,
        "iteration_starts": {
            str(i): [[t, at] for t, at in log] for i, log in sorted(timeline.starts.items())
        },
        "halts": {str(i): at for i, at in sorted(timeline.halts.items())},
        "decisions": [
            {"node": d.node, "value": d.value, "iteration": d.iteration, "time": d.time}
            for d in result.decisions
        ],
        "coins": [
            {
                "iteration": t,
                "outputs": {str(k): v for k, v in sorted(outs.items())},
                "unanimous": len(set(outs.values())) == 1,
                "bias": {str(k): b for k, (b, _) in sorted(terms.get(t, {}).items())},
                "sigma": {str(k): s for k, (_, s) in sorted(terms.get(t, {}).items())},
            }
            for t, outs in sorted(timeline.coins.items())
        ],
        "epoch_weights": weights,
        "invariant1": invariant1,
    }
