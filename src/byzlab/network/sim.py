"""A deterministic discrete-event simulator: the protocol core in virtual time.

Theory of operation
-------------------
One thread, one priority queue of deliveries keyed by (virtual time, sequence number). Every
send asks the scheduler (a `DeliveryPolicy`: the adversary's scheduling power) for a delay in
[0, delta]; a node's messages to itself are local and take no time. Time, randomness and the
network are all simulated, and each node, the scheduler and the Byzantine strategies get
their own `random.Random` derived from the run seed (byzlab.seeds), so a seed replays a run
exactly. The trace hash folds in every delivery (time, endpoints, message identity and value)
and every decision; running a seed twice and comparing hashes catches nondeterminism (as
madsim does).

The simulator knows the protocol only through its object (byzlab.node.protocol): it counts
bytes by its `wire_size`, messages by its `kind` and broadcast instances by its `instance`
(if it has one), and folds each message into the trace hash through its `trace_fields`. It
reports what the honest nodes have of the optional capabilities (refusals, coin outputs,
weights); the iteration count is every node's.

The simulator drives `Process`es and knows the adversary only through the runtime's
interfaces (byzlab.runtime.interfaces): the scheduler as a `DeliveryPolicy`, its
full-information view as a `SendObserver`. Corrupted nodes are processes like the others,
except that their messages are held to the wire (byzlab.network.wire): what their protocol's
codec cannot carry reaches no honest node, as on a real run;
byzlab.adversary.assemble builds a run's nodes, scheduler and view and then the simulator,
and adaptive corruption swaps a process with `replace`. Invariant checkers
(byzlab.invariants) sit outside the protocol: agreement and validity are checked on every
decision as it happens, and the blackboard properties and Invariant 1 after the run (or
after every event with `check_every_event`, which is slow).

A run ends when every honest node has halted, the queue drains, or a limit is reached: virtual
time (`max_time`), deliveries (`max_deliveries`, 50 M by default) or wall-clock seconds
(`timeout_s`, none by default; `byzlab sim` gives 600 s). `stopped` is then "max-time",
"max-deliveries" or "timeout", and `stopped_detail` says which limit in words ("delivery
cap 50000000 reached"), so a stopped run is never mistaken for one that failed to agree. A
decision that breaks agreement or validity raises InvariantViolation at once;
`result_after_violation` then gives the result of the run up to it.
Every result also records the proofs' margins of its parameters (`params.regime`,
node/params.py `Params.margins`).

The message trace (byzlab.network.messagelog, docs/messages.md) is recorded into a
`MessageRecorder` given to `record_messages`: one send row per transmission, as the
interpreter hands it over, and one deliver row per counted delivery (`deliveries`), a
self-delivery included (its src is its dst and it arrives when it was sent), with the
receiver's verdict. `_Recording` sits where it costs nothing when off: it is the
interpreter's sink in front of the simulator, and the function the event loop pops the queue
with; without a recorder the sink is the simulator and the pop is heapq's, so the loop is the
same code at the same speed. Recording reads and changes nothing of the run: the trace hash
is the same with and without it.
"""

from __future__ import annotations

import hashlib
import heapq
import time as _time
from array import array
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from byzlab import plugins
from byzlab.errors import InvariantViolation
from byzlab.network.messagelog import DROPPED, MessageRecorder, VerdictWatch
from byzlab.network.wire import WireBound
from byzlab.node.agreement import HonestNode
from byzlab.node.effects import Decide, Event, Halt
from byzlab.node.params import Params
from byzlab.node.protocol import (
    CoinFlips,
    Instances,
    Protocol,
    ProtocolNode,
    Refusals,
    Weighted,
)
from byzlab.node.validity import valid_decision
from byzlab.runtime.delay import DelayBound
from byzlab.runtime.interfaces import DeliveryPolicy, Process, SendObserver
from byzlab.runtime.interpreter import EffectInterpreter

# the `stopped` of a run that ended by raising an agreement or validity violation
VIOLATION_STOP = "invariant-violation"
_MASK = (1 << 64) - 1
_FNV = 0x100000001B3


@dataclass
class DecisionRecord:
    node: int
    value: int
    iteration: int
    time: float


def iterations_taken(reached: Mapping[int, int], decided_in: Mapping[int, int]) -> int:
    """A run's ``iterations``, on every backend and for every protocol: the iteration in
    which its last honest node decided (``Decide.iteration``; node/agreement.py says which
    iteration a decision counts in), a node that has not decided counting the iteration it
    reached. `reached` and `decided_in` map honest node ids to those iterations. Not the
    iteration a node is in at the end: a local-coin node enters t + 1 the moment it decides
    in t, and an HPZ node does not, which counted the same run as 2 and 1."""
    return max((decided_in.get(i, t) for i, t in reached.items()), default=0)


