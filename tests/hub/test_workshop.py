"""A workshop on a real hub: the spawn line and pre-warming.

The ``lti_hub`` starts one server at a time (``HUB_SPAWN_SLOTS=1``) with local
processes; ``slow_spawns`` in its state directory holds a named user's spawn (and so
the line) for some seconds. Students log in through real LTI launches, so each has the
roll number their server needs.
"""

import datetime
import itertools
import subprocess
import sys
import threading
import time

import pytest
from playwright.sync_api import expect

from course_hub import prewarm
from course_hub.spawn_queue import SpawnLine, waiting_message
from tests.fake_lms.launch import LEARNER, Launch
from tests.hub.conftest import COURSE_CONTEXT
from tests.hub.test_lti_login import hub_name, launch, new_user, wait_for_server

#: roll numbers of this module's students (test_lti_login's are its own)
_ROLLS = (f"CS23W{n:03d}" for n in itertools.count(1))


def workshop_student():
    return new_user(sourcedid=next(_ROLLS))


def logged_in_students(lms, lti_hub, n):
    names = []
    for _ in range(n):
        student = workshop_student()
        assert launch(lms, Launch(student, COURSE_CONTEXT, [LEARNER])).status_code == 302
        names.append(hub_name(lms, student))
    return names


def stop_servers(lti_hub, names):
    for name in names:
        lti_hub.api("DELETE", f"/users/{name}/server")
    deadline = time.monotonic() + 60
    while any(lti_hub.user(n)["servers"] for n in names) and time.monotonic() < deadline:
        time.sleep(0.5)


@pytest.fixture
def slow_spawns(lti_hub):
    path = lti_hub.state / "slow_spawns"

    def hold(name, seconds):
        path.write_text(f"{name} {seconds}\n")

    yield hold
    path.unlink(missing_ok=True)


def test_the_line_serves_in_arrival_order_and_tells_each_their_place():
    import asyncio

    async def scenario():
        line, order = SpawnLine(2), []

        async def spawn(name, seconds):
            await line.enter(name)
            order.append(name)
            await asyncio.sleep(seconds)
            line.leave(name)

        tasks = [asyncio.ensure_future(spawn(n, 0.05)) for n in "abcde"]
        await asyncio.sleep(0.01)
        places = {n: line.position(n) for n in "abcde"}
        await asyncio.gather(*tasks)
        return order, places, line

    order, places, line = asyncio.run(scenario())
    assert order == list("abcde")
    assert places == {"a": 0, "b": 0, "c": 1, "d": 2, "e": 3}  # a and b hold the slots
    assert not line.holders and not line.waiting
    assert "You are next" in waiting_message(1) and "number 3 in line" in waiting_message(3)
    with pytest.raises(ValueError):
        SpawnLine(0)


def test_a_student_beyond_the_spawn_slots_sees_their_place_then_gets_a_server(
        lms, lti_hub, browser, slow_spawns):
    first = logged_in_students(lms, lti_hub, 1)[0]
    second = workshop_student()
    slow_spawns(first, 10)  # the only slot is busy for 10 s
    names = [first, hub_name(lms, second)]
    try:
        assert lti_hub.api("POST", f"/users/{first}/server").status_code == 202
        page = browser.new_page()
        page.goto(lms.launch_url(Launch(second, COURSE_CONTEXT, [LEARNER])), timeout=60_000)
        page.wait_for_url("**/hub/home", timeout=60_000)
        page.goto(f"{lti_hub.url}/hub/spawn", wait_until="commit")
        page.wait_for_url("**/hub/spawn-pending/**", timeout=30_000)
        expect(page.locator("#progress-message")).to_contain_text("You are next",
                                                                  timeout=20_000)
        assert not lti_hub.user(names[1])["servers"][""]["ready"]
        wait_for_server(lti_hub, names[1])  # once the first one's start is done
        started = [lti_hub.user(n)["servers"][""]["started"] for n in names]
        assert started[0] <= started[1], started  # first come, first served
    finally:
        stop_servers(lti_hub, names)


def run_prewarm(lti_hub, monkeypatch, group, start_at, rate, touch_every):
    """``python -m course_hub.prewarm`` in this process -> (exit code, request times)."""
    requested = []
    original = prewarm.HubAPI.start

    def start(api, name):
        requested.append(time.monotonic())
        return original(api, name)

    monkeypatch.setattr(prewarm.HubAPI, "start", start)
    monkeypatch.setenv("HUB_OPS_API_TOKEN", lti_hub.headers["Authorization"].split()[1])
    code = prewarm.main(["--group", group, "--start-at", start_at.isoformat(),
                         "--rate", str(rate), "--touch-every", str(touch_every),
                         "--api-url", f"{lti_hub.url}/hub/api"])
    return code, requested


