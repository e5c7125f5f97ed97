"""Compose files for any N that run under ``docker-compose up`` and ``docker stack deploy``.

Theory of operation
-------------------
``byzlab compose --n N --scenario FILE --out docker-compose.N.yml`` writes two things:

* the compose file: one ``proxy`` service and one ``node-<i>`` service per honest node,
  all from the byzlab image, and
* its *material* directory next to it (``docker-compose.N.d/``, named after the file):
  the run's keys and every container's config, fresh for each ``--init``.

One file serves both tools, so it only uses what both understand in the same way:

* ``version: "3.8"`` and no ``build:`` section: a swarm deploys images, it does not build.
* Keys and configs are *secrets*, read from files in the material directory.
  ``docker-compose`` bind-mounts those files; ``docker stack deploy`` uploads them to the
  swarm's raft store, from where they reach whichever host runs the task. Either way node i
  sees, in ``/run/secrets/``, only the roster, its own private key and its ``node.json``,
  and the proxy only its own and the Byzantine nodes' keys and ``proxy.json``. (Swarm
  *configs* would suit the JSON files better, but docker-compose v1 ignores them, and a
  shared volume would not work on a swarm of several hosts: a local volume exists on one
  host only.)
* The network sets no driver: ``docker-compose`` makes it a bridge, ``docker stack
  deploy`` an overlay spanning the swarm, and the nodes find the proxy by its service name
  in both.
* ``deploy.restart_policy: none``: the proxy and the nodes exit when the run is over, and a
  swarm must not restart them (``docker-compose`` restarts nothing by default).
* ``deploy.endpoint_mode: dnsrr`` on the proxy: its service name resolves to the task's own
  address rather than a virtual IP, which needs IPVS in every host's kernel and buys
  nothing for one replica. (docker-compose v1 prints one line saying it ignores this key.)

Private keys are written with mode 0644 inside a 0700 directory: ``docker-compose`` bind
mounts a secret file with its host permissions, and the containers run as uid 10001, not as
the host user that owns the file; the directory keeps other host users out. On a swarm a
secret is a file of mode 0444 in a tmpfs of its own task only. The material directory
holds a ``.gitignore`` of ``*``, so the keys are never committed by accident.

The root ``docker-compose.yml`` is this generator's output for the default scenario
(``byzlab compose --n 4 --out docker-compose.yml``); ``byzlab compose --init`` writes its
material, so ``byzlab compose --init && docker-compose up`` runs the default scenario. A
unit test keeps the committed file equal to the generator's output.

Live metrics: with ``[metrics] port = P`` in the scenario the proxy and the nodes serve
``/metrics`` (on every address of their container; proxy on P, node i on P + 1 + i), and the
file gains a ``prometheus`` service in the compose *profile* ``metrics``, off unless asked
for: ``docker-compose --profile metrics up`` starts it too, scraping every container every
second (``prometheus.yml`` in the material directory) and serving its UI on the host's port
9090. Profiles are a docker-compose feature; ``docker stack deploy`` does not know them, so
deploy a scenario without ``[metrics]`` on a swarm. See docs/metrics.md.

Plugins: a scenario that names a plugin (a strategy, scheduler or protocol that is not
built in, ``byzlab.plugins``) gets its code shipped as the docker backend ships it (the
top-level module or package, and an installed distribution's metadata for its entry
points), here as one more secret: ``plugins.zip`` in the material directory, mounted at
``/run/secrets/plugins.zip`` and put on ``PYTHONPATH``. Python imports from a zip file
directly (``zipimport``) and ``importlib.metadata`` reads a distribution's entry points
from one, so the same ``module:Name`` reference or entry-point name resolves in every
container, on any host of a swarm, without a derived image. The archive is deterministic
(sorted names, fixed timestamps): the same plugin code gives the same bytes.

Outputs stay inside the containers (``/data/out`` of each node): the nodes log their
decisions (``node 2: decided 1 in iteration 1``) and the proxy logs ``every honest node
halted; done``, which ``docker-compose logs`` and ``docker service logs`` show.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import tomllib
import zipfile
from pathlib import Path
from typing import Any

from byzlab.atomicio import atomic_write_bytes, atomic_write_text
from byzlab.errors import ComposeError
from byzlab.network.keys import ROSTER_FILE, generate_keys, key_file_name
from byzlab.orchestration.plan import NODE_MODULE, PROXY_MODULE, RunPlan
from byzlab.orchestration.provenance import plugin_files
from byzlab.orchestration.scenario import Scenario, ScenarioError, parse_scenario

__all__ = [
    "COMPOSE_VERSION",
    "ComposeError",
    "compose_document",
    "compose_text",
    "material_dir",
    "plugin_zip",
    "prometheus_config",
    "resize",
    "to_yaml",
    "write_compose",
    "write_material",
]

COMPOSE_VERSION = "3.8"
PROXY_PORT = 7000
PROMETHEUS_IMAGE = "prom/prometheus:v2.53.0"
PROMETHEUS_UI_PORT = 9090
SECRETS = "/run/secrets"
DATA = "/data"
PLUGINS_ZIP = "plugins.zip"


def material_dir(compose_file: Path) -> Path:
    """``docker-compose.N.yml`` -> ``docker-compose.N.d`` (next to the file)."""
    name = compose_file.name
    stem = name[: -len(compose_file.suffix)] if compose_file.suffix in (".yml", ".yaml") else name
    return compose_file.with_name(stem + ".d")


def resize(scenario: Scenario, n: int) -> Scenario:
    """The scenario with ``run.n = n`` (validated again; f stays as the scenario set it)."""
    if n == scenario.n:
        return scenario
    data = tomllib.loads(scenario.to_toml())
    if isinstance(scenario.run.inputs, tuple):
        raise ComposeError(
            f"--n {n}: the scenario lists {scenario.n} explicit inputs; "
            "change run.inputs in the file instead"
        )
    data["run"]["n"] = n
    if scenario.run.f is None:
        data["run"].pop("f", None)
    try:
        return parse_scenario(data, source=f"with --n {n}")
    except ScenarioError as exc:
        raise ComposeError(str(exc)) from exc


def _labels(role: str, run_label: str, node: int | None = None) -> dict[str, str]:
    labels = {"byzlab.run": run_label, "byzlab.role": role}
    if node is not None:
        labels["byzlab.node"] = str(node)
    return labels


def _secret(name: str, target: str) -> dict[str, Any]:
    # No uid/gid/mode: docker-compose v1 warns that it ignores them, and the swarm default
    # (root, 0444) already lets the container user read the file.
    return {"source": name, "target": target}


def compose_document(scenario: Scenario, *, image: str, material: str) -> dict[str, Any]:
    """The compose file as nested dicts; ``material`` is the material dir, relative."""
    n = scenario.n
    byzantine = sorted(scenario.byzantine_map())
    honest = [i for i in range(n) if i not in byzantine]
    run_label = f"compose-n{n}"
    restart = {"restart_policy": {"condition": "none"}}
    # the run's plugin code (see "Plugins" above), for every container that imports it
    plugins = [_secret("plugins", PLUGINS_ZIP)] if plugin_files(scenario) else []
    env = {"PYTHONPATH": f"{SECRETS}/{PLUGINS_ZIP}"} if plugins else {}
    services: dict[str, Any] = {
        "proxy": {
            "image": image,
            "entrypoint": ["python", "-m", PROXY_MODULE],
            "command": ["--config", f"{SECRETS}/proxy.json"],
            "environment": {"BYZLAB_HEALTH_FILE": f"{DATA}/stats.json", **env},
            "networks": ["byzlab"],
            "secrets": [_secret("proxy-json", "proxy.json"), _secret("roster", ROSTER_FILE)]
            + [_secret(f"key-{i}", key_file_name(i)) for i in [n, *byzantine]]
            + plugins,
            "labels": _labels("proxy", run_label),
            # DNS names the proxy task itself, not a virtual IP: one replica needs no load
            # balancing, and a VIP needs IPVS in the kernel of every swarm host.
            "deploy": {**restart, "endpoint_mode": "dnsrr"},
        },
    }
    for i in honest:
        services[f"node-{i}"] = {
            "image": image,
            # The lean entry point: the full CLI costs a second of CPU per container.
            "entrypoint": ["python", "-m", NODE_MODULE],
            "command": ["--config", f"{SECRETS}/node.json"],
            **({"environment": env} if env else {}),
            "networks": ["byzlab"],
            "secrets": [
                _secret(f"node-{i}-json", "node.json"),
                _secret("roster", ROSTER_FILE),
                _secret(f"key-{i}", key_file_name(i)),
                *plugins,
            ],
            # Nodes have no heartbeat file; n health-check processes only cost CPU.
            "healthcheck": {"disable": True},
            "labels": _labels("node", run_label, i),
            "deploy": restart,
        }
    secrets: dict[str, Any] = {
        "proxy-json": {"file": f"./{material}/proxy.json", "labels": _labels("config", run_label)},
        "roster": {
            "file": f"./{material}/keys/{ROSTER_FILE}",
            "labels": _labels("secret", run_label),
        },
    }
    secrets.update(
        {
            f"node-{i}-json": {
                "file": f"./{material}/nodes/node-{i}.json",
                "labels": _labels("config", run_label, i),
            }
            for i in honest
        }
    )
    if plugins:
        secrets["plugins"] = {
            "file": f"./{material}/{PLUGINS_ZIP}",
            "labels": _labels("code", run_label),
        }
    if scenario.metrics.port:
        services["prometheus"] = {
            "image": PROMETHEUS_IMAGE,
            "profiles": ["metrics"],
            "command": [f"--config.file={SECRETS}/prometheus.yml"],
            "networks": ["byzlab"],
            "ports": [f"{PROMETHEUS_UI_PORT}:{PROMETHEUS_UI_PORT}"],
            "secrets": [_secret("prometheus-yml", "prometheus.yml")],
            "labels": _labels("metrics", run_label),
            "deploy": restart,
        }
        secrets["prometheus-yml"] = {
            "file": f"./{material}/prometheus.yml",
            "labels": _labels("config", run_label),
        }
    secrets.update(
        {
            f"key-{i}": {
                "file": f"./{material}/keys/{key_file_name(i)}",
                "labels": _labels("secret", run_label, i),
            }
            for i in [*honest, n, *byzantine]
        }
    )
    return {
        "version": COMPOSE_VERSION,
        "services": services,
        "networks": {"byzlab": {"labels": _labels("network", run_label)}},
        "secrets": secrets,
    }


def compose_text(scenario: Scenario, *, image: str, material: str, command: str) -> str:
    """The compose file's text: a header saying how it was made and how to use it, then
    the document in YAML."""
    byz = ", ".join(f"{b.node}:{b.strategy}" for b in scenario.adversary.byzantine) or "none"
    header = [
        f"# Generated by `{command}`; do not edit, regenerate.",
        f"# byzlab: the adversary proxy and the honest nodes of an n={scenario.n}, "
        f"f={scenario.f} run (Byzantine: {byz}),",
        f"# scheduler {scenario.adversary.scheduler}, delta_s={scenario.adversary.delta_s:g},"
        f" protocol {scenario.run.protocol}.",
        f"# Keys and configs live in ./{material}/ (written by the same command, or by",
        "# `byzlab compose --init` for ./docker-compose.yml). Then either",
        "#   docker-compose -f THIS_FILE up",
        "# or, on a swarm (images must be on every host, e.g. from a registry):",
        "#   docker stack deploy -c THIS_FILE byzlab",
    ]
    return (
        "\n".join(header)
        + "\n"
        + to_yaml(compose_document(scenario, image=image, material=material))
    )


def write_material(scenario: Scenario, dest: Path, *, run_id: str | None = None) -> str:
    """Keys and configs for a compose file in ``dest`` (replaced); returns the run id."""
    n = scenario.n
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True, mode=0o700)
    dest.chmod(0o700)
    atomic_write_text(dest / ".gitignore", "# private keys: never commit\n*\n")
    keys = generate_keys(n + 1, dest / "keys", run_id)
    (dest / "keys").chmod(0o700)
    for i in range(n + 1):
        # Readable by the containers' user (see the module docs); the 0700 parent keeps
        # other host users out.
        (dest / "keys" / key_file_name(i)).chmod(0o644)
    atomic_write_text(dest / "scenario.toml", scenario.to_toml())
    shipped = plugin_files(scenario)
    if shipped:
        atomic_write_bytes(dest / PLUGINS_ZIP, plugin_zip(shipped))
    plan = RunPlan.of(scenario, run_id=keys.roster.run_id)
    proxy = plan.proxy_config(
        key_dir=SECRETS,
        host="0.0.0.0",
        port=PROXY_PORT,
        stats_file=f"{DATA}/stats.json",
        ready_file=f"{DATA}/ready.json",
    )
    _write_json(dest / "proxy.json", proxy)
    if scenario.metrics.port:
        atomic_write_text(dest / "prometheus.yml", prometheus_config(plan))
    for i in plan.honest_ids:
        _write_json(
            dest / "nodes" / f"node-{i}.json",
            plan.node_config(
                i,
                key_dir=SECRETS,
                proxy_host="proxy",
                proxy_port=PROXY_PORT,
                out_dir=f"{DATA}/out",
                metrics_host="0.0.0.0",  # for the prometheus profile (docs/metrics.md)
            ),
        )
    return plan.run_id


def plugin_zip(files: dict[str, bytes]) -> bytes:
    """A zip of plugin files (path relative to an import root -> content) that Python can
    import from: the same files give the same bytes (sorted, fixed timestamps)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in sorted(files.items()):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o444 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return buf.getvalue()


