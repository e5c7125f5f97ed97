"""The plugins a run uses and where their code came from, as summary.json records them.

A run is reproducible from its scenario and seed only if the code it ran is the same. byzlab's
own code is identified by the run's ``git_commit``; a plugin's (a strategy, scheduler or
protocol that is not built in, ``byzlab.plugins``) by its `byzlab.plugins.Provenance`: module,
distribution and version, and the sha256 of its source. Every backend writes the list into
``summary.json`` as ``plugins``, and ``byzlab replay`` refuses a run whose plugin is missing
or whose source hashes differently now, because replaying it would run other code than the
run did and a differing trace hash would then say nothing about the simulator.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from byzlab import plugins
from byzlab.adversary.schedulers import SCHEDULERS
from byzlab.adversary.strategies import STRATEGIES
from byzlab.orchestration.scenario import Scenario

__all__ = ["plugin_files", "plugin_problems", "run_plugins"]


def _used(scn: Scenario) -> list[tuple[str, str]]:
    """(kind, name) of every plugin the scenario names, each once, in scenario order."""
    adv = scn.adversary
    used = [("protocol", scn.run.protocol)] if plugins.is_protocol_plugin(scn.run.protocol) else []
    if adv.scheduler not in SCHEDULERS:
        used.append(("scheduler", adv.scheduler))
    for name in [b.strategy for b in (*adv.byzantine, *scn.pool_byzantine)] + [
        c.strategy for c in adv.corrupt
    ]:
        if name not in STRATEGIES:
            used.append(("strategy", name))
    return list(dict.fromkeys(used))


def run_plugins(scn: Scenario) -> list[dict[str, Any]]:
    """The provenance of every plugin `scn` uses, as ``summary.json``'s ``plugins`` holds it:
    ``[{kind, ref, module, distribution, version, sha256}]`` (empty for built-ins only)."""
    return [plugins.provenance(kind, ref).to_dict() for kind, ref in _used(scn)]


def plugin_problems(recorded: Sequence[Mapping[str, Any]]) -> list[str]:
    """Why the plugins recorded for a run are not the code installed now: one line per
    plugin that is missing (does not import) or whose source hashes differently."""
    problems = []
    for entry in recorded:
        kind, ref = str(entry.get("kind")), str(entry.get("ref"))
        what = f'{kind} plugin "{ref}"'
        try:
            now = plugins.provenance(kind, ref)
        except plugins.PluginError as exc:
            problems.append(f"{what} is missing: {exc}")
            continue
        if now.sha256 != entry.get("sha256"):
            problems.append(
                f"{what} (module {now.module}) changed since the run: its source hashes to "
                f"sha256 {now.sha256[:12]}..., the run recorded {str(entry.get('sha256'))[:12]}..."
            )
    return problems


def plugin_files(scn: Scenario) -> dict[str, bytes]:
    """The files a container needs to import every plugin `scn` uses (relative path ->
    content, ``byzlab.plugins.shipped_files``): the docker backend copies them into each
    container and puts their directory on ``PYTHONPATH``."""
    files: dict[str, bytes] = {}
    for kind, ref in _used(scn):
        for name, path in plugins.shipped_files(kind, ref).items():
            try:
                files[name] = path.read_bytes()
            except OSError as exc:
                raise plugins.PluginError(
                    f'{kind} plugin "{ref}": cannot read {path} to ship it: {exc.strerror}'
                ) from None
    return files
