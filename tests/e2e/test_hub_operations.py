"""What ops staff rely on in the running hub: idle servers are stopped by the culler,
and a workshop's servers can be pre-warmed."""

import datetime
import re
import subprocess
import time

import pytest
from playwright.sync_api import expect

from tests.e2e.support import DEMO_PASSWORD, browser_login

pytestmark = [pytest.mark.e2e, pytest.mark.docker]


def test_the_idle_culler_runs_as_a_managed_service(hub):
    reply = hub.request("GET", "/services/idle-culler")
    assert reply.status_code == 200, reply.text
    model = reply.json()
    assert model["kind"] == "service" and model["pid"] > 0  # started and supervised by the hub
    assert "jupyterhub_idle_culler" in " ".join(model["command"])
    assert "--timeout=3600" in model["command"]


def test_a_prewarmed_student_logs_in_to_a_running_server_and_runs_a_cell(
        stack, hub, people, browser):
    """Ops pre-warm a workshop group in the hub container (``course_hub.prewarm``); the
    student then logs in through the university login to the server that was already
    running, and runs a cell in JupyterLab."""
    name, group = "student3", "workshop-e2e"
    people(name)  # has logged in once: the hub knows the roll number
    hub.stop_server(name)
    assert hub.request("POST", f"/groups/{group}", json={"users": [name]}).status_code == 201
    start_at = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=60)
    prewarm = subprocess.Popen(
        ["docker", "exec", stack.config.hub_container, "python", "-m", "course_hub.prewarm",
         "--group", group, "--start-at", start_at.isoformat(), "--rate", "1",
         "--touch-every", "5"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (server := hub.request("GET", f"/users/{name}").json()["servers"]
                   .get("", {})).get("ready"):
            assert time.monotonic() < deadline and prewarm.poll() is None, prewarm.poll()
            time.sleep(1)
        page = browser.new_page()
        browser_login(page, stack.config.hub_url, name, DEMO_PASSWORD)
        page.locator(".jp-LauncherCard[data-category='Notebook']").first.click(
            timeout=60_000)
        run_first_cell(page, "6 * 7", "42")
        now = hub.request("GET", f"/users/{name}").json()["servers"][""]
        assert now["started"] == server["started"]  # the pre-warmed server, not a new one
        out, _ = prewarm.communicate(timeout=120)
        assert prewarm.returncode == 0, out
        assert "1 running, 0 starting, 0 failed, 0 to request" in out, out
        assert "the workshop starts; 1 pre-warmed server(s)" in out, out
    finally:
        if prewarm.poll() is None:
            prewarm.kill()
        hub.request("DELETE", f"/groups/{group}")


def run_first_cell(page, code, expected, attempts=3):
    """Run ``code`` in the new notebook's first cell until its output shows
    ``expected``. The kernel must be idle first: keys that reach a notebook whose kernel
    is still connecting leave the cell unrun (CI saw it once). Ctrl+Enter runs the cell in
    place, so a second attempt runs the same cell again."""
    expect(page.get_by_role("button", name=re.compile(r"\| Idle$"))).to_be_visible(
        timeout=60_000)
    output = page.locator(".jp-OutputArea-output", has_text=expected).first
    for _ in range(attempts):
        type_in_first_cell(page, code)
        page.keyboard.press("Control+Enter")
        try:
            expect(output).to_be_visible(timeout=20_000)
            return
        except AssertionError:
            continue
    expect(output).to_be_visible(timeout=20_000)


def type_in_first_cell(page, code, attempts=3):
    """Type ``code`` into the new notebook's first cell. A fresh Lab may still be moving
    the focus while the notebook opens, so keys can go nowhere: type again (replacing
    what is there) until the cell holds the code."""
    cell = page.locator(".jp-Notebook .jp-Cell .cm-content").first
    for _ in range(attempts):
        cell.click(timeout=60_000)
        page.keyboard.press("Control+A")
        page.keyboard.type(code)
        try:
            expect(cell).to_have_text(code, timeout=5_000)
            return
        except AssertionError:
            continue
    expect(cell).to_have_text(code)
