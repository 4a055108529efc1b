#!/usr/bin/env bash
# Build every image under images/<name>/Dockerfile as dlcourse/<name>:latest.
# The wheelhouse is served to the builds over loopback (docker build --network host)
# instead of being copied into the build context. Docker's layer cache makes a second
# run cheap; DEPS_DIGEST (the packages' declared dependencies) invalidates the
# dependency layer when a pyproject changes.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$PWD/.venv/bin/python}
BASE_IMAGE=${BASE_IMAGE:-dlcourse/base:bookworm}
TAG=${IMAGE_TAG:-latest}
images=("$@")
# Order matters: the sandbox is built FROM the single-user image.
[ ${#images[@]} -gt 0 ] || images=(hub singleuser sandbox grader)

# A fixed port keeps WHEELHOUSE_URL (a build arg, so part of Docker's cache key) stable
# between runs; when it is taken, any free port works but the dependency layers rebuild.
port=${WHEELHOUSE_PORT:-38765}
if ! "$PY" -c "import socket; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', $port))" 2>/dev/null; then
  port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  echo "port ${WHEELHOUSE_PORT:-38765} is taken: serving the wheelhouse on $port (no layer cache)"
fi
"$PY" -m http.server --bind 127.0.0.1 --directory build "$port" >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do
  curl -fs "http://127.0.0.1:$port/" >/dev/null && break
  sleep 0.1
done

replaced=()
digest=$(cat course/pyproject.toml hub/pyproject.toml grader_service/pyproject.toml | sha256sum | cut -c1-16)
for name in "${images[@]}"; do
  [ -f "images/$name/Dockerfile" ] || { echo "skip $name: no Dockerfile"; continue; }
  start=$(date +%s)
  previous=$(docker image inspect "dlcourse/$name:$TAG" --format '{{.Id}}' 2>/dev/null || true)
  docker build -q --force-rm --network host -f "images/$name/Dockerfile" \
    --build-arg BASE_IMAGE="$BASE_IMAGE" \
    --build-arg SINGLEUSER_IMAGE="dlcourse/singleuser:$TAG" \
    --build-arg WHEELHOUSE_URL="http://127.0.0.1:$port" \
    --build-arg DEPS_DIGEST="$digest" \
    -t "dlcourse/$name:$TAG" . >/dev/null
  size=$(docker image inspect "dlcourse/$name:$TAG" --format '{{.Size}}')
  echo "built dlcourse/$name:$TAG in $(( $(date +%s) - start ))s, $(( size / 1000000 )) MB"
  current=$(docker image inspect "dlcourse/$name:$TAG" --format '{{.Id}}')
  if [ -n "$previous" ] && [ "$previous" != "$current" ]; then
    replaced=("$previous" "${replaced[@]}")
  fi
done
# The images these builds replaced (GBs for single-user and sandbox) are garbage now;
# newest first, so an old sandbox goes before the old single-user image it was built
# FROM. One a container still uses (or another tag names) stays.
for old in "${replaced[@]}"; do
  docker image rm "$old" >/dev/null 2>&1 || true
done
