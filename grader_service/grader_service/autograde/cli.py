"""Command line of the sandbox entrypoint; prints exactly one JSON object on stdout."""

import argparse
import json
import os
import sys
import tempfile

from ..tarsafe import UnsafeArchive, extract
from .pipeline import grade_directory

EXIT_OK, EXIT_BAD_INPUT = 0, 2
MAX_INPUT_BYTES = 512 * 1024 * 1024


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m grader_service.autograde",
                                     description=__doc__)
    parser.add_argument("--input", help="directory with source/ and submission/ "
                        "(default: read a tar from stdin)")
    parser.add_argument("--workdir", help="scratch directory (default: a new temp dir)")
    parser.add_argument("--cell-timeout", type=float, default=60.0, help="seconds per cell")
    parser.add_argument("--kernel", default="python3", help="kernel name")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    out = sys.stdout  # keep a handle: nothing else may write JSON here
    sys.stdout = sys.stderr
    scratch = args.workdir or tempfile.mkdtemp(prefix="autograde-")
    input_dir = args.input
    if input_dir is None:
        input_dir = os.path.join(scratch, "input")
        try:
            extract(sys.stdin.buffer, input_dir, MAX_INPUT_BYTES)
        except UnsafeArchive as err:
            return _emit(out, {"error": f"invalid input archive: {err}"}, EXIT_BAD_INPUT)
    if not os.path.isdir(os.path.join(input_dir, "source")):
        return _emit(out, {"error": "input has no source/ directory"}, EXIT_BAD_INPUT)
    result = grade_directory(input_dir, os.path.join(scratch, "work"),
                             cell_timeout=args.cell_timeout, kernel_name=args.kernel)
    return _emit(out, result, EXIT_OK)


def _emit(out, obj, code):
    out.write(json.dumps(obj, sort_keys=True) + "\n")
    out.flush()
    return code
