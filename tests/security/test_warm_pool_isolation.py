"""The grading service's pool of started sandboxes: a job can neither see nor leave
anything for the next one (real Docker, the sandbox image).

Sandboxes wait in the pool before their job arrives, so the next job's container is
already running while the one before it grades a hostile notebook. A planting notebook
leaves files wherever the student's uid can write and a daemon that detaches from its
session; a looking notebook answers ``add`` right only if it finds none of them. In
one sandbox (two notebooks of one input) the looker must find the plants: the check
can fail. From one pooled sandbox to the next it must find nothing.
"""

import time

from security_kit import (
    ADDLAB_ADD_POINTS,
    ADDLAB_HONEST,
    ADDLAB_MAX,
    ATTACK_LIMITS,
    LabelledRunner,
    addlab_input,
    addlab_notebook,
    containers_labelled,
)

from grader_service.outcomes import Outcome

MARK = "dlsec-warm-plant"
PLACES = '("/tmp", "/var/tmp", "/dev/shm", os.path.expanduser("~"), os.getcwd())'
PLANT = f'''
import os
import sys

for _folder in {PLACES}:
    try:
        with open(os.path.join(_folder, "{MARK}"), "w") as _fh:
            _fh.write("left by the job before")
    except OSError:
        pass
if os.fork() == 0:  # a daemon in a session of its own, meant to outlive the job
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c",
                                  "import time; time.sleep(600)  # {MARK}"])
    os._exit(0)
''' + ADDLAB_HONEST
LOOK = f'''
import os


def _left_behind():
    found = [f for f in {PLACES} if os.path.exists(os.path.join(f, "{MARK}"))]
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{{pid}}/cmdline", "rb") as fh:
                if b"{MARK}" in fh.read():
                    found.append(pid)
        except OSError:
            continue
    return found


def add(a, b):
    return a + b if not _left_behind() else a - b


def my_seed():
    return CONFIG["seed"]
'''


def add_points(run, notebook):
    return sum(t["points"] for t in run.result["tests"]
               if t["notebook"] == notebook and t["grade_id"].startswith("test_add"))


def test_the_looker_finds_plants_in_its_own_sandbox(sandbox_image):
    """The control: planted first in the same container, the plants are found."""
    run = LabelledRunner(ATTACK_LIMITS, sandbox_image, "warm-control").run(addlab_input({
        "a_plant.ipynb": addlab_notebook(PLANT), "b_look.ipynb": addlab_notebook(LOOK)}))
    assert run.outcome is Outcome.SUCCESS, run.message
    assert add_points(run, "a_plant.ipynb") == ADDLAB_ADD_POINTS
    assert add_points(run, "b_look.ipynb") == 0, run.result["tests"]


def test_a_job_leaves_nothing_for_the_next_sandbox_of_the_pool(sandbox_image):
    runner = LabelledRunner(ATTACK_LIMITS, sandbox_image, "warm-pool")
    runner.pool.size = 2
    runner.warm_up()
    try:
        deadline = time.monotonic() + 120
        while runner.pool.ready() < 2:
            assert time.monotonic() < deadline, "the pool did not fill"
            time.sleep(0.1)
        planted = runner.run(addlab_input(addlab_notebook(PLANT)))
        looked = runner.run(addlab_input(addlab_notebook(LOOK)))
    finally:
        runner.close()
    assert planted.outcome is looked.outcome is Outcome.SUCCESS, (planted.message,
                                                                  looked.message)
    assert planted.sandbox["warm"] and looked.sandbox["warm"]
    assert looked.result["score"] == ADDLAB_MAX, looked.result["tests"]  # found nothing
    assert (runner.pool.taken, runner.pool.missed) == (2, 0)
    assert containers_labelled("warm-pool") == []
