"""Live metrics: a real local run (node processes and the proxy) scraped while it runs.

The exposition is parsed with ``prometheus_client``'s own parser, and the values must make
sense: messages relayed, every honest node connected, the decided count never going down
and reaching every honest node, each node's own endpoint agreeing with the proxy's.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from byzlab.orchestration.local import RunOutcome, run_local
from byzlab.orchestration.plan import RunPlan
from byzlab.orchestration.scenario import parse_scenario

N = 4


def free_ports(count: int) -> int:
    """A base port P with P..P+count-1 free now (bound and released together)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base: int = probe.getsockname()[1]
        if base + count > 65535:
            continue
        with ExitStack() as stack:
            try:
                for port in range(base, base + count):
                    s = stack.enter_context(socket.socket())
                    s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return base
    pytest.fail("no run of free ports")


def scrape(port: int) -> dict[str, dict[tuple[tuple[str, str], ...], float]] | None:
    """name -> {sorted labels: value} from /metrics on ``port``; None if nobody answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            text = r.read().decode()
    except OSError:
        return None
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def value(metrics: dict[str, dict[tuple[tuple[str, str], ...], float]], name: str) -> float:
    return metrics[name][()]


def test_scenario_metrics_port_reaches_the_configs() -> None:
    scn = parse_scenario({"run": {"n": N}, "metrics": {"port": 9100}})
    plan = RunPlan.of(scn)
    assert (
        plan.proxy_config(key_dir="k", port=1, stats_file="s", ready_file="r")["metrics_port"]
        == 9100
    )
    node = plan.node_config(2, key_dir="k", proxy_host="h", proxy_port=1, out_dir="o")
    assert node["metrics_port"] == 9100 + 1 + 2
    off = RunPlan.of(parse_scenario({"run": {"n": N}}))
    assert "metrics_port" not in off.proxy_config(
        key_dir="k", port=1, stats_file="s", ready_file="r"
    )
    assert "[metrics]\nport = 9100" in scn.to_toml()
    assert scn.with_metrics_port(9200).metrics.port == 9200


def test_metrics_port_is_validated() -> None:
    from byzlab.errors import ScenarioError

    with pytest.raises(ScenarioError, match=r"metrics\.port"):
        parse_scenario({"metrics": {"port": 65535}})
    with pytest.raises(ScenarioError, match=r"metrics\.port"):
        parse_scenario({"metrics": {"port": "9100"}})


@pytest.mark.slow
def test_live_run_is_scraped(tmp_path: Path) -> None:
    base = free_ports(N + 1)
    scn = parse_scenario(
        {
            "run": {"n": N, "seed": 5, "timeout_s": 60},
            # slow enough to be watched: a run of a few seconds
            "adversary": {"scheduler": "random", "delta_s": 0.5},
            "metrics": {"port": base},
        }
    )
    outcome: list[RunOutcome] = []
    runner = threading.Thread(
        target=lambda: outcome.append(run_local(scn, out_root=tmp_path)), daemon=True
    )
    runner.start()
    proxy_scrapes = []
    node_scrapes: dict[int, list[dict[str, dict[tuple[tuple[str, str], ...], float]]]] = {
        i: [] for i in range(N)
    }
    deadline = time.monotonic() + 90
    while runner.is_alive() and time.monotonic() < deadline:
        got = scrape(base)
        if got is not None:
            proxy_scrapes.append(got)
        for i in range(N):
            node = scrape(base + 1 + i)
            if node is not None:
                node_scrapes[i].append(node)
        time.sleep(0.05)
    runner.join(timeout=30)
    assert outcome and outcome[0].summary["agreed"] is True, "the run did not agree"
    assert len(proxy_scrapes) >= 3, "the proxy's /metrics was hardly ever up"

    # The proxy exits moments after the last node halts: a scrape may or may not see every
    # node decided, but the count must grow and never go down.
    decided = [value(m, "byzlab_proxy_nodes_decided") for m in proxy_scrapes]
    assert decided == sorted(decided), f"decided went down: {decided}"
    assert decided[0] == 0 and decided[-1] >= 1, f"decided did not grow: {decided}"
    assert max(value(m, "byzlab_proxy_nodes_connected") for m in proxy_scrapes) == N
    last = proxy_scrapes[-1]
    assert value(last, "byzlab_proxy_honest_nodes") == N
    relayed = last["byzlab_proxy_messages_relayed_total"]
    assert sum(relayed.values()) > 0
    assert {dict(k)["kind"] for k in relayed} == {"INITIAL", "ECHO", "READY", "DECIDE"}
    # per node: every node sent and received, and the totals agree with the per-kind ones
    sent = last["byzlab_proxy_node_messages_sent_total"]
    assert {dict(k)["node"] for k in sent} == {str(i) for i in range(N)}
    assert sum(sent.values()) == sum(relayed.values())
    assert all(v >= 1 for v in last["byzlab_proxy_node_iteration"].values())

    for i, scrapes in node_scrapes.items():
        assert scrapes, f"node {i}'s /metrics never answered"
        own = scrapes[-1]
        assert value(own, "byzlab_node_messages_received_total") > 0
        seen = [m for m in scrapes if value(m, "byzlab_node_decided") == 1]
        assert all(value(m, "byzlab_node_decision") in (-1, 1) for m in seen)
        weights = own["byzlab_node_weight"]
        assert len(weights) == N and all(0 <= w <= 1 for w in weights.values())
        received = [value(m, "byzlab_node_messages_received_total") for m in scrapes]
        assert received == sorted(received)
        iterations = [value(m, "byzlab_node_iteration") for m in scrapes]
        assert iterations == sorted(iterations) and iterations[0] >= 1


def test_compose_has_a_prometheus_profile_when_metrics_are_on(tmp_path: Path) -> None:
    from byzlab.orchestration import compose

    off = parse_scenario({"run": {"n": N}})
    assert "prometheus" not in compose.compose_document(off, image="i", material="m")["services"]
    scn = parse_scenario({"run": {"n": N}, "metrics": {"port": 9100}})
    doc = compose.compose_document(scn, image="i", material="m")
    prometheus = doc["services"]["prometheus"]
    assert prometheus["profiles"] == ["metrics"]
    assert doc["secrets"]["prometheus-yml"]["file"] == "./m/prometheus.yml"
    compose.write_material(scn, tmp_path / "m")
    config = (tmp_path / "m" / "prometheus.yml").read_text()
    assert '"proxy:9100"' in config and '"node-3:9104"' in config
    node = json.loads((tmp_path / "m" / "nodes" / "node-3.json").read_text())
    assert node["metrics_port"] == 9104 and node["metrics_host"] == "0.0.0.0"
