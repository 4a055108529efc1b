"""Integrity artifacts: ``submission_<roll_clean>.json`` and the submission zip.

The JSON records who ran what: the normalised roll number, its short keyed
hash, the derived config actually used, key metrics, timestamps (UTC, ISO
8601) and library versions, plus ``payload_sha256`` over all of that so
accidental edits are detectable (``verify_submission``). It is an audit aid,
not a security boundary: the course key ships with the library.

``package_artifacts`` (console script ``dlcourse-package-artifacts``) zips
the notebook(s), the artifact JSON and ``MANIFEST.sha256`` (``sha256sum``
format) into ``submission_<roll_clean>.zip`` with fixed timestamps, so the
same inputs always give the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import platform
import sys
import time
import zipfile
from pathlib import Path

import numpy

from dlcourse import __version__
from dlcourse.roll import derive_config, normalize_roll_number, roll_clean, short_hash

ARTIFACT_FORMAT = 1
MANIFEST_NAME = "MANIFEST.sha256"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def utc_timestamp(epoch=None):
    """ISO-8601 UTC time, e.g. '2024-09-01T12:00:00Z' (now when epoch is None)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def artifact_filename(roll_number, notebook=None):
    """'submission_<roll_clean>.json', or 'submission_<roll_clean>_<notebook>.json' for
    the artifact of one notebook of a lab that has several (``notebook``: its file stem)."""
    suffix = "" if notebook is None else f"_{notebook}"
    return f"submission_{roll_clean(roll_number)}{suffix}.json"


