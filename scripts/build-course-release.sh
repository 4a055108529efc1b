#!/usr/bin/env bash
# Generate the release (student) versions of the course's nbgrader assignments into
# build/course-release/<assignment>/: solutions and hidden tests are stripped by
# `nbgrader generate_assignment`. The single-user image preloads this folder as
# ~/course/, read-only (files 444, folders 555) with a README: students read there and
# work in the copy they fetch from the Assignments tab, the only one that is submitted.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$PWD/.venv/bin/python}
export PATH="$(dirname "$PY"):$PATH"  # nbgrader runs the alembic CLI
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r course/nbgrader/. "$work/"
[ ! -d build/course-release ] || chmod -R u+w build/course-release
rm -rf build/course-release && mkdir -p build/course-release
for src in course/nbgrader/source/*/; do
  name=$(basename "$src")
  (cd "$work" && "$PY" -m nbgrader generate_assignment "$name" --force --log-level=WARN \
     --CourseDirectory.db_url="sqlite:///$work/gradebook.db")
  cp -r "$work/release/$name" build/course-release/
done
cp images/singleuser/course-README.md build/course-release/README.md
cp course/README.md build/course-release/SYLLABUS.md
for dir in build/course-release/*/; do
  printf '%s\n' "Read-only. To work on this assignment, fetch it from the Assignments tab:" \
    "it opens as ~/$(basename "$dir")/, the copy that is submitted. See ~/course/README.md." \
    > "$dir/FETCH_TO_WORK.md"
done
find build/course-release -type f -exec chmod 444 {} +
find build/course-release -type d -exec chmod 555 {} +
echo "course release: $(ls build/course-release | tr '\n' ' ')"
