"""Long-term node keys and the public roster of a run.

Theory of operation
-------------------
HPZ assumes authenticated asynchronous channels: the adversary schedules every message
but cannot forge or alter one sent by an honest node. Over TCP every frame passes through
the adversary's proxy, so we get that property from cryptography (see ``auth.py``), and
the cryptography needs keys that are fixed before the run starts:

* each node ``i`` of a run has a long-term X25519 key pair, used only for key agreement;
  the private half lives in ``node-<i>.key`` (mode 0600), one file per node, so a
  container or process can be given only its own key;
* the public halves, in node order, plus the run id and ``n`` form the *roster*,
  ``roster.json``, which every node and the proxy read. The run id goes into every link
  key (``auth.derive_link_key``), so frames recorded in one run are useless in another
  even when keys are reused by mistake.

The adversary holds the key files of the nodes it corrupts; that is the model (a
Byzantine node is fully controlled by the adversary), not a leak.

File formats (both JSON, so they can be inspected and diffed)::

    roster.json   {"run_id": "3f9c0d5e7a1b2c4d", "n": 4, "public_keys": ["<64 hex>", ...]}
    node-2.key    {"run_id": "3f9c0d5e7a1b2c4d", "node": 2, "private_key": "<64 hex>"}

The key file repeats the run id and node index so that loading the wrong file (another
node's, another run's) is caught with a clear message instead of producing MAC failures
on every link.

Every problem with these files is reported as ``KeyFileError`` (a ``ValueError``) whose
message names the file and says what is wrong with it; nothing here lets a ``KeyError``,
``json.JSONDecodeError`` or a PyNaCl exception escape.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from nacl.public import PrivateKey, PublicKey

from byzlab.atomicio import atomic_write_bytes
from byzlab.errors import KeyFileError

__all__ = [
    "ROSTER_FILE",
    "KeyDirectory",
    "Roster",
    "generate_keys",
    "key_file_name",
    "keys_command",
    "load_private_key",
    "load_roster",
]

ROSTER_FILE = "roster.json"
KEY_BYTES = 32
# Run ids end up in file contents, logs, container names and the link-key derivation; a
# conservative alphabet keeps them safe in all of those places.
_RUN_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_HEX_RE = re.compile(r"[0-9a-f]{64}")
# Far above any run we can host, low enough that a typo (--n 10000000) fails fast instead
# of writing millions of files.
MAX_NODES = 100_000


def key_file_name(i: int) -> str:
    """File name of node ``i``'s private key inside a key directory."""
    return f"node-{i}.key"


@dataclass(frozen=True, slots=True, kw_only=True)
class Roster:
    """The public description of a run: its id and every node's X25519 public key."""

    run_id: str
    public_keys: tuple[PublicKey, ...]

    def __post_init__(self) -> None:
        if not _RUN_ID_RE.fullmatch(self.run_id):
            raise ValueError(f"invalid run id {self.run_id!r}: {_run_id_rule()}")
        if not self.public_keys:
            raise ValueError("a roster needs at least one public key")

    @property
    def n(self) -> int:
        return len(self.public_keys)

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "n": self.n,
            "public_keys": [bytes(pk).hex() for pk in self.public_keys],
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyDirectory:
    """A directory holding ``roster.json`` and (some of) the ``node-<i>.key`` files."""

    path: Path
    roster: Roster

    def key_path(self, i: int) -> Path:
        return self.path / key_file_name(i)

    def private_key(self, i: int) -> PrivateKey:
        """Load node ``i``'s private key, checked against this directory's roster."""
        return load_private_key(self.path, i, roster=self.roster)

    @classmethod
    def open(cls, path: Path, *, expected_n: int | None = None) -> KeyDirectory:
        return cls(path=path, roster=load_roster(path, expected_n=expected_n))


def _run_id_rule() -> str:
    return "use 1-64 characters from A-Z a-z 0-9 . _ -, starting with a letter or digit"


