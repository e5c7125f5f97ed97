"""Multi-instance runs: a pool of nodes takes part in one agreement instance after another.

Theory of operation
-------------------
A scenario with ``[committee]`` and/or ``[sortition]`` (``scenario.py``) describes a *pool* of
P nodes, some of them Byzantine, and a number of agreement instances run in a row.
``run_instances`` does, for instance t = 0, 1, ...:

1. *Public seed.* Every pool node signs ``seed_message(d, t)`` with its Ed25519 key, every
   share is checked with ``verify_seed_share``, and the seed is ``public_seed(d, t, shares)``
   (``sidecars/committee.py`` §7), where ``d`` is the previous instance's decision (+1 or -1;
   0 before the first instance and after an instance without a decision). Ed25519 is
   deterministic, so no node can grind its share. The keys are derived from ``run.seed`` so
   that a run replays: they are demonstration keys, not secrets.
2. *Active set* (``[sortition]``, ``sidecars/sortition.py``). The ``sortition.active`` pool
   nodes with the highest EMA quality take part; ties (and the first instance, where no node
   has a quality yet) are broken at random by a generator keyed by the public seed. Without
   [sortition] every pool node (with stake) is eligible.
3. *Seats* (``[committee]``). ``draw_seats(stakes of the eligible nodes, k, seed)`` gives the
   owner of each of the k seats in draw order, and player i of the instance is owned by
   ``owners[i]``: a node holding s seats runs s players. Anyone can recompute the draw
   (``byzlab committee draw --stakes S --k k --seed-hex SEED``, with the eligible nodes'
   stakes). Without [committee] the players are the active nodes, one each, by increasing id.
4. *Run.* The instance is an ordinary scenario of n = k players (``instance_scenario``): each
   player starts with its owner's input (``run.inputs`` is per pool node), the players of a
   Byzantine pool node are all corrupted with its strategy and options, and [run], [params]
   and [adversary] apply as written; its seed is derived from the public seed. Any backend
   runs it (``dispatch.run_scenario``: the simulator, one local process or one container per
   player), and ``instances/<t>/`` gets the results layout of a single run on that backend
   (on the simulator ``byzlab sim --scenario instances/<t>/scenario.toml`` replays it).
5. *The adversary's share.* ``adversary_seats`` is the number of players owned by Byzantine
   nodes, recorded with its share of k and whether it reaches k/3. HPZ tolerates f < n/3
   corrupted players, and both the simulator and the adversary proxy refuse to build an
   instance with more than f: such an instance (for the default f, exactly the ones where
   the adversary holds >= k/3 seats) is recorded with status ``over-f`` and not run.
   Agreement is not guaranteed there; there is no decision, and the run's exit status is 3
   (``EXIT_OVER_BOUND``) unless something worse happened.
6. *Quality* (``[sortition]``). The measured figure is **responsiveness**: a player that
   decided at time t_p in an instance whose last honest decision came at L scores
   ``1 - t_p / L`` (1 for the first to decide, 0 for the last; virtual time in the
   simulator, wall-clock seconds on processes), and a node's score T_j is the mean over its
   players. The active set A of the sortition update is the nodes holding a seat. A node of
   A none of whose players reported a decision (a Byzantine node's players never do; nor
   does an honest node that timed out) *missed* the instance and is pulled toward
   min(T) - penalty sigma(T) (Eq. 4); nodes outside A are pulled toward the ``percentile``
   of the scores (Eq. 3); the EMA (Eq. 1, ``sortition.update_ema``) then ranks the next
   instance's active set. An instance that was not run measures nothing: EMAs stay put.
7. The decision becomes ``d`` of the next seed.

Results, in ``<out>/<run-id>/``: ``scenario.toml``; ``instances/<t>/`` per instance;
``instances.json`` and ``instances.csv`` (one row per instance, rewritten after each one, so
an interrupted run keeps what it did); ``players.csv`` (instance, player, owner, role,
strategy, input, decision, decision time); and ``summary.json``, written last: the seat
shares, the instances over the bound, the active sets and how they changed, decisions and
latencies. Exit status: 0 every instance agreed on a valid value; 1 an instance within the
fault bound did not; 3 every instance that could run agreed, but in at least one the
adversary was over the bound; 130 interrupted.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from nacl.signing import SigningKey

from byzlab.atomicio import atomic_write_json, atomic_write_text
from byzlab.orchestration.dispatch import BACKENDS, run_scenario
from byzlab.orchestration.plan import new_run_id
from byzlab.orchestration.provenance import run_plugins
from byzlab.orchestration.results import git_commit, mark_complete, mark_incomplete
from byzlab.orchestration.scenario import MAX_SEED, ByzantineEntry, Scenario
from byzlab.seeds import make_inputs
from byzlab.sidecars import sortition
from byzlab.sidecars.committee import (
    draw_seats,
    exact_tail_probability,
    public_seed,
    sign_seed_share,
    verify_seed_share,
)

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_OVER_BOUND",
    "QUALITY_METRIC",
    "InstanceDraw",
    "InstanceResult",
    "MultiRunOutcome",
    "Pool",
    "draw_instance",
    "instance_scenario",
    "instance_seed",
    "pool_keys",
    "print_outcome",
    "responsiveness",
    "run_command",
    "run_instance",
    "run_instances",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_OVER_BOUND = 3
EXIT_INTERRUPTED = 130

QUALITY_METRIC = (
    "responsiveness: a player that decided at t_p scores 1 - t_p / L, L the instance's last "
    "honest decision time; a node's score is the mean over its players; a node holding a "
    "seat none of whose players reported a decision missed the instance (sortition Eq. 4)"
)

KEY_PERSON = b"byzlab-poolkey1"
SORTITION_PERSON = b"byzlab-sorttie1"
RUN_SEED_PERSON = b"byzlab-instrun1"

INSTANCE_COLUMNS = (
    "instance",
    "status",
    "seed",
    "previous_decision",
    "players",
    "f",
    "adversary_seats",
    "adversary_share",
    "over_third",
    "adversary_stake_share",
    "p_over_third",
    "active",
    "joined",
    "left",
    "byzantine_active",
    "seats",
    "agreed",
    "decision",
    "valid",
    "latency",
    "latency_unit",
    "latency_s",
    "iterations",
    "stopped",
)
PLAYER_COLUMNS = (
    "instance",
    "player",
    "owner",
    "role",
    "strategy",
    "input",
    "decision",
    "decision_time",
)


# --------------------------------------------------------------------------- the pool


@dataclass(frozen=True)
class Pool:
    """The pool of a multi-instance scenario: stakes (None: no stake draw), who is
    Byzantine, and each pool node's input."""

    size: int
    stakes: list[int] | None
    byzantine: dict[int, ByzantineEntry]
    inputs: list[int]

    @classmethod
    def of(cls, scn: Scenario) -> Pool:
        if not scn.multi_instance:
            raise ValueError("the scenario has neither [committee] nor [sortition]")
        size = scn.pool_size
        inputs = scn.run.inputs
        resolved = make_inputs(inputs, size, scn.seed) if isinstance(inputs, str) else list(inputs)
        return cls(
            size=size,
            stakes=list(scn.committee.stakes) if scn.committee is not None else None,
            byzantine={b.node: b for b in scn.pool_byzantine},
            inputs=resolved,
        )

    def eligible_mask(self) -> npt.NDArray[np.bool_]:
        """Who can be in an active set: every node, or every node with stake."""
        if self.stakes is None:
            return np.ones(self.size, dtype=bool)
        return np.asarray([s > 0 for s in self.stakes], dtype=bool)


