"""Feedback at a deadline: the grading service against stock ``nbgrader autograde``.

The same submissions of course labs (a mix of correct, half-done and hostile
notebooks; see :func:`variant`) are graded twice in one run:

- **stock**: ``nbgrader autograde`` in a course directory of its own, as nbgrader's
  documentation sets it up (one process, notebooks executed one after the other in a
  kernel on the host, no isolation);
- **service**: the real ``dl-grader serve`` (gunicorn HTTP processes and the grading
  process, ``GRADER_WORKERS`` workers, the Docker runner with its full sandbox) behind a
  fake JupyterHub API, every submission POSTed as a student would.

It prints both wall times and their ratio for each lab, the time from submit to
result (p50/p95) on an idle service (one submission at a time) and under the batch,
and with ``--burst N`` the drain time of a deadline burst: N submissions of the first
lab spread over ``--burst-seconds``.

    python benchmarks/grading_throughput.py                      # m02, 20 submissions
    python benchmarks/grading_throughput.py --labs m02_mlp_scratch_1,m05_cnn_scratch,\\
        m06_framework_cnn --per-lab 12 --burst 300 --json out.json
"""

from __future__ import annotations

import argparse
import copy
import datetime
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import requests

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests" / "grader_service")]

from service_process import FakeHub, ServiceProcess  # noqa: E402

from grader_service.tarsafe import pack_directory  # noqa: E402

SOURCE = REPO / "course" / "nbgrader" / "source"
RELEASE = REPO / "build" / "course-release"
COURSE = "ml101"  # the fake hub's course
ROLL = "CS2024-007"  # stock nbgrader's one ROLL_NUMBER (the service: each student's own)
VARIANTS = ("correct", "half_done", "hostile")
HOSTILE = '''
# a student who wants a better grade: comparisons that always pass, a peek around
import numpy as _np
_np.allclose = lambda *a, **k: True
_np.testing.assert_allclose = lambda *a, **k: None
_np.array_equal = lambda *a, **k: True
import os as _os
for _path in ("/etc/shadow", _os.path.expanduser("~/.ssh/id_rsa"), "../source"):
    try:
        print(_path, _os.listdir(_path) if _os.path.isdir(_path) else open(_path).read(64))
    except OSError as _err:
        print(_path, type(_err).__name__)
'''


def solution_cells(nb):
    return [c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("solution")]


