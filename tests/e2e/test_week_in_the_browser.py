"""A course week of module 03 in Chromium, on the real stack, through the UI.

The instructor generates and releases the assignment from the formgrader (its source
notebooks were provisioned from the grading service when the instructor's server
started); two students fetch and submit from JupyterLab's Assignments tab and read
their results on the grading service's page; the instructor collects (the service's
results land in the formgrader, no student code runs in the instructor's server),
grades student1's manual items, generates and releases feedback; the students fetch
their feedback. The feedback, the service's signed record, the gradebook CSV and the
(fake) LMS then agree on every score: student1 final, student2 still waiting for its
manual items (PendingManual).

The students' answers are written through the contents API (typing code into cells
is not what is under test); every other step is a click. Runs after the walking
skeleton (file order), which leaves ps0 released and graded.
"""

import copy
import csv
import io
import json
import re
import time

import pytest
import requests
from playwright.sync_api import expect

from tests.conftest import REPO
from tests.e2e.support import DEMO_PASSWORD, browser_login

pytestmark = [pytest.mark.e2e, pytest.mark.docker]

COURSE = "dl101"
ASSIGNMENT = "m03_mlp_scratch_2"
NOTEBOOKS = ("mlp_scratch_part2", "roll_compare")
SOURCE = REPO / "course" / "nbgrader" / "source" / ASSIGNMENT
ROLLS = {"student1": "CS21B001", "student2": "CS21B002"}
#: student1's manual items, graded in the formgrader: {notebook: {grade_id: points}}
MANUAL = {"mlp_scratch_part2": {"presentation": 2}, "roll_compare": {"discussion": 1}}
UI_TIMEOUT = 120_000


@pytest.fixture
def people_browsers():
    """``open(username)``: a new page in that user's own Chromium context (separate
    cookies, as separate machines in the room would have)."""
    from playwright.sync_api import sync_playwright

    from tests.e2e.support import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                     headless=True)
        contexts = {}

        def open_page(username):
            if username not in contexts:
                contexts[username] = chromium.new_context()
            return contexts[username].new_page()

        yield open_page
        chromium.close()


def lab(open_page, hub_url, username):
    """A logged-in page on ``username``'s JupyterLab (its file browser loaded)."""
    page = open_page(username)
    browser_login(page, hub_url, username, DEMO_PASSWORD)
    page.wait_for_selector("text=course", timeout=UI_TIMEOUT)
    return page


def formgrader_action(page, column: str, done: str) -> str:
    """Click the formgrader's button in ``column`` of the assignment's row (Manage
    Assignments), wait for its Success dialog, close it; the dialog's text."""
    row = page.locator("tr", has=page.locator("td.name", has_text=ASSIGNMENT))
    row.locator(f"td.{column} a").click()
    dialog = page.locator("#success-modal, #error-modal")
    expect(dialog).to_be_visible(timeout=300_000)
    text = dialog.inner_text()
    assert dialog.get_attribute("id") == "success-modal", text
    assert done in text, text
    dialog.locator(".modal-footer button").click()
    expect(dialog).to_have_count(0)
    return text


def assignments_tab(page) -> None:
    """Open Nbgrader > Assignment List."""
    page.locator(".lm-MenuBar-item", has_text="Nbgrader").click()
    page.locator(".lm-Menu .lm-Menu-item:visible", has_text="Assignment List").click()
    expect(page.locator("#released_assignments_list")).to_be_visible(timeout=UI_TIMEOUT)


def click_in_list(page, section: str, button: str):
    """Click ``button`` on the assignment's row of a section of the Assignments tab
    (``released``, ``fetched`` or ``submitted``)."""
    row = page.locator(f"#{section}_assignments_list .list_item", has_text=ASSIGNMENT).first
    expect(row).to_be_visible(timeout=UI_TIMEOUT)
    row.locator("button", has_text=button).click()


def api(person, method, path, **kwargs):
    r = requests.request(method, f"{person.server_url}/api/contents/{path}",
                         headers=person.headers, timeout=60, **kwargs)
    assert r.status_code in (200, 201), f"{method} {path}: {r.status_code} {r.text[:300]}"
    return r.json()


def solved(fetched: dict, notebook: str) -> dict:
    """The fetched notebook with every answer cell filled from the instructor's source
    (the reference answers), as a student who solved it would save it."""
    source = json.loads((SOURCE / f"{notebook}.ipynb").read_text())
    answers = {c["metadata"]["nbgrader"]["grade_id"]: c["source"] for c in source["cells"]
               if c.get("metadata", {}).get("nbgrader", {}).get("solution")}
    nb = copy.deepcopy(fetched)
    for cell in nb["cells"]:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell["source"] = answers[grade_id]
    return nb