def idle_culler(lti_hub, timeout):
    """The real jupyterhub-idle-culler against the hub, culling every second."""
    env = {"JUPYTERHUB_API_TOKEN": lti_hub.headers["Authorization"].split()[1],
           "PATH": "/usr/bin:/bin"}
    return subprocess.Popen(
        [sys.executable, "-m", "jupyterhub_idle_culler", f"--url={lti_hub.url}/hub/api",
         f"--timeout={timeout}", "--cull-every=1"], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_prewarm_starts_a_group_at_its_rate_and_keeps_it_from_the_culler_until_the_start(
        lms, lti_hub, monkeypatch, capsys):
    names = logged_in_students(lms, lti_hub, 3)
    never_logged_in = "prewarm-no-roll"  # an account made by hand: no roll number
    group = "workshop-prewarm"
    assert lti_hub.api("POST", f"/users/{never_logged_in}").status_code in (201, 409)
    assert lti_hub.api("POST", f"/groups/{group}",
                       json={"users": [*names, never_logged_in]}).status_code == 201
    start_at = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=30)
    culler = None
    try:
        outcome = {}
        runner = threading.Thread(target=lambda: outcome.update(result=run_prewarm(
            lti_hub, monkeypatch, group, start_at, rate=0.5, touch_every=1)))
        runner.start()
        for name in names:
            wait_for_server(lti_hub, name)
        # idle for longer than the culler's 4 s before the start: touched, so kept
        culler = idle_culler(lti_hub, timeout=4)
        while datetime.datetime.now(datetime.UTC) < start_at - datetime.timedelta(seconds=1):
            assert all(lti_hub.user(n)["servers"].get("", {}).get("ready") for n in names)
            time.sleep(1)
        runner.join(timeout=60)
        code, requested = outcome["result"]
        gaps = [b - a for a, b in zip(requested, requested[1:], strict=False)]
        assert len(requested) == 4 and min(gaps) >= 2.0 - 0.05, gaps  # 0.5 requests/s
        assert code == 3  # one member could not be pre-warmed, and says so
        out = capsys.readouterr().out
        assert f"{never_logged_in} failed to start" in out or \
            f"{never_logged_in} not started" in out, out
        assert "3 running, 0 starting, 1 failed, 0 to request" in out, out
        # from the start time on the culler's own timeout applies: unclaimed, culled
        deadline = time.monotonic() + 30
        while any(lti_hub.user(n)["servers"] for n in names):
            assert time.monotonic() < deadline, "pre-warmed servers outlived the culler"
            time.sleep(1)
    finally:
        if culler is not None:
            culler.terminate()
            culler.wait(timeout=10)
        stop_servers(lti_hub, names)
        lti_hub.api("DELETE", f"/groups/{group}")
        lti_hub.api("DELETE", f"/users/{never_logged_in}")


def test_prewarm_refuses_a_start_time_in_the_past():
    with pytest.raises(SystemExit, match="not in the future"):
        prewarm.parse_start("2020-01-01T09:00")


class RecordingHub:
    """The hub calls pre-warming makes, answered from a script: ``ready_after`` watches
    of a started server report it ready; every touch is recorded with its server state."""

    def __init__(self, ready_after):
        self.ready_after, self.watched, self.touches = ready_after, {}, []

    def server(self, name):
        if name not in self.watched:
            return None  # not yet requested
        self.watched[name] += 1
        return {"ready": self.watched[name] > self.ready_after}

    def start(self, name):
        self.watched[name] = 0
        return 202, ""

    def touch(self, name, when):
        ready = self.watched[name] > self.ready_after
        self.touches.append((name, "ready" if ready else "starting"))
        return True


def test_prewarm_touches_a_server_while_it_starts_so_no_culler_takes_it_before_it_is_seen():
    hub = RecordingHub(ready_after=3)
    start_at = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=0.6)
    said = []
    run = prewarm.Prewarm(hub, "g", ["a"], start_at, rate=1, touch_every=0.1, say=said.append)
    run.run()
    assert ("a", "starting") in hub.touches, hub.touches
    first_ready = hub.touches.index(("a", "ready"))
    assert all(state == "starting" for _, state in hub.touches[:first_ready])
    assert run.progress.states == {"a": "running"}
    assert said[-1].endswith("1 pre-warmed server(s) handed to the idle culler's normal "
                             "timeout"), said