def generate_keys(
    n: int, out_dir: Path, run_id: str | None = None, *, overwrite: bool = False
) -> KeyDirectory:
    """Create fresh key pairs for nodes ``0..n-1`` and the roster, in ``out_dir``.

    Private keys are written with mode 0600. Existing key material is never replaced
    unless ``overwrite`` is true: silently regenerating a run's keys would make every
    node still holding the old ones fail on every link.
    """
    if not 1 <= n <= MAX_NODES:
        raise ValueError(f"n must be between 1 and {MAX_NODES}, got {n}")
    if run_id is None:
        run_id = secrets.token_hex(8)
    private_keys = [PrivateKey.generate() for _ in range(n)]
    roster = Roster(run_id=run_id, public_keys=tuple(k.public_key for k in private_keys))

    out_dir.mkdir(parents=True, exist_ok=True)
    if not overwrite:
        clashes = [p.name for p in _key_material(out_dir)]
        if clashes:
            shown = ", ".join(sorted(clashes)[:5])
            raise KeyFileError(
                f"{out_dir}: already holds key material ({shown}); "
                "choose another directory or pass overwrite=True (--force)"
            )
    for i, key in enumerate(private_keys):
        record = {"run_id": run_id, "node": i, "private_key": bytes(key).hex()}
        atomic_write_bytes(out_dir / key_file_name(i), _dump(record), mode=0o600)
    # The roster goes last: its presence means every key file of the run was written.
    atomic_write_bytes(out_dir / ROSTER_FILE, _dump(roster.to_json()), mode=0o644)
    return KeyDirectory(path=out_dir, roster=roster)


def load_roster(key_dir: Path, *, expected_n: int | None = None) -> Roster:
    """Read and validate ``key_dir/roster.json``.

    ``expected_n``, if given, must equal the roster's ``n`` (a scenario asking for 7
    nodes must not run on a 4-node roster).
    """
    path = key_dir / ROSTER_FILE
    data = _read_json_object(path)
    _require_keys(path, data, {"run_id", "n", "public_keys"})
    run_id = _get_run_id(path, data)
    n = data["n"]
    if type(n) is not int or not 1 <= n <= MAX_NODES:
        raise KeyFileError(f"{path}: 'n' must be an integer from 1 to {MAX_NODES}, got {n!r}")
    hex_keys = data["public_keys"]
    if not isinstance(hex_keys, list):
        raise KeyFileError(f"{path}: 'public_keys' must be a list of hex strings")
    if len(hex_keys) != n:
        raise KeyFileError(f"{path}: 'n' is {n} but 'public_keys' holds {len(hex_keys)} keys")
    if expected_n is not None and n != expected_n:
        raise KeyFileError(f"{path}: roster is for n={n} nodes, but n={expected_n} was expected")
    public_keys = tuple(
        PublicKey(_parse_hex(path, f"public_keys[{i}]", h)) for i, h in enumerate(hex_keys)
    )
    return Roster(run_id=run_id, public_keys=public_keys)


def load_private_key(key_dir: Path, i: int, *, roster: Roster | None = None) -> PrivateKey:
    """Read node ``i``'s private key from ``key_dir/node-<i>.key``.

    The file must name node ``i``. With a ``roster``, the key must also belong to the
    roster's run and match its public key for node ``i``.
    """
    path = key_dir / key_file_name(i)
    data = _read_json_object(path)
    _require_keys(path, data, {"run_id", "node", "private_key"})
    run_id = _get_run_id(path, data)
    node = data["node"]
    if type(node) is not int:
        raise KeyFileError(f"{path}: 'node' must be an integer, got {node!r}")
    if node != i:
        raise KeyFileError(f"{path}: holds the key of node {node}, not node {i}")
    key = PrivateKey(_parse_hex(path, "private_key", data["private_key"]))
    if roster is not None:
        if run_id != roster.run_id:
            raise KeyFileError(
                f"{path}: key is for run {run_id!r} but the roster is for run {roster.run_id!r}"
            )
        if not 0 <= i < roster.n:
            raise KeyFileError(f"{path}: node {i} is not in the roster (n={roster.n})")
        if bytes(key.public_key) != bytes(roster.public_keys[i]):
            raise KeyFileError(
                f"{path}: private key does not match the roster's public key for node {i}"
            )
    return key


