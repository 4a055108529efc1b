#!/usr/bin/env bash
# Generate the release (student) versions of the course's nbgrader assignments into
# build/course-release/<assignment>/: solutions and hidden tests are stripped by
# `nbgrader generate_assignment`. The single-user image preloads this folder.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$PWD/.venv/bin/python}
export PATH="$(dirname "$PY"):$PATH"  # nbgrader runs the alembic CLI
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r course/nbgrader/. "$work/"
rm -rf build/course-release && mkdir -p build/course-release
for src in course/nbgrader/source/*/; do
  name=$(basename "$src")
  (cd "$work" && "$PY" -m nbgrader generate_assignment "$name" --force --log-level=WARN \
     --CourseDirectory.db_url="sqlite:///$work/gradebook.db")
  cp -r "$work/release/$name" build/course-release/
done
echo "course release: $(ls build/course-release | tr '\n' ' ')"
