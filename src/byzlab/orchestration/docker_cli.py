"""The container commands of ``byzlab``: ``image build``, ``docker clean|ps``, ``compose``.

Every Docker problem becomes one line on stderr and exit status 1 (``DockerUnavailable``,
``ImageBuildError``: the command line prints any ``ByzlabError``); an invalid scenario or
compose file is exit status 2, as in ``byzlab run``. The Docker SDK is imported only when a
command needs the engine, so ``byzlab --help`` stays fast.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from byzlab.orchestration.scenario import DEFAULT_IMAGE

__all__ = ["compose_command", "docker_command", "image_command"]


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


# --------------------------------------------------------------------------- image


@click.group(name="image")
def image_command() -> None:
    """Build the container image the docker backend, compose and swarm run."""


@image_command.command(name="build")
@click.option("--tag", default=DEFAULT_IMAGE, show_default=True, help="Image to build.")
@click.option(
    "--from",
    "how",
    type=click.Choice(["auto", "registry", "offline"]),
    default="auto",
    show_default=True,
    help="registry: the repository's Dockerfile from python:3.11-slim. offline: "
    "host-built wheels on a debootstrap base (no registry needed). auto: "
    "registry if python:3.11-slim is present or can be pulled, else offline.",
)
@click.option(
    "--base",
    default="byzlab-base:bookworm",
    show_default=True,
    help="Tag of the offline path's debootstrap base image (built once, cached).",
)
@click.option("--rebuild-base", is_flag=True, help="Rebuild the base image even if cached.")
@click.option(
    "--mirror",
    default="http://deb.debian.org/debian",
    show_default=True,
    help="Debian mirror for debootstrap.",
)
@click.option(
    "--source",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="byzlab source checkout (default: the one byzlab runs from).",
)
def image_build(
    tag: str, how: str, base: str, rebuild_base: bool, mirror: str, source: Path | None
) -> None:
    """Build the byzlab image: one image for the nodes and the proxy.

    It runs as the unprivileged user byzlab (uid 10001), has a health check, iproute2 for
    netem faults, and only the runtime dependencies of the byzlab command, its node and its
    proxy. Without a registry the base is a debootstrap of Debian bookworm with python3,
    which needs root and debootstrap the first time (about 1.5 minutes), then is cached.

    Example: byzlab image build && byzlab run --backend docker
    """
    from byzlab.orchestration.docker.engine import connect
    from byzlab.orchestration.image import build_image

    started = time.monotonic()

    def log(line: str) -> None:
        click.echo(f"image [{time.monotonic() - started:5.1f} s] {line}", err=True)

    built = build_image(
        connect(),
        tag=tag,
        base=base,
        source=source,
        how=how,
        rebuild_base=rebuild_base,
        mirror=mirror,
        log=log,
    )
    click.echo(
        f"built {built.tag} ({built.image_id[7:19]}) the {built.path} way in "
        f"{built.seconds:.0f} s: {built.size_bytes / 1e6:.0f} MB"
    )
    click.echo("contains: " + ", ".join(built.distributions))


# --------------------------------------------------------------------------- docker


@click.group(name="docker")
def docker_command() -> None:
    """Inspect and remove what the docker backend left behind."""


@docker_command.command(name="clean")
@click.option("--run", "run_id", default=None, metavar="RUN_ID", help="Only this run.")
@click.option(
    "--force", is_flag=True, help="Also runs whose orchestrator is still running (they will fail)."
)
@click.option(
    "--all",
    "include_unowned",
    is_flag=True,
    help="Also objects made by docker-compose or a swarm stack from `byzlab "
    "compose` files (normally removed with `docker-compose down` or "
    "`docker stack rm`).",
)
@click.option("--dry-run", is_flag=True, help="Only list what would be removed.")
def docker_clean(run_id: str | None, force: bool, include_unowned: bool, dry_run: bool) -> None:
    """Remove containers, networks and volumes labelled byzlab.run=<run-id>.

    Objects of runs whose `byzlab run` process is still alive on this host are kept
    unless --force is given, so this is safe while other runs are in progress. Use it
    after an orchestrator was killed (SIGKILL, a lost machine) before it could clean up.
    """
    from byzlab.orchestration.docker.clean import clean
    from byzlab.orchestration.docker.engine import connect

    report = clean(
        connect(),
        run_id=run_id,
        include_live=force,
        include_unowned=include_unowned,
        dry_run=dry_run,
    )
    verb = "would remove" if dry_run else "removed"
    if report.total == 0:
        click.echo(f"nothing to remove{'' if run_id is None else f' for run {run_id}'}")
    for kind, names in report.removed.items():
        click.echo(f"{verb} {len(names)} {kind}: {', '.join(sorted(names))}")
    if report.skipped_live:
        click.echo(
            f"kept runs whose orchestrator is still running (--force removes them): "
            f"{', '.join(report.skipped_live)}"
        )
    for error in report.errors:
        click.echo(f"Error: {error}", err=True)
    if report.errors:
        sys.exit(1)


@docker_command.command(name="ps")
def docker_ps() -> None:
    """List every object labelled by byzlab (containers, networks, volumes, services)."""
    from byzlab.orchestration.docker.clean import leftover_summary
    from byzlab.orchestration.docker.engine import connect

    found = leftover_summary(connect())
    if not any(found.values()):
        click.echo("no byzlab containers, networks or volumes")
    for kind, names in found.items():
        if names:
            click.echo(f"{kind}: {', '.join(sorted(names))}")


# --------------------------------------------------------------------------- compose


@click.command(name="compose")
@click.option(
    "--n",
    "n",
    type=click.IntRange(4, 1024),
    default=None,
    help="Number of nodes (default: the scenario's run.n).",
)
@click.option(
    "--scenario",
    "scenario_file",
    default=None,
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Scenario file (default: the default scenario of `byzlab run`).",
)
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Compose file to write (default: docker-compose.<N>.yml; with --init: "
    "docker-compose.yml).",
)
@click.option(
    "--image",
    default=None,
    help=f"Image of every service (default: the scenario's docker.image, {DEFAULT_IMAGE}).",
)
@click.option(
    "--init",
    "init_only",
    is_flag=True,
    help="Only (re)generate keys and configs for an existing compose file, e.g. "
    "the repository's docker-compose.yml before `docker-compose up`.",
)
def compose_command(
    n: int | None, scenario_file: Path | None, out: Path | None, image: str | None, init_only: bool
) -> None:
    """Write a compose file for N nodes that runs with docker-compose and on a swarm.

    Writes OUT and, next to it, OUT's material directory (docker-compose.N.d/: the run's
    keys and every container's config). The file runs unchanged with
    `docker-compose -f OUT up` on one host and with `docker stack deploy -c OUT NAME` on a
    swarm of many (the image must be on every host). Each --init makes new keys.

    Example: byzlab compose --n 16 --out docker-compose.16.yml
    """
    from byzlab.orchestration.compose import resize, write_compose
    from byzlab.orchestration.scenario import default_scenario, load_scenario

    scn = load_scenario(scenario_file) if scenario_file else default_scenario()
    try:
        if n is not None:
            scn = resize(scn, n)
        if out is None:
            out = Path("docker-compose.yml") if init_only else Path(f"docker-compose.{scn.n}.yml")
        command = (
            "byzlab compose"
            + (f" --n {scn.n}" if n is not None else "")
            + (f" --scenario {scenario_file}" if scenario_file else "")
            + f" --out {out.name}"
        )
        material, run_id = write_compose(
            scn, out, image=image or scn.docker.image, command=command, init_only=init_only
        )
    except OSError as exc:
        _fail(str(exc))
        return
    if not init_only:
        click.echo(f"wrote {out} (proxy + {scn.n - len(scn.adversary.byzantine)} nodes)")
    click.echo(f"wrote keys and configs for run {run_id} to {material}/")
    click.echo(
        f"run it:  docker-compose -f {out} up     or on a swarm:  "
        f"docker stack deploy -c {out} byzlab"
    )
