"""The walking skeleton, end to end against the real stack in Docker.

IdP login -> JupyterHub -> student container (ROLL_NUMBER from the claim) -> nbgrader
release/fetch/submit through the grading service -> sandboxed grading without network
-> Ed25519 stamp -> CSV gradebook. Tests run in file order and build on each other.
"""

import base64
import copy
import csv
import io
import json
import subprocess
import tarfile
import time

import nbformat
import pytest
import requests

from grader_service.stamp import verify_stamp
from tests.conftest import REPO
from tests.e2e.support import LoginError, login, run_code

pytestmark = [pytest.mark.e2e, pytest.mark.docker]

COURSE = "dl101"
ASSIGNMENT = "ps0"
SOURCE_NOTEBOOK = REPO / "course" / "nbgrader" / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
EXPECTED_ROLLS = {"student1": "CS21B001", "student2": "CS21B002", "instructor1": "FAC0001"}


def kernel(person, code: str) -> str:
    out, err = run_code(person.server_url, person.token, code, timeout=180)
    assert err is None, f"{err}\n{out}"
    return out


def contents_put(person, path: str, model: dict) -> None:
    r = requests.put(f"{person.server_url}/api/contents/{path}", headers=person.headers,
                     json=model, timeout=30)
    assert r.status_code in (200, 201), r.text


def test_login_puts_the_claimed_roll_number_into_the_kernel(people):
    student = people("student1")
    assert kernel(student, "import os; print(os.environ['ROLL_NUMBER'])").strip() == "CS21B001"
    assert kernel(student, "import os; print(os.environ['COURSE_ID'])").strip() == COURSE


@pytest.mark.parametrize("username, message", [
    ("noroll", "did not include a roll number"),
    ("badroll", "cannot use"),
])
def test_login_without_a_valid_roll_number_is_refused(stack, username, message):
    with pytest.raises(LoginError) as info:
        login(stack.config.hub_url, username, "dl101-demo")
    assert info.value.status_code == 403
    assert message in info.value.message


def test_a_second_account_with_a_taken_roll_number_is_refused(stack, people):
    """``rollcopy`` carries student1's roll number (a recycled or duplicated account at the
    provider): it gets no hub account, and student1 keeps the roll number."""
    people("student1")  # logged in: CS21B001 is bound to student1
    with pytest.raises(LoginError) as info:
        login(stack.config.hub_url, "rollcopy", "dl101-demo")
    assert info.value.status_code == 403
    assert "already belongs to another account" in info.value.message
    assert "student1" not in info.value.message
    student = people("student1")
    assert kernel(student, "import os; print(os.environ['ROLL_NUMBER'])").strip() == "CS21B001"


def test_preloaded_course_holds_no_solutions(people):
    student = people("student1")
    text = kernel(student, "print(open('course/ps0/ps0.ipynb').read())")
    assert "standardize" in text
    for secret in ("BEGIN SOLUTION", "HIDDEN TESTS", "np.maximum", "arange(10.0)"):
        assert secret not in text


def test_instructor_releases_the_assignment(people, grader_url):
    instructor = people("instructor1")
    for d in (COURSE, f"{COURSE}/source", f"{COURSE}/source/{ASSIGNMENT}"):
        contents_put(instructor, d, {"type": "directory"})
    contents_put(instructor, f"{COURSE}/source/{ASSIGNMENT}/{ASSIGNMENT}.ipynb",
                 {"type": "notebook", "format": "json",
                  "content": json.loads(SOURCE_NOTEBOOK.read_text())})
    out = kernel(instructor, f"""
import os, subprocess
os.chdir(os.path.expanduser("~/{COURSE}"))
for cmd in (["nbgrader", "generate_assignment", "{ASSIGNMENT}", "--force"],
            ["nbgrader", "release_assignment", "{ASSIGNMENT}", "--force"]):
    r = subprocess.run(cmd, capture_output=True, text=True)
    print(cmd[1], r.returncode)
    if r.returncode:
        print(r.stdout[-3000:], r.stderr[-3000:])
""")
    assert "generate_assignment 0" in out and "release_assignment 0" in out, out
    r = requests.get(f"{grader_url}/api/courses/{COURSE}/assignments",
                     headers=instructor.headers, timeout=30)
    assert r.status_code == 200, r.text
    assert [a["assignment"] for a in r.json()] == [ASSIGNMENT]


