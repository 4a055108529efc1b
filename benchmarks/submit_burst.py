"""A class at the deadline: N students submit at the same instant; measure accept latency.

Starts the real service (``dl-grader serve``: gunicorn HTTP processes + the grading
process, a cheap runner) behind a fake JupyterHub API, releases ps0, then fires N
multipart submissions (a different archive per student) from N concurrent clients
released together. Prints p50/p99/max accept latency (time to the 202), the same
burst's latency on a trivial endpoint (the floor of the HTTP stack on this machine),
the service's CPU per submission, and checks zero loss: every 202 is a stored row with
its blob, no request failed, and the row count is exactly N.

    python benchmarks/submit_burst.py --warm          # 300 submissions, SQLite
    python benchmarks/submit_burst.py --postgres      # a throwaway PostgreSQL, fsync on
    python benchmarks/submit_burst.py --spread 10     # arrivals over 10 s
    python benchmarks/submit_burst.py --warm --multipart  # multipart forms, as curl sends
"""

import argparse
import asyncio
import io
import json
import os
import statistics
import sys
import tarfile
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import requests
from sqlalchemy import text

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [REPO, os.path.join(REPO, "tests", "grader_service")]

from service_process import FakeHub, ServiceProcess, pack_fixture, release_ps0  # noqa: E402, I001

from grader_service.db import database_url, make_engine  # noqa: E402


def multipart_body(data, boundary):
    """A multipart form with one file field (what curl or an older client sends)."""
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"submission\"; "
            'filename="submission.tar.gz"\r\nContent-Type: application/gzip\r\n\r\n')
    return head.encode() + data + f"\r\n--{boundary}--\r\n".encode()


def request_bytes(student, body, multipart=False):
    """One HTTP/1.1 POST as ``student`` (the connection closes after the reply): the
    tar.gz as the body, as nbgrader's exchange plugin sends it, or ``multipart``. Without
    a ``body``, the floor probe: GET of the service's public key (no auth, no database,
    no disk), which shows what the HTTP stack alone costs in the same burst."""
    if body is None:
        return b"GET /api/public-key HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    content_type = "application/gzip"
    if multipart:  # a fresh random boundary per request, as requests (urllib3) and curl do
        boundary = uuid.uuid4().hex
        content_type = f"multipart/form-data; boundary={boundary}"
        body = multipart_body(body, boundary)
    head = (f"POST /api/courses/ml101/assignments/ps0/submissions HTTP/1.1\r\n"
            f"Host: 127.0.0.1\r\nAuthorization: token {student}-token\r\n"
            f"Content-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    return head.encode() + body


async def post_once(port, payload):
    """Connect, send, read the whole reply; return ``(status, json body)``."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(payload)
        await writer.drain()
        reply = await reader.read()
    finally:
        writer.close()
    head, _, content = reply.partition(b"\r\n\r\n")
    is_json = b"application/json" in head.lower()
    return int(head.split(b" ", 2)[1]), json.loads(content or b"{}") if is_json else {}


def personal_copy(data, student):
    """``data`` (a tar.gz) plus a small file naming ``student``: every submission is a
    different blob, so each one is really written and fsynced."""
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(data)) as src, tarfile.open(fileobj=out, mode="w:gz") as dst:
        for member in src.getmembers():
            dst.addfile(member, src.extractfile(member) if member.isfile() else None)
        note = f"submitted by {student}\n".encode()
        info = tarfile.TarInfo("notes.txt")
        info.size = len(note)
        dst.addfile(info, io.BytesIO(note))
    return out.getvalue()


def burst(port, count, data, spread=0.0, multipart=False):
    """Submit ``count`` times at once (or evenly within ``spread`` seconds); return
    ``[(student, status, seconds, body)]``. ``data=None`` fires the floor probe instead.

    The clients are coroutines on one event loop (each with its own connection,
    opened inside the timed span): a lean client leaves this 2-core machine's CPU to
    the server, so the figures are the server's.
    """
    students = [f"s{index:03d}" for index in range(count)]
    payloads = [request_bytes(student, None if data is None else personal_copy(data, student),
                              multipart=multipart)
                for student in students]

    async def one(index, start):
        student, payload = students[index], payloads[index]
        await start.wait()
        await asyncio.sleep(spread * index / count)
        began = time.perf_counter()
        try:
            status, reply = await asyncio.wait_for(post_once(port, payload), 120)
        except (TimeoutError, OSError, ValueError) as err:
            status, reply = 0, {"error": repr(err)}
        return student, status, time.perf_counter() - began, reply

    async def everyone():
        start = asyncio.Event()
        tasks = [asyncio.create_task(one(i, start)) for i in range(count)]
        await asyncio.sleep(0.2)  # every client is waiting at the start line
        start.set()
        return await asyncio.gather(*tasks)

    return asyncio.run(everyone())


def warm_up(url, count):
    """Each student calls the service once (as when fetching the assignment shortly before),
    so the service's identity cache holds their token."""
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: requests.get(f"{url}/api/courses", timeout=60, headers={
            "Authorization": f"token s{i:03d}-token"}), range(count)))


