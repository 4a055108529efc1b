"""The two builds of ``dlcourse``: what a student may import, and what only the checker may.

The **student build** (the single-user image, and the student's process in the grading
sandbox) holds data generators, roll-number configs, artifacts, plots, the
framework-backed models of ``nets`` and the student side of the grading host: no
reference implementation of any graded function. The **reference** modules (the
NumPy layers, convolutions, optimisers, models and training loop, metrics, profit
thresholds, the twins, and the rubrics with their checks) exist only where the checker
reads them: the grading service's image, and in the sandbox a directory owned by the
checker uid with mode 0700 (``grader_service.sandbox_protocol.REFERENCE_LIBRARY``),
joined to the package by :func:`attach_reference`.

A module name in :data:`STUDENT_MODULES` names one file (a package: its
``__init__``); a name in :data:`REFERENCE_MODULES` names a module or a whole
subpackage. Every file of the package is in exactly one build (tested).

    python -m dlcourse.builds student-build [PACKAGE_DIR]
        delete the reference modules from an installed package (default: this one)
    python -m dlcourse.builds reference-build WHEEL DEST
        unpack only the reference modules of a dlcourse wheel under DEST
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import sys
import zipfile
from pathlib import Path, PurePosixPath

STUDENT_MODULES = (
    "dlcourse", "dlcourse.roll", "dlcourse.data", "dlcourse.artifacts", "dlcourse.plots",
    "dlcourse.nets", "dlcourse.history", "dlcourse.builds",
    "dlcourse.grading", "dlcourse.grading.host", "dlcourse.grading.wire",
    "dlcourse.grading.isolation", "dlcourse.grading.child",
)
REFERENCE_MODULES = (
    "dlcourse.layers", "dlcourse.conv", "dlcourse.optim", "dlcourse.models",
    "dlcourse.train", "dlcourse.gradcheck", "dlcourse.metrics", "dlcourse.thresholds",
    "dlcourse.augment", "dlcourse.twins",
    # the checker: its shared parts, the checks by family, their registry, the rubrics
    "dlcourse.grading.context", "dlcourse.grading.comparison", "dlcourse.grading.inputs",
    "dlcourse.grading.references", "dlcourse.grading.mistakes", "dlcourse.grading.diagnosis",
    "dlcourse.grading.checks", "dlcourse.grading.training", "dlcourse.grading.frameworks",
    "dlcourse.grading.projects", "dlcourse.grading.registry", "dlcourse.grading.rubrics",
)
#: packages whose ``__path__`` the reference directory extends
SPLIT_PACKAGES = ("dlcourse", "dlcourse.grading")


def is_reference_module(name: str) -> bool:
    """True for a reference-only module (or anything inside a reference subpackage)."""
    return any(name == ref or name.startswith(ref + ".") for ref in REFERENCE_MODULES)


def is_student_module(name: str) -> bool:
    """True for a ``dlcourse`` module the student build holds."""
    return name in STUDENT_MODULES


def module_name(relative_path: str) -> str | None:
    """``dlcourse/grading/checks.py`` -> ``dlcourse.grading.checks`` (None: not Python)."""
    path = PurePosixPath(relative_path.replace(os.sep, "/"))
    if path.suffix != ".py" or "__pycache__" in path.parts:
        return None
    parts = path.with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def student_build(package_dir: Path) -> list[str]:
    """Delete the reference modules under ``package_dir`` (an installed ``dlcourse``)
    and return what was removed. Refuses a file that is in neither build."""
    root = package_dir.parent
    removed = []
    for ref in REFERENCE_MODULES:
        path = root.joinpath(*ref.split("."))
        for target in (path, path.with_suffix(".py")):
            if target.is_dir():
                shutil.rmtree(target)
            elif target.is_file():
                target.unlink()
            else:
                continue
            removed.append(ref)
    for cache in package_dir.rglob("__pycache__"):
        shutil.rmtree(cache)  # no bytecode of a removed module may survive
    compileall.compile_dir(str(package_dir), quiet=1)  # the sandbox's root is read-only
    unknown = [str(p) for p in package_dir.rglob("*.py")
               if not is_student_module(module_name(str(p.relative_to(root))))]
    if unknown:
        raise SystemExit(f"files in neither build of dlcourse: {unknown}")
    return removed


def reference_build(wheel: Path, dest: Path) -> list[str]:
    """Unpack the reference modules of a ``dlcourse`` wheel under ``dest``."""
    names = []
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            name = module_name(member)
            if name and is_reference_module(name):
                target = dest.joinpath(*PurePosixPath(member).parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(archive.read(member))
                names.append(name)
    if not names:
        raise SystemExit(f"{wheel} holds no reference module of dlcourse")
    return names


def attach_reference(root: str) -> bool:
    """Let this process import the reference modules kept under ``root`` (the
    sandbox's checker-only directory); False if there is no such directory."""
    import importlib

    if not os.path.isdir(os.path.join(root, "dlcourse")):
        return False
    for package in SPLIT_PACKAGES:
        module = importlib.import_module(package)
        extra = os.path.join(root, *package.split("."))
        if os.path.isdir(extra) and extra not in module.__path__:
            module.__path__.append(extra)
    return True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dlcourse.builds", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    student = commands.add_parser("student-build", help="prune an installed package")
    student.add_argument("package_dir", nargs="?", type=Path,
                         default=Path(__file__).resolve().parent)
    reference = commands.add_parser("reference-build", help="unpack the reference half")
    reference.add_argument("wheel", type=Path)
    reference.add_argument("dest", type=Path)
    args = parser.parse_args(argv)
    if args.command == "student-build":
        removed = student_build(args.package_dir)
        print(f"student build of {args.package_dir}: removed {len(removed)} reference modules")
    else:
        names = reference_build(args.wheel, args.dest)
        print(f"reference build under {args.dest}: {len(names)} modules")
    return 0


if __name__ == "__main__":
    sys.exit(main())
