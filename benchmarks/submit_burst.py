"""A class at the deadline: N students submit at the same instant; measure accept latency.

Starts the real service (``dl-grader serve``: waitress + grading workers, a cheap
runner) behind a fake JupyterHub API, releases ps0, then fires N multipart
submissions from N concurrent clients released by one barrier. Prints p50/p99/max
accept latency (time to the 202) and checks zero loss: every 202 is a stored row
with its blob, no request failed, and the row count is exactly N.

    python benchmarks/submit_burst.py                 # 300 submissions, SQLite
    python benchmarks/submit_burst.py --count 50 --database-url postgresql+psycopg://...
"""

import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests
from sqlalchemy import text

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [REPO, os.path.join(REPO, "tests", "grader_service")]

from service_process import FakeHub, ServiceProcess, pack_fixture, release_ps0  # noqa: E402, I001

from grader_service.db import database_url, make_engine  # noqa: E402


BOUNDARY = "burstboundary7d1f"


def multipart_body(data):
    """The exact bytes nbgrader's exchange sends (one file field), built once."""
    head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"submission\"; "
            'filename="submission.tar.gz"\r\nContent-Type: application/gzip\r\n\r\n')
    return head.encode() + data + f"\r\n--{BOUNDARY}--\r\n".encode()


def post_once(port, student, body):
    """One submission on a fresh connection (lean client: no per-request encoding work)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("POST", "/api/courses/ml101/assignments/ps0/submissions", body=body,
                     headers={"Authorization": f"token {student}-token",
                              "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
        reply = conn.getresponse()
        return reply.status, json.loads(reply.read())
    finally:
        conn.close()


def burst(port, count, data, spread=0.0):
    """Submit ``count`` times at once (or evenly within ``spread`` seconds); return
    ``[(student, status, seconds, body)]``."""
    barrier = threading.Barrier(count)
    body = multipart_body(data)

    def one(index):
        student = f"s{index:03d}"
        barrier.wait()
        time.sleep(spread * index / count)
        start = time.perf_counter()
        try:
            status, reply = post_once(port, student, body)
        except (OSError, ValueError) as err:
            status, reply = 0, {"error": str(err)}
        return student, status, time.perf_counter() - start, reply

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def warm_up(url, count):
    """Each student calls the service once (as when fetching the assignment shortly before),
    so the service's identity cache holds their token."""
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: requests.get(f"{url}/api/courses", timeout=60, headers={
            "Authorization": f"token s{i:03d}-token"}), range(count)))


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def stored_ids(data_dir, url):
    engine = make_engine(database_url({"DATABASE_URL": url, "DATA_DIR": data_dir}))
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, sha256 FROM submissions")).all()
    engine.dispose()
    return dict(rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--threads", type=int, default=8, help="waitress HTTP threads")
    parser.add_argument("--spread", type=float, default=0.0,
                        help="start the clients evenly over this many seconds (0 = all at once)")
    parser.add_argument("--workers", type=int, default=2, help="grading worker threads")
    parser.add_argument("--database-url", default="", help="default: SQLite in a temp dir")
    parser.add_argument("--wait-graded", action="store_true", help="also wait for grading")
    parser.add_argument("--warm", action="store_true",
                        help="let every student call the service once before the burst "
                             "(identity cached) instead of a cold hub lookup per request")
    args = parser.parse_args(argv)

    data = pack_fixture("student_right")
    with tempfile.TemporaryDirectory(prefix="submit-burst-") as data_dir, FakeHub() as hub:
        service = ServiceProcess(data_dir, hub.api_url, workers=args.workers,
                                 threads=args.threads, GRADER_DATABASE_URL=args.database_url,
                                 GRADER_LOG_FORMAT="json", SLEEP_RUNNER_SECONDS="0.05")
        service.start()
        try:
            release_ps0(service.url)
            if args.warm:
                warm_up(service.url, args.count)
            started = time.perf_counter()
            results = burst(service.port, args.count, data, args.spread)
            wall = time.perf_counter() - started
            stored = stored_ids(data_dir, args.database_url)
            blobs_missing = [sid for sid, sha in stored.items() if not os.path.exists(
                os.path.join(data_dir, "blobs", sha[:2], sha))]
            graded_after = None
            if args.wait_graded:
                graded_after = wait_graded(service.url, args.count, started)
        finally:
            service.stop()

    accepted = [r for r in results if r[1] == 202]
    latencies = [r[2] for r in accepted]
    lost = [r[3]["submission_id"] for r in accepted if r[3]["submission_id"] not in stored]
    print(f"submissions: {args.count} concurrent clients, waitress threads {args.threads}, "
          f"backend {'postgresql' if args.database_url else 'sqlite'}, "
          f"identity {'cached' if args.warm else 'cold (2 hub API calls each)'}, "
          f"arrivals {'all at once' if not args.spread else f'over {args.spread:g} s'}")
    print(f"accepted:    {len(accepted)}/{args.count} (failed: {args.count - len(accepted)})")
    if latencies:
        print(f"latency ms:  p50 {1000 * statistics.median(latencies):.0f}  "
              f"p99 {1000 * percentile(latencies, 99):.0f}  max {1000 * max(latencies):.0f}")
    print(f"burst wall:  {wall:.2f} s ({len(accepted) / wall:.0f} submissions/s)")
    print(f"stored rows: {len(stored)}; accepted but not stored: {len(lost)}; "
          f"rows without blob: {len(blobs_missing)}")
    for student, status, _seconds, body in [r for r in results if r[1] != 202][:3]:
        print(f"  failed: {student} HTTP {status}: {body.get('error', body)}")
    if graded_after is not None:
        print(f"all graded:  {graded_after:.1f} s after the burst started")
    ok = len(accepted) == args.count == len(stored) and not lost and not blobs_missing
    print("zero loss:   " + ("yes" if ok else "NO"))
    return 0 if ok else 1


def wait_graded(url, count, started, timeout=600):
    """Seconds from ``started`` until the instructor sees ``count`` graded submissions."""
    headers = {"Authorization": "token prof-token"}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = requests.get(f"{url}/api/courses/ml101/submissions", headers=headers,
                            timeout=30).json()
        if sum(r["status"] == "graded" for r in rows) == count:
            return time.perf_counter() - started
        time.sleep(0.5)
    return float("nan")


if __name__ == "__main__":
    raise SystemExit(main())