@dataclass
class SimResult:
    agreed: bool
    decision: int | None
    valid: bool
    honest_decisions: dict[int, int]
    latency_delta: float | None  # None: the run did not agree, so it has no latency
    iterations: int
    epochs: int
    rbc_instances: int
    messages: int
    bytes: int
    trace_hash: str
    seed: int
    params: dict[str, Any]
    protocol: str
    scheduler: dict[str, Any]
    byzantine: dict[int, str]
    inputs: list[int]
    stopped: str
    deliveries: int
    decisions: list[DecisionRecord] = field(default_factory=list)
    messages_by_kind: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    # per honest node, its Refusals counters' `rejected`: `rejected` is their sum, nodes.csv
    # shows each node's total (messages_invalid)
    node_rejected: dict[int, dict[str, int]] = field(default_factory=dict)
    coin_unanimous: int = 0
    coin_split: int = 0
    limits: dict[str, Any] = field(default_factory=dict)
    stopped_detail: str = ""

    def summary(self) -> dict[str, Any]:
        """The keys promised by `byzlab sim --json`, plus a few diagnostics."""
        return {
            "agreed": self.agreed,
            "decision": self.decision,
            "valid": self.valid,
            "honest_decisions": {str(k): v for k, v in sorted(self.honest_decisions.items())},
            "latency_delta": self.latency_delta,
            "iterations": self.iterations,
            "epochs": self.epochs,
            "rbc_instances": self.rbc_instances,
            "messages": self.messages,
            "bytes": self.bytes,
            "trace_hash": self.trace_hash,
            "seed": self.seed,
            "params": self.params,
            "protocol": self.protocol,
            "scheduler": self.scheduler,
            "byzantine": {str(k): v for k, v in sorted(self.byzantine.items())},
            "inputs": self.inputs,
            "stopped": self.stopped,
            "stopped_detail": self.stopped_detail,
            "limits": self.limits,
            "deliveries": self.deliveries,
            "messages_by_kind": self.messages_by_kind,
            "rejected": self.rejected,
            "dropped": self.dropped,
            "coin_unanimous": self.coin_unanimous,
            "coin_split": self.coin_split,
        }


