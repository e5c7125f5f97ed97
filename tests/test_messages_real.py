"""The message trace of real runs: real node processes, real TCP, real crypto, no mocks.

A local run records ``messages.parquet`` from the proxy's spool of what it relayed and each
node's spool of what it did with what it took (byzlab.orchestration.realtrace). What must
hold: one deliver row per message the proxy delivered (its own count), a verdict on every
delivery, every delivery's transmission in the trace, and enough in the trace alone to
rebuild each honest node and reach its decision. A run with ``messages = "off"`` writes
nothing of it, and a node's spool cut short or followed by garbage is read up to its last
whole batch and reported, never fatal. Nothing in a spool is trusted: hostile spools (rows
no process writes, columns missing, times that go back, a merge too large to hold) are
merged with what is usable and every row left out is counted in the summary; a proxy killed
mid-run leaves the rows of all but its last fraction of a second; the proxy's tampered copy
of a frame is in the trace with the receiver's link-layer verdict.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from byzlab.adversary.proxy.recording import DELIVER, SEND
from byzlab.network.messagelog import read_messages, read_meta
from byzlab.network.spool import MAGIC, Spool, SpoolContents, read_spool
from byzlab.network.tcp.verdicts import SPOOL_NAME
from byzlab.orchestration.local import LocalRun, RunOutcome, run_local
from byzlab.orchestration.plan import RunPlan
from byzlab.orchestration.realtrace import PROXY_SPOOLS, merge_real_trace
from byzlab.orchestration.scenario import Scenario, parse_scenario
from tests.tracereplay import replay_run_dir

N = 4
BYZANTINE = 3
SEED = 7


def scenario(seed: int, messages: str = "auto", n: int = N, delta_s: float = 0.01) -> Scenario:
    return parse_scenario(
        {
            "run": {
                "n": n,
                "seed": seed,
                "inputs": "split",
                "timeout_s": 60,
                "messages": messages,
            },
            "adversary": {
                "scheduler": "random",
                "delta_s": delta_s,
                "byzantine": [{"node": BYZANTINE, "strategy": "equivocate"}],
            },
        }
    )


def about(outcome: RunOutcome) -> str:
    s = outcome.summary
    return (
        f"seed={s.get('seed')} run_id={outcome.run_id} stopped={outcome.stopped} "
        f"sources={s.get('message_trace_sources')} logs={outcome.out_dir / 'work' / 'logs'}"
    )


def json_file(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text())
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> RunOutcome:
    """One local run that records its messages (n = 4 <= 16: on by default)."""
    outcome = run_local(scenario(SEED), out_root=tmp_path_factory.mktemp("recorded"))
    assert outcome.summary["agreed"] is True, about(outcome)
    return outcome


def deliveries(table: pa.Table) -> pa.Table:
    return table.filter(pc.equal(table["event"], "deliver"))


def test_a_local_run_traces_what_the_proxy_relayed_with_every_verdict(
    recorded: RunOutcome,
) -> None:
    out, summary = recorded.out_dir, recorded.summary
    assert summary["message_trace"] == "messages.parquet", about(recorded)
    sources = summary["message_trace_sources"]
    assert sources["proxy_spools"] == {"proxy-1.spool": "complete"}, about(recorded)
    assert sources["nodes"] == {str(i): "complete" for i in range(N - 1)}, about(recorded)
    meta = read_meta(out / "messages.parquet")
    assert (meta.n, meta.backend, meta.time_unit) == (N, "local", "s"), about(recorded)
    table = read_messages(out / "messages.parquet")
    stats = json_file(out / "proxy-stats.json")
    delivered = deliveries(table)
    relayed = delivered.filter(pc.not_equal(delivered["src"], delivered["dst"]))
    # one deliver row per message the proxy delivered, by its own count
    assert relayed.num_rows == stats["messages_delivered"] > 0, about(recorded)
    assert sources["deliveries"] == delivered.num_rows, about(recorded)
    sends = table.filter(pc.equal(table["event"], "send"))
    network_sends = sends.filter(pc.not_equal(sends["src"], sends["dst"]))
    assert stats["counts"].get("dropped_over_cap", 0) == 0, about(recorded)
    assert network_sends.num_rows == stats["messages"], about(recorded)
    # every delivery has a verdict and a transmission that was sent no later
    outcomes = set(delivered["outcome"].to_pylist())
    assert outcomes <= {"accepted", "dropped", "rejected"}, (outcomes, about(recorded))
    assert "accepted" in outcomes, about(recorded)
    sent_ids = set(sends["msg_id"].to_pylist())
    assert set(delivered["msg_id"].to_pylist()) <= sent_ids, about(recorded)
    assert pc.all(pc.less_equal(delivered["sent"], delivered["time"])).as_py(), about(recorded)
    assert pc.min(table["time"]).as_py() >= 0, about(recorded)
    # the corrupted node's messages, and only they, are marked so
    corrupt = sends.filter(sends["corrupt_src"])
    assert set(corrupt["src"].to_pylist()) == {BYZANTINE}, about(recorded)
    honest = sends.filter(pc.invert(sends["corrupt_src"]))
    assert BYZANTINE not in set(honest["src"].to_pylist()), about(recorded)
    # each honest node's own copies are in the trace (they never cross the network)
    own = delivered.filter(pc.equal(delivered["src"], delivered["dst"]))
    assert set(own["dst"].to_pylist()) == set(range(N - 1)), about(recorded)


def test_each_honest_nodes_decision_is_rebuilt_from_the_trace_alone(
    recorded: RunOutcome,
) -> None:
    rebuilt = replay_run_dir(recorded.out_dir)
    assert set(rebuilt) == set(range(N - 1)), about(recorded)
    for i, node in rebuilt.items():
        result = json_file(recorded.out_dir / "work" / "nodes" / str(i) / "out" / "result.json")
        assert node.decision == result["decision"] is not None, (i, about(recorded))
        assert node.halted == result["halted"], (i, about(recorded))


def test_a_run_with_messages_off_writes_no_trace(tmp_path: Path) -> None:
    outcome = run_local(scenario(SEED + 1, messages="off"), out_root=tmp_path)
    out = outcome.out_dir
    assert outcome.summary["agreed"] is True, about(outcome)
    assert outcome.summary["message_trace"] is None, about(outcome)
    assert "message_trace_sources" not in outcome.summary, about(outcome)
    assert not (out / "messages.parquet").exists(), about(outcome)
    assert not list(out.rglob("*.spool")), about(outcome)
    assert "messages_dir" not in json_file(out / "work" / "proxy.json"), about(outcome)
    for i in range(N - 1):
        assert "messages" not in json_file(out / "work" / "nodes" / str(i) / "node.json")


def test_auto_records_up_to_16_nodes_and_the_configs_say_so_only_when_on() -> None:
    small, large = RunPlan.of(scenario(1)), RunPlan.of(scenario(1, n=17))
    assert small.records_messages and not large.records_messages
    assert RunPlan.of(scenario(1, messages="on", n=17)).records_messages
    assert not RunPlan.of(scenario(1, messages="off")).records_messages
    node = large.node_config(0, key_dir="k", proxy_host="h", proxy_port=1, out_dir="o")
    proxy = large.proxy_config(key_dir="k", port=0, stats_file="s", ready_file="r")
    assert "messages" not in node and "messages_dir" not in proxy


def merge_again(run: Path, out_dir: Path, **options: Any) -> dict[str, Any]:
    """Merge the spools of the run copied to ``run`` again, into ``out_dir`` (``options``:
    more arguments of the merge)."""
    stats = json_file(run / "proxy-stats.json")
    out_dir.mkdir()
    return merge_real_trace(
        out_dir=out_dir,
        proxy_spools=run / "work" / "proxy" / PROXY_SPOOLS,
        node_outs={i: run / "work" / "nodes" / str(i) / "out" for i in range(N - 1)},
        protocol=scenario(SEED).build_protocol(),
        n=N,
        f=1,
        backend="local",
        start_wall=stats["start_wall"],
        **options,
    )


def test_a_garbled_cut_or_missing_node_spool_is_tolerated_and_reported(
    recorded: RunOutcome, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    shutil.copytree(recorded.out_dir, run)
    before = recorded.summary["message_trace_sources"]
    spool = run / "work" / "nodes" / "0" / "out" / SPOOL_NAME
    # garbage after the end record: every row is still read, and the summary says so
    spool.write_bytes(spool.read_bytes() + b"\x00\x00\x10\x00garbage")
    report = merge_again(run, tmp_path / "garbled")
    assert report["nodes"]["0"].startswith("truncated: "), report
    assert report["deliveries"] == before["deliveries"], (report, before)
    assert report["deliveries_without_verdict"] == before["deliveries_without_verdict"]
    # cut in the middle of its batch (a node killed half way through a write), then garbage
    # where the rest was: the batch is lost, its deliveries are "unrecorded", the rest stands
    whole = spool.read_bytes()
    spool.write_bytes(whole[: len(whole) // 2] + b"\xff" * 37)
    missing = run / "work" / "nodes" / "1" / "out" / SPOOL_NAME
    missing.unlink()
    report = merge_again(run, tmp_path / "cut")
    assert report["nodes"]["0"].startswith("truncated: "), report
    assert report["nodes"]["1"] == "missing", report
    assert report["nodes"]["2"] == "complete", report
    table = read_messages(tmp_path / "cut" / "messages.parquet")
    delivered = deliveries(table)
    unrecorded = delivered.filter(pc.equal(delivered["reason"], "unrecorded"))
    assert set(unrecorded["dst"].to_pylist()) == {0, 1}, report
    assert set(delivered["outcome"].to_pylist()) <= {"accepted", "dropped", "rejected"}
    # node 2's verdicts are untouched, so it is still rebuilt from the trace
    node_two = delivered.filter(pc.equal(delivered["dst"], 2))
    assert "unrecorded" not in node_two["reason"].to_pylist(), report


# --------------------------------------------------------------------------- the spool


def test_a_spool_goes_to_disk_in_batches_and_an_unclosed_one_keeps_them(tmp_path: Path) -> None:
    path = tmp_path / "s.spool"
    spool = Spool(path, ("a", "b"), meta={"x": 1}, batch_rows=3, binary="b")
    for i in range(7):
        spool.add(i, b"%d" % i)
    # two batches of three are on disk; the seventh row is in memory, as a killed process's
    contents = read_spool(path)
    assert contents.data == {"a": [0, 1, 2, 3, 4, 5], "b": [b"0", b"1", b"2", b"3", b"4", b"5"]}
    assert (contents.complete, contents.truncated, contents.meta) == (False, False, {"x": 1})
    spool.close()
    contents = read_spool(path)
    assert contents.rows == 7 and contents.complete and not contents.truncated
    # bytes make a batch too
    big = Spool(tmp_path / "big.spool", ("b",), batch_rows=1000, batch_bytes=10, binary="b")
    big.add(b"x" * 11)
    assert read_spool(tmp_path / "big.spool").rows == 1
    big.close()


@pytest.mark.parametrize(
    "damage",
    [
        lambda raw: raw[:-3],  # cut inside the end record
        lambda raw: raw + b"\x00\x00\x00\x02\xc1\xc1",  # a record msgpack refuses
        # the end record replaced by a batch of two columns where the spool has one
        lambda raw: raw[:-10] + b"\x00\x00\x00\x05\x92\x91\x01\x91\x02",
        lambda raw: b"not a spool" + raw,
    ],
)
def test_a_damaged_spool_is_read_up_to_its_last_whole_batch(tmp_path: Path, damage: Any) -> None:
    path = tmp_path / "s.spool"
    spool = Spool(path, ("a",), batch_rows=2)
    for i in range(4):
        spool.add(i)
    spool.close()
    path.write_bytes(damage(path.read_bytes()))
    contents = read_spool(path)
    assert contents.truncated and not contents.complete and contents.problem
    assert contents.data.get("a", [])[: contents.rows] == list(range(contents.rows))
    assert path.read_bytes().startswith(MAGIC) == (contents.columns == ("a",))


# ------------------------------------------------------------------------- hostile spools

Rows = list[dict[str, Any]]


def rewrite(
    path: Path, edit: Callable[[Rows], Rows], columns: tuple[str, ...] | None = None
) -> None:
    """Write the spool at ``path`` again with its rows passed through ``edit`` (and only
    ``columns``, if given), closed as its process would have."""
    contents = read_spool(path)
    rows = spool_rows(contents)
    keep = columns or contents.columns
    spool = Spool(path, keep, meta=contents.meta)
    for row in edit(rows):
        spool.add(*(row[c] for c in keep))
    spool.close()


def spool_rows(contents: SpoolContents) -> Rows:
    columns = contents.data.values()
    return [dict(zip(contents.columns, r, strict=True)) for r in zip(*columns, strict=True)]


def proxy_spool(run: Path) -> Path:
    return run / "work" / "proxy" / PROXY_SPOOLS / "proxy-1.spool"


def node_spool(run: Path, i: int) -> Path:
    return run / "work" / "nodes" / str(i) / "out" / SPOOL_NAME


def set_at(rows: Rows, column: str, value: Any, *at: int) -> Rows:
    for r in at:
        rows[r][column] = value
    return rows


def assert_sound(out_dir: Path, report: dict[str, Any]) -> pa.Table:
    """The merged trace is one ``byzlab trace`` can read: finite times, ids in range, every
    delivery after its send and of a message sent."""
    table = read_messages(out_dir / "messages.parquet")
    assert all(math.isfinite(t) for t in table["time"].to_pylist()), report
    assert pc.all(pc.less(table["src"], N)).as_py(), report
    assert pc.min(table["src"]).as_py() >= 0 and pc.min(table["dst"]).as_py() >= 0, report
    assert pc.all(pc.less(table["dst"], N)).as_py(), report
    delivered = deliveries(table)
    assert pc.all(pc.less_equal(delivered["sent"], delivered["time"])).as_py(), report
    sends = table.filter(pc.equal(table["event"], "send"))
    assert set(delivered["msg_id"].to_pylist()) <= set(sends["msg_id"].to_pylist()), report
    return table


@pytest.mark.parametrize(
    ("spool", "columns", "missing"),
    [
        ("proxy", ("event", "time", "link", "src", "dst", "corrupt", "payload"), "seq"),
        ("proxy", ("event", "time", "link", "src", "dst", "seq", "payload"), "corrupt"),
        ("node", ("time", "src", "seq", "index", "outcome", "reason"), "payload"),
    ],
)
def test_a_spool_without_a_column_the_merge_needs_is_unusable_and_said_so(
    recorded: RunOutcome, tmp_path: Path, spool: str, columns: tuple[str, ...], missing: str
) -> None:
    run = tmp_path / "run"
    shutil.copytree(recorded.out_dir, run)
    path = proxy_spool(run) if spool == "proxy" else node_spool(run, 0)
    rewrite(path, lambda rows: rows, columns)
    report = merge_again(run, tmp_path / "merged")
    state = report["proxy_spools"]["proxy-1.spool"] if spool == "proxy" else report["nodes"]["0"]
    assert state.startswith(f"unusable: no column {missing}"), (report, about(recorded))
    assert_sound(tmp_path / "merged", report)


def wall_clock_back(rows: Rows) -> Rows:
    """Every deliver row a second earlier: the proxy's wall clock stepped back (NTP)."""
    for row in rows:
        if row["event"] == DELIVER:
            row["time"] -= 1.0
    return rows


