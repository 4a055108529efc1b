"""In a real browser, JupyterLab shows nbgrader's tools per course role.

A student (group ``nbgrader-dl101``) gets the Nbgrader menu with "Assignment List" only,
the same in the command palette, no "Create Assignment" side panel, and the "Validate"
button on notebooks; its server has no /formgrader. An instructor (``formgrade-dl101``)
gets Formgrader, Course List and Create Assignment too, and the formgrader's pages open.
The labels are read from what is visible on the page (hidden menu items do not count),
and each check first finds something that must be there, so an empty or unloaded page
cannot pass.
See ``images/singleuser/jupyter_server_config.py`` for how the role selects the UI.
"""

import pytest
from playwright.sync_api import expect

from tests.e2e.support import DEMO_PASSWORD, browser_login

pytestmark = [pytest.mark.e2e, pytest.mark.docker]

INSTRUCTOR_TOOLS = ("formgrader", "course list", "create assignment")


def open_lab(browser, stack, username):
    page = browser.new_page()
    browser_login(page, stack.config.hub_url, username, DEMO_PASSWORD)
    page.wait_for_selector("text=course", timeout=120_000)  # the file browser has loaded
    return page


def nbgrader_menu(page) -> list[str]:
    """Labels of the visible items of the main menu bar's Nbgrader menu."""
    page.locator(".lm-MenuBar-item", has_text="Nbgrader").click()
    items = page.locator(".lm-Menu .lm-Menu-item:visible .lm-Menu-itemLabel")
    expect(items.filter(has_text="Assignment List")).to_have_count(1)
    labels = items.all_inner_texts()
    page.keyboard.press("Escape")
    return labels


def command_palette(page, query: str) -> list[str]:
    """Labels the command palette lists for ``query``."""
    page.keyboard.press("Control+Shift+C")
    page.fill(".lm-CommandPalette-input", query)
    items = page.locator(".lm-CommandPalette-item:visible .lm-CommandPalette-itemLabel")
    expect(items.filter(has_text="Assignment List")).to_have_count(1)
    labels = items.all_inner_texts()
    page.keyboard.press("Escape")
    return labels


def right_sidebar(page) -> list[str]:
    """Titles of the right side bar's tabs (icon-only tabs are named by their title)."""
    tabs = page.locator(".jp-SideBar.jp-mod-right .lm-TabBar-tab")
    expect(tabs.and_(page.locator("[title='Property Inspector']"))).to_have_count(1)
    return [t.get_attribute("title") or "" for t in tabs.all()]


def nbgrader_surfaces(page) -> tuple[list[str], list[str], list[str]]:
    """What the Nbgrader menu, the command palette and the right sidebar offer."""
    return nbgrader_menu(page), command_palette(page, "nbgrader"), right_sidebar(page)


def shown(labels, tool: str) -> bool:
    return any(tool in label.lower() for label in labels)


def test_student_sees_assignments_and_validate_but_no_instructor_tools(stack, browser):
    page = open_lab(browser, stack, "student2")

    menu, palette, sidebar = nbgrader_surfaces(page)
    for tool in INSTRUCTOR_TOOLS:
        assert not shown(menu, tool), menu
        assert not shown(palette, tool), palette
        assert not shown(sidebar, tool), sidebar
    page.screenshot(path=str(stack.config.state_dir / "student2-nbgrader-ui.png"))

    # The student tools work: the assignment list opens, notebooks have "Validate".
    page.locator(".lm-MenuBar-item", has_text="Nbgrader").click()
    page.locator(".lm-Menu .lm-Menu-item:visible", has_text="Assignment List").click()
    expect(page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="Assignments")
           ).to_be_visible(timeout=30_000)
    page.goto(f"{stack.config.hub_url}/user/student2/lab/tree/course/ps0/ps0.ipynb",
              timeout=60_000)
    expect(page.locator(".jp-NotebookPanel-toolbar", has_text="Validate")
           ).to_be_visible(timeout=120_000)
    response = page.goto(f"{stack.config.hub_url}/user/student2/formgrader", timeout=60_000)
    assert response.status == 404, response.status


def test_instructor_sees_formgrader_and_the_other_instructor_tools(stack, browser):
    page = open_lab(browser, stack, "instructor1")

    menu, palette, sidebar = nbgrader_surfaces(page)
    for tool in INSTRUCTOR_TOOLS:
        assert shown(menu, tool), menu
    assert shown(palette, "formgrader") and shown(palette, "course list"), palette
    assert shown(sidebar, "create assignment"), sidebar

    page.locator(".lm-MenuBar-item", has_text="Nbgrader").click()
    page.locator(".lm-Menu .lm-Menu-item:visible", has_text="Formgrader").click()
    expect(page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="Formgrader")
           ).to_be_visible(timeout=30_000)
    # The panel frames /formgrader, which JupyterHub >= 4.1 forbids on purpose
    # (frame-ancestors 'none', nbgrader#1947): instructors open it in its own tab.
    formgrader = browser.new_page()
    formgrader.goto(f"{stack.config.hub_url}/user/instructor1/formgrader", timeout=60_000)
    expect(formgrader.locator("text=Manage Assignments").first).to_be_visible(timeout=60_000)
    formgrader.screenshot(path=str(stack.config.state_dir / "instructor1-formgrader.png"))
