"""Command line of the sandbox entrypoint; prints exactly one JSON object on stdout.

In the sandbox it runs as ``python -I -m grader_service.autograde --checker-uid ...
--student-uid ...`` started as root: it becomes the checker before it reads a byte of
input (:mod:`.identities`), keeps the input in a 0700 directory of its own, and starts
the student's code under the student uid. ``--same-uid`` (the development runner
``GRADER_RUNNER=local``) runs the student's code under the caller's own uid, which
isolates nothing; without either, nothing is graded.
"""

import argparse
import json
import os
import sys
import tempfile

from ..sandbox_protocol import REFERENCE_LIBRARY, STUDENT_HOME
from ..tarsafe import UnsafeArchive, extract
from .identities import Identities, IdentityError, become_checker, reap_strays
from .pipeline import grade_directory

EXIT_OK, EXIT_BAD_INPUT, EXIT_NO_ISOLATION = 0, 2, 3
MAX_INPUT_BYTES = 512 * 1024 * 1024


class SandboxIncomplete(RuntimeError):
    """The image lacks what the checker needs (e.g. the reference half of dlcourse)."""


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -I -m grader_service.autograde",
                                     description=__doc__)
    parser.add_argument("--input", help="directory with source/ and submission/ "
                        "(default: read a tar from stdin)")
    parser.add_argument("--workdir", help="the checker's private scratch directory, created "
                        "0700 (default: a new temp dir)")
    parser.add_argument("--cell-timeout", type=float, default=60.0, help="seconds per cell")
    parser.add_argument("--checker-uid", type=int, help="uid of the checker (this process)")
    parser.add_argument("--student-uid", type=int, help="uid that runs the student's code")
    parser.add_argument("--student-home", default=STUDENT_HOME,
                        help="home directory of the student uid")
    parser.add_argument("--reference-library", default=REFERENCE_LIBRARY,
                        help="checker-only directory with the reference half of dlcourse "
                        "(used when it exists)")
    parser.add_argument("--same-uid", action="store_true",
                        help="development only: run the student's code under this uid")
    return parser.parse_args(argv)


def private_directory(path):
    """Create ``path`` (mode 0700) for this uid, or refuse one that is not ours."""
    if path is None:
        return tempfile.mkdtemp(prefix="autograde-")
    parent = os.stat(os.path.dirname(os.path.abspath(path)))
    if parent.st_mode & 0o002 and not parent.st_mode & 0o1000:  # others could swap it
        raise IdentityError(f"the parent of {path} is writable by anyone (not sticky)")
    os.makedirs(path, mode=0o700, exist_ok=True)
    info = os.lstat(path)
    if info.st_uid != os.getuid() or not os.path.isdir(path) or os.path.islink(path):
        raise IdentityError(f"{path} is not a directory of the checker's own")
    os.chmod(path, 0o700)
    return path


def setup_identities(args):
    """Become the checker; return the student's ``ChildIdentity`` (None with --same-uid)."""
    if args.same_uid:
        print("autograde: --same-uid: the student's code is NOT isolated from the checker",
              file=sys.stderr)
        return None
    if args.checker_uid is None or args.student_uid is None:
        raise IdentityError("give --checker-uid and --student-uid (or --same-uid for "
                            "development)")
    identities = Identities(args.checker_uid, args.student_uid, args.student_home)
    become_checker(identities)
    preload_checker_modules(args.reference_library)
    return identities.student(reap=reap_strays)


def preload_checker_modules(reference_library=None):
    """Import everything the checker runs before any student code exists.

    ``reference_library``: the checker-only half of ``dlcourse`` (the sandbox image's
    :data:`REFERENCE_LIBRARY`, readable by the checker uid alone), added to the student
    build's packages first. The rubrics and their references must then import: a
    sandbox that cannot reach them refuses to grade rather than grade by other rules.
    """
    import nbformat  # noqa: F401

    from dlcourse.builds import attach_reference

    from . import remote  # noqa: F401
    from .steps import test_cells  # noqa: F401
    if reference_library:
        attach_reference(reference_library)
    try:
        import dlcourse.grading.registry  # noqa: F401  (every check: labs, frameworks, projects)
        import dlcourse.grading.rubrics  # noqa: F401
    except ImportError as err:
        raise SandboxIncomplete(f"the checker cannot import the course's reference ({err})") \
            from err


def main(argv=None):
    args = parse_args(argv)
    out = sys.stdout  # keep a handle: nothing else may write JSON here
    sys.stdout = sys.stderr
    try:
        student = setup_identities(args)
        scratch = private_directory(args.workdir)
    except (IdentityError, OSError) as err:
        return _emit(out, {"error": f"sandbox not isolated: {err}"}, EXIT_NO_ISOLATION)
    except SandboxIncomplete as err:
        return _emit(out, {"error": f"sandbox incomplete: {err}"}, EXIT_NO_ISOLATION)
    tempfile.tempdir = os.path.join(scratch, "tmp")  # never the shared /tmp
    os.makedirs(tempfile.tempdir, mode=0o700, exist_ok=True)
    input_dir = args.input
    if input_dir is None:
        input_dir = os.path.join(scratch, "input")
        try:
            extract(sys.stdin.buffer, input_dir, MAX_INPUT_BYTES)
        except UnsafeArchive as err:
            return _emit(out, {"error": f"invalid input archive: {err}"}, EXIT_BAD_INPUT)
    if not os.path.isdir(os.path.join(input_dir, "source")):
        return _emit(out, {"error": "input has no source/ directory"}, EXIT_BAD_INPUT)
    try:
        result = grade_directory(input_dir, cell_timeout=args.cell_timeout, identity=student)
    except ValueError as err:  # e.g. the submission's files are too large
        return _emit(out, {"error": str(err)}, EXIT_BAD_INPUT)
    finally:
        reap_strays()
    return _emit(out, result, EXIT_OK)


def _emit(out, obj, code):
    out.write(json.dumps(obj, sort_keys=True) + "\n")
    out.flush()
    return code
