#!/usr/bin/env bash
# Copy the course's nbgrader source tree (solutions and hidden tests included) into
# build/course-source/<assignment>/, without what runs of the solutions leave behind
# (checkpoints, caches, dot files, submission_<roll>.json). Only the grading service
# image carries it (/opt/course/source, GRADER_COURSE_SOURCE_DIR), to serve instructors
# at GET /api/courses/<course>/course-source; never the single-user image.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$PWD/.venv/bin/python}
rm -rf build/course-source
"$PY" - <<'PYTHON'
import shutil

from grader_service.api.course_source import EXCLUDE  # what the service never sends

shutil.copytree("course/nbgrader/source", "build/course-source",
                ignore=shutil.ignore_patterns(*EXCLUDE))
PYTHON
echo "course source: $(ls build/course-source | tr '\n' ' ')"
