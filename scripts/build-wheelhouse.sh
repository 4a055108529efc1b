#!/usr/bin/env bash
# Prepare everything `docker build` installs offline:
#   build/local-wheels/  wheels of this repo's packages (reproducible bytes)
#   build/wheelhouse/    wheels of every pinned third-party dependency, for the
#                        base image's Python (3.11.2), downloaded on the host because
#                        containers cannot verify the registry's TLS certificate.
# Idempotent: pip download keeps files it already has.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-$PWD/.venv/bin/python}
IMAGE_PYTHON_VERSION=${IMAGE_PYTHON_VERSION:-3.11.2}
mkdir -p build/wheelhouse build/local-wheels

export SOURCE_DATE_EPOCH=315532800  # identical wheel bytes for identical sources
rm -f build/local-wheels/*.whl
# setuptools reuses <package>/build/lib: a file renamed or deleted in the tree would
# live on in the wheel (e.g. a second Alembic head), so always start clean.
rm -rf course/build hub/build grader_service/build
"$PY" -m pip wheel -q --no-deps --no-build-isolation -w build/local-wheels ./course ./hub ./grader_service

reqs=()
for f in images/*/requirements.txt; do reqs+=(-r "$f"); done
"$PY" -m pip download -q --only-binary=:all: --python-version "$IMAGE_PYTHON_VERSION" \
  --find-links build/local-wheels -c constraints.txt -d build/wheelhouse "${reqs[@]}"
# The repo's own packages come from build/local-wheels only.
rm -f build/wheelhouse/dlcourse*.whl
echo "wheelhouse: $(ls build/wheelhouse | wc -l) wheels, $(du -sh build/wheelhouse | cut -f1)"
