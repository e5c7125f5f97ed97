"""The container layer without a Docker engine: scenario [docker] validation, compose files,
Dockerfiles, labels and ownership, archives, the health check, and the one-line message when
the engine cannot be reached. These run everywhere; tests/test_docker_e2e.py needs an engine.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from byzlab.cli import main
from byzlab.orchestration import compose, image
from byzlab.orchestration.docker.archive import tar_files, untar
from byzlab.orchestration.docker.clean import CleanReport, _keep
from byzlab.orchestration.docker.faults import netem_args
from byzlab.orchestration.docker.labels import (
    LABEL_NODE,
    LABEL_OWNER,
    LABEL_ROLE,
    LABEL_RUN,
    owner_alive,
    owner_label,
    run_labels,
)
from byzlab.orchestration.provenance import plugin_files
from byzlab.orchestration.results import mark_role
from byzlab.orchestration.scenario import (
    DockerFault,
    ScenarioError,
    default_scenario,
    load_scenario,
    parse_scenario,
)

ROOT = Path(__file__).resolve().parents[1]
BYZLAB = str(Path(sys.executable).with_name("byzlab"))
DEAD_ENGINE = "unix:///nonexistent/byzlab-test/docker.sock"


def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data)
    return info.value.problems


def kill(node: int, **extra: Any) -> dict[str, Any]:
    return {"node": node, "action": "kill", "at_s": 0.5, **extra}


# --------------------------------------------------------------------------- [docker]


def test_docker_section_defaults_and_round_trip() -> None:
    scn = parse_scenario({})
    assert scn.docker.image == "byzlab:latest" and scn.docker.faults == []
    assert "[docker]" not in scn.to_toml()  # files without it are written as before
    scn = parse_scenario(
        {
            "run": {"n": 7},
            "docker": {
                "image": "me/byzlab:1",
                "faults": [
                    kill(1),
                    {"node": 2, "action": "pause", "at_iteration": 2, "duration_s": 1.5},
                    {
                        "node": 3,
                        "action": "netem",
                        "at_s": 0,
                        "delay_ms": 20,
                        "jitter_ms": 5,
                        "loss_pct": 1,
                    },
                ],
            },
        }
    )
    again = parse_scenario(tomllib.loads(scn.to_toml()))
    assert again.docker == scn.docker
    assert scn.docker.crashed_nodes() == [1, 2]
    assert [f.permanent for f in scn.docker.faults] == [True, False, False]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"docker": {"img": "x"}}, "docker.img: unknown key; expected one of: faults, image"),
        (
            {"docker": {"faults": [kill(1, at=3)]}},
            "docker.faults[0].at: unknown key; expected one of: action, at_iteration, at_s, "
            "delay_ms, duration_s, jitter_ms, loss_pct, node",
        ),
        (
            {"docker": {"faults": [{"node": 1, "action": "stop", "at_s": 1}]}},
            "docker.faults[0].action: 'stop' is not one of kill, netem, pause",
        ),
        (
            {"docker": {"faults": [{"node": 1, "action": "kill"}]}},
            "docker.faults[0]: set exactly one of at_s, at_iteration",
        ),
        (
            {"docker": {"faults": [kill(1, at_iteration=2)]}},
            "docker.faults[0]: set exactly one of at_s, at_iteration",
        ),
        (
            {"docker": {"faults": [{"node": 1, "action": "kill", "at_s": "1"}]}},
            "docker.faults[0].at_s: expected a number, got string '1'",
        ),
        ({"docker": {"faults": [kill(1, at_s=-1)]}}, "docker.faults[0].at_s: must be >= 0, got -1"),
        ({"docker": {"faults": [kill(4)]}}, "docker.faults[0].node: node 4 is out of range 0..3"),
        (
            {"docker": {"faults": [kill(1, duration_s=2)]}},
            "docker.faults[0].duration_s: not used by action 'kill'",
        ),
        (
            {"docker": {"faults": [{"node": 1, "action": "pause", "at_s": 0, "loss_pct": 5}]}},
            "docker.faults[0].loss_pct: not used by action 'pause'",
        ),
        (
            {"docker": {"faults": [{"node": 1, "action": "netem", "at_s": 0}]}},
            "docker.faults[0]: a netem fault needs delay_ms or loss_pct",
        ),
        (
            {
                "docker": {
                    "faults": [
                        {"node": 1, "action": "netem", "at_s": 0, "loss_pct": 1, "jitter_ms": 3}
                    ]
                }
            },
            "docker.faults[0].jitter_ms: jitter needs delay_ms",
        ),
        (
            {"docker": {"faults": [{"node": 1, "action": "netem", "at_s": 0, "loss_pct": 101}]}},
            "docker.faults[0].loss_pct: must be <= 100, got 101",
        ),
        (
            {
                "adversary": {"byzantine": [{"node": 3, "strategy": "equivocate"}]},
                "docker": {"faults": [kill(3)]},
            },
            "docker.faults[0].node: node 3 is Byzantine (adversary.byzantine[0]); it runs inside "
            "the proxy and has no container of its own",
        ),
        # A crash counts toward f: n=4 allows one faulty node in all.
        (
            {
                "adversary": {"byzantine": [{"node": 3, "strategy": "equivocate"}]},
                "docker": {"faults": [kill(1)]},
            },
            "docker.faults: Byzantine nodes [3] plus crashed nodes [1] are 2 faulty nodes, more "
            "than f=1 (a killed or paused container is a crash fault and counts toward f)",
        ),
        (
            {"docker": {"faults": [kill(1), {"node": 2, "action": "pause", "at_s": 1}]}},
            "docker.faults: Byzantine nodes [] plus crashed nodes [1, 2] are 2 faulty nodes, more "
            "than f=1 (a killed or paused container is a crash fault and counts toward f)",
        ),
    ],
)
def test_each_bad_docker_field_gets_one_message_naming_its_path(
    data: dict[str, Any], expected: str
) -> None:
    assert problems(data) == [expected]


def test_netem_is_scheduling_not_a_fault_toward_f() -> None:
    scn = parse_scenario(
        {
            "adversary": {"byzantine": [{"node": 3, "strategy": "equivocate"}]},
            "docker": {
                "faults": [
                    {"node": n, "action": "netem", "at_s": 0, "delay_ms": 10} for n in (0, 1, 2)
                ]
            },
        }
    )
    assert scn.docker.crashed_nodes() == []
    fault = DockerFault(node=0, action="netem", at_s=0, delay_ms=20.5, jitter_ms=5, loss_pct=0.5)
    assert netem_args(fault) == [
        "tc",
        "qdisc",
        "replace",
        "dev",
        "eth0",
        "root",
        "netem",
        "delay",
        "20.5ms",
        "5ms",
        "loss",
        "0.5%",
    ]


def test_local_backend_refuses_container_faults(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('[[docker.faults]]\nnode = 1\naction = "kill"\nat_s = 0.5\n')
    result = CliRunner().invoke(main, ["run", str(path), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert result.output == "Error: docker.faults: container faults need --backend docker\n"
    assert not (tmp_path / "r").exists()


# --------------------------------------------------------------------------- the engine


def test_unreachable_engine_is_one_sentence_and_no_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "DOCKER_HOST": DEAD_ENGINE}
    expected = (
        f"Error: cannot reach the Docker engine at {DEAD_ENGINE}: start it with "
        "`dockerd &` or `systemctl start docker`"
    )
    # The real command once, in a process of its own...
    proc = subprocess.run(
        [BYZLAB, "run", "--backend", "docker", "--out", str(tmp_path / "r")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1 and proc.stderr.strip() == expected, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout and proc.stdout == ""
    assert not (tmp_path / "r").exists()
    # ...and every other command that needs the engine, in this one.
    for args in (["docker", "clean"], ["docker", "ps"], ["image", "build"]):
        result = CliRunner().invoke(main, args, env={"DOCKER_HOST": DEAD_ENGINE})
        assert result.exit_code == 1, (args, result.output)
        assert result.output.strip() == expected, (args, result.output)


def test_unreachable_tcp_engine_names_its_address() -> None:
    result = CliRunner().invoke(main, ["docker", "ps"], env={"DOCKER_HOST": "tcp://127.0.0.1:9"})
    assert result.exit_code == 1
    assert "cannot reach the Docker engine at tcp://127.0.0.1:9: start it" in result.output


# --------------------------------------------------------------------------- labels, owners


def test_labels_name_run_role_node_and_owner() -> None:
    assert run_labels("r1", "node", node=3, owner="h:1:2") == {
        LABEL_RUN: "r1",
        LABEL_ROLE: "node",
        LABEL_NODE: "3",
        LABEL_OWNER: "h:1:2",
    }
    assert run_labels("r1", "network") == {LABEL_RUN: "r1", LABEL_ROLE: "network"}


def test_owner_is_alive_only_while_this_very_process_runs() -> None:
    me = owner_label()
    host, pid, start = me.split(":")
    assert int(pid) == os.getpid() and owner_alive(me) is True
    assert owner_alive(f"{host}:{pid}:{int(start) + 1}") is False  # a recycled pid
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert owner_alive(f"{host}:{proc.pid}:1") is False
    assert owner_alive("some-other-host:1:1") is None


def test_clean_keeps_live_runs_and_compose_objects_unless_asked() -> None:
    dead = f"{owner_label().split(':')[0]}:999999999:1"
    live = owner_label()

    def keep(labels: dict[str, str], **kw: Any) -> bool:
        opts: dict[str, Any] = {"run_id": None, "include_live": False, "include_unowned": False}
        opts.update(kw)
        return _keep(labels, report=CleanReport(), **opts)

    assert keep(run_labels("a", "node", owner=dead)) is False
    assert keep(run_labels("a", "node", owner=live)) is True
    assert keep(run_labels("a", "node", owner=live), include_live=True) is False
    assert keep(run_labels("a", "node", owner=dead), run_id="b") is True
    assert keep(run_labels("compose-n4", "node")) is True
    assert keep(run_labels("compose-n4", "node"), include_unowned=True) is False
    report = CleanReport()
    _keep(
        run_labels("a", "node", owner=live),
        run_id=None,
        include_live=False,
        include_unowned=False,
        report=report,
    )
    assert report.skipped_live == ["a"]


# --------------------------------------------------------------------------- archives, csv


def test_archives_carry_owner_and_modes_and_never_escape(tmp_path: Path) -> None:
    data = tar_files(
        {"keys": (None, 0o700), "keys/node-1.key": (b"secret", 0o600), "node.json": (b"{}", 0o644)}
    )
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert members["keys/node-1.key"].mode == 0o600 and members["keys"].isdir()
    assert {m.uid for m in members.values()} == {10001}
    evil = io.BytesIO()
    with tarfile.open(fileobj=evil, mode="w") as tar:
        for name in ("out/result.json", "../escaped.txt", "/abs.txt"):
            info = tarfile.TarInfo(name)
            info.size = 2
            tar.addfile(info, io.BytesIO(b"ok"))
    untar([evil.getvalue()], tmp_path / "dest")
    assert (tmp_path / "dest" / "out" / "result.json").read_bytes() == b"ok"
    assert not (tmp_path / "escaped.txt").exists() and not Path("/abs.txt").exists()


def test_crashed_nodes_get_their_own_role_in_nodes_csv() -> None:
    table = "node,role,strategy\n0,honest,honest\n1,byzantine,container-kill\n2,byzantine,x\n"
    assert mark_role(table, {1: "container-kill"}, "crashed").splitlines() == [
        "node,role,strategy",
        "0,honest,honest",
        "1,crashed,container-kill",
        "2,byzantine,x",
    ]


# --------------------------------------------------------------------------- image


def test_runtime_requirements_come_from_pyproject(tmp_path: Path) -> None:
    reqs = image.runtime_requirements(ROOT / "pyproject.toml")
    names = {r.split(">")[0].split("=")[0].split(";")[0].strip().lower() for r in reqs}
    assert names == {n.lower() for n in image.RUNTIME_DISTRIBUTIONS}
    assert not names & {"matplotlib", "pyarrow", "docker"}  # host-side only
    bad = tmp_path / "pyproject.toml"
    bad.write_text('[project]\ndependencies = ["numpy>=1"]\n')
    with pytest.raises(image.ImageBuildError, match="the image needs click, msgpack"):
        image.runtime_requirements(bad)


def test_the_repository_dockerfile_is_the_generated_one() -> None:
    """One source for both build paths: the repository's Dockerfile is regenerated from
    image.py (python -c 'from byzlab.orchestration.image import registry_dockerfile as r;
    open("Dockerfile", "w").write(r())') and ends like the offline path's."""
    text = (ROOT / "Dockerfile").read_text()
    assert text == image.registry_dockerfile()
    for dockerfile in (text, image.generated_dockerfile()):
        assert dockerfile.endswith(image.IMAGE_TAIL) and image.SLIM_VENV in dockerfile
        assert "USER 10001:10001" in dockerfile and "HEALTHCHECK" in dockerfile
        assert 'ENTRYPOINT ["byzlab"]' in dockerfile
    assert "FROM ${PYTHON_IMAGE} AS build" in text and "ARG PYTHON_IMAGE=python:3.11-slim" in text
    assert "FROM byzlab-base:bookworm AS build" in image.generated_dockerfile()


def test_one_default_image_everywhere() -> None:
    # image.py repeats the name because it may import nothing but the standard library.
    from byzlab.orchestration.scenario import DEFAULT_IMAGE

    assert image.DEFAULT_IMAGE == DEFAULT_IMAGE == default_scenario().docker.image


def test_dockerignore_keeps_secrets_and_the_venv_out_of_the_context() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    assert lines[lines.index("*") + 1 :][:3] == ["!pyproject.toml", "!README.md", "!src/"]


def test_health_check(tmp_path: Path) -> None:
    proc = tmp_path / "proc"
    (proc / "1").mkdir(parents=True)
    (proc / "1" / "stat").write_text("1 (python) S 0 1 1 0")
    (proc / "1" / "cmdline").write_bytes(b"python\0-m\0byzlab.adversary.proxy\0")
    beat = tmp_path / "stats.json"
    assert image.health({}, proc=proc) is None
    assert image.health({"BYZLAB_HEALTH_FILE": str(beat)}, proc=proc) == (
        f"{beat} does not exist yet"
    )
    beat.write_text("{}")
    assert image.health({"BYZLAB_HEALTH_FILE": str(beat)}, proc=proc) is None
    old = time.time() - 100
    os.utime(beat, (old, old))
    problem = image.health(
        {"BYZLAB_HEALTH_FILE": str(beat), "BYZLAB_HEALTH_MAX_AGE_S": "30"}, proc=proc
    )
    assert problem is not None and "was last written 100 s ago (more than 30 s)" in problem
    (proc / "1" / "stat").write_text("1 (python) Z 0 1 1 0")
    assert "has exited" in str(image.health({}, proc=proc))


def test_health_and_requirements_entry_points() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "byzlab.orchestration.image",
            "requirements",
            str(ROOT / "pyproject.toml"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0 and "numpy>=" in proc.stdout and "matplotlib" not in proc.stdout
    proc = subprocess.run(
        [sys.executable, "-m", "byzlab.orchestration.image", "nonsense"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2 and proc.stderr.startswith("usage:")


def test_source_hash_follows_the_sources(tmp_path: Path) -> None:
    (tmp_path / "src" / "byzlab").mkdir(parents=True)
    (tmp_path / "pyproject.toml").write_text("[project]\n")
    (tmp_path / "src" / "byzlab" / "a.py").write_text("x = 1\n")
    assert image.source_root(tmp_path / "src" / "byzlab" / "a.py") == tmp_path
    first = image.source_hash(tmp_path)
    (tmp_path / "src" / "byzlab" / "a.py").write_text("x = 2\n")
    assert image.source_hash(tmp_path) != first
    with pytest.raises(image.ImageBuildError, match="cannot find the byzlab source tree"):
        image.source_root(Path("/"))


# --------------------------------------------------------------------------- compose


def services_of(doc: dict[str, Any]) -> dict[str, Any]:
    services = doc["services"]
    assert isinstance(services, dict)
    return services


@pytest.mark.parametrize("n", [4, 7, 32])
def test_compose_document_for_n_is_swarm_ready(n: int) -> None:
    scn = compose.resize(default_scenario(), n)
    doc = compose.compose_document(scn, image="byzlab:latest", material="m")
    services = services_of(doc)
    honest = [i for i in range(n) if i != 3]
    assert doc["version"] == "3.8"
    assert set(services) == {"proxy", *(f"node-{i}" for i in honest)}
    for name, svc in services.items():
        assert "build" not in svc and svc["image"] == "byzlab:latest"
        assert svc["deploy"]["restart_policy"] == {"condition": "none"}
        assert svc["networks"] == ["byzlab"]
        assert svc["labels"]["byzlab.role"] == ("proxy" if name == "proxy" else "node")
    # Each node sees only its own key; the proxy its own (id n) and the Byzantine node's.
    for i in honest:
        secrets = {s["target"] for s in services[f"node-{i}"]["secrets"]}
        assert secrets == {"roster.json", f"node-{i}.key", "node.json"}
    proxy_secrets = {s["target"] for s in services["proxy"]["secrets"]}
    assert proxy_secrets == {"roster.json", f"node-{n}.key", "node-3.key", "proxy.json"}
    assert services["proxy"]["deploy"]["endpoint_mode"] == "dnsrr"
    # No driver: a bridge under docker-compose, an overlay on a swarm.
    assert doc["networks"] == {
        "byzlab": {"labels": {"byzlab.run": f"compose-n{n}", "byzlab.role": "network"}}
    }
    files = {s["file"] for s in doc["secrets"].values()}
    assert all(f.startswith("./m/") for f in files)
    assert len(doc["secrets"]) == 2 + 2 * len(honest) + 2


def test_compose_yaml_is_plain_block_yaml() -> None:
    text = compose.to_yaml(
        {
            "a": {"b": [1, "x y"], "c": True, "d": "on", "e": []},
            "l": [{"k": 1, "v": "2"}, "s"],
            "f": 0.5,
            "g": None,
        }
    )
    assert text == (
        'a:\n  b: [1, "x y"]\n  c: true\n  d: "on"\n  e: []\nl:\n  - k: 1\n'
        '    v: "2"\n  - s\nf: 0.5\ng: null\n'
    )


def test_root_compose_file_is_the_generators_output() -> None:
    """docker-compose.yml is `byzlab compose --n 4 --out docker-compose.yml`; regenerate it
    with that command (and delete the docker-compose.d/ it writes) if this fails."""
    scn = default_scenario()
    expected = compose.compose_text(
        scn,
        image="byzlab:latest",
        material="docker-compose.d",
        command="byzlab compose --n 4 --out docker-compose.yml",
    )
    assert (ROOT / "docker-compose.yml").read_text() == expected


def test_compose_command_writes_file_and_private_material(tmp_path: Path) -> None:
    out = tmp_path / "docker-compose.7.yml"
    result = CliRunner().invoke(main, ["compose", "--n", "7", "--out", str(out)])
    assert result.exit_code == 0, result.output
    material = tmp_path / "docker-compose.7.d"
    assert out.read_text().startswith(
        "# Generated by `byzlab compose --n 7 --out docker-compose.7.yml`"
    )
    assert (material.stat().st_mode & 0o777) == 0o700
    assert (material / ".gitignore").read_text().splitlines()[-1] == "*"
    keys = sorted(p.name for p in (material / "keys").iterdir())
    assert keys == sorted([f"node-{i}.key" for i in range(8)] + ["roster.json"])
    node = json.loads((material / "nodes" / "node-0.json").read_text())
    roster = json.loads((material / "keys" / "roster.json").read_text())
    assert node["proxy_host"] == "proxy" and node["key_dir"] == "/run/secrets"
    assert node["run_id"] == roster["run_id"] and roster["n"] == 8
    assert load_scenario(material / "scenario.toml").n == 7
    # --init renews the keys for the same file, and refuses a file made for another n.
    result = CliRunner().invoke(main, ["compose", "--n", "7", "--init", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (
        json.loads((material / "keys" / "roster.json").read_text())["run_id"] != (roster["run_id"])
    )
    result = CliRunner().invoke(main, ["compose", "--n", "10", "--init", "--out", str(out)])
    assert result.exit_code == 2
    assert "was not generated for this scenario (n=10" in result.output


def test_compose_ships_plugin_code_as_an_importable_zip(tmp_path: Path) -> None:
    """A scenario naming a plugin strategy gets plugins.zip in its material, a secret on the
    PYTHONPATH of every container, and the zip alone imports the plugin in a fresh
    interpreter; the same code gives the same bytes, and a scenario without plugins has
    none of it."""
    root = tmp_path / "root"
    (root / "zipplug").mkdir(parents=True)
    (root / "zipplug" / "__init__.py").write_text(
        "from byzlab.api import ByzantineNode\n\n\n"
        "class Mute(ByzantineNode):\n"
        '    name = "mute"\n'
        '    description = "sends nothing"\n'
    )
    sys.path.insert(0, str(root))
    try:
        scn = parse_scenario(
            {
                "run": {"n": 4},
                "adversary": {"byzantine": [{"node": 3, "strategy": "zipplug:Mute"}]},
            }
        )
        doc = compose.compose_document(scn, image="byzlab:latest", material="m")
        first = compose.plugin_zip(plugin_files(scn))
        again = compose.plugin_zip(plugin_files(scn))
        compose.write_material(scn, tmp_path / "m")
    finally:
        sys.path.remove(str(root))
        sys.modules.pop("zipplug", None)
    assert first == again
    zipped = tmp_path / "m" / compose.PLUGINS_ZIP
    assert zipped.read_bytes() == first
    for name, svc in services_of(doc).items():
        assert svc["environment"]["PYTHONPATH"] == "/run/secrets/plugins.zip", name
        assert {"source": "plugins", "target": "plugins.zip"} in svc["secrets"], name
    assert doc["secrets"]["plugins"]["file"] == "./m/plugins.zip"
    probe = subprocess.run(
        [sys.executable, "-c", "from zipplug import Mute; print(Mute.name)"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONPATH": str(zipped)},
    )
    assert probe.stdout.strip() == "mute", probe.stderr
    plain = compose.compose_document(default_scenario(), image="byzlab:latest", material="m")
    assert "plugins" not in plain["secrets"]
    assert all("PYTHONPATH" not in svc.get("environment", {}) for svc in plain["services"].values())


def test_compose_command_errors_are_one_line(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text("[run]\nn = 4\ninputs = [1, 1, 1, -1]\n")
    result = CliRunner().invoke(
        main, ["compose", "--scenario", str(path), "--n", "7", "--out", str(tmp_path / "c.yml")]
    )
    assert result.exit_code == 2
    assert result.output == (
        "Error: --n 7: the scenario lists 4 explicit inputs; change "
        "run.inputs in the file instead\n"
    )
    result = CliRunner().invoke(main, ["compose", "--init", "--out", str(tmp_path / "no.yml")])
    assert result.exit_code == 2 and "does not exist; write it with" in result.output
