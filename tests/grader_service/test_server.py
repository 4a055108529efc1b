"""``dl-grader serve`` as deployed: several HTTP processes and one grading process.

Whichever process answers, /metrics reports the whole service; a submission accepted by
any HTTP process wakes the grading process; if the grading process dies the service
stops (so the container restarts) instead of accepting work nobody grades. Behind
gunicorn, a chunked upload over the limit is refused, never cut short and stored.
"""

import json
import os
import re
import signal
import time

import pytest
import requests
from service_process import FakeHub, ServiceProcess, pack_fixture, release_ps0, submit, wait_for

pytestmark = pytest.mark.slow


def metric(text, name, **labels):
    """The value of one sample in Prometheus text format (exact label set)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = "^" + re.escape(name) + (r"\{" + re.escape(wanted) + r"\}" if labels else "") + r" (\S+)$"
    found = [float(m.group(1)) for m in re.finditer(pattern, text, re.MULTILINE)]
    assert len(found) == 1, f"{name}{{{wanted}}}: {found}"
    return found[0]



@pytest.fixture
def service(tmp_path):
    data_dir = str(tmp_path / "data")
    os.makedirs(data_dir)
    with FakeHub() as hub:
        # a long poll: only the cross-process wake-up can start grading quickly
        proc = ServiceProcess(data_dir, hub.api_url, processes=2, threads=4,
                              GRADER_POLL_SECONDS="60", SLEEP_RUNNER_SECONDS="0.05").start()
        try:
            yield proc
        finally:
            proc.stop()


def grading_pid(service):
    for line in service.logs(tail=0).splitlines():
        if line.startswith("{") and json.loads(line).get("message") == "grading process started":
            return json.loads(line)["pid"]
    return None


def test_metrics_cover_every_process_and_grading_is_woken_at_once(service):
    release_ps0(service.url)
    data = pack_fixture("student_right")
    started = time.monotonic()
    for i in range(8):  # fresh connections: spread over both HTTP processes
        assert submit(service.url, f"s{i}", data).status_code == 202

    def all_graded():
        rows = requests.get(f"{service.url}/api/courses/ml101/submissions", timeout=10,
                            headers={"Authorization": "token prof-token"}).json()
        return sum(r["status"] == "graded" for r in rows) == 8

    wait_for(all_graded, 30, "8 graded submissions")
    assert time.monotonic() - started < 30  # the 60 s poll never had to fire
    for _ in range(6):  # several scrapes, whichever HTTP process answers
        text = requests.get(f"{service.url}/metrics", timeout=10).text
        assert metric(text, "grader_submissions_accepted_total") == 8
        # counted in the grading process, reported by an HTTP process
        assert metric(text, "grader_jobs_finished_total", outcome="success") == 8
        assert metric(text, "grader_jobs_current", status="graded") == 8
        assert "pid=" not in text


def test_the_service_stops_when_the_grading_process_dies(service):
    wait_for(lambda: grading_pid(service) is not None, 20, "the grading process")
    os.kill(grading_pid(service), signal.SIGKILL)
    wait_for(lambda: service.proc.poll() is not None, 30, "the service to stop")
    assert service.proc.returncode != 0
    assert "grading process exited" in service.logs()


@pytest.mark.parametrize("content_type", ["application/gzip", "multipart/form-data; boundary=x"])
def test_a_chunked_upload_over_the_limit_is_refused_not_cut_short(service, content_type):
    release_ps0(service.url)

    def body():  # no Content-Length: Transfer-Encoding: chunked, 30 MiB > 20 MiB
        for _ in range(30):
            yield b"\0" * (1024 * 1024)

    reply = requests.post(f"{service.url}/api/courses/ml101/assignments/ps0/submissions",
                          data=body(), timeout=120, headers={
                              "Authorization": "token alice-token", "Content-Type": content_type})
    assert reply.status_code == 413, reply.text
    rows = requests.get(f"{service.url}/api/courses/ml101/submissions", timeout=30,
                        headers={"Authorization": "token prof-token"}).json()
    assert rows == []
