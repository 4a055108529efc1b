"""A real browser (Debian's Chromium via Playwright) logs in and reaches JupyterLab.

The scripted-HTTP tests prove the protocol; this one proves the pages: the hub's
login button, the IdP's form and consent page, the redirect back and the Lab UI
with the preloaded course, as a student would see them.
"""

import pytest

from tests.e2e.support import DEMO_PASSWORD, browser_login

pytestmark = [pytest.mark.e2e, pytest.mark.docker]


def test_student_logs_in_with_a_browser_and_sees_the_course(stack, browser):
    page = browser.new_page()
    browser_login(page, stack.config.hub_url, "student3", DEMO_PASSWORD)
    page.wait_for_selector("text=course", timeout=120_000)
    page.screenshot(path=str(stack.config.state_dir / "student3-lab.png"))


def test_browser_login_without_roll_number_shows_the_reason(stack, browser):
    page = browser.new_page()
    page.goto(f"{stack.config.hub_url}/hub/oauth_login", timeout=60_000)
    page.fill("input[name=username]", "noroll")
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_load_state()
    if "/hub/" not in page.url:
        page.click("button[type=submit], input[type=submit]")
    page.wait_for_selector("text=did not include a roll number", timeout=60_000)
    # the message once, under a short heading, with whom to ask (course_hub.pages)
    assert page.locator("h1").inner_text() == "You cannot use this course hub yet"
    assert page.locator("text=did not include a roll number").count() == 1
    assert "Course staff: the course staff of dl101" in page.inner_text("body")
