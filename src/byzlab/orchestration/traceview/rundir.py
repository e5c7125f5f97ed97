"""One run directory as the viewer reads it: ``summary.json``, ``trace.json`` and
``messages.parquet``, each checked before anything is drawn from it.

A run directory is user data (copied between machines, edited, truncated), so every file is
validated here and nowhere else: a missing ``summary.json`` or one that is not a run's summary,
a ``trace.json`` of another format, node ids out of range, a Parquet file that does not parse:
each is one line naming the file and what is wrong with it (``RunIOError`` when a file cannot
be read, ``ConfigError`` when what it holds cannot be used), never a traceback.
``trace.json`` exists only for simulator runs, and ``messages.parquet`` only for runs that
recorded their messages; without them the viewer shows what the others hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from byzlab.errors import ConfigError, RunIOError, format_validation_error
from byzlab.node.params import MAX_N
from byzlab.orchestration.runtrace import TRACE_FORMAT
from byzlab.orchestration.traceview.messages import MessageTable, read_messages

__all__ = ["Coin", "Decision", "RunDir", "RunSummary", "RunTrace", "load_run_dir"]

SUMMARY_FILE = "summary.json"
TRACE_FILE = "trace.json"
MESSAGES_FILE = "messages.parquet"
MAX_JSON_BYTES = 256 * 1024 * 1024  # a trace.json of n = 1024 is a few MB; refuse absurd ones

NodeId = Annotated[int, Field(ge=0, lt=MAX_N)]
Time = Annotated[float, Field(allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0)]
Duration = Annotated[float, Field(allow_inf_nan=False, ge=0)]  # since the run started


_M = TypeVar("_M", bound=BaseModel)


class _Lenient(BaseModel):
    """Keys the viewer does not use are ignored: summaries differ between backends."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class RunSummary(_Lenient):
    """The keys of ``summary.json`` the viewer shows (every backend writes them), read
    strictly: a value of another JSON type is refused, not converted ("yes" is not true), and
    counts, latencies and times cannot be negative."""

    model_config = ConfigDict(strict=True)

    run_id: str = ""
    backend: str = ""
    protocol: str = ""
    seed: int | None = None
    agreed: bool
    decision: int | None = None
    valid: bool | None = None
    stopped: str = ""
    inputs: list[int]
    byzantine: dict[NodeId, str] = {}
    iterations: Count = 0
    epochs: Count = 0
    messages: Count = 0
    deliveries: Count = 0
    messages_by_kind: dict[str, Count] = {}
    rejected: dict[str, Count] = {}
    dropped: dict[str, Count] = {}
    latency_delta: Duration | None = None
    latency_s: Duration | None = None
    decision_times: dict[NodeId, Duration] = {}
    honest_decisions: dict[NodeId, int] = {}
    trace_hash: str = ""
    params: dict[str, Any] = {}


class Coin(_Lenient):
    iteration: int
    outputs: dict[NodeId, int]
    unanimous: bool
    bias: dict[NodeId, int] = {}
    sigma: dict[NodeId, Time] = {}


class Decision(_Lenient):
    node: NodeId
    value: int
    iteration: int
    time: Time


class RunTrace(_Lenient):
    """The simulator's compact trace (``runtrace.py``)."""

    format: str
    n: Annotated[int, Field(ge=1, le=MAX_N)]
    f: int
    T: int
    protocol: str
    seed: int
    delta: Time
    honest: list[NodeId]
    byzantine: dict[NodeId, str]
    end_time: Time
    iteration_starts: dict[NodeId, list[tuple[int, Time]]]
    halts: dict[NodeId, Time]
    decisions: list[Decision]
    coins: list[Coin]
    epoch_weights: list[list[Time] | None]


@dataclass(frozen=True)
class RunDir:
    """What one run directory holds, validated; ``trace`` and ``messages`` may be absent,
    ``messages_missing`` then says why in one line."""

    path: Path
    summary: RunSummary
    trace: RunTrace | None
    messages: MessageTable | None
    messages_missing: str | None

    @property
    def n(self) -> int:
        return len(self.summary.inputs)

    @property
    def honest(self) -> list[int]:
        return [i for i in range(self.n) if i not in self.summary.byzantine]

    @property
    def time_unit(self) -> str:
        """Virtual time is in units of delta; a real run's clock is in seconds."""
        return "delta" if self.summary.backend == "sim" or self.trace is not None else "s"


def _read_json(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_JSON_BYTES:
            raise ConfigError(f"{path}: {size} bytes, more than a run's file can hold")
        return path.read_bytes()
    except OSError as exc:
        raise RunIOError(f"{path}: cannot be read ({exc.strerror or exc})") from exc


def _validate(path: Path, model: type[_M], raw: bytes, what: str) -> _M:
    """`raw` validated as JSON of `model`: in JSON mode, where a strict model still takes an
    object's keys (always strings in JSON) as the node ids they spell."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] == "json_invalid":
            raise ConfigError(f"{path}: not JSON ({first['msg']})") from exc
        lines = format_validation_error(exc, model)
        more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
        raise ConfigError(f"{path}: not {what}: {lines[0]}{more}") from exc


def _check_trace(path: Path, trace: RunTrace, n: int) -> None:
    """Cross-field checks: every node id names one of the run's n nodes."""
    if trace.n != n:
        raise ConfigError(f"{path}: n = {trace.n}, but summary.json has {n} inputs")
    ids: list[int] = [*trace.honest, *trace.byzantine, *trace.iteration_starts, *trace.halts]
    ids += [d.node for d in trace.decisions]
    for coin in trace.coins:
        ids += [*coin.outputs, *coin.bias, *coin.sigma]
    bad = [i for i in ids if i >= n]
    if bad:
        raise ConfigError(f"{path}: node {bad[0]} is out of range for n = {n}")
    for e, weights in enumerate(trace.epoch_weights):
        if weights is not None and len(weights) != n:
            raise ConfigError(f"{path}: epoch_weights[{e}] has {len(weights)} entries, not n = {n}")


def load_run_dir(path: Path) -> RunDir:
    """Read and check ``path``'s run files; one line naming the file when one is unusable."""
    if not path.is_dir():
        raise RunIOError(f"{path}: not a run directory")
    summary_path = path / SUMMARY_FILE
    if not summary_path.is_file():
        raise RunIOError(f"{summary_path}: missing (is {path} a run's results directory?)")
    summary = _validate(summary_path, RunSummary, _read_json(summary_path), "a run's summary")
    n = len(summary.inputs)
    if not 1 <= n <= MAX_N:
        raise ConfigError(f"{summary_path}: inputs has {n} entries, must be 1..{MAX_N}")
    bad = [i for i in (*summary.byzantine, *summary.decision_times) if i >= n]
    if bad:
        raise ConfigError(f"{summary_path}: node {bad[0]} is out of range for n = {n}")
    trace: RunTrace | None = None
    trace_path = path / TRACE_FILE
    if trace_path.exists():
        trace = _validate(trace_path, RunTrace, _read_json(trace_path), "a simulator trace")
        if trace.format != TRACE_FORMAT:
            raise ConfigError(f"{trace_path}: format {trace.format!r}, expected {TRACE_FORMAT!r}")
        _check_trace(trace_path, trace, n)
    messages_path = path / MESSAGES_FILE
    messages: MessageTable | None = None
    missing: str | None = None
    if messages_path.exists():
        messages = read_messages(messages_path, n)
    else:
        missing = f"{MESSAGES_FILE} is missing"
    return RunDir(path, summary, trace, messages, missing)