def _jsonable(value):
    """numpy scalars/arrays -> Python; NaN/inf -> None (strict JSON)."""
    if hasattr(value, "tolist"):  # numpy scalar or array
        value = value.tolist()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _payload_digest(record):
    body = {k: v for k, v in record.items() if k != "payload_sha256"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def build_submission(roll_number, metrics, config=None, started_at=None, notes=None,
                     notebook=None):
    """The artifact as a dict. metrics: {name: number}; config defaults to
    ``derive_config(roll_number)``; started_at: epoch seconds or ISO string; notebook:
    the file stem of the notebook that wrote it (recorded when given)."""
    roll = normalize_roll_number(roll_number)
    if isinstance(started_at, (int, float)):
        started_at = utc_timestamp(started_at)
    record = {
        "format": ARTIFACT_FORMAT,
        "roll_number": roll,
        "roll_clean": roll_clean(roll),
        "short_hash": short_hash(roll),
        "config": _jsonable(derive_config(roll) if config is None else config),
        "metrics": _jsonable(dict(metrics)),
        "started_at": started_at,
        "created_at": utc_timestamp(),
        "library": {"dlcourse": __version__, "numpy": numpy.__version__,
                    "python": platform.python_version()},
        "notes": notes,
    }
    if notebook is not None:
        record["notebook"] = notebook
    record["payload_sha256"] = _payload_digest(record)
    return record


def write_submission(roll_number, metrics, directory=".", **kwargs):
    """Build the artifact and write it as ``directory/submission_<roll_clean>.json``
    (``..._<notebook>.json`` with ``notebook=``).

    Returns the path. kwargs go to ``build_submission``.
    """
    record = build_submission(roll_number, metrics, **kwargs)
    path = Path(directory) / artifact_filename(roll_number, kwargs.get("notebook"))
    path.write_text(json.dumps(record, indent=2, sort_keys=True, allow_nan=False) + "\n")
    return path


def load_submission(path):
    """Read an artifact JSON file into a dict."""
    return json.loads(Path(path).read_text())


def verify_submission(record):
    """List of problems with an artifact dict (empty when it is consistent)."""
    problems = []
    try:
        roll = normalize_roll_number(record.get("roll_number"))
    except (TypeError, ValueError) as e:
        return [f"roll_number: {e}"]
    if record.get("payload_sha256") != _payload_digest(record):
        problems.append("payload_sha256 does not match the contents (edited after writing?)")
    if record.get("short_hash") != short_hash(roll):
        problems.append("short_hash does not belong to this roll number")
    if record.get("config") != _jsonable(derive_config(roll)):
        problems.append("config differs from derive_config(roll_number)")
    return problems


def _sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def package_artifacts(notebooks, artifact, output_dir="."):
    """Zip notebooks + artifact + MANIFEST.sha256 into submission_<roll_clean>.zip.

    notebooks: paths of .ipynb files; artifact: path of the artifact JSON,
    which must pass ``verify_submission``. Returns the zip's path.
    """
    artifact = Path(artifact)
    record = load_submission(artifact)
    problems = verify_submission(record)
    if problems:
        raise ValueError(f"{artifact}: " + "; ".join(problems))
    files = [Path(p) for p in notebooks] + [artifact]
    names = [p.name for p in files]
    if not notebooks:
        raise ValueError("at least one notebook is required")
    if len(set(names)) != len(names):
        raise ValueError(f"file names must be unique inside the zip: {names}")
    for p in files:
        if not p.is_file():
            raise FileNotFoundError(p)
    manifest = "".join(f"{_sha256_file(p)}  {p.name}\n" for p in sorted(files, key=lambda p: p.name))
    out = Path(output_dir) / f"submission_{record['roll_clean']}.zip"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(files, key=lambda p: p.name):
            zf.writestr(zipfile.ZipInfo(p.name, _ZIP_TIME), p.read_bytes(), zipfile.ZIP_DEFLATED)
        zf.writestr(zipfile.ZipInfo(MANIFEST_NAME, _ZIP_TIME), manifest, zipfile.ZIP_DEFLATED)
    return out


def verify_package(zip_path):
    """List of problems with a submission zip (manifest, artifact); empty when fine."""
    problems = []
    with zipfile.ZipFile(zip_path) as zf:
        names = set(zf.namelist())
        if MANIFEST_NAME not in names:
            return [f"{MANIFEST_NAME} is missing"]
        listed = {}
        for line in zf.read(MANIFEST_NAME).decode().splitlines():
            digest, name = line.split("  ", 1)
            listed[name] = digest
        for name in sorted(names - {MANIFEST_NAME} | set(listed)):
            if name not in listed or name not in names:
                problems.append(f"{name}: in the zip or the manifest but not both")
            elif hashlib.sha256(zf.read(name)).hexdigest() != listed[name]:
                problems.append(f"{name}: sha256 differs from the manifest")
        artifacts = [n for n in names if n.startswith("submission_") and n.endswith(".json")]
        if len(artifacts) != 1:
            problems.append(f"expected one submission_*.json, found {len(artifacts)}")
        else:
            problems += verify_submission(json.loads(zf.read(artifacts[0])))
    return problems


def main(argv=None):
    """Command line: ``dlcourse-package-artifacts [--roll R | --artifact A] NOTEBOOK...``."""
    parser = argparse.ArgumentParser(
        prog="dlcourse-package-artifacts",
        description="Bundle notebook(s), the submission JSON and a sha256 manifest into a zip.",
    )
    parser.add_argument("notebooks", nargs="+", type=Path, help="executed .ipynb file(s)")
    parser.add_argument("--roll", help="roll number; finds submission_<roll_clean>.json")
    parser.add_argument("--artifact", type=Path, help="path of the submission JSON")
    parser.add_argument("-o", "--output-dir", type=Path, default=Path("."), help="default: .")
    args = parser.parse_args(argv)
    try:
        if args.artifact is None:
            if not args.roll:
                parser.error("give --roll or --artifact")
            args.artifact = args.notebooks[0].parent / artifact_filename(args.roll)
        elif args.roll and load_submission(args.artifact)["roll_number"] != normalize_roll_number(
            args.roll
        ):
            raise ValueError(f"{args.artifact} belongs to another roll number")
        out = package_artifacts(args.notebooks, args.artifact, args.output_dir)
    except (OSError, ValueError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
