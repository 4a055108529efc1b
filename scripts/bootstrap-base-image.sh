#!/usr/bin/env bash
# Build the project's base image (Debian bookworm + python3) with debootstrap and
# `docker import`, for machines that cannot pull from a registry.
# Production may skip this and pass BASE_IMAGE=<an official python/debian image>.
# Idempotent: does nothing when the image already exists.
set -euo pipefail

IMAGE="${1:-${BASE_IMAGE:-dlcourse/base:bookworm}}"
SUITE="${SUITE:-bookworm}"

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "base image $IMAGE already present"
  exit 0
fi

# The mirror apt is configured with (deb822 or one-line format); never hard-coded here.
mirror="${DEBIAN_MIRROR:-}"
if [ -z "$mirror" ]; then
  mirror=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -n1 || true)
fi
if [ -z "$mirror" ]; then
  mirror=$(grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | grep -v security | head -n1 || true)
fi
[ -n "$mirror" ] || { echo "cannot find a Debian mirror in apt's sources; set DEBIAN_MIRROR" >&2; exit 1; }

command -v debootstrap >/dev/null || { echo "debootstrap is missing (apt-get install debootstrap)" >&2; exit 1; }

rootfs=$(mktemp -d /tmp/dlcourse-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
echo "debootstrap $SUITE from $mirror ..."
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
  "$SUITE" "$rootfs" "$mirror" >/tmp/dlcourse-debootstrap.log 2>&1 \
  || { tail -n 30 /tmp/dlcourse-debootstrap.log >&2; exit 1; }
# Keep the image small and deterministic.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
tar -C "$rootfs" -c . | docker import \
  --change 'ENV LANG=C.UTF-8' --change 'CMD ["/bin/bash"]' - "$IMAGE" >/dev/null
echo "imported $IMAGE"
