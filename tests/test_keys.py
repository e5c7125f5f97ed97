"""Key generation, loading and the `keys gen` command, on real files."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from nacl.public import PrivateKey

from byzlab.errors import KeyFileError
from byzlab.network.keys import (
    ROSTER_FILE,
    KeyDirectory,
    generate_keys,
    key_file_name,
    keys_command,
    load_private_key,
    load_roster,
)


def test_generate_and_load_round_trip(tmp_path: Path) -> None:
    key_dir = generate_keys(4, tmp_path / "keys", run_id="run-1")
    roster = load_roster(tmp_path / "keys", expected_n=4)
    assert roster.run_id == "run-1"
    assert roster.n == 4
    assert [bytes(k) for k in roster.public_keys] == [bytes(k) for k in key_dir.roster.public_keys]
    for i in range(4):
        key = load_private_key(tmp_path / "keys", i, roster=roster)
        assert bytes(key.public_key) == bytes(roster.public_keys[i])
        assert bytes(KeyDirectory.open(tmp_path / "keys").private_key(i)) == bytes(key)
    # Fresh keys: no two nodes share one.
    assert len({bytes(k) for k in roster.public_keys}) == 4


def test_roster_file_has_the_documented_shape(tmp_path: Path) -> None:
    generate_keys(3, tmp_path, run_id="abc")
    data = json.loads((tmp_path / ROSTER_FILE).read_text())
    assert set(data) == {"run_id", "n", "public_keys"}
    assert data["n"] == 3
    assert all(len(h) == 64 for h in data["public_keys"])


def test_private_keys_are_mode_0600_and_roster_is_readable(tmp_path: Path) -> None:
    generate_keys(3, tmp_path)
    for i in range(3):
        assert stat.S_IMODE((tmp_path / key_file_name(i)).stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / ROSTER_FILE).stat().st_mode) == 0o644
    # No temporary files left behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "node-0.key",
        "node-1.key",
        "node-2.key",
        "roster.json",
    ]


def test_default_run_id_is_random(tmp_path: Path) -> None:
    a = generate_keys(1, tmp_path / "a").roster.run_id
    b = generate_keys(1, tmp_path / "b").roster.run_id
    assert a != b
    assert len(a) == 16


def test_refuses_to_overwrite_existing_keys(tmp_path: Path) -> None:
    generate_keys(2, tmp_path, run_id="first")
    with pytest.raises(KeyFileError, match="already holds key material"):
        generate_keys(2, tmp_path, run_id="second")
    assert load_roster(tmp_path).run_id == "first"
    generate_keys(2, tmp_path, run_id="second", overwrite=True)
    assert load_roster(tmp_path).run_id == "second"


@pytest.mark.parametrize("bad", ["", "-x", "a b", "x" * 65, "é"])
def test_invalid_run_id_rejected(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError, match="run id"):
        generate_keys(2, tmp_path, run_id=bad)


def test_missing_roster_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match=r"roster\.json: file not found"):
        load_roster(tmp_path)


def test_missing_key_names_the_file(tmp_path: Path) -> None:
    generate_keys(2, tmp_path)
    with pytest.raises(KeyFileError, match=r"node-5\.key: file not found"):
        load_private_key(tmp_path, 5)


def test_key_error_is_a_value_error_not_a_key_error(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError) as info:
        load_private_key(tmp_path, 0)
    assert isinstance(info.value, ValueError)
    assert not isinstance(info.value, KeyError)


def _edit_roster(path: Path, **changes: object) -> None:
    data = json.loads((path / ROSTER_FILE).read_text())
    data.update(changes)
    (path / ROSTER_FILE).write_text(json.dumps(data))


def test_wrong_n_in_roster(tmp_path: Path) -> None:
    generate_keys(4, tmp_path)
    with pytest.raises(KeyFileError, match="roster is for n=4 nodes, but n=7 was expected"):
        load_roster(tmp_path, expected_n=7)
    _edit_roster(tmp_path, n=5)
    with pytest.raises(KeyFileError, match="'n' is 5 but 'public_keys' holds 4 keys"):
        load_roster(tmp_path)


@pytest.mark.parametrize(
    ("public_key", "message"),
    [
        ("zz" * 32, r"public_keys\[1\] must be 64 lowercase hex digits"),
        ("ab" * 31, r"public_keys\[1\] must be 64 lowercase hex digits"),
        (12, r"public_keys\[1\] must be 64"),
    ],
)
def test_malformed_public_key_hex(tmp_path: Path, public_key: object, message: str) -> None:
    generate_keys(3, tmp_path)
    data = json.loads((tmp_path / ROSTER_FILE).read_text())
    data["public_keys"][1] = public_key
    (tmp_path / ROSTER_FILE).write_text(json.dumps(data))
    with pytest.raises(KeyFileError, match=message):
        load_roster(tmp_path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON"),
        ("[1, 2]", "must contain a JSON object, found list"),
        ('{"run_id": "r", "n": 1}', "missing field"),
        ('{"run_id": "r", "n": 1, "public_keys": [], "x": 1}', "unexpected field"),
        ('{"run_id": "r", "n": "4", "public_keys": []}', "'n' must be an integer"),
        ('{"run_id": "r", "n": true, "public_keys": ["00"]}', "'n' must be an integer"),
        ('{"run_id": "r", "n": 1, "public_keys": "ab"}', "must be a list"),
        ('{"run_id": 5, "n": 1, "public_keys": []}', "invalid 'run_id'"),
    ],
)
def test_corrupt_roster(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / ROSTER_FILE).write_text(content)
    with pytest.raises(KeyFileError, match=message) as info:
        load_roster(tmp_path)
    assert str(tmp_path / ROSTER_FILE) in str(info.value)


def test_binary_garbage_roster(tmp_path: Path) -> None:
    (tmp_path / ROSTER_FILE).write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(KeyFileError, match="cannot be read"):
        load_roster(tmp_path)


def test_corrupt_private_key(tmp_path: Path) -> None:
    generate_keys(2, tmp_path)
    path = tmp_path / key_file_name(1)
    data = json.loads(path.read_text())
    data["private_key"] = data["private_key"][:-2]
    path.write_text(json.dumps(data))
    with pytest.raises(KeyFileError, match=r"node-1\.key: private_key must be 64 lowercase hex"):
        load_private_key(tmp_path, 1)


def test_key_file_of_another_node(tmp_path: Path) -> None:
    generate_keys(2, tmp_path)
    (tmp_path / key_file_name(0)).write_text((tmp_path / key_file_name(1)).read_text())
    with pytest.raises(KeyFileError, match="holds the key of node 1, not node 0"):
        load_private_key(tmp_path, 0)


def test_key_from_another_run_is_caught_by_the_roster(tmp_path: Path) -> None:
    generate_keys(2, tmp_path / "a", run_id="run-a")
    generate_keys(2, tmp_path / "b", run_id="run-b")
    roster_a = load_roster(tmp_path / "a")
    with pytest.raises(KeyFileError, match="key is for run 'run-b' but the roster is for run"):
        load_private_key(tmp_path / "b", 0, roster=roster_a)


def test_key_not_matching_roster(tmp_path: Path) -> None:
    generate_keys(2, tmp_path, run_id="same")
    path = tmp_path / key_file_name(0)
    data = json.loads(path.read_text())
    data["private_key"] = bytes(PrivateKey.generate()).hex()
    path.write_text(json.dumps(data))
    with pytest.raises(KeyFileError, match="does not match the roster's public key for node 0"):
        load_private_key(tmp_path, 0, roster=load_roster(tmp_path))


def test_cli_gen(tmp_path: Path) -> None:
    out = tmp_path / "k"
    result = CliRunner().invoke(
        keys_command, ["gen", "--n", "5", "--out", str(out), "--run-id", "cli"]
    )
    assert result.exit_code == 0, result.output
    assert "wrote 5 node keys" in result.output
    roster = load_roster(out, expected_n=5)
    assert roster.run_id == "cli"
    assert stat.S_IMODE((out / "node-4.key").stat().st_mode) == 0o600

    again = CliRunner().invoke(keys_command, ["gen", "--n", "5", "--out", str(out)])
    assert again.exit_code != 0
    assert "already holds key material" in again.output
    forced = CliRunner().invoke(keys_command, ["gen", "--n", "5", "--out", str(out), "--force"])
    assert forced.exit_code == 0, forced.output


@pytest.mark.parametrize(
    "args",
    [
        ["gen", "--n", "0", "--out", "OUT"],
        ["gen", "--out", "OUT"],
        ["gen", "--n", "3", "--out", "OUT", "--run-id", "a b"],
    ],
)
def test_cli_gen_rejects_bad_arguments(tmp_path: Path, args: list[str]) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(keys_command, [str(out) if a == "OUT" else a for a in args])
    assert result.exit_code == 2, result.output
    assert not out.exists()


def test_cli_help_is_informative() -> None:
    assert isinstance(keys_command, click.Group)
    assert keys_command.name == "keys"
    result = CliRunner().invoke(keys_command, ["gen", "--help"])
    assert result.exit_code == 0
    for text in ("--n", "--out", "--run-id", "0600", "roster.json"):
        assert text in result.output
