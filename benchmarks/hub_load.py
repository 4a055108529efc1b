"""A workshop arriving at the hub: N students log in at a steady rate and run a cell.

Brings up a stack of its own (``scripts.localstack``, project ``dlcourse-bench`` on free
ports, the project's images) whose demo IdP holds N generated accounts with roll
numbers, then starts one thread per student at ``i / rate`` seconds. Each student goes
through the real login (OIDC, the IdP's forms, the hub's callback), asks for a server,
waits until it answers through the proxy, starts a kernel and runs ``1 + 1``. Per
student it records the time of every stage; for the run, failures by stage and cause,
CPU seconds per single-user container (its whole start, kernel included), the hub
container's CPU (hub and proxy), and memory per idle user with a kernel. It prints a
table, saves everything as JSON, and removes its stack (``--keep`` leaves it up).

``--compare-stock``: the same workshop twice in one run, first on a stock JupyterHub with
DockerSpawner and a minimal image (``benchmarks/stock_hub_config.py`` mounted as the
hub's config.d, ``images/stock-singleuser``, built if missing), then on the project's
shipped settings; the table shows both side by side.

``--prewarm``: the workshop as ops run it with ``course_hub.prewarm``. Every student has
logged in once before (the hub knows their roll number); the command starts all their
servers at ``--prewarm-rate`` and the time it takes is recorded; then the students
arrive as above and find their server running (the spawn stage is a request that
answers "already running").

    python benchmarks/hub_load.py [--students 20] [--rate 1.0] [--json out.json]
        [--hub-env KEY=VALUE ...] [--prewarm [--prewarm-rate 1.0]] [--compare-stock]
        [--keep]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from scripts.demo_idp import DEMO_PASSWORD, free_port  # noqa: E402
from scripts.localstack import LocalStack, StackConfig  # noqa: E402
from tests.e2e.support import login, run_code  # noqa: E402

COURSE = "dl101"
STOCK_IMAGE = "dlcourse/stock-singleuser:latest"
STOCK_CONFIG = REPO / "benchmarks" / "stock_hub_config.py"
STAGES = ("login", "spawn", "first_cell")


@dataclass
class Student:
    """One student's run: seconds from arrival to the end of each stage, or the failure."""

    name: str
    roll_number: str
    arrived: float = 0.0
    done: dict = field(default_factory=dict)  # stage -> seconds since arrival
    failed_stage: str = ""
    failure: str = ""
    cpu_seconds: float | None = None
    memory_mib: float | None = None


def users_file(students: list[Student], directory: Path) -> Path:
    """The IdP's accounts for ``students`` (all in the course's student group)."""
    path = directory / "bench-users.json"
    path.write_text(json.dumps({"users": [
        {"username": s.name, "password": DEMO_PASSWORD, "name": s.name,
         "email": f"{s.name}@students.example.edu", "roll_number": s.roll_number,
         "groups": [f"nbgrader-{COURSE}"]} for s in students]}))
    return path


class Workshop:
    """Drives the students through one stack."""

    def __init__(self, stack: LocalStack, timeout: float):
        self.stack = stack
        self.url = stack.config.hub_url
        self.ops = {"Authorization": f"token {stack.secrets['ops_api_token']}"}
        self.timeout = timeout

    def attend(self, student: Student, start: float) -> None:
        time.sleep(max(0.0, start + student.arrived - time.monotonic()))
        t0 = time.monotonic()
        stage = "login"
        try:
            session = login(self.url, student.name, DEMO_PASSWORD, timeout=self.timeout)
            student.done["login"] = time.monotonic() - t0
            stage = "spawn"
            token = self._token(student.name)
            headers = {"Authorization": f"token {token}"}
            r = session.post(f"{self.url}/hub/api/users/{student.name}/server",
                             headers=headers, timeout=self.timeout)
            if r.status_code not in (201, 202) and not (
                    r.status_code == 400 and "already running" in r.text):
                raise RuntimeError(f"spawn request: HTTP {r.status_code} {r.text[:200]}")
            self._wait_ready(student.name, headers, t0)
            student.done["spawn"] = time.monotonic() - t0
            stage = "first_cell"
            out, err = run_code(f"{self.url}/user/{student.name}", token, "print(1 + 1)",
                                timeout=self.timeout)
            if err is not None or out.strip() != "2":
                raise RuntimeError(f"cell: {err or out!r}")
            student.done["first_cell"] = time.monotonic() - t0
        except Exception as exc:  # a benchmark records every failure and goes on
            student.failed_stage = stage
            student.failure = f"{type(exc).__name__}: {str(exc)[:200]}"

    def _token(self, name: str) -> str:
        r = requests.post(f"{self.url}/hub/api/users/{name}/tokens", headers=self.ops,
                          json={"note": "hub_load", "expires_in": 3600}, timeout=30)
        r.raise_for_status()
        return r.json()["token"]

    def _wait_ready(self, name: str, headers: dict, t0: float) -> None:
        while time.monotonic() - t0 < self.timeout:
            r = requests.get(f"{self.url}/user/{name}/api/status", headers=headers,
                             timeout=10, allow_redirects=False)
            if r.status_code == 200:
                return
            time.sleep(0.5)
        raise TimeoutError(f"server not answering after {self.timeout:.0f} s")