def variant(source: nbformat.NotebookNode, release: nbformat.NotebookNode, kind: str):
    """One student's notebook: ``correct`` (the reference solution), ``half_done`` (the
    second half of the answers still the release's ``raise NotImplementedError``) or
    ``hostile`` (half done, with a first answer that patches NumPy's comparisons and
    looks for files it should not read)."""
    nb = copy.deepcopy(source)
    answers = solution_cells(nb)
    if kind in ("half_done", "hostile"):
        blanks = {c.metadata.nbgrader.grade_id: c for c in solution_cells(release)}
        for cell in answers[len(answers) // 2:]:
            if cell.metadata.nbgrader.grade_id in blanks:
                cell.source = blanks[cell.metadata.nbgrader.grade_id].source
    if kind == "hostile":
        answers[0].source += "\n" + HOSTILE
    return nb


def variant_of(student: str) -> str:
    return VARIANTS[int(student[-3:]) % len(VARIANTS)]


def write_submissions(lab: str, count: int, into: Path) -> list[Path]:
    """``count`` submission folders of ``lab`` under ``into`` (``s000``, ``s001``...)."""
    folders = []
    notebooks = sorted(p.name for p in (SOURCE / lab).glob("*.ipynb"))
    for index in range(count):
        folder = into / f"s{index:03d}" / lab
        folder.mkdir(parents=True)
        for name in notebooks:
            nb = variant(nbformat.read(SOURCE / lab / name, 4),
                         nbformat.read(RELEASE / lab / name, 4), VARIANTS[index % len(VARIANTS)])
            nbformat.write(nb, folder / name)
        folders.append(folder)
    return folders


def stock_autograde(lab: str, submissions: list[Path], work: Path) -> tuple[float, dict]:
    """Wall seconds of ``nbgrader autograde`` over ``submissions`` (a fresh course dir),
    and the score it gave each student (from its gradebook)."""
    root = work / f"stock-{lab}"
    shutil.copytree(SOURCE / lab, root / "source" / lab)
    (root / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.course_id = {COURSE!r}\n"
        "c.ExecutePreprocessor.timeout = 600\n")
    env = dict(os.environ, ROLL_NUMBER=ROLL,  # nbgrader runs `alembic` from its venv
               PATH=os.pathsep.join([os.path.dirname(sys.executable), os.environ["PATH"]]))
    nbgrader = [sys.executable, "-m", "nbgrader"]
    subprocess.run([*nbgrader, "generate_assignment", lab, "--force"], cwd=root, env=env,
                   check=True, capture_output=True)
    for folder in submissions:
        target = root / "submitted" / folder.parent.name / lab
        shutil.copytree(folder, target)
        (target / "timestamp.txt").write_text("2026-12-06 09:00:00.000000 UTC")
    started = time.monotonic()
    done = subprocess.run([*nbgrader, "autograde", lab, "--create", "--force"], cwd=root,
                          env=env, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"nbgrader autograde failed:\n{done.stderr[-3000:]}")
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        scores = {folder.parent.name: gradebook.find_submission(lab, folder.parent.name).score
                  for folder in submissions}
    return seconds, scores


class Service:
    """The real service behind a fake hub; releases labs and submits as students."""

    def __init__(self, data_dir: str, workers: int, extra_env: dict):
        os.makedirs(data_dir, exist_ok=True)
        self.hub = FakeHub().__enter__()  # every student's roll number: R-<name>
        env = {"GRADER_RUNNER": "docker", "GRADER_SUBMIT_RATE": "0/60", **extra_env}
        try:
            self.process = ServiceProcess(data_dir, self.hub.api_url, workers=workers,
                                          **env).start(timeout=60)
        except BaseException:
            self.hub.__exit__()
            raise
        self.url = self.process.url

    def close(self):
        self.process.stop()
        self.hub.__exit__()

    def release(self, lab: str):
        reply = requests.post(
            f"{self.url}/api/courses/{COURSE}/assignments/{lab}/release", timeout=120,
            headers={"Authorization": "token prof-token"},
            files={"release": ("r.tar.gz", io.BytesIO(pack_directory(str(RELEASE / lab)))),
                   "source": ("s.tar.gz", io.BytesIO(pack_directory(str(SOURCE / lab))))})
        reply.raise_for_status()

    def submit(self, student: str, folder: Path) -> str:
        reply = requests.post(
            f"{self.url}/api/courses/{COURSE}/assignments/{folder.name}/submissions",
            timeout=120, headers={"Authorization": f"token {student}-token"},
            files={"submission": ("s.tar.gz", pack_directory(str(folder)), "application/gzip")})
        reply.raise_for_status()
        return reply.json()["submission_id"]

    def finished(self, ids: set[str], timeout: float = 3600) -> dict[str, dict]:
        """Wait until every submission in ``ids`` is finished; their rows by id."""
        deadline = time.monotonic() + timeout
        while True:
            rows = requests.get(f"{self.url}/api/courses/{COURSE}/submissions", timeout=60,
                                headers={"Authorization": "token prof-token"}).json()
            done = {r["submission_id"]: r for r in rows if r["submission_id"] in ids
                    and r["status"] not in ("queued", "running")}
            if len(done) == len(ids):
                return done
            if time.monotonic() > deadline:
                sys.exit(f"{len(ids) - len(done)} submissions not graded in {timeout:g} s")
            time.sleep(0.2)


def seconds_to_result(row: dict) -> float:
    parse = datetime.datetime.fromisoformat
    return (parse(row["graded_at"]) - parse(row["timestamp"])).total_seconds()


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def service_batch(service: Service, folders: list[Path], prefix: str) -> tuple[float, list]:
    """Submit all at once; (wall seconds from the first submit to the last result, rows)."""
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda f: service.submit(f"{prefix}{f.parent.name}", f), folders))
    rows = service.finished(set(ids))
    return time.monotonic() - started, [rows[i] for i in ids]


def service_idle(service: Service, folders: list[Path], prefix: str) -> list[float]:
    """One submission at a time: seconds from submit to result on an idle service."""
    seconds = []
    for folder in folders:
        submission = service.submit(f"{prefix}{folder.parent.name}", folder)
        seconds.append(seconds_to_result(service.finished({submission})[submission]))
    return seconds