@pytest.mark.parametrize(
    ("spool", "edit", "rejected"),
    [
        ("proxy", lambda rows: set_at(rows, "time", math.nan, 5), 1),
        ("proxy", lambda rows: set_at(rows, "time", math.inf, 5, 6), 2),
        ("proxy", lambda rows: set_at(rows, "src", 2**40, 3), 1),
        ("proxy", lambda rows: set_at(rows, "dst", -7, 3), 1),
        ("proxy", lambda rows: [r | {"dst": 99} if r["event"] == DELIVER else r for r in rows], -1),
        ("proxy", lambda rows: [r | {"link": 0} for r in rows], -1),  # every row one link
        ("proxy", wall_clock_back, 0),
        ("node", lambda rows: set_at(rows, "time", math.nan, 5), 1),
        ("node", lambda rows: set_at(rows, "time", -math.inf, 5), 1),
        ("node", lambda rows: set_at(rows, "src", True, 4), 1),
        ("node", lambda rows: set_at(rows, "src", 99, 4), 1),
        ("node", lambda rows: set_at(rows, "index", -5, 4), 1),
        ("node", lambda rows: [r | {"src": 1} if r["seq"] == -1 else r for r in rows], -1),
    ],
)
def test_rows_no_process_writes_are_dropped_counted_and_the_rest_merged(
    recorded: RunOutcome,
    tmp_path: Path,
    spool: str,
    edit: Callable[[Rows], Rows],
    rejected: int,
) -> None:
    """``rejected`` rows are counted against the spool (-1: some, how many depends on the
    run)."""
    run = tmp_path / "run"
    shutil.copytree(recorded.out_dir, run)
    path = proxy_spool(run) if spool == "proxy" else node_spool(run, 0)
    rewrite(path, edit)
    report = merge_again(run, tmp_path / "merged")
    source = "proxy-1.spool" if spool == "proxy" else "node 0"
    counted = report["rejected_spool_rows"].get(source, 0)
    if rejected < 0:
        assert counted > 0, (report, about(recorded))
    else:
        assert counted == rejected, (report, about(recorded))
    assert set(report["rejected_spool_rows"]) <= {source}, (report, about(recorded))
    table = assert_sound(tmp_path / "merged", report)
    assert table.num_rows > 0, (report, about(recorded))


