"""The Docker runner's janitor removes sandbox containers no live job owns (real engine).

The engine is shared (other test runs, benchmarks): each test's runner and containers
carry a role label of their own, so the janitor here never touches anyone else's.
"""

import contextlib
import datetime
import threading
import time
import uuid

import docker
import pytest

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
    import os
    import signal
    import subprocess
    import sys

    bundle = tmp_path / "bundle.tar"
    bundle.write_bytes(make_bundle("import time\ntime.sleep(40)", {"t": (1, "pass")},
                                   name="crash"))
    worker = subprocess.Popen([sys.executable, "-c", CRASHING_WORKER, sandbox_image, role,
                               str(bundle)])
    client = docker.from_env()

    def sandboxes():
        return client.containers.list(all=True, filters={"label": f"{ROLE_LABEL}={role}"})

    deadline = time.monotonic() + 30
    while not sandboxes() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert sandboxes(), "the grading process did not start a sandbox"
    os.kill(worker.pid, signal.SIGKILL)  # the grading process dies mid-job
    worker.wait()
    assert len(sandboxes()) == 1  # left behind

    restarted = make_runner()  # the grading process starts again: its first sweep
    assert restarted.sweep() == 1
    assert sandboxes() == []