def pool_keys(seed: int, size: int) -> list[SigningKey]:
    """The pool nodes' Ed25519 keys, derived from the run seed (demonstration keys)."""
    return [
        SigningKey(
            hashlib.blake2b(f"{seed}:{j}".encode(), digest_size=32, person=KEY_PERSON).digest()
        )
        for j in range(size)
    ]


# --------------------------------------------------------------------------- one draw


@dataclass(frozen=True)
class InstanceDraw:
    """Who plays instance ``instance``: everything that follows from the public seed."""

    instance: int
    previous_decision: int
    seed: bytes
    eligible: list[int]  # pool nodes the seats are drawn from (the active set, if any)
    owners: list[int]  # owner pool node of each player
    byzantine_players: dict[int, ByzantineEntry]  # player -> its owner's strategy

    @property
    def players(self) -> int:
        return len(self.owners)

    @property
    def adversary_seats(self) -> int:
        return len(self.byzantine_players)

    @property
    def over_third(self) -> bool:
        return 3 * self.adversary_seats >= self.players

    def seats(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        for owner in self.owners:
            counts[owner] = counts.get(owner, 0) + 1
        return dict(sorted(counts.items()))


def instance_seed(previous_decision: int, instance: int, keys: Sequence[SigningKey]) -> bytes:
    """The public seed of an instance from every pool node's checked signature share."""
    shares = []
    for j, key in enumerate(keys):
        share = sign_seed_share(key, previous_decision, instance)
        if not verify_seed_share(key.verify_key, previous_decision, instance, share):
            raise RuntimeError(f"pool node {j}'s seed share does not verify")  # pragma: no cover
        shares.append(share)
    return public_seed(previous_decision, instance, shares)


def _seeded(seed: bytes, person: bytes, size: int) -> int:
    return int.from_bytes(hashlib.blake2b(seed, digest_size=size, person=person).digest(), "big")


def draw_instance(
    pool: Pool,
    *,
    instance: int,
    previous_decision: int,
    seed: bytes,
    eligible: Sequence[int],
    seats: int | None,
) -> InstanceDraw:
    """Players of one instance: ``seats`` stake-weighted seats among ``eligible`` (with
    [committee]), or the eligible nodes themselves, one player each (``seats=None``)."""
    nodes = sorted(eligible)
    if seats is None:
        owners = nodes
    else:
        if pool.stakes is None:
            raise ValueError("a seat draw needs stakes")
        drawn = draw_seats([pool.stakes[j] for j in nodes], seats, seed)
        owners = [nodes[i] for i in drawn]
    byz = {p: pool.byzantine[o] for p, o in enumerate(owners) if o in pool.byzantine}
    return InstanceDraw(instance, previous_decision, seed, nodes, owners, byz)


def instance_scenario(scn: Scenario, pool: Pool, draw: InstanceDraw) -> Scenario:
    """The plain scenario of one instance: n = players, owners' inputs, corrupted players."""
    byzantine = [
        ByzantineEntry(node=p, strategy=b.strategy, options=dict(b.options))
        for p, b in sorted(draw.byzantine_players.items())
    ]
    run = scn.run.model_copy(
        update={
            "n": draw.players,
            "seed": _seeded(draw.seed, RUN_SEED_PERSON, 8) & MAX_SEED,
            "inputs": tuple(pool.inputs[o] for o in draw.owners),
        }
    )
    adversary = scn.adversary.model_copy(update={"byzantine": byzantine})
    return scn.model_copy(
        update={"run": run, "adversary": adversary, "committee": None, "sortition": None}
    )


# --------------------------------------------------------------------------- running one


@dataclass(frozen=True)
class InstanceResult:
    """What a backend reports of one instance, in one shape for both backends."""

    agreed: bool
    decision: int | None
    valid: bool
    stopped: str
    latency: float | None  # last honest decision, in `unit`, if they agreed
    unit: str  # "delta" (virtual time) or "s" (wall clock)
    latency_s: float | None
    decision_times: dict[int, float]  # player -> decision time, in `unit`
    iterations: int
    messages: int
    trace_hash: str
    interrupted: bool = False


def run_instance(scn: Scenario, out_dir: Path, backend: str) -> InstanceResult:
    """Run one instance on ``backend`` into ``out_dir`` (the results layout of a single run,
    ``backend.RESULT_FILES``) and report it in one shape for every backend."""
    outcome = run_scenario(scn, backend, out_root=out_dir.parent, run_id=out_dir.name)
    s = outcome.summary
    agreed = bool(s.get("agreed"))
    virtual = backend == "sim"  # the simulator's times are virtual, in units of delta
    latency = s.get("latency_delta") if virtual else s.get("latency_s")
    return InstanceResult(
        agreed=agreed,
        decision=s.get("decision"),
        valid=bool(s.get("valid")),
        stopped=outcome.stopped,
        latency=latency if agreed else None,
        unit="delta" if virtual else "s",
        latency_s=None if virtual or not agreed else latency,
        decision_times={int(k): float(v) for k, v in (s.get("decision_times") or {}).items()},
        iterations=int(s.get("iterations") or 0),
        messages=int(s.get("messages") or 0),
        trace_hash=str(s.get("trace_hash", "")),
        interrupted=outcome.stopped == "interrupted",
    )


def responsiveness(draw: InstanceDraw, decision_times: dict[int, float]) -> dict[int, float]:
    """Each seat holder's score (module doc, item 6); nodes that missed are left out."""
    times = {p: t for p, t in decision_times.items() if p not in draw.byzantine_players}
    if not times:
        return {}
    last = max(times.values())
    per_node: dict[int, list[float]] = {}
    for p, t in times.items():
        per_node.setdefault(draw.owners[p], []).append(1.0 - t / last if last > 0 else 1.0)
    return {j: float(np.mean(v)) for j, v in sorted(per_node.items())}


# --------------------------------------------------------------------------- the run


@dataclass
class MultiRunOutcome:
    run_id: str
    out_dir: Path
    summary: dict[str, Any]
    records: list[dict[str, Any]] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return int(self.summary["exit_code"])


class _Merit:
    """The pool's sortition state: EMA per node (NaN: no quality yet)."""

    def __init__(self, pool: Pool, scn: Scenario) -> None:
        assert scn.sortition is not None
        self.cfg = scn.sortition
        self.present = pool.eligible_mask()
        self.ema = np.full(pool.size, np.nan)

    def select(self, seed: bytes) -> list[int]:
        rng = np.random.default_rng(_seeded(seed, SORTITION_PERSON, 16))
        active = sortition.select_active(self.ema, self.present, self.cfg.active, rng)
        return [int(j) for j in np.flatnonzero(active)]

    def update(self, draw: InstanceDraw, scores: dict[int, float]) -> list[int]:
        """Eqs. 1-4 with the seat holders as the active set; returns who missed."""
        size = self.ema.size
        holders = np.zeros(size, dtype=bool)
        holders[list(set(draw.owners))] = True
        contributed = np.zeros(size, dtype=bool)
        t = np.zeros(size)
        for j, score in scores.items():
            contributed[j], t[j] = True, score
        target = sortition.target_qualities(
            t,
            holders,
            contributed,
            self.present,
            percentile=self.cfg.percentile,
            penalty=self.cfg.penalty,
        )
        self.ema = sortition.update_ema(self.ema, target, self.cfg.alpha)
        return [int(j) for j in np.flatnonzero(holders & ~contributed)]

    def snapshot(self) -> dict[str, float]:
        return {str(j): round(float(q), 6) for j, q in enumerate(self.ema) if not math.isnan(q)}


def _mode(scn: Scenario) -> str:
    return "+".join(
        name
        for name, section in (("committee", scn.committee), ("sortition", scn.sortition))
        if section is not None
    )


def run_instances(
    scn: Scenario,
    *,
    backend: str,
    out_root: Path,
    run_id: str | None = None,
    log: Callable[[str], None] | None = None,
) -> MultiRunOutcome:
    """Run every instance of a [committee]/[sortition] scenario (see the module doc)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend {backend!r} is not one of {', '.join(BACKENDS)}")
    pool = Pool.of(scn)
    keys = pool_keys(scn.seed, pool.size)
    merit = _Merit(pool, scn) if scn.sortition is not None else None
    seats = scn.committee.seats if scn.committee is not None else None
    run_id = run_id or new_run_id(scn.seed)
    out_dir = out_root.resolve() / run_id
    out_dir.mkdir(parents=True, exist_ok=False)
    mark_incomplete(out_dir, run_id, backend)
    atomic_write_text(out_dir / "scenario.toml", scn.to_toml())
    started = time.monotonic()
    records: list[dict[str, Any]] = []
    players: list[dict[str, Any]] = []
    previous, active_before = 0, None
    all_nodes = [int(j) for j in np.flatnonzero(pool.eligible_mask())]
    interrupted = False
    for t in range(scn.instances):
        seed = instance_seed(previous, t, keys)
        active = merit.select(seed) if merit is not None else None
        draw = draw_instance(
            pool,
            instance=t,
            previous_decision=previous,
            seed=seed,
            eligible=active if active is not None else all_nodes,
            seats=seats,
        )
        record = _draw_record(draw, pool, scn, active, active_before)
        inst_scn = instance_scenario(scn, pool, draw)
        result: InstanceResult | None = None
        if draw.adversary_seats <= scn.f:
            try:
                result = run_instance(inst_scn, out_dir / "instances" / str(t), backend)
            except KeyboardInterrupt:
                interrupted = True
            interrupted = interrupted or (result is not None and result.interrupted)
        if merit is not None and result is not None and not interrupted:
            scores = responsiveness(draw, result.decision_times)
            record["missed"] = merit.update(draw, scores)
            record["quality"] = {str(j): round(q, 6) for j, q in scores.items()}
            record["ema"] = merit.snapshot()
        record.update(_result_record(result, draw, scn, interrupted))
        records.append(record)
        players += _player_rows(draw, pool, result)
        _write_tables(out_dir, records, players)
        if log is not None:
            log(_line(record))
        if interrupted:
            break
        previous = result.decision if result is not None and result.decision else 0
        active_before = active
    summary = _summary(scn, pool, backend, run_id, records, interrupted, time.monotonic() - started)
    summary["plugins"] = run_plugins(scn)
    mark_complete(out_dir, summary)
    return MultiRunOutcome(run_id, out_dir, summary, records)


def _draw_record(
    draw: InstanceDraw,
    pool: Pool,
    scn: Scenario,
    active: list[int] | None,
    before: list[int] | None,
) -> dict[str, Any]:
    k = draw.players
    rec: dict[str, Any] = {
        "instance": draw.instance,
        "seed": draw.seed.hex(),
        "previous_decision": draw.previous_decision,
        "players": k,
        "f": scn.f,
        "owners": draw.owners,
        "seats": {str(j): c for j, c in draw.seats().items()},
        "byzantine_players": {str(p): b.strategy for p, b in draw.byzantine_players.items()},
        "adversary_seats": draw.adversary_seats,
        "adversary_share": draw.adversary_seats / k,
        "over_third": draw.over_third,
        "over_f": draw.adversary_seats > scn.f,
        "adversary_stake_share": None,
        "p_over_third": None,
        "active": active,
        "joined": None,
        "left": None,
        "byzantine_active": None,
    }
    if pool.stakes is not None:
        stakes = {j: pool.stakes[j] for j in draw.eligible}
        share = sum(s for j, s in stakes.items() if j in pool.byzantine) / sum(stakes.values())
        rec["eligible_stakes"] = [stakes[j] for j in draw.eligible]
        rec["adversary_stake_share"] = share
        # seats are i.i.d. draws: the adversary's count is Binomial(k, its stake share)
        rec["p_over_third"] = exact_tail_probability(share, k)
    if active is not None:
        rec["joined"] = sorted(set(active) - set(before)) if before is not None else active
        rec["left"] = sorted(set(before) - set(active)) if before is not None else []
        rec["byzantine_active"] = sum(1 for j in active if j in pool.byzantine)
    return rec


def _result_record(
    result: InstanceResult | None, draw: InstanceDraw, scn: Scenario, interrupted: bool
) -> dict[str, Any]:
    if result is None:
        status = "interrupted" if interrupted else "over-f"
        return {
            "status": status,
            "agreed": None,
            "decision": None,
            "valid": None,
            "latency": None,
            "latency_unit": None,
            "latency_s": None,
            "iterations": None,
            "stopped": "not-run" if not interrupted else "interrupted",
            "messages": None,
            "trace_hash": None,
            "dir": None,
        }
    if interrupted:
        status = "interrupted"
    else:
        status = "agreed" if result.agreed and result.valid else "no-agreement"
    return {
        "status": status,
        "agreed": result.agreed,
        "decision": result.decision,
        "valid": result.valid,
        "latency": result.latency,
        "latency_unit": result.unit,
        "latency_s": result.latency_s,
        "iterations": result.iterations,
        "stopped": result.stopped,
        "messages": result.messages,
        "trace_hash": result.trace_hash,
        "dir": f"instances/{draw.instance}",
    }


def _player_rows(
    draw: InstanceDraw,
    pool: Pool,
    result: InstanceResult | None,
) -> list[dict[str, Any]]:
    rows = []
    for p, owner in enumerate(draw.owners):
        byz = draw.byzantine_players.get(p)
        t = result.decision_times.get(p) if result is not None and byz is None else None
        rows.append(
            {
                "instance": draw.instance,
                "player": p,
                "owner": owner,
                "role": "byzantine" if byz is not None else "honest",
                "strategy": byz.strategy if byz is not None else "honest",
                "input": pool.inputs[owner],
                "decision": result.decision if t is not None and result is not None else "",
                "decision_time": "" if t is None else f"{t:.6f}",
            }
        )
    return rows


def _csv(columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else _cell(row.get(c)) for c in columns])
    return buf.getvalue()


def _cell(value: object) -> str:
    if isinstance(value, dict):
        return " ".join(f"{k}:{v}" for k, v in value.items())
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _write_tables(
    out_dir: Path, records: list[dict[str, Any]], players: list[dict[str, Any]]
) -> None:
    atomic_write_json(out_dir / "instances.json", records)
    atomic_write_text(out_dir / "instances.csv", _csv(INSTANCE_COLUMNS, records))
    atomic_write_text(out_dir / "players.csv", _csv(PLAYER_COLUMNS, players))


def _summary(
    scn: Scenario,
    pool: Pool,
    backend: str,
    run_id: str,
    records: list[dict[str, Any]],
    interrupted: bool,
    wall: float,
) -> dict[str, Any]:
    failed = [r["instance"] for r in records if r["status"] == "no-agreement"]
    over_f = [r["instance"] for r in records if r["status"] == "over-f"]
    if interrupted:
        code, status = EXIT_INTERRUPTED, "interrupted"
    elif failed:
        code, status = EXIT_FAILED, "failed"
    elif over_f:
        code, status = EXIT_OVER_BOUND, "adversary-over-bound"
    else:
        code, status = EXIT_OK, "agreed"
    shares = [r["adversary_share"] for r in records]
    summary: dict[str, Any] = {
        "run_id": run_id,
        "backend": backend,
        "mode": _mode(scn),
        "seed": scn.seed,
        "protocol": scn.run.protocol,
        "pool_size": pool.size,
        "pool_byzantine": {str(j): b.strategy for j, b in sorted(pool.byzantine.items())},
        "stakes": pool.stakes,
        "players_per_instance": scn.n,
        "f": scn.f,
        "instances_planned": scn.instances,
        "instances_done": len(records),
        "status": status,
        "exit_code": code,
        "ok": code == EXIT_OK,
        "agreed_instances": [r["instance"] for r in records if r["status"] == "agreed"],
        "failed_instances": failed,
        "over_f_instances": over_f,
        "over_third_instances": [r["instance"] for r in records if r["over_third"]],
        "seat_shares": shares,
        "adversary_seats": [r["adversary_seats"] for r in records],
        "max_adversary_share": max(shares, default=None),
        "decisions": [r["decision"] for r in records],
        "latencies": [r["latency"] for r in records],
        "latency_unit": "delta" if backend == "sim" else "s",
        "seeds": [r["seed"] for r in records],
        "git_commit": git_commit(),
        "wall_time_s": wall,
        "notes": {
            "over_f": "instances whose adversary held more seats than the instance's f "
            "(>= k/3 for the default f) are outside HPZ's fault model; the "
            "simulator and the proxy refuse them, so they were not run: agreement "
            "is not guaranteed there",
            "seeds": "public seed of each instance: BLAKE2b over the previous decision, the "
            "instance and the pool's Ed25519 seed shares (sidecars/committee.py)",
        },
    }
    if scn.sortition is not None:
        summary["quality_metric"] = QUALITY_METRIC
        summary["active_sets"] = [r["active"] for r in records]
        summary["active_set_changes"] = [
            {"instance": r["instance"], "joined": r["joined"], "left": r["left"]} for r in records
        ]
        summary["byzantine_active"] = [r["byzantine_active"] for r in records]
    return summary


def _line(r: dict[str, Any]) -> str:
    text = (
        f"instance {r['instance']}: adversary {r['adversary_seats']}/{r['players']} seats "
        f"({r['adversary_share']:.0%}{', >= k/3' if r['over_third'] else ''}) "
        f"status={r['status']} decision={r['decision']}"
    )
    if r["latency"] is not None:
        text += f" latency={r['latency']:.3f} {r['latency_unit']}"
    if r["active"] is not None:
        text += f" active+={r['joined']} active-={r['left']}"
    return text


def print_outcome(outcome: MultiRunOutcome, console: Any) -> None:
    """The per-instance table of a multi-instance run (``byzlab run`` without --json)."""
    from rich.table import Table

    s = outcome.summary
    sortition_run = "active_sets" in s
    table = Table(
        title=f"byzlab run ({s['backend']}, {s['mode']}): pool of {s['pool_size']}, "
        f"{s['players_per_instance']} players per instance, f={s['f']}, "
        f"seed={s['seed']}"
    )
    columns = [
        "#",
        "adversary",
        ">= k/3",
        *(["active set +/-"] if sortition_run else []),
        "status",
        "decision",
        "latency",
    ]
    for col in columns:
        # the active-set changes can be long: that column wraps, the others keep their width
        table.add_column(
            col,
            justify="right" if col in ("#", "latency") else "left",
            no_wrap=col != "active set +/-",
        )
    for r in outcome.records:
        colour = {"agreed": "green", "over-f": "yellow"}.get(r["status"], "red")
        cells = [
            str(r["instance"]),
            f"{r['adversary_seats']}/{r['players']} ({r['adversary_share']:.0%})",
            "yes" if r["over_third"] else "no",
        ]
        if sortition_run:
            cells.append(
                " ".join([*(f"+{j}" for j in r["joined"]), *(f"-{j}" for j in r["left"])]) or "="
            )
        cells += [
            f"[{colour}]{r['status']}[/{colour}]",
            str(r["decision"]),
            "-" if r["latency"] is None else f"{r['latency']:.3f} {r['latency_unit']}",
        ]
        table.add_row(*cells)
    console.print(table)
    console.print(f"results: {outcome.out_dir}")


def run_command(scn: Scenario, *, backend: str, out_root: Path, as_json: bool) -> int:
    """``byzlab run`` for a [committee]/[sortition] scenario; returns the exit status."""
    import click
    from rich.console import Console

    err = Console(stderr=True)
    outcome = run_instances(
        scn,
        backend=backend,
        out_root=out_root,
        log=None if as_json else lambda line: err.print(line, highlight=False, soft_wrap=True),
    )
    s = outcome.summary
    if as_json:
        click.echo(json.dumps(s, sort_keys=True))
    else:
        print_outcome(outcome, Console())
    if s["over_f_instances"]:
        click.echo(
            f"NOTE: in instance(s) {s['over_f_instances']} the adversary drew more than "
            f"f={s['f']} of the {s['players_per_instance']} seats (>= k/3): outside the "
            "fault model, agreement not guaranteed; those instances were not run (exit "
            f"status {outcome.exit_code})",
            err=True,
        )
    if s["failed_instances"]:
        click.echo(
            f"FAILED: instance(s) {s['failed_instances']} did not agree on a valid "
            f"value; results in {outcome.out_dir}",
            err=True,
        )
    return outcome.exit_code
