#!/usr/bin/env bash
# Make sure a Docker engine answers. On Debian as root, install docker.io and start
# dockerd in the background when it is missing (machines without systemd included).
# Idempotent: returns at once when `docker version` already reaches a server.
set -euo pipefail

server_up() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

if command -v docker >/dev/null 2>&1 && server_up; then
  exit 0
fi

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "No Docker engine answers. Install and start Docker, then run this again." >&2
  exit 1
fi

if ! command -v dockerd >/dev/null 2>&1; then
  echo "installing docker.io ..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
fi

if command -v systemctl >/dev/null 2>&1 && systemctl is-system-running >/dev/null 2>&1; then
  systemctl start docker
else
  echo "starting dockerd in the background (log: /var/log/dockerd.log) ..."
  nohup dockerd >/var/log/dockerd.log 2>&1 &
fi

for _ in $(seq 1 60); do
  if server_up; then
    echo "docker engine $(docker version --format '{{.Server.Version}}') is up"
    exit 0
  fi
  sleep 1
done
echo "dockerd did not come up; see /var/log/dockerd.log" >&2
exit 1