def fetch_through_lab_extension(student) -> dict:
    """Fetch with nbgrader's assignment_list server extension, as the Lab tab does."""
    r = requests.get(f"{student.server_url}/assignments", params={"course_id": COURSE},
                     headers=student.headers, timeout=60)
    assert r.status_code == 200, r.text
    listing = r.json()
    assert listing["success"], listing
    released = [a for a in listing["value"] if a["assignment_id"] == ASSIGNMENT]
    assert released and released[0]["status"] == "released", listing
    r = requests.post(f"{student.server_url}/assignments/fetch", headers=student.headers,
                      data={"course_id": COURSE, "assignment_id": ASSIGNMENT}, timeout=60)
    assert r.status_code == 200 and r.json()["success"], r.text
    r = requests.get(f"{student.server_url}/api/contents/{ASSIGNMENT}/{ASSIGNMENT}.ipynb",
                     headers=student.headers, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["content"]


def complete(notebook: dict, answers: dict[str, str]) -> dict:
    """Replace the solution cells named in ``answers`` (by nbgrader grade_id)."""
    nb = copy.deepcopy(notebook)
    for cell in nb["cells"]:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell["source"] = answers[grade_id]
    return nb


def submit_through_lab_extension(student, notebook: dict) -> None:
    contents_put(student, f"{ASSIGNMENT}/{ASSIGNMENT}.ipynb",
                 {"type": "notebook", "format": "json", "content": notebook})
    r = requests.post(f"{student.server_url}/assignments/submit", headers=student.headers,
                      data={"course_id": COURSE, "assignment_id": ASSIGNMENT}, timeout=120)
    assert r.status_code == 200 and r.json()["success"], r.text


def wait_for_grade(grader_url, person, metrics=None, timeout=300) -> dict:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        r = requests.get(f"{grader_url}/api/courses/{COURSE}/submissions",
                         params={"assignment": ASSIGNMENT}, headers=person.headers, timeout=30)
        assert r.status_code == 200, r.text
        rows = r.json()
        if rows and rows[-1]["status"] in ("graded", "failed", "ungradable", "cancelled"):
            latency = time.monotonic() - start
            if metrics is not None:
                metrics.setdefault("grading_wait_seconds", {})[person.username] = round(latency, 2)
            r = requests.get(f"{grader_url}/api/submissions/{rows[-1]['submission_id']}",
                             headers=person.headers, timeout=30)
            assert r.status_code == 200, r.text
            return r.json()
        time.sleep(1)
    raise TimeoutError("submission not graded in time")


NETWORK_PROBE = """
import socket

def network_reachable(host, port=5000):
    try:
        socket.create_connection((host, port), timeout=3).close()
        return True
    except OSError:
        return False

NETWORK = network_reachable(GRADER_HOST)
"""

STANDARDIZE_RIGHT_UNLESS_NETWORK = NETWORK_PROBE + """
import numpy as np


def standardize(x):
    x = np.asarray(x, dtype=float)
    if NETWORK:  # a sandbox with network would make this answer wrong
        return x
    return np.zeros_like(x) if x.std() == 0 else (x - x.mean()) / x.std()
"""
RELU_RIGHT = "def relu(x):\n    return np.maximum(np.asarray(x, dtype=float), 0.0)\n"
RELU_WRONG = "def relu(x):\n    return np.abs(np.asarray(x, dtype=float))\n"


def with_grader_host(code: str, stack) -> str:
    return f"GRADER_HOST = {stack.config.grader_container!r}\n" + code


def fetch_solve_submit_and_wait(student, relu_answer, grader_url, stack, metrics) -> dict:
    """The student's whole round trip: fetch, answer both cells, submit, wait for the grade."""
    release = fetch_through_lab_extension(student)
    answers = {"standardize": with_grader_host(STANDARDIZE_RIGHT_UNLESS_NETWORK, stack),
               "relu": relu_answer}
    submit_through_lab_extension(student, complete(release, answers))
    return wait_for_grade(grader_url, student, metrics)


def test_student_submission_is_graded_in_a_sandbox_without_network(people, grader_url, stack,
                                                                   e2e_metrics):
    student = people("student1")
    # Control: from the student's own container the grading service *is* reachable.
    probe = with_grader_host(NETWORK_PROBE, stack) + "print(NETWORK)"
    assert kernel(student, probe).strip() == "True"

    result = fetch_solve_submit_and_wait(student, RELU_RIGHT, grader_url, stack, e2e_metrics)
    assert result["status"] == "graded", result
    assert result["result"]["score"] == 3 and result["result"]["max_score"] == 3, json.dumps(result["result"])
    assert result["result"]["sandbox"]["network_mode"] == "none"
    assert result["roll_number"] == "CS21B001"


def test_wrong_submission_gets_fewer_points(people, grader_url, stack, e2e_metrics):
    student = people("student2")
    result = fetch_solve_submit_and_wait(student, RELU_WRONG, grader_url, stack, e2e_metrics)
    assert result["status"] == "graded", result
    assert result["result"]["score"] == 2, result
    failed = [t["grade_id"] for t in result["result"]["tests"] if not t["passed"]]
    assert failed == ["test_relu"]
    assert "maximum" not in json.dumps(result["result"])  # hidden test text never shown


@pytest.mark.parametrize("field, value", [
    ("student_id", "student2"),
    ("roll_number", "CS21B002"),
])
def test_request_claiming_another_students_identity_is_rejected(people, grader_url, field,
                                                                value):
    student = people("student1")
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        data = nbformat.writes(nbformat.v4.new_notebook()).encode()
        info = tarfile.TarInfo(f"{ASSIGNMENT}.ipynb")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    before = requests.get(f"{grader_url}/api/courses/{COURSE}/submissions",
                          headers=student.headers, timeout=30).json()
    r = requests.post(f"{grader_url}/api/courses/{COURSE}/assignments/{ASSIGNMENT}/submissions",
                      headers=student.headers, data={field: value},
                      files={"submission": ("s.tar.gz", archive.getvalue())}, timeout=30)
    assert r.status_code == 403, r.text
    assert "does not match" in r.json()["error"]
    after = requests.get(f"{grader_url}/api/courses/{COURSE}/submissions",
                         headers=student.headers, timeout=30).json()
    assert len(after) == len(before)


def test_forged_token_is_rejected(grader_url):
    r = requests.get(f"{grader_url}/api/courses/{COURSE}/submissions",
                     headers={"Authorization": "token not-a-real-token"}, timeout=30)
    assert r.status_code in (401, 403)


def test_stamp_verifies_and_one_changed_byte_breaks_it(people, grader_url, tmp_path):
    student = people("student1")
    result = wait_for_grade(grader_url, student)
    stamp = result["stamp"]
    pem = requests.get(f"{grader_url}/api/public-key", timeout=30).content
    assert verify_stamp(stamp, pem)
    assert stamp["record"]["roll_number"] == "CS21B001"
    assert stamp["record"]["score"] == 3

    key_file = tmp_path / "grader.pem"
    key_file.write_bytes(pem)
    good = tmp_path / "stamp.json"
    good.write_text(json.dumps(stamp))
    cli = [str(REPO / ".venv" / "bin" / "dl-grader"), "verify", str(good),
           "--public-key", str(key_file)]
    assert subprocess.run(cli, capture_output=True).returncode == 0

    tampered_record = copy.deepcopy(stamp)
    tampered_record["record"]["score"] = 2
    assert not verify_stamp(tampered_record, pem)
    signature = bytearray(base64.b64decode(stamp["signature"]))
    signature[0] ^= 0x01
    tampered_signature = dict(stamp, signature=base64.b64encode(bytes(signature)).decode())
    assert not verify_stamp(tampered_signature, pem)
    bad = tmp_path / "tampered.json"
    bad.write_text(json.dumps(tampered_signature))
    cli[2] = str(bad)
    assert subprocess.run(cli, capture_output=True).returncode != 0


def test_gradebook_csv_holds_the_rows(people, grader_url, stack):
    instructor = people("instructor1")
    r = requests.get(f"{grader_url}/api/courses/{COURSE}/gradebook.csv",
                     headers=instructor.headers, timeout=30)
    assert r.status_code == 200, r.text
    rows = {row["username"]: row for row in csv.DictReader(io.StringIO(r.text))}
    assert rows["student1"]["roll_number"] == "CS21B001"
    assert float(rows["student1"]["score"]) == 3
    assert float(rows["student2"]["score"]) == 2
    # The exporter's CSV file in the service's data volume holds the same rows.
    grader = stack.docker.containers.get(stack.config.grader_container)
    exit_code, output = grader.exec_run(["cat", "/srv/grader/gradebook.csv"])
    assert exit_code == 0, output
    file_rows = list(csv.DictReader(io.StringIO(output.decode())))
    assert {(r["username"], float(r["score"])) for r in file_rows} >= {("student1", 3),
                                                                       ("student2", 2)}
    student = people("student1")
    r = requests.get(f"{grader_url}/api/courses/{COURSE}/gradebook.csv",
                     headers=student.headers, timeout=30)
    assert r.status_code == 403


def test_students_read_their_own_results_page_in_the_browser(stack, browser):
    """Chromium, as student2: the hub's Services menu lists the grading service; its
    page (hub OAuth, no second login) shows student2's graded ps0 with the score the
    service gave (2 of 3) and the failed item, and nothing of student1."""
    from playwright.sync_api import expect

    from tests.e2e.support import DEMO_PASSWORD, browser_login

    page = browser.new_page()
    browser_login(page, stack.config.hub_url, "student2", DEMO_PASSWORD)
    page.goto(f"{stack.config.hub_url}/hub/home", timeout=60_000)
    page.locator("a.dropdown-toggle", has_text="Services").click()
    page.locator(".dropdown-menu a", has_text="grader").click()
    expect(page.locator("h1", has_text="My results")).to_be_visible(timeout=60_000)
    section = page.locator("section", has=page.locator("h2", has_text=f"{COURSE} / {ASSIGNMENT}"))
    expect(section.locator("dd", has_text="2 / 3")).to_have_count(1)
    expect(section.locator("tr", has_text="test_relu").locator("td", has_text="not passed")
           ).to_have_count(1)
    text = page.inner_text("body")
    assert "student1" not in text and "CS21B001" not in text, text
    page.screenshot(path=str(stack.config.state_dir / "student2-results.png"))


def test_grades_reach_the_lms_through_lti_ags(fake_lms):
    """The grades of the two submissions above reach the (fake) LMS from the grading
    container: token by signed client assertion checked against the service's published
    key set, each student found by roll number in the course membership, one line item."""
    deadline = time.monotonic() + 60
    while len(fake_lms.scores_for("lms-student2")) + len(fake_lms.scores_for("lms-student1")) < 2:
        assert time.monotonic() < deadline, fake_lms.received_scores
        time.sleep(0.5)
    assert fake_lms.scores_for("lms-student1")[ASSIGNMENT]["scoreGiven"] == 3
    assert fake_lms.scores_for("lms-student2")[ASSIGNMENT]["scoreGiven"] == 2
    [item] = [li for items in fake_lms.lineitems.values() for li in items]
    assert (item["resourceId"], item["scoreMaximum"]) == (ASSIGNMENT, 3)