def prometheus_config(plan: RunPlan) -> str:
    """prometheus.yml for the ``metrics`` profile: every container of the run, each second."""
    proxy = [f"proxy:{plan.metrics_port(None)}"]
    nodes = [f"node-{i}:{plan.metrics_port(i)}" for i in plan.honest_ids]
    return to_yaml(
        {
            "global": {"scrape_interval": "1s"},
            "scrape_configs": [
                {"job_name": "byzlab-proxy", "static_configs": [{"targets": proxy}]},
                {"job_name": "byzlab-nodes", "static_configs": [{"targets": nodes}]},
            ],
        }
    )


def _write_json(path: Path, obj: object) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


def write_compose(
    scenario: Scenario, out: Path, *, image: str, command: str, init_only: bool = False
) -> tuple[Path, str]:
    """Write the compose file (unless ``init_only``) and its material; (material, run id).

    With ``init_only`` the compose file must already exist and match what this scenario
    generates, or its services would not match the material.
    """
    material = material_dir(out)
    text = compose_text(scenario, image=image, material=material.name, command=command)
    if init_only:
        try:
            current = out.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ComposeError(
                f"{out} does not exist; write it with `byzlab compose --n {scenario.n} --out {out}`"
            ) from None
        if _body(current) != _body(text):
            raise ComposeError(
                f"{out} was not generated for this scenario (n={scenario.n}, image {image}); "
                f"regenerate it with `byzlab compose --n {scenario.n} --out {out}` "
                "(add --scenario FILE if it came from one)"
            )
    run_id = write_material(scenario, material)
    if not init_only:
        atomic_write_text(out, text)
    return material, run_id