# --------------------------------------------------------------------------- helpers


def _key_material(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return [
        p
        for p in directory.iterdir()
        if p.name == ROSTER_FILE or re.fullmatch(r"node-\d+\.key", p.name)
    ]


def _dump(obj: dict[str, Any]) -> bytes:
    return (json.dumps(obj, indent=2) + "\n").encode()


def _read_json_object(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KeyFileError(
            f"{path}: file not found (generate keys with `byzlab keys gen`)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"{path}: cannot be read: {exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise KeyFileError(
            f"{path}: is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from exc
    if not isinstance(data, dict):
        raise KeyFileError(f"{path}: must contain a JSON object, found {type(data).__name__}")
    return data


def _require_keys(path: Path, data: dict[str, Any], expected: set[str]) -> None:
    missing = expected - data.keys()
    if missing:
        raise KeyFileError(f"{path}: missing field(s) {', '.join(sorted(missing))}")
    extra = data.keys() - expected
    if extra:
        raise KeyFileError(f"{path}: unexpected field(s) {', '.join(sorted(extra))}")


def _get_run_id(path: Path, data: dict[str, Any]) -> str:
    run_id = data["run_id"]
    if not isinstance(run_id, str) or not _RUN_ID_RE.fullmatch(run_id):
        raise KeyFileError(f"{path}: invalid 'run_id' {run_id!r}: {_run_id_rule()}")
    return run_id


def _parse_hex(path: Path, field: str, value: object) -> bytes:
    if not isinstance(value, str) or not _HEX_RE.fullmatch(value):
        raise KeyFileError(
            f"{path}: {field} must be {2 * KEY_BYTES} lowercase hex digits "
            f"({KEY_BYTES} bytes), got {_preview(value)}"
        )
    return bytes.fromhex(value)


def _preview(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 24 else text[:21] + "..."


# --------------------------------------------------------------------------- CLI


@click.group(name="keys")
def keys_command() -> None:
    """Create the key material of a run.

    Every node has a long-term X25519 key pair; links between nodes are authenticated
    with keys derived from these pairs and the run id, so the adversary's proxy can delay
    and reorder messages but cannot forge or alter an honest node's messages.
    """


@keys_command.command(name="gen")
@click.option(
    "--n",
    "n",
    type=click.IntRange(1, MAX_NODES),
    metavar="N",
    required=True,
    help="Number of nodes in the run; keys are made for nodes 0..N-1.",
)
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, dir_okay=True, writable=True, path_type=Path),
    metavar="DIR",
    required=True,
    help="Directory to write roster.json and node-<i>.key into (created if missing).",
)
@click.option(
    "--run-id",
    "run_id",
    metavar="ID",
    default=None,
    help=(
        "Identifier bound into every link key, so frames from one run are rejected in "
        "another. 1-64 characters from A-Z a-z 0-9 . _ -. Default: 16 random hex digits."
    ),
)
@click.option(
    "--force",
    is_flag=True,
    default=False,
    help="Replace key material already in --out (nodes holding the old keys stop working).",
)
def gen_command(n: int, out: Path, run_id: str | None, force: bool) -> None:
    """Generate key pairs for N nodes and the public roster.

    Writes DIR/node-<i>.key for i = 0..N-1 (private, mode 0600; give each node only its
    own file, and the adversary the files of the nodes it corrupts) and DIR/roster.json
    (public keys and run id; every node and the proxy need it). Refuses to overwrite
    existing keys unless --force is given.

    Example: byzlab keys gen --n 4 --out runs/demo/keys
    """
    if run_id is not None and not _RUN_ID_RE.fullmatch(run_id):
        raise click.BadParameter(_run_id_rule(), param_hint="--run-id")
    try:
        key_dir = generate_keys(n, out, run_id, overwrite=force)
    except (KeyFileError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"wrote {n} node keys and {ROSTER_FILE} to {key_dir.path} (run id {key_dir.roster.run_id})"
    )