def results_section(page, grader_page_url):
    """The results page's section of this assignment, once the service has graded it."""
    deadline = time.monotonic() + 300
    while True:
        page.goto(grader_page_url, timeout=60_000)
        section = page.locator("section", has=page.locator(
            "h2", has_text=f"{COURSE} / {ASSIGNMENT}")).first
        expect(section).to_be_visible(timeout=60_000)
        status = section.locator("dd.status").inner_text()
        if status not in ("queued", "running"):
            assert status == "graded", section.inner_text()
            return section
        assert time.monotonic() < deadline, "not graded after 300 s"
        time.sleep(2)


def service_scores(grader_url, person) -> dict:
    """``{username: score}`` of each student's latest submission in the service."""
    r = requests.get(f"{grader_url}/api/courses/{COURSE}/submissions",
                     params={"assignment": ASSIGNMENT}, headers=person.headers, timeout=30)
    assert r.status_code == 200, r.text
    latest = {}
    for row in sorted(r.json(), key=lambda row: row["timestamp"]):
        latest[row["username"]] = (row["result"] or {}).get("score")
    return latest


def feedback_scores(person) -> dict:
    """``{notebook: (score, max)}`` of the feedback ``person`` fetched (latest folder)."""
    listing = api(person, "GET", f"{ASSIGNMENT}/feedback")["content"]
    latest = max(d["name"] for d in listing if d["type"] == "directory")
    scores = {}
    for notebook in NOTEBOOKS:
        r = requests.get(f"{person.server_url}/files/{ASSIGNMENT}/feedback/{latest}/"
                         f"{notebook}.html", headers=person.headers, timeout=30)
        assert r.status_code == 200, r.text[:300]
        match = re.search(r"\(Score: ([\d.]+) / ([\d.]+)\)", r.text)
        scores[notebook] = (float(match.group(1)), float(match.group(2)), r.text)
    return scores


def test_a_week_of_module_03_through_the_browser(stack, people_browsers, people, grader_url,
                                                  fake_lms):
    hub_url = stack.config.hub_url
    instructor = people("instructor1")
    students = {name: people(name) for name in ROLLS}

    # Monday: the source was provisioned from the service; generate and release it.
    source = api(instructor, "GET", f"{COURSE}/source/{ASSIGNMENT}")["content"]
    assert {f"{n}.ipynb" for n in NOTEBOOKS} <= {c["name"] for c in source}, source
    formgrader = lab(people_browsers, hub_url, "instructor1")
    formgrader.goto(f"{hub_url}/user/instructor1/formgrader/manage_assignments",
                    timeout=60_000)
    formgrader_action(formgrader, "assign", "Successfully created the student version")
    formgrader_action(formgrader, "release", "Successfully released")

    # Tuesday: each student fetches, works, submits, and reads the service's result.
    pages = {}
    for name, person in students.items():
        page = pages[name] = lab(people_browsers, hub_url, name)
        assignments_tab(page)
        click_in_list(page, "released", "Fetch")
        expect(page.locator("#fetched_assignments_list .list_item", has_text=ASSIGNMENT)
               .first).to_be_visible(timeout=UI_TIMEOUT)
        for notebook in NOTEBOOKS:
            path = f"{ASSIGNMENT}/{notebook}.ipynb"
            fetched = api(person, "GET", path)["content"]
            if name == "student1" or notebook == "mlp_scratch_part2":
                fetched = solved(fetched, notebook)  # student2 leaves roll_compare undone
            api(person, "PUT", path, json={"type": "notebook", "format": "json",
                                          "content": fetched})
        click_in_list(page, "fetched", "Submit")
        expect(page.locator("#submitted_assignments_list .list_item", has_text=ASSIGNMENT)
               .first).to_be_visible(timeout=UI_TIMEOUT)
    automatic = {}
    for name, page in pages.items():
        # Lab's Course menu opens the grading service's page in a new tab (hub OAuth)
        with page.context.expect_page() as opened:
            page.locator(".lm-MenuBar-item", has_text="Course").click()
            page.locator(".lm-Menu .lm-Menu-item:visible",
                         has_text="My Results and Feedback").click()
        results = opened.value
        expect(results.locator("h1", has_text="My results")).to_be_visible(timeout=60_000)
        assert results.url.startswith(f"{hub_url}/services/grader/"), results.url
        section = results_section(results, results.url)
        score = section.locator("dd", has_text=" / ").first.inner_text()
        automatic[name] = float(score.split(" / ")[0])
        text = results.inner_text("body")
        other = next(n for n in ROLLS if n != name)
        assert ROLLS[other] not in text and other not in text, text
    assert service_scores(grader_url, instructor) == automatic
    assert automatic["student1"] > automatic["student2"]

    # Friday: collect, grade student1's manual items, generate and release feedback.
    formgrader.goto(f"{hub_url}/user/instructor1/formgrader/manage_assignments",
                    timeout=60_000)
    log = formgrader_action(formgrader, "collect", "Successfully collected")
    assert "student1" in log and "student2" in log, log
    for notebook, items in MANUAL.items():
        formgrader.goto(f"{hub_url}/user/instructor1/formgrader/manage_students/student1/"
                        f"{ASSIGNMENT}", timeout=60_000)
        formgrader.locator("a", has_text=notebook).first.click()
        # the boxes are bound to their grades only once the page has fetched them; a
        # value typed earlier is overwritten by that fetch
        formgrader.wait_for_function("() => window.formgrader && formgrader.grades"
                                     " && formgrader.grades.loaded", timeout=UI_TIMEOUT)
        for grade_id, points in items.items():
            box = formgrader.locator(f"input.score#{grade_id}")
            expect(box).to_be_visible(timeout=UI_TIMEOUT)
            with formgrader.expect_response(lambda r: "/formgrader/api/grade/" in r.url
                                            and r.request.method == "PUT") as saved:
                box.fill(str(points))
                box.press("Tab")  # the score is saved on change (an XHR)
            assert saved.value.ok, saved.value.status
            expect(box).to_have_value(str(points))
    formgrader.goto(f"{hub_url}/user/instructor1/formgrader/manage_assignments",
                    timeout=60_000)
    formgrader_action(formgrader, "generate-feedback", "Successfully generated feedback")
    log = formgrader_action(formgrader, "release-feedback", "Successfully released feedback")
    assert "student1: final grade" in log and "student2: still pending" in log, log

    # The students fetch their feedback; every score agrees everywhere.
    manual_points = sum(p for items in MANUAL.values() for p in items.values())
    for name, page in pages.items():
        page.reload()
        assignments_tab(page)
        click_in_list(page, "submitted", "Fetch Feedback")
        expect(page.locator("#submitted_assignments_list", has_text="view feedback")
               ).to_be_visible(timeout=UI_TIMEOUT)
        fed_back = feedback_scores(students[name])
        total = sum(score for score, _max, _html in fed_back.values())
        for _score, _max, html in fed_back.values():
            assert f"of roll number <code>{ROLLS[name]}</code>" in html
        expected = automatic[name] + (manual_points if name == "student1" else 0)
        assert total == expected, fed_back
        assert service_scores(grader_url, instructor)[name] == expected
        lms = wait_for_lms(fake_lms, name, expected)
        assert lms["gradingProgress"] == ("FullyGraded" if name == "student1"
                                          else "PendingManual")
    r = requests.get(f"{grader_url}/api/courses/{COURSE}/gradebook.csv",
                     headers=instructor.headers, timeout=30)
    latest = {}
    for row in csv.DictReader(io.StringIO(r.text)):
        if row["assignment"] == ASSIGNMENT:
            latest[row["username"]] = float(row["score"])
    assert latest == service_scores(grader_url, instructor)