def _body(text: str) -> str:
    """A compose text without its comment header (which names the generating command)."""
    return "\n".join(line for line in text.splitlines() if not line.startswith("#"))


# --------------------------------------------------------------------------- YAML

_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_./-]*")
_RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


def _scalar(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    text = str(value)
    if _PLAIN.fullmatch(text) and text.lower() not in _RESERVED:
        return text
    return json.dumps(text)  # a JSON string is a valid double-quoted YAML scalar


def to_yaml(value: object, indent: int = 0) -> str:
    """Block-style YAML for dicts, lists and scalars (all a compose file needs; the
    standard library has no YAML writer and byzlab does not depend on one)."""
    pad = "  " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict | list) and item:
                if isinstance(item, list) and all(not isinstance(x, dict | list) for x in item):
                    lines.append(f"{pad}{_scalar(key)}: [{', '.join(_scalar(x) for x in item)}]")
                else:
                    lines.append(f"{pad}{_scalar(key)}:")
                    lines.append(to_yaml(item, indent + 1).rstrip("\n"))
            elif isinstance(item, dict | list):
                lines.append(f"{pad}{_scalar(key)}: {'{}' if isinstance(item, dict) else '[]'}")
            else:
                lines.append(f"{pad}{_scalar(key)}: {_scalar(item)}")
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict) and item:
                inner = to_yaml(item, indent + 1).rstrip("\n").splitlines()
                lines.append(f"{pad}- {inner[0].lstrip()}")
                lines.extend(inner[1:])
            else:
                lines.append(f"{pad}- {_scalar(item)}")
    else:
        lines.append(pad + _scalar(value))
    return "\n".join(lines) + "\n"
