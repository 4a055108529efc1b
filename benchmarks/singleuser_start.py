"""CPU of one single-user server start, in the image, without a hub.

Starts ``jupyter lab`` in a throwaway container of each image given (no network), waits
until ``/api/status`` answers and reads the server's CPU time (user + system) from
``/proc``: the work every student's server does before it can answer, which sets how
many servers a core starts per second at a workshop. Repeats and prints the median,
and with ``--imports`` the slowest imports of one start (``python -X importtime``).

    python benchmarks/singleuser_start.py [--image dlcourse/singleuser:latest ...]
        [--repeat 5] [--imports 12]
"""

from __future__ import annotations

import argparse
import statistics

import docker

PROBE = r"""
import os, subprocess, time, urllib.request
args = ["jupyter", "lab", "--ip=127.0.0.1", "--port=8899", "--no-browser",
        "--IdentityProvider.token=x"]
t0 = time.monotonic()
server = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
while True:
    try:
        urllib.request.urlopen("http://127.0.0.1:8899/api/status?token=x", timeout=1)
        break
    except OSError:
        time.sleep(0.05)
wall = time.monotonic() - t0
fields = open(f"/proc/{server.pid}/stat").read().rsplit(")", 1)[1].split()
print(wall, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))
server.terminate()
"""

IMPORTS = ("timeout 10 python -X importtime -m jupyterlab --ip=127.0.0.1 --no-browser "
           "2>/tmp/imports >/dev/null; sort -t'|' -k2 -n -r /tmp/imports | head -{n}")


def run(client, image: str, command: list[str]) -> str:
    container = client.containers.run(image, command, detach=True, network_mode="none",
                                      environment={"NBGRADER_ROLE": "student"})
    try:
        container.wait(timeout=120)
        return container.logs(stdout=True, stderr=False).decode()
    finally:
        container.remove(force=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image", action="append", help="repeatable; default the project's")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--imports", type=int, default=0, metavar="N",
                        help="also list the N slowest imports (cumulative microseconds)")
    args = parser.parse_args(argv)
    client = docker.from_env()
    images = args.image or ["dlcourse/singleuser:latest"]
    medians = {}
    for image in images:
        runs = [tuple(map(float, run(client, image, ["python", "-c", PROBE]).split()))
                for _ in range(args.repeat)]
        wall = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs)
        medians[image] = cpu
        print(f"{image}: {cpu:.2f} CPU-s to ready (median of {args.repeat}; "
              f"min {min(r[1] for r in runs):.2f}), {wall:.2f} s wall")
        if args.imports:
            print(run(client, image, ["bash", "-c", IMPORTS.format(n=args.imports)]))
    if len(images) > 1:
        first = medians[images[0]]
        for image in images[1:]:
            print(f"ratio {image} / {images[0]}: {medians[image] / first:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
