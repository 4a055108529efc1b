"""kill -9 the real service (HTTP + workers) with 50 submissions in flight, restart it:
every submission ends graded, recorded exactly once (one row, one stamp, one CSV row)."""

import csv
import json
import os
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from service_process import FakeHub, ServiceProcess, pack_fixture, release_ps0, submit, wait_for
from sqlalchemy import text

from grader_service import db
from grader_service.db import make_engine
from grader_service.stamp import verify_stamp

COUNT = 50


BOTH_BACKENDS = True


def _query(engine, sql):
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(text(sql))]


def _statuses(engine):
    return dict(_query(engine, "SELECT status, count(*) FROM submissions GROUP BY status"))



@pytest.mark.slow
def test_kill_9_mid_grading_loses_nothing_and_records_once(tmp_path, database_url):
    data_dir = str(tmp_path / "data")
    os.makedirs(data_dir)
    runs_log = str(tmp_path / "runs.log")
    env = {"GRADER_LEASE_SECONDS": "1.5", "GRADER_POLL_SECONDS": "0.2",
           "SLEEP_RUNNER_SECONDS": "0.3", "SLEEP_RUNNER_LOG": runs_log,
           "GRADER_DATABASE_URL": database_url}
    with FakeHub() as hub:
        first = ServiceProcess(data_dir, hub.api_url, **env).start()
        try:
            release_ps0(first.url)
            data = pack_fixture("student_right")
            with ThreadPoolExecutor(8) as pool:
                replies = list(pool.map(lambda i: submit(first.url, f"s{i:02d}", data),
                                        range(COUNT)))
            assert [r.status_code for r in replies] == [202] * COUNT
            ids = {r.json()["submission_id"] for r in replies}
            engine = make_engine(db.database_url({"DATABASE_URL": database_url,
                                                  "DATA_DIR": data_dir}))
            wait_for(lambda: _statuses(engine).get("graded", 0) >= 5, 30, "first gradings")
        finally:
            first.kill()
        before = _statuses(engine)
        assert before.get("graded", 0) < COUNT, "killed too late to prove anything"

        second = ServiceProcess(data_dir, hub.api_url, **env).start()
        try:
            wait_for(lambda: _statuses(engine) == {"graded": COUNT}, 90, "all graded")
            wait_for(lambda: len(_csv_ids(data_dir)) >= COUNT, 30, "all exported")
            public_key = requests.get(second.url + "/api/public-key", timeout=10).content
            rows = _query(engine, "SELECT id, stamp, attempts FROM submissions")
        finally:
            second.kill()
            engine.dispose()

    assert {sid for sid, _stamp, _attempts in rows} == ids and len(rows) == COUNT
    for sid, stamp, _attempts in rows:
        stamp = json.loads(stamp) if isinstance(stamp, str) else stamp
        assert verify_stamp(stamp, public_key)
        assert stamp["record"]["submission_id"] == sid
    csv_ids = _csv_ids(data_dir)
    assert sorted(csv_ids) == sorted(ids), "each submission exactly once in the gradebook"
    logged = [json.loads(line) for line in second.logs(tail=None).splitlines() if line.startswith("{")]
    assert any(e.get("submission_id") in ids and e["message"].startswith("grading finished")
               for e in logged), "structured logs carry submission ids"
    with open(runs_log) as fh:
        runs = len(fh.read().split())
    assert runs >= COUNT  # at least once...
    print(f"\ncrash test: killed with {before}; {runs} runs for {COUNT} submissions; "
          f"{sum(attempts for _sid, _stamp, attempts in rows)} claims; {len(csv_ids)} CSV rows")


def _csv_ids(data_dir):
    path = os.path.join(data_dir, "gradebook.csv")
    if not os.path.exists(path):
        return []
    with open(path, newline="") as fh:
        return [row["submission_id"] for row in csv.DictReader(fh)]
