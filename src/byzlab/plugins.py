"""Plugins: strategies, schedulers and protocols that live outside byzlab, and where they came from.

A plugin is named one of two ways wherever a scenario or the command line names a strategy,
a scheduler or a protocol:

* a reference ``"package.module:Name"``: the module is imported (from ``sys.path``, so a
  directory on ``PYTHONPATH`` will do) and ``Name`` looked up in it (dots after the colon
  walk attributes, ``"mod:Outer.Inner"``);
* the name of a Python entry point in the group ``byzlab.strategies``, ``byzlab.schedulers``
  or ``byzlab.protocols`` of an installed distribution (``[project.entry-points]`` in its
  pyproject), e.g. ``opposite = "myattacks.opposite:Opposite"``.

Built-in names are the registries' (``byzlab.adversary``) and win over an entry point of the
same name; this module only knows about plugins. Every failure is a `PluginError` whose
message is one line naming the reference and the cause, never a traceback, because a
scenario names plugins and a bad scenario gets one line per problem.

Each loaded plugin has a `Provenance`: the module named, the distribution and its version
when it came from one, and the sha256 of its source: every ``.py`` file of the package the
module sits in (its helpers count), or the module's own file when it is a top-level module.
Runs record it in ``summary.json`` so that ``byzlab replay`` can refuse a run whose plugin
code has changed since.

Protocols are resolved here too (`protocol`), because the node process needs them and
imports nothing of the adversary: the built-in ones (``byzlab.node.bracha``), then entry
points, then references. A leaf module (importlib and importlib.metadata, and the protocol
core below it): the node process and the adversary
proxy resolve the same references without importing the experiment layer.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata as metadata
import os
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any, cast

from pydantic import BaseModel

from byzlab.node.bracha import BUILTIN_PROTOCOLS
from byzlab.node.protocol import DecodeError, Decoder, Protocol

__all__ = [
    "GROUPS",
    "Installed",
    "PluginError",
    "Provenance",
    "decoder",
    "import_path_env",
    "installed",
    "is_known",
    "is_protocol_plugin",
    "is_reference",
    "load_class",
    "protocol",
    "provenance",
    "resolve",
    "shipped_files",
]

# kind of plugin -> its entry-point group
GROUPS = {
    "strategy": "byzlab.strategies",
    "scheduler": "byzlab.schedulers",
    "protocol": "byzlab.protocols",
}


class PluginError(ValueError):
    """A plugin that cannot be found, imported or used; the message is one line."""


@dataclass(frozen=True)
class Provenance:
    """Where a plugin came from: what a run records of it in ``summary.json``.

    `kind` is strategy, scheduler or protocol; `ref` the name the scenario used (an entry
    point's name or a ``module:Name`` reference); `module` the module it was loaded from;
    `distribution` and `version` the installed distribution that provides it (None for code
    found on ``PYTHONPATH``); `sha256` the hash of its source files (`source_hash`)."""

    kind: str
    ref: str
    module: str
    distribution: str | None
    version: str | None
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Installed:
    """An entry point of one of byzlab's groups, as ``byzlab strategies`` lists it."""

    name: str
    value: str  # "module:Name"
    distribution: str | None
    version: str | None


def is_reference(name: str) -> bool:
    """Whether `name` is a ``"package.module:Name"`` reference rather than a registered name."""
    return ":" in name


def _group(kind: str) -> str:
    try:
        return GROUPS[kind]
    except KeyError:
        raise PluginError(
            f"unknown kind of plugin {kind!r}; choose one of: {', '.join(GROUPS)}"
        ) from None


def _entry_points(kind: str) -> dict[str, metadata.EntryPoint]:
    # the first distribution on sys.path wins a name, as importlib.metadata orders them
    found: dict[str, metadata.EntryPoint] = {}
    for ep in metadata.entry_points(group=_group(kind)):
        found.setdefault(ep.name, ep)
    return found


def installed(kind: str) -> list[Installed]:
    """The entry points installed for `kind`, by name."""
    out = []
    for name, ep in sorted(_entry_points(kind).items()):
        dist = ep.dist
        out.append(
            Installed(
                name,
                ep.value,
                dist.metadata["Name"] if dist is not None else None,
                dist.version if dist is not None else None,
            )
        )
    return out


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if isinstance(exc, ModuleNotFoundError | AttributeError | PluginError):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _split(ref: str) -> tuple[str, str]:
    module, _, attr = ref.partition(":")
    if not module or not attr or ":" in attr:
        raise PluginError(f'"{ref}" is not a reference of the form "package.module:Name"')
    return module, attr


def _import(ref: str) -> tuple[ModuleType, object]:
    """The module of `ref` and the object it names."""
    module_name, attr = _split(ref)
    if module_name not in sys.modules:
        importlib.invalidate_caches()  # a plugin installed since the finders last looked
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # a plugin's import can raise anything: one line, no traceback
        raise PluginError(f'cannot import "{ref}": {_one_line(exc)}') from None
    obj: object = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise PluginError(
                f'cannot import "{ref}": module {module_name!r} has no attribute {attr!r}'
            ) from None
    return module, obj


def _where(kind: str, name: str) -> str:
    """The reference that `name` (an entry point's name or a reference) stands for."""
    if is_reference(name):
        return name
    ep = _entry_points(kind).get(name)
    if ep is None:
        raise PluginError(
            f"no {kind} named {name!r} is installed (no entry point {name!r} in the group "
            f'{_group(kind)}), and it is not a "package.module:Name" reference'
        )
    return ep.value.replace(" ", "")


@cache
def _resolve(kind: str, name: str) -> object:
    where = _where(kind, name)
    try:
        return _import(where)[1]
    except PluginError as exc:
        if where == name:
            raise
        raise PluginError(f"{kind} {name!r} (entry point {where}): {exc}") from None


def is_known(kind: str, name: str) -> bool:
    """Whether `name` could be a plugin of `kind`: a reference, or an installed entry
    point's name (whether it imports is `resolve`'s to say)."""
    return is_reference(name) or name in _entry_points(kind)


def resolve(kind: str, name: str) -> object:
    """The object a plugin name stands for: an entry point of `kind`'s group, else a
    ``"package.module:Name"`` reference. Raises `PluginError` (one line) if it cannot be
    found or imported. What the object must be (a class, a protocol) is the caller's to
    check."""
    return _resolve(kind, name)


def load_class(kind: str, name: str, *methods: str) -> type:
    """`resolve`, for a plugin that must be a class with the given methods (a strategy's
    ``start`` and ``receive``, a scheduler's ``delay``); `PluginError` if it is not."""
    obj = resolve(kind, name)
    missing = [m for m in methods if not callable(getattr(obj, m, None))]
    if not isinstance(obj, type) or missing:
        what = f"has no {', '.join(missing)}" if isinstance(obj, type) else "is not a class"
        raise PluginError(f'{kind} "{name}" {what}, so it is not a {kind}')
    return obj


def _module_files(module: ModuleType) -> list[tuple[str, Path]]:
    """The source files of `module`: its file, or every .py file of a package, with the
    names they are hashed under (relative, so a plugin moved as a whole hashes the same)."""
    paths = getattr(module, "__path__", None)
    if paths is not None:
        files = []
        for root in map(Path, paths):
            files += [
                (f"{module.__name__}/{p.relative_to(root).as_posix()}", p)
                for p in root.rglob("*.py")
            ]
        return sorted(files)
    file = getattr(module, "__file__", None)
    if file is None:
        raise PluginError(f"module {module.__name__!r} has no source file to record")
    return [(f"{module.__name__}.py", Path(file))]


def source_hash(modules: list[ModuleType]) -> str:
    """The sha256 of the modules' source files (names and contents), read from disk now."""
    digest = hashlib.sha256()
    seen: set[str] = set()
    for module in modules:
        for name, path in _module_files(module):
            if name in seen:
                continue
            seen.add(name)
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise PluginError(
                    f"cannot read {path} to record its hash: {exc.strerror}"
                ) from None
            digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()


def _distributions() -> dict[str, list[str]]:
    """Top-level import names -> the distributions that install them. Scanning every
    distribution takes a fifth of a second, so the map is kept until a directory of
    ``sys.path`` changes (an install or uninstall touches its site-packages)."""
    stamp = tuple((p, _mtime(p)) for p in sys.path)
    return _distributions_at(stamp)


def _mtime(path: str) -> int:
    try:
        return Path(path or ".").stat().st_mtime_ns
    except OSError:
        return 0


@cache
def _distributions_at(stamp: tuple[tuple[str, int], ...]) -> dict[str, list[str]]:
    return dict(metadata.packages_distributions())


def _distribution_of(kind: str, name: str, module: str) -> tuple[str | None, str | None]:
    if not is_reference(name):
        dist = _entry_points(kind)[name].dist
        if dist is not None:
            return dist.metadata["Name"], dist.version
    top = module.split(".")[0]
    for dist_name in _distributions().get(top, []):
        try:
            return dist_name, metadata.version(dist_name)
        except metadata.PackageNotFoundError:
            continue
    return None, None


def provenance(kind: str, name: str) -> Provenance:
    """Where the plugin `name` of `kind` comes from, its source hashed now (so an edit made
    since it was loaded shows). Raises `PluginError` if it cannot be found or imported."""
    obj = resolve(kind, name)
    module_name = _split(_where(kind, name))[0]
    names = [module_name]
    defined_in = getattr(obj, "__module__", None)
    if isinstance(defined_in, str) and defined_in in sys.modules and defined_in != module_name:
        names.append(defined_in)  # a re-export: its defining module counts too
    distribution, version = _distribution_of(kind, name, module_name)
    modules = [sys.modules[_enclosing(n)] for n in names]
    return Provenance(kind, name, module_name, distribution, version, source_hash(modules))


def _enclosing(module_name: str) -> str:
    """What a plugin module's hash covers: the package it sits in (every file of it), since a
    plugin's helpers usually live beside it (byzlab.protocols.mmr shares its codec, round
    window and termination gadget with ben-or) and an edit to one of them changes what runs as
    surely as an edit to the module itself. A top-level module covers itself alone."""
    parent = module_name.rpartition(".")[0]
    return parent if parent else module_name


def shipped_files(kind: str, name: str) -> dict[str, Path]:
    """What a container needs to import the plugin `name` of `kind` on its own: the source
    of its top-level module or package (path relative to an import root -> file, bytecode
    caches left out) and, for a plugin from an installed distribution, the distribution's
    metadata (so its entry points resolve there as here). Third-party libraries the plugin
    imports are not included: those belong in a derived image."""
    resolve(kind, name)
    top = sys.modules[_split(_where(kind, name))[0].split(".")[0]]
    files: dict[str, Path] = {}
    for root in map(Path, getattr(top, "__path__", [])):
        for path in root.rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                files[f"{top.__name__}/{path.relative_to(root).as_posix()}"] = path
    if not files:
        files = dict(_module_files(top))
    distribution, _ = _distribution_of(kind, name, top.__name__)
    if distribution is not None:
        dist = metadata.distribution(distribution)
        for entry in dist.files or []:
            if entry.parts and entry.parts[0].endswith(".dist-info"):
                files[entry.as_posix()] = Path(str(dist.locate_file(entry)))
    return files


def is_protocol_plugin(name: str) -> bool:
    """Whether the protocol `name` is a plugin (not one of byzlab's built-in protocols)."""
    return name not in BUILTIN_PROTOCOLS


def protocol(name: str, options: Mapping[str, Any] | None = None) -> Protocol:
    """The protocol `name`: a built-in one (``hpz``, ``bracha-local``, ``ideal-coin``), an
    entry point of ``byzlab.protocols``, or a ``"package.module:Name"`` reference. What a
    plugin names is a `byzlab.node.protocol.Protocol` object, or a class whose constructor
    makes one from `options` (a scenario's ``[run.protocol_options]``) as keyword arguments,
    validated first by the class's ``Options`` pydantic model when it declares one, as a
    strategy's or a scheduler's are. A built-in protocol or a plugin object takes no options.
    Raises `PluginError` (one line) otherwise; the scenario checks word a bad option per field
    before any process gets here."""
    options = dict(options or {})
    if name in BUILTIN_PROTOCOLS:
        if options:
            raise PluginError(f'protocol "{name}" takes no options, got {", ".join(options)}')
        return BUILTIN_PROTOCOLS[name]
    if not is_known("protocol", name):
        choices = sorted({*BUILTIN_PROTOCOLS, *(p.name for p in installed("protocol"))})
        raise PluginError(
            f"unknown protocol {name!r}; choose one of: {', '.join(choices)}, or a "
            '"package.module:Name" reference'
        )
    obj = resolve("protocol", name)
    if isinstance(obj, type):
        try:
            obj = obj(**_option_kwargs(obj, options))
        except Exception as exc:  # a plugin's constructor can raise anything: one line
            raise PluginError(f'protocol "{name}": cannot construct it: {_one_line(exc)}') from None
    elif options:
        raise PluginError(f'protocol "{name}" is an object, not a class: it takes no options')
    # checked by name: on Python 3.11 isinstance() against a typing.Protocol subclass that is
    # itself named "Protocol" finds no members to check and accepts anything
    missing = [m for m in _PROTOCOL_MEMBERS if not hasattr(obj, m)]
    if missing:
        raise PluginError(
            f'protocol "{name}" is not a byzlab.node.protocol.Protocol '
            f"(it has no {', '.join(missing)})"
        )
    return cast(Protocol, obj)


_BUILTIN_TYPES = frozenset(type(p) for p in BUILTIN_PROTOCOLS.values())


def decoder(proto: Protocol, n: int) -> Decoder:
    """`proto`'s wire decoder for n nodes, as every runtime that decodes a peer's bytes
    uses it. A decoder must answer a `DecodeError` for anything it refuses, never raise
    (byzlab.node.protocol); the built-in ones are held to that by their own tests, but a
    plugin's is code we have not seen, and the bytes it decodes come from peers that may be
    Byzantine. So a plugin's decoder is guarded: an exception becomes a `DecodeError`
    (``decoder-raised-<ExceptionType>``), dropped and counted like any invalid message,
    where it would have ended the node process (or the proxy) on one crafted frame."""
    decode = proto.decoder(n)
    if type(proto) in _BUILTIN_TYPES:
        return decode

    def guarded(obj: object) -> Any:
        try:
            return decode(obj)
        except Exception as exc:  # see the docstring: a peer's bytes must not crash us
            return DecodeError(f"decoder-raised-{type(exc).__name__}")

    return guarded


def _option_kwargs(cls: type, options: dict[str, Any]) -> dict[str, Any]:
    """`options` as the keyword arguments of `cls`: the fields of its ``Options`` model once
    validated (a ValidationError propagates), else `options` as they are."""
    model = getattr(cls, "Options", None)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return options
    checked = model.model_validate(options)
    return {field: getattr(checked, field) for field in type(checked).model_fields}


# what a protocol object must have: the interface's annotated attributes and its methods
_PROTOCOL_MEMBERS = tuple(
    dict.fromkeys(
        [*Protocol.__annotations__, *(m for m in vars(Protocol) if not m.startswith("_"))]
    )
)


def import_path_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a child byzlab process (a node, the proxy) that must import the
    plugins this process imports: `environ` (default: this process's) with ``PYTHONPATH``
    extended by every ``sys.path`` directory of this process that is not the interpreter's
    own (its standard library and site-packages, which the child has anyway), such as a
    test's or a user's plugin directory added at run time, or the working directory."""
    env = dict(os.environ if environ is None else environ)
    own = tuple(os.path.abspath(p) for p in {sys.prefix, sys.base_prefix, sys.exec_prefix})
    entries = [e for e in env.get("PYTHONPATH", "").split(os.pathsep) if e]
    for entry in sys.path:
        path = os.path.abspath(entry or os.getcwd())
        if os.path.isdir(path) and not path.startswith(own) and path not in entries:
            entries.append(path)
    if entries:
        env["PYTHONPATH"] = os.pathsep.join(entries)
    return env