def group_cpu_seconds(pgid):
    """User + system CPU time so far of every process in group ``pgid`` (Linux /proc)."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rpartition(")")[2].split()
        except OSError:  # exited meanwhile
            continue
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


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
    parser.add_argument("--processes", type=int, default=2, help="HTTP worker processes")
    parser.add_argument("--threads", type=int, default=8, help="HTTP threads per process")
    parser.add_argument("--spread", type=float, default=0.0,
                        help="start the clients evenly over this many seconds (0 = all at once)")
    parser.add_argument("--workers", type=int, default=2, help="grading worker threads")
    parser.add_argument("--database-url", default="", help="default: SQLite in a temp dir")
    parser.add_argument("--postgres", action="store_true",
                        help="start a throwaway PostgreSQL cluster (Debian's packages, fsync on) "
                             "and use it")
    parser.add_argument("--wait-graded", action="store_true", help="also wait for grading")
    parser.add_argument("--multipart", action="store_true",
                        help="send multipart forms (as curl would) instead of the raw "
                             "tar.gz body the exchange plugin sends")
    parser.add_argument("--warm", action="store_true",
                        help="let every student call the service once before the burst "
                             "(identity cached) instead of a cold hub lookup per request")
    args = parser.parse_args(argv)

    data = pack_fixture("student_right")
    cluster = None
    if args.postgres:
        from postgres import PostgresCluster, find_bindir

        cluster = PostgresCluster(find_bindir()).start(durable=True)
        args.database_url = cluster.create_database()
    try:
        return run(args, data)
    finally:
        if cluster is not None:
            cluster.stop()


def run(args, data):
    """Start the service, burst, check, print; return the exit status."""
    with tempfile.TemporaryDirectory(prefix="submit-burst-") as data_dir, FakeHub() as hub:
        service = ServiceProcess(data_dir, hub.api_url, workers=args.workers,
                                 threads=args.threads, processes=args.processes, GRADER_DATABASE_URL=args.database_url,
                                 GRADER_LOG_FORMAT="json", SLEEP_RUNNER_SECONDS="0.05")
        service.start()
        try:
            release_ps0(service.url)
            if args.warm:
                warm_up(service.url, args.count)
            floor = burst(service.port, args.count, None, args.spread)
            cpu_before = group_cpu_seconds(service.proc.pid)
            started = time.perf_counter()
            results = burst(service.port, args.count, data, args.spread, args.multipart)
            wall = time.perf_counter() - started
            server_cpu = group_cpu_seconds(service.proc.pid) - cpu_before
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
    print(f"submissions: {args.count} concurrent clients, {args.processes} HTTP processes x "
          f"{args.threads} threads, "
          f"backend {'postgresql' if args.database_url else 'sqlite'}, "
          f"identity {'cached' if args.warm else 'cold (2 hub API calls each)'}, "
          f"arrivals {'all at once' if not args.spread else f'over {args.spread:g} s'}, "
          f"{'multipart forms' if args.multipart else 'raw tar.gz bodies (the exchange plugin)'}")
    print(f"accepted:    {len(accepted)}/{args.count} (failed: {args.count - len(accepted)})")
    if latencies:
        print(f"latency ms:  p50 {1000 * statistics.median(latencies):.0f}  "
              f"p99 {1000 * percentile(latencies, 99):.0f}  max {1000 * max(latencies):.0f}")
    floor_ok = [r[2] for r in floor if r[1] == 200]
    if floor_ok:
        print(f"floor ms:    p50 {1000 * statistics.median(floor_ok):.0f}  "
              f"p99 {1000 * percentile(floor_ok, 99):.0f}  (GET /api/public-key, same burst: "
              f"the HTTP stack alone on this machine)")
        if latencies:
            print(f"ratio:       submit p99 / floor p99 = "
                  f"{percentile(latencies, 99) / percentile(floor_ok, 99):.1f}")
    print(f"burst wall:  {wall:.2f} s ({len(accepted) / wall:.0f} submissions/s)")
    print(f"server CPU:  {1000 * server_cpu / args.count:.1f} ms per submission "
          f"({server_cpu:.2f} s during the burst, all service processes)")
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
