"""The Docker runner's janitor removes sandbox containers no live job owns (real engine).

The engine is shared (other test runs, benchmarks): each test's runner and containers
carry a role label of their own, so the janitor here never touches anyone else's.
"""

import contextlib
import datetime
import os
import pathlib
import socket
import threading
import time
import uuid

import docker
import pytest
from grader_testing import fill_pool

from grader_service.runners import SandboxLimits
from grader_service.runners.docker import OWNER_LABEL, ROLE_LABEL, DockerRunner


@pytest.fixture
def role():
    return f"grading-sandbox-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def make_runner(sandbox_image, role):
    def build(**limits):
        runner = DockerRunner(SandboxLimits(**{"timeout": 60, "cell_timeout": 10, **limits}),
                              image=sandbox_image)
        runner.role = role
        return runner
    return build


@pytest.fixture
def leftover(sandbox_image, role):
    """Factory: a labelled container as a dead grading process leaves it (running)."""
    client = docker.from_env()
    made = []

    def create(owner):
        container = client.containers.create(
            sandbox_image, entrypoint=["sleep", "600"], network_mode="none",
            labels={ROLE_LABEL: role, OWNER_LABEL: owner})
        container.start()
        made.append(container)
        return container

    yield create
    for container in made:
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True)


def exists(container):
    try:
        container.reload()
        return True
    except docker.errors.NotFound:
        return False


def test_own_leftover_is_removed_at_once_another_owners_after_the_timeout(make_runner,
                                                                        leftover):
    runner = make_runner()
    mine = leftover(runner.owner)  # e.g. a job thread that died without its cleanup
    other = leftover("a-dead-grading-process")
    assert runner.sweep() == 1
    assert not exists(mine)
    assert exists(other)  # it may be a live replica's job: wait for timeout + margin
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(
        seconds=runner.limits.timeout + runner.sweep_margin + 1)
    assert runner.sweep(now=later) == 1
    assert not exists(other)