def prewarm(stack: LocalStack, students: list[Student], rate: float, timeout: float) -> float:
    """Log every student in once, then run ``course_hub.prewarm`` for the course's
    students in the hub container; seconds from its start until every server is up."""
    for s in students:
        login(stack.config.hub_url, s.name, DEMO_PASSWORD, timeout=timeout)
    start_at = datetime.datetime.now(datetime.UTC) + datetime.timedelta(
        seconds=len(students) / rate + timeout)
    ops = {"Authorization": f"token {stack.secrets['ops_api_token']}"}
    command = subprocess.Popen(
        ["docker", "exec", stack.config.hub_container, "python", "-m", "course_hub.prewarm",
         "--group", f"nbgrader-{COURSE}", "--start-at", start_at.isoformat(),
         "--rate", str(rate), "--touch-every", "30"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < len(students) / rate + timeout:
            users = requests.get(f"{stack.config.hub_url}/hub/api/users", headers=ops,
                                 timeout=30).json()
            ready = sum(1 for u in users if u.get("servers", {}).get("", {}).get("ready"))
            if ready >= len(students):
                return time.monotonic() - t0
            time.sleep(1)
        raise TimeoutError(f"pre-warming: {ready}/{len(students)} servers up")
    finally:
        command.kill()  # the start time is far away: stop keeping the servers warm


def container_cpu_seconds(container) -> float:
    stats = container.stats(stream=False)
    return stats["cpu_stats"]["cpu_usage"]["total_usage"] / 1e9


def container_memory_mib(container) -> float:
    memory = container.stats(stream=False)["memory_stats"]
    cache = memory.get("stats", {}).get("inactive_file", memory.get("stats", {}).get("cache", 0))
    return (memory["usage"] - cache) / 2**20


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summarise(students: list[Student], wall: float, hub_cpu: float) -> dict:
    served = [s for s in students if "first_cell" in s.done]
    spawn = [s.done["spawn"] - s.done["login"] for s in served]
    first = [s.done["first_cell"] for s in served]
    cpu = [s.cpu_seconds for s in served if s.cpu_seconds is not None]
    memory = [s.memory_mib for s in served if s.memory_mib is not None]
    failures: dict[str, int] = {}
    for s in students:
        if s.failed_stage:
            key = f"{s.failed_stage}: {s.failure.split(':')[0]}"
            failures[key] = failures.get(key, 0) + 1
    return {
        "students": len(students), "served": len(served), "failures": failures,
        "spawn_s": {"p50": percentile(spawn, 0.5), "p95": percentile(spawn, 0.95),
                    "max": max(spawn, default=None)},
        "arrival_to_first_result_s": {"p50": percentile(first, 0.5),
                                      "p95": percentile(first, 0.95),
                                      "max": max(first, default=None)},
        "cpu_s_per_start": statistics.mean(cpu) if cpu else None,
        "memory_mib_per_idle_user": statistics.mean(memory) if memory else None,
        "hub_container_cpu_s": hub_cpu, "wall_s": wall,
        "starts_per_s": len(served) / wall if wall else None,
    }


def table_rows(summary: dict) -> list[tuple[str, str]]:
    """(label, value) rows of one run's summary."""
    def fmt(v):
        return "-" if v is None else f"{v:.2f}" if isinstance(v, float) else str(v)

    rows = [
        ("students served", f"{summary['served']}/{summary['students']}"),
        ("spawn s p50/p95/max", " / ".join(fmt(v) for v in summary["spawn_s"].values())),
        ("arrival -> first result s p50/p95/max",
         " / ".join(fmt(v) for v in summary["arrival_to_first_result_s"].values())),
        ("CPU-s per single-user start (kernel and 1+1 included)",
         fmt(summary["cpu_s_per_start"])),
        ("MiB per idle user with a kernel", fmt(summary["memory_mib_per_idle_user"])),
        ("hub container CPU-s (hub + proxy)", fmt(summary["hub_container_cpu_s"])),
        ("starts completed per second", fmt(summary["starts_per_s"])),
        ("failures", ", ".join(f"{k} x{n}" for k, n in summary["failures"].items()) or "none"),
    ]
    if summary.get("prewarm_seconds") is not None:
        rows.insert(0, ("pre-warming every server took s", fmt(summary["prewarm_seconds"])))
    return rows


def print_table(summaries: dict[str, dict]) -> None:
    """One column per run (e.g. "stock" and "this project")."""
    columns = {name: dict(table_rows(summary)) for name, summary in summaries.items()}
    labels = list(dict.fromkeys(label for rows in columns.values() for label in rows))
    width = max(len(label) for label in labels)
    widths = {name: max(len(name), *(len(v) for v in rows.values()))
              for name, rows in columns.items()}
    print(f"{'':<{width}}  " + "  ".join(f"{name:<{widths[name]}}" for name in columns))
    for label in labels:
        print(f"{label:<{width}}  " + "  ".join(
            f"{columns[name].get(label, ''):<{widths[name]}}" for name in columns))


def ensure_stock_image() -> None:
    """Build ``images/stock-singleuser`` once (the baseline of --compare-stock)."""
    import docker

    try:
        docker.from_env().images.get(STOCK_IMAGE)
    except docker.errors.ImageNotFound:
        subprocess.run([str(REPO / "scripts" / "build-images.sh"), "stock-singleuser"],
                       check=True)


def run(args, stock=False) -> dict:
    """One workshop on a fresh stack: the project's settings, or ``stock`` ones."""
    students = [Student(f"bench{i:03d}", f"CS2024-{i:03d}", arrived=(i - 1) / args.rate)
                for i in range(1, args.students + 1)]
    state = Path(tempfile.mkdtemp(prefix="hub-load-"))
    hub_env = dict(item.split("=", 1) for item in args.hub_env)
    config_d = None
    if stock:
        config_d = state / "config.d"
        config_d.mkdir()
        (config_d / STOCK_CONFIG.name).write_text(STOCK_CONFIG.read_text())
    config = StackConfig(project=args.project, hub_port=free_port(), idp_port=free_port(),
                         users_file=users_file(students, state), hub_env=hub_env,
                         state_root=state, hub_config_d=config_d)
    stack = LocalStack(config)
    stack.down(remove_volumes=True)
    try:
        stack.up()
        hub = stack.docker.containers.get(config.hub_container)
        hub_cpu_before = container_cpu_seconds(hub)
        prewarm_seconds = (prewarm(stack, students, args.prewarm_rate, args.timeout)
                           if args.prewarm else None)
        workshop = Workshop(stack, timeout=args.timeout)
        start = time.monotonic()
        threads = [threading.Thread(target=workshop.attend, args=(s, start)) for s in students]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - start
        hub_cpu = container_cpu_seconds(hub) - hub_cpu_before
        time.sleep(args.settle)  # idle users: kernels started, nothing running
        for s in students:
            if "first_cell" not in s.done:
                continue
            container = stack.docker.containers.get(f"{config.project}-user-{s.name}")
            s.cpu_seconds = container_cpu_seconds(container)
            s.memory_mib = container_memory_mib(container)
        summary = summarise(students, wall, hub_cpu)
        summary["prewarm_seconds"] = prewarm_seconds
        summary["settings"] = {"students": args.students, "rate_per_s": args.rate,
                               "hub_env": hub_env, "cpus": os.cpu_count(), "stock": stock,
                               "prewarm_rate_per_s": args.prewarm_rate if args.prewarm
                               else None}
        return {"summary": summary, "students": [asdict(s) for s in students]}
    finally:
        if not args.keep:
            stack.down(remove_volumes=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("--rate", type=float, default=1.0, help="arrivals per second")
    parser.add_argument("--timeout", type=float, default=300.0, help="per stage, seconds")
    parser.add_argument("--settle", type=float, default=10.0,
                        help="seconds idle before memory is read")
    parser.add_argument("--hub-env", action="append", default=[], metavar="KEY=VALUE",
                        help="extra hub settings (repeatable)")
    parser.add_argument("--prewarm", action="store_true",
                        help="pre-warm every server with course_hub.prewarm first")
    parser.add_argument("--prewarm-rate", type=float, default=1.0,
                        help="pre-warm start requests per second")
    parser.add_argument("--compare-stock", action="store_true",
                        help="run the workshop on a stock hub and image first, then ours")
    parser.add_argument("--project", default="dlcourse-bench")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    parser.add_argument("--keep", action="store_true", help="leave the stack up")
    args = parser.parse_args(argv)
    results = {}
    if args.compare_stock:
        ensure_stock_image()
        results["stock JupyterHub + DockerSpawner"] = run(args, stock=True)
    results["this project"] = run(args)
    print_table({name: result["summary"] for name, result in results.items()})
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
        print(f"figures: {args.json}")
    return 0 if results["this project"]["summary"]["served"] == args.students else 1


if __name__ == "__main__":
    sys.exit(main())
