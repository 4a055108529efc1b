"""Deadline flood: one student submits 100 times while 50 others submit once.

Runs the service in-process (SQLite, or a throwaway PostgreSQL with ``--postgres``), a
runner that grades instantly and records the order jobs were claimed in, and drains the
queue the way the workers do (``claim_next`` + grade). Prints where the others' jobs and
the flooder's jobs came, which of the flooder's submissions was graded, how many were
superseded (stored, not graded), and what plain FIFO (the queue before) would have done.

    python benchmarks/deadline_flood.py [--flood 100] [--others 50] [--postgres]
"""

import argparse
import io
import os
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "grader_service"))

from grader_testing import StaticIdentityProvider, ps0_result  # noqa: E402
from prepared import prepared_app  # noqa: E402

from grader_service.auth import Identity  # noqa: E402
from grader_service.db import Status, Submission, session_factory  # noqa: E402
from grader_service.metrics import Outcome  # noqa: E402
from grader_service.runners import RunResult  # noqa: E402
from grader_service.tarsafe import pack_directory  # noqa: E402
from grader_service.worker import get_workers  # noqa: E402

FIXTURES = os.path.join(REPO, "tests", "grader_service", "fixtures", "ps0")


class RecordingRunner:
    name = "recording"

    def __init__(self):
        self.limits = None

    def run(self, bundle, cancelled=None):
        return RunResult(Outcome.SUCCESS, ps0_result(test_add_floats=1.0), {"runner": "stub"},
                         "", 0.0)

    def sweep(self):
        return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flood", type=int, default=100)
    parser.add_argument("--others", type=int, default=50)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args(argv)

    callers = {"prof": Identity("prof", frozenset({"formgrade-ml101"})),
               "flooder": Identity("flooder", frozenset({"nbgrader-ml101"}), roll_number="F1")}
    for i in range(args.others):
        callers[f"s{i}"] = Identity(f"s{i}", frozenset({"nbgrader-ml101"}),
                                    roll_number=f"S{i:03d}")
    cluster = database_url = None
    if args.postgres:
        from postgres import PostgresCluster, find_bindir  # tests/grader_service

        cluster = PostgresCluster(find_bindir()).start()
        database_url = cluster.create_database()
    with tempfile.TemporaryDirectory() as data:
        app = prepared_app({"DATA_DIR": data, "DATABASE_URL": database_url or "",
                            "RUNNER": "local", "IDENTITY_PROVIDER": StaticIdentityProvider(callers),
                            "SIGNING_KEY_FILE": "", "EXPORTERS": "csv",
                            # the queue's fairness alone: GRADER_SUBMIT_RATE (default 6/60)
                            # would refuse the flooder's 7th submission of the minute
                            "SUBMIT_RATE": ""})
        workers = get_workers(app)
        workers.service.runner = RecordingRunner()
        client = app.test_client()

        def post(token, url, **data):
            return client.post(url, headers={"Authorization": f"token {token}"}, data=data)

        release = post("prof", "/api/courses/ml101/assignments/ps0/release",
                       release=(io.BytesIO(pack_directory(os.path.join(FIXTURES, "release"))),
                                "r.tar.gz"),
                       source=(io.BytesIO(pack_directory(os.path.join(FIXTURES, "source"))),
                               "s.tar.gz"))
        assert release.status_code == 201, release.json
        body = pack_directory(os.path.join(FIXTURES, "student_right"))
        url = "/api/courses/ml101/assignments/ps0/submissions"

        def submit(token):
            reply = post(token, url, submission=(io.BytesIO(body), "s.tar.gz"))
            assert reply.status_code == 202, reply.json
            return reply.json["submission_id"]

        # half the flood first (the worst case for everyone else), then the others; the
        # flooder goes on submitting (two per graded job) while the queue drains
        before = args.flood // 2
        flood = [submit("flooder") for _ in range(before)]
        others = [submit(f"s{i}") for i in range(args.others)]
        started = time.monotonic()
        order = []
        while True:
            row = workers.run_once()
            if row is None and len(flood) == args.flood:
                break
            if row is not None:
                order.append((row.id, row.username))
            for _ in range(min(2, args.flood - len(flood))):
                flood.append(submit("flooder"))
        drain = time.monotonic() - started

        with session_factory(app)() as session:
            rows = {r.id: r for r in session.query(Submission)}
        app.extensions["grader_engine"].dispose()
    if cluster is not None:
        cluster.stop()

    flooder_positions = [i + 1 for i, (_, user) in enumerate(order) if user == "flooder"]
    other_positions = [i + 1 for i, (_, user) in enumerate(order) if user != "flooder"]
    graded_flood = [sid for sid, user in order if user == "flooder"]
    superseded = [sid for sid in flood if rows[sid].status == Status.SUPERSEDED]
    fifo_last_other = before + args.others  # FIFO: the flood submitted before them first
    print(f"backend {'postgresql' if args.postgres else 'sqlite'}: one student submits "
          f"{before} times, {args.others} students once each, then the first student "
          f"{args.flood - before} more times while the queue drains")
    print(f"  stored: {len(rows)} rows (expected {args.flood + args.others}); "
          f"graded jobs: {len(order)}; superseded (stored, not graded): {len(superseded)}")
    print(f"  the flooder's jobs ran at positions {flooder_positions}; the last graded is "
          f"submission #{rows[graded_flood[-1]].submission_number} of {args.flood} "
          f"(the latest: {graded_flood[-1] == flood[-1]})")
    print(f"  the others' jobs: positions {min(other_positions)}..{max(other_positions)}; all "
          f"graded: {all(rows[s].status == Status.GRADED for s in others)}; jobs ahead of "
          f"the last of them that were the flooder's: "
          f"{sum(1 for p in flooder_positions if p < max(other_positions))}")
    print(f"  plain FIFO (before): the last of the others at position {fifo_last_other}, "
          f"behind {before} flood jobs")
    print(f"  drain: {drain:.2f} s for {len(order)} jobs (instant runner)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
