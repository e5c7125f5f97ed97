"""Removing what runs left behind: labelled containers, networks and volumes whose
orchestrator is gone (``byzlab docker clean``), and listing them (``byzlab docker ps``)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from byzlab.orchestration.docker.engine import api_error
from byzlab.orchestration.docker.labels import LABEL_OWNER, LABEL_RUN, owner_alive

__all__ = ["CleanReport", "clean", "force_remove", "leftover_summary"]


def force_remove(container: Any) -> None:
    import docker.errors

    with contextlib.suppress(docker.errors.NotFound):
        try:
            container.remove(force=True)
        except docker.errors.APIError:
            # A paused container may refuse removal on older engines: thaw it and retry.
            with contextlib.suppress(docker.errors.APIError):
                container.unpause()
            container.remove(force=True)


@dataclass
class CleanReport:
    removed: dict[str, list[str]] = field(default_factory=dict)
    skipped_live: list[str] = field(default_factory=list)  # run ids whose owner still runs
    errors: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.removed.values())


def _keep(
    labels: dict[str, str],
    *,
    run_id: str | None,
    include_live: bool,
    include_unowned: bool,
    report: CleanReport,
) -> bool:
    """Should a labelled object survive this clean?"""
    if run_id is not None and labels.get(LABEL_RUN) != run_id:
        return True
    owner = labels.get(LABEL_OWNER)
    if owner is None:
        return not include_unowned  # compose/stack objects: only with --all
    if include_live:
        return False
    alive = owner_alive(owner)
    if alive is False:
        return False
    run = labels.get(LABEL_RUN, "?")
    if run not in report.skipped_live:
        report.skipped_live.append(run)
    return True


def clean(
    client: Any,
    *,
    run_id: str | None = None,
    include_live: bool = False,
    include_unowned: bool = False,
    dry_run: bool = False,
) -> CleanReport:
    """Remove labelled containers, networks and volumes whose orchestrator is gone.

    ``include_live`` also removes objects of runs whose orchestrator still runs (it will
    then fail); ``include_unowned`` also those made by compose or a swarm stack, which carry
    a run label but no owner; ``run_id`` limits it all to one run. Swarm services, configs
    and secrets are removed the same way when the engine is a swarm manager.
    """
    import docker.errors

    report = CleanReport()
    label_filter = {"label": LABEL_RUN if run_id is None else f"{LABEL_RUN}={run_id}"}

    def remove_all(kind: str, objects: Iterable[Any], remove: Callable[[Any], None]) -> None:
        for obj in objects:
            labels = _labels_of(obj)
            if _keep(
                labels,
                run_id=run_id,
                include_live=include_live,
                include_unowned=include_unowned,
                report=report,
            ):
                continue
            name = str(getattr(obj, "name", None) or obj.id)
            if not dry_run:
                try:
                    remove(obj)
                except docker.errors.NotFound:
                    continue
                except docker.errors.APIError as exc:
                    report.errors.append(f"{kind} {name}: {api_error(exc)}")
                    continue
            report.removed.setdefault(kind, []).append(name)

    swarm = _is_swarm_manager(client)
    if swarm:
        remove_all("services", client.services.list(filters=label_filter), lambda s: s.remove())
    remove_all(
        "containers",
        client.containers.list(all=True, filters=label_filter, ignore_removed=True),
        lambda c: force_remove(c),
    )
    if swarm:
        remove_all("configs", client.configs.list(filters=label_filter), lambda c: c.remove())
        remove_all("secrets", client.secrets.list(filters=label_filter), lambda s: s.remove())
    remove_all("networks", client.networks.list(filters=label_filter), lambda n: n.remove())
    remove_all("volumes", client.volumes.list(filters=label_filter), lambda v: v.remove(force=True))
    return report


def _labels_of(obj: Any) -> dict[str, str]:
    attrs = getattr(obj, "attrs", {}) or {}
    labels = (
        attrs.get("Labels")
        or (attrs.get("Config") or {}).get("Labels")
        or (attrs.get("Spec") or {}).get("Labels")
        or {}
    )
    return {str(k): str(v) for k, v in labels.items()}


def _is_swarm_manager(client: Any) -> bool:
    with contextlib.suppress(Exception):
        info = client.info().get("Swarm") or {}
        return bool(info.get("ControlAvailable"))
    return False


def leftover_summary(client: Any) -> dict[str, list[str]]:
    """Every labelled object, by kind (for `byzlab docker ps` and the tests)."""
    label_filter = {"label": LABEL_RUN}
    out: dict[str, list[str]] = {
        "containers": [
            c.name
            for c in client.containers.list(all=True, filters=label_filter, ignore_removed=True)
        ],
        "networks": [n.name for n in client.networks.list(filters=label_filter)],
        "volumes": [v.name for v in client.volumes.list(filters=label_filter)],
    }
    if _is_swarm_manager(client):
        out["services"] = [s.name for s in client.services.list(filters=label_filter)]
    return out
