"""Fingerprints of the course's reference implementations, for leak scans.

A student must never read the reference half of ``dlcourse`` (``dlcourse.builds``):
neither in the single-user image nor as the student uid of the grading sandbox. The
scans look for *lines of code* that occur only in reference-only modules: not in the
student build, not in any released notebook cell, not an import, a signature, a
comment or prose. Each line is compared by its SHA-256 (``digest``).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "course" / "dlcourse"
SOURCE_NOTEBOOKS = REPO / "course" / "nbgrader" / "source"

#: shortest line kept: shorter ones (``return out``) are too common to mean anything
MIN_LENGTH = 24
_SKIP = re.compile(r"^(#|import |from |def |class |@|\"\"\"|'''|raise |assert |return$|"
                   r"[\w\"'`.,:;()\[\] -]*$)")


def digest(line: str) -> str:
    """SHA-256 of a stripped line (what the scans compare)."""
    return hashlib.sha256(line.strip().encode()).hexdigest()


def module_files(names, whole_packages=True) -> list[Path]:
    """The source files of dotted ``dlcourse`` module or package names (a package: every
    file under it, or with ``whole_packages=False`` its ``__init__`` alone)."""
    files = []
    for name in names:
        path = PACKAGE.parent.joinpath(*name.split("."))
        if path.is_dir():
            files += sorted(path.rglob("*.py")) if whole_packages else [path / "__init__.py"]
        elif path.with_suffix(".py").is_file():
            files.append(path.with_suffix(".py"))
    return files


def code_lines(text: str) -> set[str]:
    """Stripped lines that look like code worth fingerprinting."""
    out = set()
    for raw in text.splitlines():
        line = raw.strip()
        if len(line) >= MIN_LENGTH and not _SKIP.match(line) and any(c in line for c in "=()[]+*/"):
            out.add(line)
    return out


def released_lines() -> set[str]:
    """Every line of every notebook cell a student receives (everything but solutions)."""
    lines = set()
    for path in SOURCE_NOTEBOOKS.rglob("*.ipynb"):
        for cell in json.loads(path.read_text())["cells"]:
            if not cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
                source = cell["source"]
                text = "".join(source) if isinstance(source, list) else source
                lines |= {line.strip() for line in text.splitlines()}
    return lines


def reference_fingerprints() -> set[str]:
    """Code lines found only in the reference half of ``dlcourse``."""
    from dlcourse.builds import REFERENCE_MODULES, STUDENT_MODULES

    reference, shared = set(), released_lines()
    for path in module_files(REFERENCE_MODULES):
        reference |= code_lines(path.read_text())
    for path in module_files(STUDENT_MODULES, whole_packages=False):
        shared |= {line.strip() for line in path.read_text().splitlines()}
    return reference - shared


def reference_digests() -> set[str]:
    return {digest(line) for line in reference_fingerprints()}


#: Source of ``scan_tree(top, digests, found, wanted=None) -> files read``: every
#: file under ``top`` (those whose path ``wanted`` accepts) with a line whose digest
#: (or its first ``len`` of a digest in ``digests``) is in ``digests`` goes to ``found``.
SCANNER = r'''
import hashlib, os

def scan_tree(top, digests, found, wanted=None):
    size = len(next(iter(digests)))
    read = 0
    for folder, _dirs, files in os.walk(top):
        for name in files:
            path = os.path.join(folder, name)
            if wanted is not None and not wanted(path):
                continue
            try:
                if os.path.getsize(path) > 4 << 20:
                    continue
                with open(path, "rb") as fh:
                    lines = fh.read().decode("utf-8", "replace").splitlines()
            except OSError:
                continue
            read += 1
            if any(hashlib.sha256(l.strip().encode()).hexdigest()[:size] in digests
                   for l in lines):
                found.append(path)
    return read
'''

#: A script that reports, from inside an image, which reference modules are importable
#: and which files hold a fingerprinted line. argv[1]: comma-separated digest prefixes;
#: argv[2]: comma-separated module names; argv[3] (optional): the only folders to walk
#: besides the course's packages on sys.path. Prints one JSON object.
PROBE = SCANNER + r'''
import importlib.util, json, sys
digests, names = set(sys.argv[1].split(",")), sys.argv[2].split(",")
report = {"importable": [], "found": [], "scanned": 0}
for name in names:
    try:
        if importlib.util.find_spec(name) is not None:
            report["importable"].append(name)
    except (ImportError, ValueError):
        pass
everything = ("/home", "/etc", "/srv", "/tmp", "/root", "/var/lib", "/opt/checker")
course_paths = ("/opt", "/usr")
if len(sys.argv) > 3:  # a host-side control names its own folders
    everything, course_paths = tuple(p for p in sys.argv[3].split(",") if p), ()
tops = list(everything)
for entry in sys.path:  # the course's own packages, wherever they are installed
    if os.path.isdir(entry):
        tops += [os.path.join(entry, name) for name in os.listdir(entry)
                 if name.startswith(("dlcourse", "grader_service", "course_hub"))]
for top in tops:
    report["scanned"] += scan_tree(top, digests, report["found"])
for top in course_paths:
    report["scanned"] += scan_tree(top, digests, report["found"],
                                   wanted=lambda path: "dlcourse" in path)
print(json.dumps(report))
'''
PREFIX = 20


def probe_args() -> list[str]:
    """The PROBE's arguments: digest prefixes of the reference fingerprints, module names."""
    from dlcourse.builds import REFERENCE_MODULES

    return [",".join(sorted(d[:PREFIX] for d in reference_digests())),
            ",".join(REFERENCE_MODULES)]