def wait_for_lms(fake_lms, name, score, timeout=60):
    """The LMS's score of ``name`` for the assignment, once it equals ``score``."""
    deadline = time.monotonic() + timeout
    while True:
        got = fake_lms.scores_for(f"lms-{name}").get(ASSIGNMENT)
        if got is not None and got["scoreGiven"] == score:
            return got
        assert time.monotonic() < deadline, (got, score)
        time.sleep(0.5)


def test_make_demo_releases_a_first_assignment_students_see(stack, people, grader_url):
    """``make demo`` ends with module 01 released (scripts.demo_release, as instructor1
    through the hub and the service's release API): a student who logs in then finds it
    in the Assignments tab instead of "No courses found"."""
    from scripts.demo_release import release

    record = release(stack.config.hub_url, stack.secrets["ops_api_token"], "m01_foundations",
                     COURSE)
    assert (record["assignment"], record["notebooks"]) == ("m01_foundations",
                                                           ["quickstart.ipynb"])
    student = people("student3")
    r = requests.get(f"{student.server_url}/assignments", params={"course_id": COURSE},
                     headers=student.headers, timeout=60)
    assert r.status_code == 200 and r.json()["success"], r.text
    listed = {a["assignment_id"]: a["status"] for a in r.json()["value"]}
    assert listed.get("m01_foundations") == "released", listed
    r = requests.post(f"{student.server_url}/assignments/fetch", headers=student.headers,
                      data={"course_id": COURSE, "assignment_id": "m01_foundations"},
                      timeout=60)
    assert r.status_code == 200 and r.json()["success"], r.text
    folder = api(student, "GET", "m01_foundations")["content"]
    assert {f["name"] for f in folder} == {"quickstart.ipynb", "readings.md"}, folder
    instructor = people("instructor1")
    assert requests.delete(f"{grader_url}/api/courses/{COURSE}/assignments/m01_foundations",
                           headers=instructor.headers, timeout=30).status_code == 204