def service_burst(service: Service, folder: Path, count: int, spread: float) -> dict:
    """``count`` students submit ``folder`` at even times over ``spread`` seconds."""
    started = time.monotonic()
    ids = []
    for index in range(count):
        time.sleep(max(0.0, started + index * spread / count - time.monotonic()))
        ids.append(service.submit(f"burst{index:03d}", folder))
    rows = service.finished(set(ids))
    waits = [seconds_to_result(r) for r in rows.values()]
    return {"submissions": count, "spread_s": spread,
            "drain_s": round(time.monotonic() - started, 1),
            "after_last_submit_s": round(time.monotonic() - started - spread, 1),
            "wait_p50_s": round(statistics.median(waits), 1),
            "wait_p95_s": round(percentile(waits, 0.95), 1)}


def outcomes(rows) -> dict[str, int]:
    counts = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return counts


def mean_score_by_variant(scores: dict[str, float]) -> dict[str, float]:
    """``{variant: mean score}`` of ``{student folder name: score}``."""
    by_variant = {}
    for student, score in scores.items():
        by_variant.setdefault(variant_of(student), []).append(score)
    return {v: round(statistics.mean(s), 2) for v, s in sorted(by_variant.items())}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labs", default="m02_mlp_scratch_1")
    parser.add_argument("--per-lab", type=int, default=20, help="submissions per lab")
    parser.add_argument("--idle", type=int, default=6, help="submissions per lab, one at a time")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--burst", type=int, default=0, help="deadline burst size (0: none)")
    parser.add_argument("--burst-seconds", type=float, default=60.0)
    parser.add_argument("--service-env", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--no-stock", action="store_true", help="skip nbgrader autograde")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if not (RELEASE / "ps0").is_dir():
        sys.exit("build/course-release is missing: run `make course-release` first")
    labs = args.labs.split(",")
    extra_env = dict(item.split("=", 1) for item in args.service_env)
    figures = {"workers": args.workers, "cores": os.cpu_count(), "labs": {}}
    with tempfile.TemporaryDirectory(prefix="grading-throughput-") as tmp:
        work = Path(tmp)
        service = Service(str(work / "service"), args.workers, extra_env)
        try:
            for lab in labs:
                folders = write_submissions(lab, args.per_lab, work / "subs" / lab)
                lab_figures = figures["labs"][lab] = {"submissions": len(folders)}
                if not args.no_stock:
                    seconds, scores = stock_autograde(lab, folders, work)
                    lab_figures["stock_s"] = round(seconds, 1)
                    lab_figures["stock_scores"] = mean_score_by_variant(scores)
                service.release(lab)
                idle = service_idle(service, folders[:args.idle], f"idle{lab[:3]}")
                wall, rows = service_batch(service, folders, f"batch{lab[:3]}")
                waits = [seconds_to_result(r) for r in rows]
                lab_figures.update(
                    service_s=round(wall, 1), outcomes=outcomes(rows),
                    service_scores=mean_score_by_variant(
                        {r["username"]: (r["result"] or {}).get("score", 0) for r in rows}),
                    idle_p50_s=round(statistics.median(idle), 2),
                    idle_p95_s=round(percentile(idle, 0.95), 2),
                    batch_p50_s=round(statistics.median(waits), 1),
                    batch_p95_s=round(percentile(waits, 0.95), 1))
                if "stock_s" in lab_figures:
                    lab_figures["ratio"] = round(wall / lab_figures["stock_s"], 2)
                print_lab(lab, lab_figures)
            if args.burst:
                folder = write_submissions(labs[0], 1, work / "burst")[0]
                figures["burst"] = service_burst(service, folder, args.burst, args.burst_seconds)
                print(f"burst: {figures['burst']}")
        finally:
            service.close()
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


def print_lab(lab, f):
    stock = f"{f['stock_s']:.1f} s" if "stock_s" in f else "skipped"
    ratio = f"  ratio {f['ratio']:.2f}" if "ratio" in f else ""
    print(f"{lab}: {f['submissions']} submissions  stock nbgrader {stock}  "
          f"service {f['service_s']:.1f} s{ratio}  {f['outcomes']}")
    print(f"  submit -> result, idle: p50 {f['idle_p50_s']:.2f} s  p95 {f['idle_p95_s']:.2f} s;"
          f"  in the batch: p50 {f['batch_p50_s']:.1f} s  p95 {f['batch_p95_s']:.1f} s")
    print(f"  mean score by variant: stock {f.get('stock_scores', '-')}  "
          f"service {f['service_scores']}")


if __name__ == "__main__":
    sys.exit(main())
