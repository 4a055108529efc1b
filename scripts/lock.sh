#!/usr/bin/env bash
# Regenerate constraints.txt: resolve every image's requirements, the dev tools and the
# ML frameworks for the images' Python (3.11.2: the oldest interpreter that must run
# them) with pip's dry-run resolver, then pin the result. The one constraints file is
# used by the test venv, the wheelhouse and every image. Run it (`make lock`) after
# changing any requirements file or pyproject dependency.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$PWD/.venv/bin/python}
IMAGE_PYTHON_VERSION=${IMAGE_PYTHON_VERSION:-3.11.2}
report=$(mktemp)
trap 'rm -f "$report"' EXIT

mkdir -p build/local-wheels
# setuptools reuses <package>/build/lib: a file renamed or deleted in the tree would
# live on in the wheel (e.g. a second Alembic head), so always start clean.
rm -rf course/build hub/build grader_service/build
"$PY" -m pip wheel -q --no-deps --no-build-isolation -w build/local-wheels ./course ./hub ./grader_service
# torch 2.13.0 is the CPU build; an unpinned torch resolves to a multi-GB CUDA build.
reqs=(-r requirements-dev.txt "dlcourse[frameworks,plots]" "dlcourse-grader[server,sandbox,postgres,test]"
      "torch==2.13.0")
for f in images/*/requirements.txt; do reqs+=(-r "$f"); done
"$PY" -m pip install -q --dry-run --ignore-installed --report "$report" --only-binary=:all: \
  --python-version "$IMAGE_PYTHON_VERSION" --find-links build/local-wheels "${reqs[@]}"
{
  echo "# Pinned versions for every Python component (test venv, wheelhouse, images),"
  echo "# resolved for Python $IMAGE_PYTHON_VERSION. Regenerate with scripts/lock.sh; do not edit."
  "$PY" - "$report" <<'PYEOF'
import json, re, sys
report = json.load(open(sys.argv[1]))
pins = {}
for item in report["install"]:
    name = re.sub(r"[-_.]+", "-", item["metadata"]["name"]).lower()
    if not name.startswith("dlcourse"):
        pins[name] = item["metadata"]["version"].split("+")[0]
for name in sorted(pins):
    print(f"{name}=={pins[name]}")
PYEOF
} > constraints.txt
echo "constraints.txt: $(grep -vc '^#' constraints.txt) pins"
