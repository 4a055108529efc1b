"""The course's nbgrader source as the repository ships it (solutions, hidden tests):
what the grading service serves instructors and its image holds, and what no student
may ever read."""

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "course" / "nbgrader" / "source"


def shipped_source() -> dict[str, bytes]:
    """``{"<assignment>/<file>": bytes}`` of every file git tracks under the source."""
    prefix = "course/nbgrader/source/"
    names = subprocess.run(["git", "ls-files", "-z", prefix], cwd=REPO, capture_output=True,
                           check=True).stdout.decode().split("\0")
    return {n[len(prefix):]: (REPO / n).read_bytes() for n in names if n}
