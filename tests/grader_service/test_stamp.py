"""Stamps: canonical JSON, Ed25519 sign/verify, any changed byte fails, CLI, key file."""

import base64
import json
import multiprocessing
import os
import stat

import pytest

from grader_service.cli import main
from grader_service.stamp import (
    canonical_json,
    load_or_create_key,
    public_key_pem,
    sign_record,
    verify_stamp,
)

RECORD = {"roll_number": "21CS001", "username": "alice", "score": 2.0, "max_score": 3.0,
          "tests": [{"grade_id": "test_add", "points": 2.0, "message": "naïve ✓"}]}


@pytest.fixture
def key(tmp_path):
    return load_or_create_key(str(tmp_path / "key.pem"))


@pytest.fixture
def pem(key):
    return public_key_pem(key)


def test_canonical_json_is_sorted_compact_utf8():
    assert canonical_json({"b": 1, "a": "é"}) == '{"a":"é","b":1}'.encode()


def test_valid_stamp_verifies(key, pem):
    stamp = sign_record(RECORD, key)
    assert stamp["algorithm"] == "Ed25519" and len(stamp["key_id"]) == 64
    assert verify_stamp(stamp, pem)
    assert verify_stamp(json.dumps(stamp).encode(), pem)


def _flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1:]


def test_every_single_byte_change_of_a_stamp_fails(key, pem):
    """Flip each byte of the serialised stamp (record, signature, key id...): all invalid."""
    raw = canonical_json(sign_record(RECORD, key))
    assert verify_stamp(raw, pem)
    accepted = [i for i in range(len(raw)) if verify_stamp(_flip(raw, i), pem)]
    assert accepted == []


def test_changed_score_fails(key, pem):
    stamp = sign_record(RECORD, key)
    assert not verify_stamp(dict(stamp, record=dict(RECORD, score=3.0)), pem)


@pytest.mark.parametrize("index", [0, 31, 63])
def test_one_changed_signature_byte_fails(key, pem, index):
    stamp = sign_record(RECORD, key)
    signature = base64.b64decode(stamp["signature"])
    stamp["signature"] = base64.b64encode(_flip(signature, index)).decode()
    assert not verify_stamp(stamp, pem)


def test_other_key_fails(key, tmp_path):
    other = public_key_pem(load_or_create_key(str(tmp_path / "other.pem")))
    assert not verify_stamp(sign_record(RECORD, key), other)


def test_key_file_is_private_and_reused(tmp_path):
    path = str(tmp_path / "k.pem")
    first = load_or_create_key(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert public_key_pem(load_or_create_key(path)) == public_key_pem(first)


def _public_key_of(path):
    return public_key_pem(load_or_create_key(path))


def test_replicas_starting_together_share_one_key(tmp_path):
    """Eight processes create the key on one volume at once: one key wins, whole."""
    path = str(tmp_path / "keys" / "signing_key.pem")
    with multiprocessing.get_context("spawn").Pool(8) as pool:
        keys = pool.map(_public_key_of, [path] * 8)
    assert len(set(keys)) == 1 and keys[0] == _public_key_of(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert os.listdir(tmp_path / "keys") == ["signing_key.pem"]  # no partial files left


def test_cli_verify(key, pem, tmp_path, capsys):
    stamp_file, key_file = tmp_path / "stamp.json", tmp_path / "pub.pem"
    key_file.write_bytes(pem)
    stamp = sign_record(RECORD, key)
    stamp_file.write_text(json.dumps(stamp))
    assert main(["verify", str(stamp_file), "--public-key", str(key_file)]) == 0
    assert capsys.readouterr().out.startswith("OK")

    raw = stamp_file.read_bytes()
    tampered = raw.replace(b'"score": 2.0', b'"score": 3.0')
    assert tampered != raw
    stamp_file.write_bytes(tampered)
    assert main(["verify", str(stamp_file), "--public-key", str(key_file)]) == 1
    assert "INVALID" in capsys.readouterr().err


def test_cli_keygen(tmp_path, capsys):
    path = tmp_path / "signing.pem"
    assert main(["keygen", str(path)]) == 0
    assert capsys.readouterr().out.startswith("-----BEGIN PUBLIC KEY-----")
    assert main(["keygen", str(path)]) == 1  # never overwrites a key
