#!/bin/sh
# Install Python packages into /opt/venv during `docker build`, offline.
#   python-env.sh deps            create /opt/venv from /tmp/req/requirements.txt, pinned by
#                                 /tmp/req/constraints.txt, from the wheelhouse that
#                                 scripts/build-images.sh serves at $WHEELHOUSE_URL
#   python-env.sh local PKG...    (re)install this repo's own wheels, without dependencies,
#                                 from /tmp/local-wheels (a small layer of its own)
set -eu
pip_install() {
  /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check --no-index "$@"
}
case "$1" in
  deps)
    python3 -m venv /opt/venv
    pip_install --trusted-host 127.0.0.1 \
      --find-links "$WHEELHOUSE_URL/wheelhouse/" --find-links "$WHEELHOUSE_URL/local-wheels/" \
      -c /tmp/req/constraints.txt -r /tmp/req/requirements.txt
    ;;
  local)
    shift
    wheels=""
    for pkg in "$@"; do wheels="$wheels $(ls /tmp/local-wheels/"$pkg"-*.whl)"; done
    # shellcheck disable=SC2086 # word splitting of the wheel list is intended
    pip_install --no-deps --force-reinstall $wheels
    rm -rf /tmp/local-wheels
    ;;
  *)
    echo "usage: python-env.sh deps | local PKG..." >&2
    exit 2
    ;;
esac
