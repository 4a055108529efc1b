"""DockerRunner against the real sandbox image (no mocks).

Proves: result through the service, no network, memory limit, wall-clock timeout,
two identities (the student's code as uid 1000 without capabilities, the checker as
uid 1001, PID 1), read-only root, container removal. Fails instead of skipping when
CI=true. Test cells run in the checker: what they check about the student's process,
the solution cell measures there and the test reads as data.
"""

import contextlib
import ipaddress
import socket
import threading
import time

import docker
import pytest
from grader_testing import CALLERS, StaticIdentityProvider, auth, fill_pool

from grader_service.db import Status
from grader_service.outcomes import Outcome
from grader_service.runners import SandboxLimits
from grader_service.runners.docker import OWNER_LABEL, ROLE, ROLE_LABEL, DockerRunner, process_owner
from grader_service.runners.seccomp import profile_digest
from grader_service.sandbox_protocol import SANDBOX_CAPABILITIES
from grader_service.stamp import verify_stamp
from grader_service.worker import get_workers
from tests.grader_service.prepared import prepared_app
from tests.leak_fingerprints import SCANNER, reference_fingerprints

MiB = 1024 * 1024


def runner(image, **limits):
    limits = {"timeout": 120, "cell_timeout": 60, **limits}
    return DockerRunner(SandboxLimits(**limits), image=image)


def sandbox_containers():
    """This test process's sandbox containers (a stack's grading service may keep its
    own started ones on the same engine)."""
    return docker.from_env().containers.list(
        all=True, filters={"label": [f"{ROLE_LABEL}={ROLE}", f"{OWNER_LABEL}={process_owner()}"]})


def by_id(result):
    return {t["grade_id"]: t for t in result["tests"]}


def test_sample_notebook_through_the_service(sandbox_image, tmp_path, actions_factory):
    app = prepared_app({"DATA_DIR": str(tmp_path / "data"), "RUNNER": "docker",
                        "SANDBOX_IMAGE": sandbox_image, "SANDBOX_TIMEOUT": 120.0,
                        "IDENTITY_PROVIDER": StaticIdentityProvider(CALLERS)})
    client = app.test_client()
    actions = actions_factory(client)
    assert actions.release().status_code == 201
    sid = actions.submit(variant="student_wrong").json["submission_id"]

    started = time.monotonic()
    graded = get_workers(app).run_once()
    elapsed = time.monotonic() - started
    print(f"sandbox start -> result: {elapsed:.2f} s")  # shown with pytest -s

    assert graded.status == Status.GRADED, graded.result
    body = client.get(f"/api/submissions/{sid}", headers=auth("alice-token")).json
    record = body["stamp"]["record"]
    assert (record["score"], record["max_score"]) == (1.0, 3.0)
    sandbox = record["sandbox"]
    assert sandbox["network_mode"] == "none"
    assert sandbox["memory_bytes"] == sandbox["memory_swap_bytes"] == 2048 * MiB
    assert sandbox["nano_cpus"] == 10**9 and sandbox["pids_limit"] == 512
    assert sandbox["cpu_shares"] == 512  # below the service's default weight of 1024
    assert sandbox["read_only_root"] is True and sandbox["user"] == "0:0"
    assert sandbox["identities"] == {"checker_uid": 1001, "student_uid": 1000}
    assert sandbox["cap_drop"] == ["ALL"]
    assert sorted(sandbox["cap_add"]) == sorted(SANDBOX_CAPABILITIES)
    assert sandbox["security_opt"] == ["no-new-privileges", f"seccomp={profile_digest()}"]
    assert verify_stamp(body["stamp"], client.get("/api/public-key").data)
    assert sandbox_containers() == []


@pytest.fixture
def host_listener():
    """A TCP listener on this machine's docker0 address, reachable from the host itself."""
    ipam = docker.from_env().networks.get("bridge").attrs["IPAM"]["Config"][0]
    gateway = ipam.get("Gateway") or str(ipaddress.ip_network(ipam["Subnet"])[1])
    server = socket.socket()
    server.bind((gateway, 0))  # fails unless the address belongs to this machine
    server.listen(1)
    with contextlib.closing(socket.create_connection(server.getsockname(), timeout=3)):
        pass  # positive control: the listener is up
    yield server.getsockname()
    server.close()