def test_a_killed_grading_process_counts_as_gone_before_it_is_reaped():
    """A grading process killed with its parent is reparented to an init that may never
    reap it: a zombie with its pid and start time intact must count as ended, or the
    janitor would keep its sandboxes until the timeout."""
    import signal
    import subprocess

    from grader_service.runners.docker import _process_alive, _start_ticks

    child = subprocess.Popen(["sleep", "60"])
    try:
        owner = f"{socket.gethostname()}:{child.pid}:{_start_ticks(child.pid)}"
        assert _process_alive(owner)
        assert not _process_alive(f"{socket.gethostname()}:{child.pid}:1")  # a reused pid
        os.kill(child.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        stat = pathlib.Path(f"/proc/{child.pid}/stat")
        while stat.read_text().rpartition(")")[2].split()[0] != "Z":
            assert time.monotonic() < deadline, "the child did not become a zombie"
            time.sleep(0.05)
        assert os.path.exists(f"/proc/{child.pid}")  # not reaped: the pid is still taken
        assert not _process_alive(owner)
    finally:
        child.kill()
        child.wait()
    assert not _process_alive(owner)


def test_a_running_jobs_container_is_kept(make_runner, make_bundle):
    runner = make_runner()
    bundle = make_bundle("import time\ntime.sleep(8)", {"t": (1, "pass")}, name="slow")
    done = threading.Event()
    threading.Thread(target=lambda: (runner.run(bundle), done.set()), daemon=True).start()
    deadline = time.monotonic() + 30
    while not runner._live and time.monotonic() < deadline:
        time.sleep(0.1)
    assert runner._live, "the job did not start"
    (live_id,) = runner._live
    assert runner.sweep() == 0
    assert exists(docker.from_env().containers.get(live_id))
    assert done.wait(60)


def grading_process(script, make_bundle, tmp_path, sandbox_image, role):
    """A grading process (``script``) grading a 40-second job in the role's sandboxes."""
    import subprocess
    import sys

    bundle = tmp_path / "bundle.tar"
    bundle.write_bytes(make_bundle("import time\ntime.sleep(40)", {"t": (1, "pass")},
                                   name="crash"))
    return subprocess.Popen([sys.executable, "-c", script, sandbox_image, role, str(bundle)])


def role_sandboxes(role):
    return docker.from_env().containers.list(all=True,
                                             filters={"label": f"{ROLE_LABEL}={role}"})


CRASHING_WORKER = """
import sys, time
from grader_service.runners import SandboxLimits
from grader_service.runners.docker import DockerRunner
runner = DockerRunner(SandboxLimits(timeout=60, cell_timeout=30), image=sys.argv[1])
runner.role = sys.argv[2]
runner.run(open(sys.argv[3], "rb").read())
"""


def test_kill_9_mid_job_then_restart_leaves_no_sandbox(make_runner, make_bundle, role, tmp_path,
                                                      sandbox_image):
    worker = grading_process(CRASHING_WORKER, make_bundle, tmp_path, sandbox_image, role)

    def sandboxes():
        return role_sandboxes(role)

    deadline = time.monotonic() + 30
    while not sandboxes() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert sandboxes(), "the grading process did not start a sandbox"
    worker.kill()  # the grading process dies mid-job
    worker.wait()
    assert len(sandboxes()) == 1  # left behind

    restarted = make_runner()  # the grading process starts again: its first sweep
    assert restarted.sweep() == 1
    assert sandboxes() == []


def test_waiting_sandboxes_are_kept_by_the_janitor_and_removed_by_close(make_runner):
    runner = make_runner()
    fill_pool(runner, 2)
    waiting = [docker.from_env().containers.get(i) for i in runner._live]
    assert len(waiting) == 2
    assert runner.sweep() == 0  # started for a job to come: not leftovers
    assert all(exists(c) for c in waiting)
    runner.close()
    assert not any(exists(c) for c in waiting)


WARM_WORKER = """
import sys, time
from grader_service.runners import SandboxLimits
from grader_service.runners.docker import DockerRunner
runner = DockerRunner(SandboxLimits(timeout=60, cell_timeout=30), image=sys.argv[1], warm=2)
runner.role = sys.argv[2]
runner.warm_up()
while runner.pool.ready() < 2:
    time.sleep(0.1)
runner.run(open(sys.argv[3], "rb").read())
"""


def test_kill_9_with_warm_sandboxes_then_restart_leaves_none(make_runner, make_bundle, role,
                                                            tmp_path, sandbox_image):
    """The grading process dies (kill -9) with started sandboxes waiting and one job
    running; when it starts again, its first sweep removes all of them, and its own
    new pool is all that is left."""
    worker = grading_process(WARM_WORKER, make_bundle, tmp_path, sandbox_image, role)

    def sandboxes():
        return role_sandboxes(role)

    deadline = time.monotonic() + 90
    while len(sandboxes()) < 3 and time.monotonic() < deadline:  # 1 in the job, 2 waiting
        time.sleep(0.2)
    left = {c.id for c in sandboxes()}
    assert len(left) == 3, "the grading process did not start its pool and its job"
    worker.kill()
    worker.wait()
    assert {c.id for c in sandboxes()} == left  # nobody cleaned up

    restarted = make_runner()
    assert restarted.sweep() == 3  # the start of the grading process: leftovers first
    fill_pool(restarted, 2)
    now = sandboxes()
    assert len(now) == 2 and not {c.id for c in now} & left
    assert {c.labels[OWNER_LABEL] for c in now} == {restarted.owner}
    restarted.close()
    assert sandboxes() == []


def test_the_real_service_killed_with_warm_sandboxes_leaves_none_after_restart(tmp_path,
                                                                              sandbox_image):
    """``dl-grader serve`` with the docker runner keeps two sandboxes started; kill -9 of
    the whole service leaves them; the restarted service's first sweep removes them and
    starts its own; a clean stop (SIGTERM) removes those."""
    import signal

    from service_process import FakeHub, ServiceProcess, wait_for

    client = docker.from_env()
    before = {c.id for c in client.containers.list(all=True)}

    def service_sandboxes():
        # ignore_removed: a sandbox the janitor removes between the list and its inspect
        return {c.id: c.labels[OWNER_LABEL] for c in client.containers.list(
            all=True, filters={"label": f"{ROLE_LABEL}=grading-sandbox"}, ignore_removed=True)
            if c.id not in before and c.labels[OWNER_LABEL].startswith(socket.gethostname())}

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    env = {"GRADER_RUNNER": "docker", "GRADER_SANDBOX_IMAGE": sandbox_image,
           "GRADER_SANDBOX_WARM": "2"}
    with FakeHub() as hub:
        first = ServiceProcess(str(data_dir), hub.api_url, workers=1, **env).start(timeout=60)
        try:
            wait_for(lambda: len(service_sandboxes()) == 2, 60, "the first pool")
            left = service_sandboxes()
        finally:
            first.kill()  # kill -9 of the HTTP processes and the grading process
        assert service_sandboxes() == left  # nobody cleaned up
        second = ServiceProcess(str(data_dir), hub.api_url, workers=1, **env).start(timeout=60)
        try:
            wait_for(lambda: len(service_sandboxes()) == 2
                     and not set(service_sandboxes()) & set(left), 60, "the sweep and a new pool")
            assert not set(service_sandboxes().values()) & set(left.values())
        finally:
            second.proc.send_signal(signal.SIGTERM)  # a clean stop
            second.proc.wait(60)
            second.log.close()
        wait_for(lambda: service_sandboxes() == {}, 30, "the pool removed at a clean stop")