def test_verdicts_whose_deliveries_were_lost_are_counted_per_node(
    recorded: RunOutcome, tmp_path: Path
) -> None:
    """The first half of the proxy's rows lost: the nodes' verdicts on what it relayed then
    join nothing, and the summary says how many per node instead of dropping them silently."""
    before = recorded.summary["message_trace_sources"]
    assert before["verdicts_without_delivery"] == {str(i): 0 for i in range(N - 1)}, about(recorded)
    run = tmp_path / "run"
    shutil.copytree(recorded.out_dir, run)
    rewrite(proxy_spool(run), lambda rows: rows[len(rows) // 2 :])
    report = merge_again(run, tmp_path / "merged")
    table = assert_sound(tmp_path / "merged", report)
    delivered = deliveries(table)
    relayed = delivered.filter(pc.not_equal(delivered["src"], delivered["dst"]))
    # every verdict the nodes spooled on a peer's message is in the trace or counted
    peers = 0
    for i in range(N - 1):
        contents = read_spool(node_spool(run, i))
        peers += sum(1 for src in contents.data["src"] if src != i)
    with_verdict = relayed.num_rows - report["deliveries_without_verdict"]
    to_corrupted = relayed.filter(pc.equal(relayed["dst"], BYZANTINE)).num_rows
    left = sum(report["verdicts_without_delivery"].values())
    assert left > 0, (report, about(recorded))
    assert with_verdict - to_corrupted <= peers <= with_verdict - to_corrupted + left, (
        peers,
        report,
        about(recorded),
    )
    assert report["deliveries_without_send"] > 0, (report, about(recorded))


def test_a_frame_relayed_again_by_a_restarted_proxy_takes_its_verdict_by_time(
    recorded: RunOutcome, tmp_path: Path
) -> None:
    """A proxy handed a frame over and died before it left; the node sent it again to the
    next proxy, whose copy the receiver took. The verdicts go to that copy, the one
    delivered before them, not to the first copy in the files."""
    run = tmp_path / "run"
    shutil.copytree(recorded.out_dir, run)
    first = proxy_spool(run)
    contents = read_spool(first)
    rows = spool_rows(contents)
    send = next(r for r in rows if r["event"] == SEND and r["dst"] == 0 and r["seq"] >= 0)
    delivered = next(r for r in rows if r["event"] == DELIVER and r["link"] == send["link"])
    # the second proxy's copy: the frame as it was; the first's: the same, 50 ms earlier
    again = Spool(first.with_name("proxy-2.spool"), contents.columns, meta={"incarnation": 2})
    for row in (send, delivered):
        again.add(*(row | {"link": 0}).values())
    again.close()
    link = send["link"]
    rewrite(
        first,
        lambda rows: [r | {"time": r["time"] - 0.05} if r["link"] == link else r for r in rows],
    )
    report = merge_again(run, tmp_path / "merged")
    table = assert_sound(tmp_path / "merged", report)
    start = json_file(run / "proxy-stats.json")["start_wall"]
    by_sent: dict[str, list[str]] = {}
    for row in deliveries(table).to_pylist():
        if (row["src"], row["dst"]) != (send["src"], 0):
            continue
        for label, at in (("lost", send["time"] - 0.05), ("taken", send["time"])):
            if abs(row["sent"] - (at - start)) < 1e-6:
                by_sent.setdefault(label, []).append(row["reason"])
    assert by_sent["lost"] and set(by_sent["lost"]) == {"not-taken"}, (by_sent, report)
    assert by_sent["taken"] and "not-taken" not in by_sent["taken"], (by_sent, report)
    assert report["verdicts_without_delivery"] == {str(i): 0 for i in range(N - 1)}, report


def test_spools_too_large_to_hold_are_refused_in_one_line(
    recorded: RunOutcome, tmp_path: Path
) -> None:
    out = tmp_path / "merged"
    report = merge_again(recorded.out_dir, out, max_spool_bytes=1000)
    assert report["file"] is None, report
    assert "over the merge's limit of 1000" in report["refused"], report
    assert "\n" not in report["refused"], report
    assert not (out / "messages.parquet").exists(), report


def test_a_record_longer_than_any_writer_makes_ends_the_read(tmp_path: Path) -> None:
    path = tmp_path / "s.spool"
    spool = Spool(path, ("a",), batch_rows=2)
    for i in range(4):
        spool.add(i)
    spool.flush()
    spool.close()
    whole = path.read_bytes()
    # a length prefix of 2 GiB - 1 where the end record was (the reader must not try it)
    path.write_bytes(whole[:-10] + b"\x7f\xff\xff\xff" + b"\x00" * 64)
    contents = read_spool(path)
    assert contents.data == {"a": [0, 1, 2, 3]} and contents.truncated, contents


# ------------------------------------------------------------------- real runs, hostile


def test_the_proxys_tampered_copy_is_in_the_trace_with_the_link_verdict(
    tmp_path: Path,
) -> None:
    scn = parse_scenario(
        {
            "run": {"n": N, "seed": 2, "timeout_s": 60},
            "adversary": {
                "tamper": "flip-byte",
                "byzantine": [{"node": BYZANTINE, "strategy": "equivocate"}],
            },
        }
    )
    outcome = run_local(scn, out_root=tmp_path)
    assert outcome.summary["tampered_frames"] == 1, about(outcome)
    sources = outcome.summary["message_trace_sources"]
    table = assert_sound(outcome.out_dir, sources)
    delivered = deliveries(table)
    bad_mac = delivered.filter(pc.equal(delivered["reason"], "link-bad_mac"))
    assert bad_mac.num_rows >= 1, (sources, about(outcome))
    assert set(bad_mac["outcome"].to_pylist()) == {"dropped"}, about(outcome)
    # the copy's messages are the original's: each was also delivered, and not dropped
    (victim,) = set(bad_mac["dst"].to_pylist())
    to_victim = delivered.filter(pc.equal(delivered["dst"], victim))
    for row in bad_mac.to_pylist():
        same = to_victim.filter(pc.equal(to_victim["payload"], row["payload"]))
        assert "accepted" in same["outcome"].to_pylist() or same.num_rows > 1, about(outcome)
    assert sources["verdicts_without_delivery"] == {str(i): 0 for i in range(N - 1)}, about(outcome)


@pytest.mark.slow
def test_a_proxy_killed_mid_run_leaves_its_rows_up_to_its_last_timer(tmp_path: Path) -> None:
    # delta_s = 0.1 s: the run needs about a second, so the kill lands mid-run; the proxy's
    # timer (stats_interval_s) puts its rows on disk every 20 ms.
    timer = {"stats_interval_s": 0.02}
    with LocalRun(scenario(6, delta_s=0.1), out_root=tmp_path, proxy_options=timer) as lr:
        lr.start()
        started = time.monotonic()
        while lr.status().get("messages", 0) < 20:  # relaying for a few timer intervals
            assert time.monotonic() < started + 30, f"seed=6 {lr.describe()}"
            time.sleep(0.05)
        assert not lr.status().get("halted"), f"seed=6 finished before the kill: {lr.describe()}"
        port = lr.port
        assert port is not None
        lr.kill_proxy()  # SIGKILL: its spool has no end record
        time.sleep(0.2)
        assert lr.start_proxy(port=port) == port
        waited = lr.wait(timeout=60)
    outcome = lr.collect(waited)
    assert outcome.summary["agreed"] is True, about(outcome)
    sources = outcome.summary["message_trace_sources"]
    first = sources["proxy_spools"]["proxy-1.spool"]
    assert first.startswith("incomplete: "), (sources, about(outcome))
    kept = int(first.rpartition("; ")[2].split()[0])
    assert kept > 0, (sources, about(outcome))
    assert sources["proxy_spools"]["proxy-2.spool"] == "complete", (sources, about(outcome))
    assert_sound(outcome.out_dir, sources)