def test_no_network(sandbox_image, make_bundle, host_listener):
    host, port = host_listener
    solution = (
        "import os, socket\n"
        "interfaces = sorted(os.listdir('/sys/class/net'))\n"
        "try:\n"
        f"    socket.create_connection(({host!r}, {port}), timeout=5).close()\n"
        "    connect_error = None\n"
        "except OSError as err:\n"
        "    connect_error = repr(err)\n"
    )
    run = runner(sandbox_image).run(make_bundle(solution, {
        "unreachable": (1, "assert connect_error is not None\n"
                           "assert 'unreachable' in connect_error.lower()"),
        "loopback_only": (1, "assert interfaces == ['lo'], interfaces"),
    }, name="net"))
    assert run.outcome is Outcome.SUCCESS, run.message
    tests = by_id(run.result)
    assert tests["unreachable"]["passed"], tests["unreachable"]["message"]
    assert tests["loopback_only"]["passed"]
    assert run.sandbox["network_mode"] == "none"


def test_memory_limit_is_enforced(sandbox_image, make_bundle):
    solution = ("small = b'x' * (32 * 2**20)\nsmall_size = len(small)\n"
                "def grow():\n    big = b'x' * (1024 * 2**20)\n    return len(big)\n")
    tests = {
        "small": (1, "assert small_size == 32 * 2**20"),
        "big": (1, "assert grow() > 0"),
        "after": (1, "assert small_size > 0  # a fresh process replayed the cells"),
    }
    run = runner(sandbox_image, memory="256m").run(make_bundle(solution, tests, name="mem"))
    assert run.sandbox["memory_bytes"] == run.sandbox["memory_swap_bytes"] == 256 * MiB
    assert run.outcome is Outcome.SUCCESS, run.message  # the checker survived: it decided
    result = by_id(run.result)
    assert result["small"]["passed"] and result["after"]["passed"]
    assert not result["big"]["passed"] and "memory" in result["big"]["message"]
    assert sandbox_containers() == []


def test_wall_clock_timeout_kills(sandbox_image, make_bundle):
    started = time.monotonic()
    run = runner(sandbox_image, timeout=10).run(
        make_bundle("import time\ntime.sleep(300)", {"t": (1, "pass")}, name="slow"))
    assert run.outcome is Outcome.TIMEOUT
    assert time.monotonic() - started < 40
    assert sandbox_containers() == []


def test_cancel_stops_the_container_early(sandbox_image, make_bundle):
    cancelled = threading.Event()
    threading.Timer(5, cancelled.set).start()
    started = time.monotonic()
    run = runner(sandbox_image, timeout=120).run(
        make_bundle("import time\ntime.sleep(300)", {"t": (1, "pass")}, name="cancelled"),
        cancelled=cancelled)
    assert run.outcome is not Outcome.SUCCESS
    assert time.monotonic() - started < 30  # not the 120 s timeout, not the 300 s sleep
    assert sandbox_containers() == []