class Simulator:
    """Runs one agreement instance to completion in virtual time.

    `nodes` are the n processes, node i at index i; `corrupted` names the strategy of each
    corrupted one (every other node is honest and counts for agreement and validity);
    `scheduler` chooses every delay and `adversary` sees every send first. `observers` are
    called after every delivery (adaptive corruption is one). `record_messages` makes it
    record the message trace."""

    def __init__(
        self,
        params: Params,
        *,
        protocol: Protocol,
        inputs: Sequence[int],
        seed: int,
        nodes: Sequence[Process],
        corrupted: Mapping[int, str],
        scheduler: DeliveryPolicy,
        adversary: SendObserver,
        delta: float = 1.0,
        max_time: float | None = None,
        max_deliveries: int = 50_000_000,
        timeout_s: float | None = None,
        observers: Sequence[Callable[[Simulator, float], None]] = (),
    ) -> None:
        if len(nodes) != params.n or len(inputs) != params.n:
            raise ValueError(f"{len(nodes)} nodes and {len(inputs)} inputs for n={params.n}")
        self.params = params
        self.protocol = protocol
        self.inputs = list(inputs)
        self.seed = seed
        self.delta = delta
        self.max_time = max_time if max_time is not None else 1e7 * delta
        self.max_deliveries = max_deliveries
        self.timeout_s = timeout_s
        self.observers = list(observers)
        self.scheduler = scheduler
        self.adversary = adversary
        self.byzantine_ids = sorted(corrupted)
        self.honest_ids = [i for i in range(params.n) if i not in corrupted]
        self.nodes = list(nodes)
        self.strategy_names = dict(corrupted)
        self.now = 0.0
        self._queue: list[tuple[float, int, int, int, Any]] = []
        self._seq = 0
        self._hash = 0xCBF29CE484222325
        self.deliveries = 0
        self.messages = 0
        self.bytes = 0
        self.by_kind: Counter[str] = Counter()
        self.decisions: list[DecisionRecord] = []
        self.honest_decisions: dict[int, int] = {}
        self.halted: set[int] = set()
        self.events: list[tuple[float, int, Event]] = []
        self.initials: set[tuple[int, ...]] = set()
        self._trace_fields = protocol.trace_fields
        self._wire_size = protocol.wire_size
        self._kind = protocol.kind
        self._instance = protocol.instance if isinstance(protocol, Instances) else None
        self._delays = DelayBound(scheduler, delta).delays
        self.recording: _Recording | None = None
        self._pop: Callable[[list[Any]], Any] = heapq.heappop
        self._perform = EffectInterpreter(params.n, self, adversary).perform
        # what the event loop drives: `nodes`, each corrupted one held to the wire (wire.py)
        self._wire_refused: Counter[str] = Counter()
        self._decoder: Callable[[object], Any] | None = None
        self._procs: list[Process] = []

    def record_messages(self, recorder: MessageRecorder) -> None:
        """Record the run's message trace into `recorder` (before `run`)."""
        if self.deliveries or self.messages:
            raise ValueError("the message trace is recorded from the start of a run")
        self.recording = recording = _Recording(self, recorder)
        self._pop = recording.pop
        self._perform = EffectInterpreter(self.params.n, recording, self.adversary).perform

    # -- the event loop ----------------------------------------------------------------

    def _wire_bound(self, process: Process) -> Process:
        if self._decoder is None:
            self._decoder = plugins.decoder(self.protocol, self.params.n)
        return WireBound(process, self.protocol, self._decoder, self.honest_ids, self._wire_refused)

    def run(self) -> SimResult:
        corrupted = set(self.byzantine_ids)
        self._procs = [
            self._wire_bound(node) if i in corrupted else node for i, node in enumerate(self.nodes)
        ]
        for i, node in enumerate(self._procs):
            self._perform(i, node.start(0.0), 0.0)
        stopped = self._loop()
        if self.recording is not None:
            self.recording.finish(stopped)
        return self._result(stopped)

    def _loop(self) -> str:
        queue = self._queue
        nodes = self._procs
        halted = self.halted
        honest_ids = self.honest_ids
        pop = self._pop
        max_time, max_deliveries = self.max_time, self.max_deliveries
        observers = self.observers
        h = self._hash
        clock = _time.monotonic
        deadline = None if self.timeout_s is None else clock() + self.timeout_s
        while queue:
            if len(halted) == len(honest_ids):
                self._hash = h
                return "all-honest-halted"
            time, seqno, dst, src, msg = pop(queue)
            if time > max_time:
                self._hash = h
                return "max-time"
            self.now = time
            self.deliveries += 1
            if self.deliveries > max_deliveries:
                self._hash = h
                return "max-deliveries"
            if deadline is not None and not self.deliveries & 1023 and clock() > deadline:
                self._hash = h
                return "timeout"
            # the order in which pushes are delivered is the schedule; contents are hashed
            # once per send in transmit
            h = (h ^ seqno) * _FNV & _MASK
            node = nodes[dst]
            if node.halted:
                continue
            effects = node.receive(src, msg, time)
            if effects:
                self._hash = h
                self._perform(dst, effects, time)
                h = self._hash
            for observer in observers:
                observer(self, time)
        self._hash = h
        return "all-honest-halted" if len(halted) == len(honest_ids) else "queue-empty"

    def replace(self, node: int, process: Process, label: str) -> None:
        """Adaptive corruption: `process` (the adversary's, holding `node`'s keys and state)
        runs in the honest `node`'s place from now on, as a corrupted node named `label`.
        Its earlier decision no longer counts: agreement and validity concern the nodes that
        stay honest."""
        if node not in self.honest_ids:
            raise ValueError(f"node {node} is not honest")
        if len(self.byzantine_ids) >= self.params.f:
            raise ValueError(f"cannot corrupt more than f={self.params.f} nodes")
        self.nodes[node] = process
        self._procs[node] = self._wire_bound(process)
        self.honest_ids.remove(node)
        self.byzantine_ids.append(node)
        self.strategy_names[node] = label
        self.honest_decisions.pop(node, None)
        self.decisions = [d for d in self.decisions if d.node != node]
        self.halted.discard(node)

    def _mix(self, src: int, msg: Any) -> None:
        key, value = self._trace_fields(msg)
        self._hash = ((self._hash ^ (src | key << 10)) * _FNV ^ value) * _FNV & _MASK

    # -- the EffectSink of the runtime's interpreter (byzlab.runtime.interpreter) ------

    def transmit(self, src: int, msg: Any, dsts: Sequence[int], now: float) -> None:
        """Queue one copy per destination, each with its own sequence number in destination
        order (ties at one virtual time go in that order); the sender's own copy is due at
        once, the others after the scheduler's delay within [0, delta]."""
        if self._instance is not None:
            opened = self._instance(msg)
            if opened is not None:
                self.initials.add(opened)
        self._mix(src, msg)
        queue = self._queue
        push = heapq.heappush
        seq = self._seq
        for dst, delay in zip(dsts, self._delays(src, dsts, msg, now), strict=True):
            seq += 1
            push(queue, (now + delay, seq, dst, src, msg))
        self._seq = seq
        others = len(dsts) - (src in dsts)
        if others:
            self.messages += others
            self.bytes += self._wire_size(msg) * others
            self.by_kind[self._kind(msg)] += others

    def halt(self, src: int, halt: Halt, now: float) -> None:
        if src in self.honest_ids:
            self.halted.add(src)

    def event(self, src: int, event: Event, now: float) -> None:
        self.events.append((now, src, event))

    def decide(self, node: int, effect: Decide, now: float) -> None:
        if node not in self.honest_ids:
            return
        self.decisions.append(DecisionRecord(node, effect.value, effect.iteration, self.now))
        self.honest_decisions[node] = effect.value
        self._hash = (self._hash ^ (node << 8 | (effect.value + 1))) * _FNV & _MASK
        if len(set(self.honest_decisions.values())) > 1:
            raise InvariantViolation(
                f"agreement violated at t={self.now:.3f}: decisions {self.honest_decisions} "
                f"(seed={self.seed})"
            )
        if not valid_decision(effect.value, self.inputs, self.honest_ids):
            honest_inputs = {self.inputs[i] for i in self.honest_ids}
            raise InvariantViolation(
                f"validity violated: all honest inputs are {honest_inputs} but node {node} "
                f"decided {effect.value} (seed={self.seed})"
            )

    # -- results -----------------------------------------------------------------------

    def honest_nodes(self) -> list[HonestNode]:
        """The honest nodes of the Bracha engine (whose internals the invariant checkers
        read); none for a protocol of another family."""
        return [n for n in self.nodes if isinstance(n, HonestNode)]

    def protocol_nodes(self) -> list[ProtocolNode]:
        """Every node that still runs the protocol honestly, in id order."""
        return [n for i in self.honest_ids if isinstance(n := self.nodes[i], ProtocolNode)]

    def result_after_violation(self) -> SimResult:
        """The result of a run that raised InvariantViolation (an agreement or validity
        failure, at the offending decision): the run up to that decision, `stopped` =
        ``VIOLATION_STOP``. Its trace hash folds in every delivery and decision up to the
        violation, so a replay that raises at the same point has the same hash; a recorded
        message trace is closed as at the end of a run."""
        if self.recording is not None:
            self.recording.finish(VIOLATION_STOP)
        return self._result(VIOLATION_STOP)

    def _result(self, stopped: str) -> SimResult:
        honest = self.protocol_nodes()
        decided = self.honest_decisions
        agreed = len(decided) == len(self.honest_ids) and len(set(decided.values())) == 1
        decision = next(iter(decided.values())) if agreed else None
        valid = decision is None or valid_decision(decision, self.inputs, self.honest_ids)
        iterations = iterations_taken(
            {n.me: n.iteration for n in honest}, {d.node: d.iteration for d in self.decisions}
        )
        rejected: Counter[str] = Counter()
        dropped: Counter[str] = Counter()
        node_rejected: dict[int, dict[str, int]] = {}
        for node in honest:
            if isinstance(node, Refusals):
                node_rejected[node.me] = dict(node.rejected)
                rejected.update(node.rejected)
                dropped.update(node.dropped)
        rejected.update(self._wire_refused)
        weighted = any(isinstance(n, Weighted) for n in honest)
        unanimous, split = self.coin_agreement()
        digest = hashlib.blake2b(
            repr((self._hash, sorted(decided.items()), stopped)).encode(), digest_size=16
        ).hexdigest()
        return SimResult(
            agreed=agreed,
            decision=decision,
            valid=valid,
            honest_decisions=dict(decided),
            latency_delta=max(d.time for d in self.decisions) / self.delta if agreed else None,
            iterations=iterations,
            epochs=(iterations - 1) // self.params.T + 1 if iterations and weighted else 0,
            rbc_instances=len(self.initials),
            messages=self.messages,
            bytes=self.bytes,
            trace_hash=digest,
            seed=self.seed,
            params=self.params.to_dict(),
            protocol=self.protocol.name,
            scheduler=self.scheduler.describe(),
            byzantine=dict(self.strategy_names),
            inputs=self.inputs,
            stopped=stopped,
            deliveries=self.deliveries,
            decisions=list(self.decisions),
            messages_by_kind=dict(self.by_kind),
            rejected=dict(rejected),
            dropped=dict(dropped),
            node_rejected=node_rejected,
            coin_unanimous=unanimous,
            coin_split=split,
            limits={
                "max_deliveries": self.max_deliveries,
                "max_time": self.max_time,
                "timeout_s": self.timeout_s,
            },
            stopped_detail=self.stop_detail(stopped),
        )

    def stop_detail(self, stopped: str) -> str:
        """`stopped` in words, naming the limit that ended the run, if one did."""
        if stopped == "max-deliveries":
            return f"delivery cap {self.max_deliveries} reached"
        if stopped == "timeout":
            return f"wall-clock budget {self.timeout_s} s reached"
        if stopped == "max-time":
            return f"virtual time limit {self.max_time:g} delta reached"
        return {
            "queue-empty": "no message left in flight (the honest nodes are stuck)",
            "all-honest-halted": "every honest node halted",
            VIOLATION_STOP: "an honest decision broke agreement or validity",
        }.get(stopped, stopped)

    def coin_agreement(self) -> tuple[int, int]:
        """Iterations whose coin every honest node that flipped it saw the same way, and not."""
        outcomes: dict[int, set[int]] = {}
        for node in self.protocol_nodes():
            if not isinstance(node, CoinFlips):
                continue
            for t, v in node.coin_outputs.items():
                outcomes.setdefault(t, set()).add(v)
        unanimous = sum(1 for vs in outcomes.values() if len(vs) == 1)
        return unanimous, len(outcomes) - unanimous