def test_two_identities_on_a_read_only_root(sandbox_image, make_bundle):
    solution = (
        "import os\n"
        "ids = [os.getuid(), os.geteuid(), os.getgid(), os.getegid(), os.getgroups()]\n"
        "caps = {k: v.strip() for k, v in (l.split(':', 1) for l in open('/proc/self/status'))\n"
        "        if k.startswith('Cap')}\n"
        "try:\n    open('/opt/venv/x', 'w')\n    ro_errno = 0\n"
        "except OSError as err:\n    ro_errno = err.errno\n"
        "open('/tmp/ok', 'w').write('ok')\ntmp_ok = open('/tmp/ok').read()\n"
        "def closed(path):\n"
        "    try:\n        open(path).read()\n        return False\n"
        "    except OSError:\n        return True\n"
        "pid1_closed = [closed(p) for p in ('/proc/1/environ', '/proc/1/fd/1', '/proc/1/mem')]\n"
        "try:\n    os.listdir('/home/grader')\n    grader_home_closed = False\n"
        "except PermissionError:\n    grader_home_closed = True\n"
        "import torch\ntorch_sum = float(torch.ones(3).sum())\n"
    )
    tests = {
        # the one supplementary group: the frameworks' (not blocked without a rubric)
        "student_uid": (1, "assert ids == [1000, 1000, 1000, 1000, [1002]], ids"),
        "frameworks_readable": (1, "assert torch_sum == 3.0"),
        "no_capabilities": (1, "assert all(int(v, 16) == 0 for k, v in caps.items() "
                               "if k != 'CapBnd'), caps"),
        "ro_root": (1, "assert ro_errno == 30, ro_errno  # EROFS"),
        "tmp_writable": (1, "assert tmp_ok == 'ok'"),
        "checker_closed": (1, "assert pid1_closed == [True, True, True], pid1_closed\n"
                              "assert grader_home_closed"),
        "checker_is_pid1": (1, "import os\nassert os.getpid() == 1 and os.getuid() == 1001"),
    }
    run = runner(sandbox_image).run(make_bundle(solution, tests, name="who"))
    assert run.outcome is Outcome.SUCCESS, run.message
    assert all(t["passed"] for t in run.result["tests"]), run.result["tests"]


def secret_lines(notebook):
    """Lines only the instructor has: solution code and hidden tests (stripped, >= 12 chars)."""
    lines = set()
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        inside = bool(meta.get("solution"))
        for line in cell.source.splitlines():
            marker = line.strip()
            if marker in ("### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS"):
                inside = True
            elif marker in ("### END SOLUTION", "### END HIDDEN TESTS"):
                inside = bool(meta.get("solution")) and marker == "### END HIDDEN TESTS"
            elif inside and len(marker) >= 12:
                lines.add(marker)
    return lines


LEAK_SCAN = SCANNER + '''
import sys
found, scanned = [], 0
tops = ["/home", "/tmp", "/srv", "/var", "/etc", "/root", "/run", "/mnt", "/opt/grading"]
for entry in sys.path:  # the student build of dlcourse and the grading host
    if os.path.isdir(entry):
        tops += [os.path.join(entry, name) for name in os.listdir(entry)
                 if name.startswith(("dlcourse", "grader_service"))]
for top in tops:
    scanned += scan_tree(top, SECRETS, found)
for pid1 in ("/proc/1/environ", "/proc/1/cwd", "/proc/1/root/home/grader",
             "/opt/checker", "/opt/checker/reference/dlcourse"):
    try:
        os.listdir(pid1) if not pid1.endswith("environ") else open(pid1).read()
        found.append(pid1)
    except OSError:
        pass
'''