class _Recording:
    """The message trace of a simulator run (see the module docstring): the interpreter's
    sink in front of the simulator, which records each transmission before the simulator
    queues it, and the event loop's pop, which records each delivery as it is taken from the
    queue. A delivery's verdict is known only once the receiver has taken it, so it is
    settled at the next pop (or when the run ends) by the receiver's `VerdictWatch`; the
    receiver takes nothing else in between."""

    def __init__(self, sim: Simulator, recorder: MessageRecorder) -> None:
        self.sim = sim
        self.recorder = recorder
        self._transmission = array("q")  # queue sequence number - 1 -> transmission index
        self._watches: list[VerdictWatch | None] = [None] * sim.params.n
        self._pending: VerdictWatch | None = None
        self._row = -1

    # -- the EffectSink --------------------------------------------------------------

    def transmit(self, src: int, msg: Any, dsts: Sequence[int], now: float) -> None:
        sim = self.sim
        # the interpreter hands a broadcast over as range(n), a Send as (dst,)
        dst = -1 if type(dsts) is range else dsts[0]
        index = self.recorder.send(now, src, dst, msg, corrupt=src in sim.strategy_names)
        self._transmission.extend([index] * len(dsts))
        sim.transmit(src, msg, dsts, now)

    def decide(self, src: int, decision: Decide, now: float) -> None:
        self.sim.decide(src, decision, now)

    def halt(self, src: int, halt: Halt, now: float) -> None:
        self.sim.halt(src, halt, now)

    def event(self, src: int, event: Event, now: float) -> None:
        self.sim.event(src, event, now)

    # -- the event loop's pop ------------------------------------------------------------

    def pop(self, queue: list[Any]) -> Any:
        entry = heapq.heappop(queue)
        self._settle()
        time, seqno, dst, _, _ = entry
        self._row = self.recorder.deliver(time, self._transmission[seqno - 1], dst)
        node = self.sim.nodes[dst]
        if node.halted:
            self.recorder.settle(self._row, DROPPED, "halted")
            return entry
        watch = self._watches[dst]
        if watch is None or watch.node is not node:  # first input, or adaptive corruption
            watch = self._watches[dst] = VerdictWatch(node)
        self._pending = watch
        return entry

    def _settle(self) -> None:
        watch = self._pending
        if watch is not None:
            self._pending = None
            outcome, reason = watch.verdict()
            if outcome:
                self.recorder.settle(self._row, outcome, reason)

    def finish(self, stopped: str) -> None:
        """The run ended with `stopped`. A limit that ends it takes one delivery from the
        queue and never makes it: past the virtual time limit it is not counted either, so
        its row goes; past the delivery cap or the wall-clock budget it is counted, and
        dropped for that reason."""
        if stopped == "max-time":
            self._pending = None
            self.recorder.drop_last()
        elif stopped in ("max-deliveries", "timeout"):
            self._pending = None
            self.recorder.settle(self._row, DROPPED, stopped)
        else:
            self._settle()