def test_student_view_holds_no_solution_or_hidden_test(sandbox_image, tmp_path):
    """The student's process, scanning every file it can read, finds no line of the
    instructor's solutions or hidden tests (the source travels as a grading copy and
    stays in the checker's 0700 home) and no line of the course's reference
    implementations (the checker's 0700 /opt/checker), except the two it was handed as
    controls."""
    import hashlib
    import json
    from pathlib import Path

    import nbformat

    from grader_service.grading_copy import grading_copy
    from grader_service.sandbox_protocol import JOB_INFO
    from grader_service.tarsafe import merge_archives, pack_directory

    folder = Path(__file__).resolve().parents[2] / "course/nbgrader/source/m02_mlp_scratch_1"
    source = nbformat.read(str(folder / "mlp_scratch_part1.ipynb"), as_version=4)
    secrets = secret_lines(source)
    assert len(secrets) > 10  # positive control: there is something to find
    reference = reference_fingerprints()
    assert len(reference) > 200
    digests = sorted({hashlib.sha256(s.encode()).hexdigest() for s in secrets | reference})
    student = nbformat.from_dict(json.loads(json.dumps(source)))
    for cell in student.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            cell.source = "pass"
        elif meta.get("grade"):
            cell.source = "# tests run when graded"
    student.cells.append(nbformat.v4.new_code_cell(f"SECRETS = set({digests!r})\n" + LEAK_SCAN))
    source.cells.append(nbformat.v4.new_code_cell(
        "assert scanned > 20, scanned\n"
        "assert sorted(p.rsplit('/', 2)[-2:] for p in found) == "
        "[['decoy', 'known.txt'], ['decoy', 'reference.txt']], found",
        metadata={"nbgrader": {"grade": True, "solution": False, "grade_id": "leak_scan",
                               "points": 1, "schema_version": 3}}))
    for part, nb in (("source", source), ("submission", student)):
        (tmp_path / part).mkdir()
        nbformat.write(nb, str(tmp_path / part / "leak.ipynb"))
    # positive control: the one secret line the student was given must be found
    (tmp_path / "submission" / "decoy").mkdir()
    (tmp_path / "submission" / "decoy" / "known.txt").write_text(min(secrets) + "\n")
    (tmp_path / "submission" / "decoy" / "reference.txt").write_text(min(reference) + "\n")
    bundle = merge_archives({"source": pack_directory(str(tmp_path / "source")),
                             "submission": pack_directory(str(tmp_path / "submission"))},
                            10**8, files={JOB_INFO: json.dumps({"assignment": "leak"}).encode()},
                            rewrite={"source": grading_copy})
    run = runner(sandbox_image).run(bundle)
    assert run.outcome is Outcome.SUCCESS, run.message
    scan = by_id(run.result)["leak_scan"]
    assert scan["passed"], scan["message"]


def warm_runner(image, size, **limits):
    """A runner whose pool holds ``size`` started sandboxes (waited for)."""
    return fill_pool(runner(image, **limits), size)


def test_a_warm_sandbox_grades_like_a_fresh_one_and_serves_one_job(sandbox_image, make_bundle):
    """A started sandbox waits with its imports done; a job streams its input in, gets
    the same verdict and limits as in a fresh one, and the container is then removed
    (never reused), while the pool starts its replacement."""
    bundle = make_bundle("import os\nanswer = 6 * 7\nstarted = os.getpid()",
                         {"right": (2, "assert answer == 42"), "wrong": (1, "assert answer == 41")},
                         name="warm")
    cold = runner(sandbox_image).run(bundle)
    pooled = warm_runner(sandbox_image, 2)
    try:
        waiting = {c.id for c in sandbox_containers()}
        assert len(waiting) == 2
        warm = pooled.run(bundle)
        assert warm.outcome is cold.outcome is Outcome.SUCCESS, (warm.message, cold.message)
        assert by_id(warm.result) == by_id(cold.result)
        assert warm.sandbox["warm"] is True and cold.sandbox["warm"] is False
        assert {k: v for k, v in warm.sandbox.items() if k != "warm"} == \
            {k: v for k, v in cold.sandbox.items() if k != "warm"}
        deadline = time.monotonic() + 60
        while pooled.pool.ready() < 2:
            assert time.monotonic() < deadline, "no replacement was started"
            time.sleep(0.1)
        now = {c.id for c in sandbox_containers()}
        assert len(now) == 2 and len(now - waiting) == 1  # one used and removed, one new
    finally:
        pooled.close()
    assert sandbox_containers() == []


def test_a_waiting_sandbox_that_died_is_not_used(sandbox_image, make_bundle):
    """A pooled container killed (or removed) behind the runner's back is discarded and
    the job runs in another sandbox."""
    pooled = warm_runner(sandbox_image, 1)
    try:
        (waiting,) = sandbox_containers()
        waiting.kill()
        run = pooled.run(make_bundle("x = 1", {"t": (1, "assert x == 1")}, name="after"))
        assert run.outcome is Outcome.SUCCESS and run.result["score"] == 1, run.message
        assert run.sandbox["warm"] is False  # the dead one was discarded: a fresh one ran
        with pytest.raises(docker.errors.NotFound):
            waiting.reload()
    finally:
        pooled.close()
    assert sandbox_containers() == []
