"""LTI 1.3 launches from the (fake) LMS into a real JupyterHub process.

The launches are driven with ``requests`` (every auto-submitting form parsed and
posted, as a browser would) and once in Debian's Chromium. They show: roll number and
course group from the launch, refusals with the student-facing reason and no user
created, forged or replayed id_tokens refused, and ``ROLL_NUMBER`` in the spawn
environment.
"""

import itertools
import re
import subprocess
import sys
import time
import uuid
from html.parser import HTMLParser
from pathlib import Path

import pytest
import requests

from course_hub.claims import INVALID_CLAIM_MESSAGE, MISSING_CLAIM_MESSAGE
from course_hub.lti import (
    AGS_ENDPOINT_CLAIM,
    DEPLOYMENT_CLAIM,
    REPLAYED_LAUNCH_MESSAGE,
    lti_username,
)
from course_hub.spawner_hooks import single_user_environment
from tests.fake_lms.launch import (
    INSTRUCTOR,
    LEARNER,
    REMOVE,
    TEACHING_ASSISTANT,
    Launch,
    LmsContext,
    LmsUser,
    new_signing_key,
)
from tests.hub.conftest import COURSE_CONTACT, COURSE_CONTEXT, OTHER_CONTEXT

pytestmark = pytest.mark.slow


class FormReader(HTMLParser):
    """The first form of a page: its action and its input fields."""

    def __init__(self):
        super().__init__()
        self.action, self.fields = None, {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = attrs.get("action")
        elif tag == "input" and attrs.get("name"):
            self.fields[attrs["name"]] = attrs.get("value", "")


def read_form(response: requests.Response) -> tuple[str, dict]:
    assert response.status_code == 200, response.text
    reader = FormReader()
    reader.feed(response.text)
    assert reader.action, f"no auto-submitting form in:\n{response.text[:500]}"
    return reader.action, reader.fields


def launch_until_callback(lms, launch, session):
    """Click the LMS link and follow the login initiation; stop before the id_token POST."""
    action, fields = read_form(session.get(lms.launch_url(launch), timeout=30))
    # hub login initiation -> redirect to the LMS's authorize endpoint -> its form
    return read_form(session.post(action, data=fields, timeout=30))


def launch(lms, launch):
    """A whole launch with a fresh browser-like session; the hub's answer to the id_token."""
    with requests.Session() as session:
        action, fields = launch_until_callback(lms, launch, session)
        return session.post(action, data=fields, timeout=30, allow_redirects=False)


#: roll numbers no other test uses (a roll number binds the first account that logs in)
_FRESH_ROLLS = (f"CS22B{n:03d}" for n in itertools.count(1))


def new_user(sourcedid=None, fresh_roll=True):
    """A new LMS person; with ``fresh_roll`` and no ``sourcedid``, a roll number of their own
    (``fresh_roll=False``: a launch without any)."""
    if sourcedid is None and fresh_roll:
        sourcedid = next(_FRESH_ROLLS)
    sub = uuid.uuid4().hex[:12]
    return LmsUser(sub=sub, email=f"s{sub}@univ.example", name="Asha Raman",
                   sourcedid=sourcedid)


def hub_name(lms, user: LmsUser) -> str:
    return lti_username(lms.issuer, user.sub)  # LTI13_USERNAME_CLAIM defaults to "sub"


def test_learner_launch_logs_in_with_roll_number_from_the_sis_id(lms, lti_hub):
    student = new_user(sourcedid=" cs21-b007 ")
    answer = launch(lms, Launch(student, COURSE_CONTEXT, [LEARNER]))
    assert answer.status_code == 302, answer.text
    assert answer.headers["Location"] == "/hub/home"
    model = lti_hub.user(hub_name(lms, student))
    assert model["groups"] == ["nbgrader-dl101"]
    auth_state = model["auth_state"]
    assert auth_state["roll_number"] == "CS21B007" and auth_state["lti_course"] == "dl101"
    claims = auth_state["lti_claims"]
    assert claims["sub"] == student.sub
    assert claims[AGS_ENDPOINT_CLAIM]["lineitems"].endswith(f"/{COURSE_CONTEXT.id}/line_items")
    assert not {"id_token", "state"} & (set(auth_state) | set(claims))


@pytest.mark.parametrize("roles", [[INSTRUCTOR], [TEACHING_ASSISTANT],
                                   [INSTRUCTOR, LEARNER]])
def test_instructor_launch_joins_the_formgrade_group(lms, lti_hub, roles):
    teacher = new_user()
    answer = launch(lms, Launch(teacher, COURSE_CONTEXT, roles))
    assert answer.status_code == 302, answer.text
    groups = set(lti_hub.user(hub_name(lms, teacher))["groups"])
    assert "formgrade-dl101" in groups
    assert ("nbgrader-dl101" in groups) == (LEARNER in roles)


def test_a_later_launch_updates_the_role_in_that_course(lms, lti_hub):
    person = new_user()
    assert launch(lms, Launch(person, COURSE_CONTEXT, [LEARNER])).status_code == 302
    assert launch(lms, Launch(person, COURSE_CONTEXT, [INSTRUCTOR])).status_code == 302
    assert lti_hub.user(hub_name(lms, person))["groups"] == ["formgrade-dl101"]


@pytest.mark.parametrize("sourcedid, message", [
    (None, MISSING_CLAIM_MESSAGE),
    ("   ", MISSING_CLAIM_MESSAGE),
    ("!!", INVALID_CLAIM_MESSAGE.format(value="!!")),
])
def test_launch_without_valid_roll_number_is_refused(lms, lti_hub, sourcedid, message):
    student = new_user(sourcedid=sourcedid, fresh_roll=False)
    answer = launch(lms, Launch(student, COURSE_CONTEXT, [LEARNER]))
    assert answer.status_code == 403
    assert message.split("(")[0] in answer.text.replace("&#39;", "'")
    assert lti_hub.user(hub_name(lms, student)) is None


def test_launch_from_an_unmapped_course_is_refused(lms, lti_hub):
    student = new_user()
    answer = launch(lms, Launch(student, OTHER_CONTEXT, [LEARNER]))
    assert answer.status_code == 403
    assert "is not connected to this course hub" in answer.text
    assert lti_hub.user(hub_name(lms, student)) is None


def test_launch_from_an_unregistered_deployment_is_refused(lms, lti_hub):
    student = new_user()
    answer = launch(lms, Launch(student, COURSE_CONTEXT, [LEARNER],
                                claims={DEPLOYMENT_CLAIM: "7:someone-elses-lms"}))
    assert answer.status_code == 403
    assert "not registered with this course hub" in answer.text
    assert lti_hub.user(hub_name(lms, student)) is None
    other_term = launch(lms, Launch(new_user(), COURSE_CONTEXT, [LEARNER],
                                    claims={DEPLOYMENT_CLAIM: "2:another-term"}))
    assert other_term.status_code == 302  # every listed deployment is accepted


def test_launch_without_a_course_role_is_refused(lms, lti_hub):
    guest = new_user()
    answer = launch(lms, Launch(guest, COURSE_CONTEXT, [
        "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Instructor"]))
    assert answer.status_code == 403
    assert "gives no access" in answer.text
    assert lti_hub.user(hub_name(lms, guest)) is None


@pytest.mark.parametrize("forgery", [
    pytest.param({"signing_key": new_signing_key()}, id="wrong-key"),
    pytest.param({"claims": {"aud": "some-other-tool"}}, id="wrong-aud"),
    pytest.param({"claims": {"iss": "https://evil.example"}}, id="wrong-iss"),
    pytest.param({"claims": {"iat": int(time.time()) - 3600,
                             "exp": int(time.time()) - 3000}}, id="expired"),
    pytest.param({"claims": {"nonce": "0" * 64}}, id="other-nonce"),
    pytest.param({"claims": {"https://purl.imsglobal.org/spec/lti/claim/version": REMOVE}},
                 id="no-lti-version"),
])
def test_forged_id_token_is_refused(lms, lti_hub, forgery):
    student = new_user()
    answer = launch(lms, Launch(student, COURSE_CONTEXT, [LEARNER], **forgery))
    assert answer.status_code in (400, 401), answer.text
    assert lti_hub.user(hub_name(lms, student)) is None


def test_replayed_id_token_is_refused_even_with_its_cookies(lms, lti_hub):
    student = new_user()
    with requests.Session() as session:
        action, fields = launch_until_callback(lms, Launch(student, COURSE_CONTEXT, [LEARNER]),
                                               session)
        stolen_cookies = session.cookies.copy()
        first = session.post(action, data=fields, timeout=30, allow_redirects=False)
    assert first.status_code == 302, first.text
    replay = requests.post(action, data=fields, cookies=stolen_cookies, timeout=30,
                           allow_redirects=False)
    assert replay.status_code == 400
    assert REPLAYED_LAUNCH_MESSAGE in replay.text


def test_spawn_environment_has_the_roll_number_from_the_launch(lms, lti_hub):
    student = new_user(sourcedid="EE21B045")
    assert launch(lms, Launch(student, COURSE_CONTEXT, [LEARNER])).status_code == 302
    model = lti_hub.user(hub_name(lms, student))
    env = single_user_environment(model["auth_state"], model["groups"], "dl101", "http://g")
    assert env["ROLL_NUMBER"] == "EE21B045"
    assert env["NBGRADER_ROLE"] == "student"


def test_spawned_server_starts_with_the_roll_number(lms, lti_hub):
    """The hub's own auth_state_hook (from jupyterhub_config.py) on a real local spawn."""
    teacher = new_user(sourcedid="FAC0002")
    assert launch(lms, Launch(teacher, COURSE_CONTEXT, [INSTRUCTOR])).status_code == 302
    name = hub_name(lms, teacher)
    r = lti_hub.api("POST", f"/users/{name}/server")
    assert r.status_code in (201, 202), r.text
    try:
        server = wait_for_server(lti_hub, name)
        environ = Path(f"/proc/{server['state']['pid']}/environ").read_bytes()
        variables = dict(item.split("=", 1) for item in environ.decode().split("\0") if item)
        assert variables["ROLL_NUMBER"] == "FAC0002"
        assert variables["NBGRADER_ROLE"] == "instructor"
        assert variables["COURSE_ID"] == "dl101"
    finally:
        lti_hub.api("DELETE", f"/users/{name}/server")


def wait_for_server(hub, name, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        server = hub.user(name)["servers"].get("")
        if server and server.get("ready"):
            return server
        time.sleep(0.5)
    pytest.fail(f"server of {name} not ready in {timeout}s:\n{hub.log()[-3000:]}")


def test_learner_launches_in_a_real_browser(lms, lti_hub, browser):
    student = new_user(sourcedid="ME21B010")
    page = browser.new_page()
    page.goto(lms.launch_url(Launch(student, COURSE_CONTEXT, [LEARNER])), timeout=60_000)
    page.wait_for_url("**/hub/home", timeout=60_000)
    assert lti_hub.user(hub_name(lms, student))["auth_state"]["roll_number"] == "ME21B010"


def test_browser_shows_why_a_launch_without_roll_number_is_refused(lms, lti_hub, browser):
    student = new_user(fresh_roll=False)
    page = browser.new_page()
    page.goto(lms.launch_url(Launch(student, COURSE_CONTEXT, [LEARNER])), timeout=60_000)
    page.wait_for_selector("text=did not include a roll number", timeout=60_000)
    assert lti_hub.user(hub_name(lms, student)) is None


@pytest.mark.parametrize("scheme, cross_site", [("https", True), ("http", False)])
def test_launch_state_cookies_survive_the_cross_site_post_over_https(lms, lti_hub, scheme,
                                                                     cross_site):
    """The id_token arrives in a POST from the LMS's site: Lax cookies would stay behind."""
    student = new_user()
    with requests.Session() as session:
        action, fields = read_form(session.get(lms.launch_url(
            Launch(student, COURSE_CONTEXT, [LEARNER])), timeout=30))
        answer = session.post(action, data=fields, headers={"X-Forwarded-Proto": scheme},
                              timeout=30, allow_redirects=False)
    assert answer.status_code == 302
    cookies = [c for c in answer.raw.headers.getlist("Set-Cookie") if "lti13authenticator" in c]
    assert len(cookies) == 2
    for cookie in cookies:
        assert ("SameSite=None" in cookie and "Secure" in cookie) == cross_site, cookie


def test_tool_configuration_names_the_login_initiation_url(lti_hub):
    config = requests.get(f"{lti_hub.url}/hub/lti13/config", timeout=30).json()
    assert config["oidc_initiation_url"] == f"{lti_hub.url}/hub/lti13/oauth_login"


def test_opening_the_hub_directly_says_to_start_from_the_lms(lti_hub):
    page = requests.get(f"{lti_hub.url}/hub/login", timeout=30)
    assert page.status_code == 200 and "/hub/lti13/oauth_login" in page.text
    direct = requests.get(f"{lti_hub.url}/hub/lti13/oauth_login", timeout=30)
    assert direct.status_code == 400
    assert "opened from your course page in the LMS" in direct.text


def test_many_launches_fetch_the_platform_key_set_at_most_once(lms, lti_hub):
    """The key set is cached by the hub: a class launching together does not make the
    hub's event loop fetch it once per student."""
    launch(lms, Launch(new_user(), COURSE_CONTEXT, [LEARNER]))  # warm (or already cached)
    before = lms.jwks_requests
    for _ in range(5):
        answer = launch(lms, Launch(new_user(), COURSE_CONTEXT, [LEARNER]))
        assert answer.status_code == 302, answer.text
    assert lms.jwks_requests == before


# -- a determined student: look-alike courses, other deployments, someone else's email ----


@pytest.mark.parametrize("rogue", [
    pytest.param(Launch(None, LmsContext("ctx-sandbox-1", COURSE_CONTEXT.id, "Sandbox"),
                        [INSTRUCTOR]), id="label-is-the-real-context-id"),
    pytest.param(Launch(None, LmsContext("ctx-sandbox-2", "dl101", "dl101"), [INSTRUCTOR]),
                 id="label-is-the-course-id"),
    pytest.param(Launch(None, LmsContext("ctx-sandbox-3", COURSE_CONTEXT.label,
                                         COURSE_CONTEXT.title), [INSTRUCTOR]),
                 id="label-and-title-copied"),
    pytest.param(Launch(None, COURSE_CONTEXT, [INSTRUCTOR],
                        claims={DEPLOYMENT_CLAIM: "9:installed-in-a-sandbox"}),
                 id="unknown-deployment"),
    pytest.param(Launch(None, COURSE_CONTEXT, [INSTRUCTOR],
                        claims={"iss": "https://other-lms.example"}), id="other-issuer"),
])
def test_a_rogue_lms_course_never_makes_a_student_instructor(lms, lti_hub, rogue):
    """A student's own LMS course, set up to look like ours, launched as Instructor."""
    student = new_user()
    assert launch(lms, Launch(student, COURSE_CONTEXT, [LEARNER])).status_code == 302
    rogue.user = student
    answer = launch(lms, rogue)
    assert answer.status_code in (400, 401, 403), answer.text
    assert lti_hub.user(hub_name(lms, student))["groups"] == ["nbgrader-dl101"]
    stranger = new_user()  # and nobody is created by one
    rogue = Launch(stranger, rogue.context, rogue.roles, claims=rogue.claims)
    assert launch(lms, rogue).status_code in (400, 401, 403)
    assert lti_hub.user(hub_name(lms, stranger)) is None


def test_a_launch_with_another_students_email_gets_its_own_account(lms, lti_hub):
    victim = new_user(sourcedid="CS21B050")
    assert launch(lms, Launch(victim, COURSE_CONTEXT, [LEARNER])).status_code == 302
    impostor = LmsUser(sub=uuid.uuid4().hex[:12], email=victim.email, name=victim.name,
                       sourcedid="CS21B066")
    assert launch(lms, Launch(impostor, COURSE_CONTEXT, [LEARNER])).status_code == 302
    assert hub_name(lms, impostor) != hub_name(lms, victim)
    assert lti_hub.user(hub_name(lms, victim))["auth_state"]["roll_number"] == "CS21B050"
    assert lti_hub.user(hub_name(lms, impostor))["auth_state"]["roll_number"] == "CS21B066"


def test_a_changed_email_keeps_the_account(lms, lti_hub):
    student = new_user(sourcedid="CS21B051")
    assert launch(lms, Launch(student, COURSE_CONTEXT, [LEARNER])).status_code == 302
    student.email = "asha.new@univ.example"
    assert launch(lms, Launch(student, COURSE_CONTEXT, [LEARNER])).status_code == 302
    model = lti_hub.user(hub_name(lms, student))
    assert model["auth_state"]["lti_claims"]["email"] == "asha.new@univ.example"
    assert model["auth_state"]["roll_number"] == "CS21B051"


def roll_registry(lti_hub, *args):
    """``python -m course_hub.roll_registry`` on the test hub's database."""
    db_url = f"sqlite:///{lti_hub.log_path.parent / 'jupyterhub.sqlite'}"
    return subprocess.run([sys.executable, "-m", "course_hub.roll_registry", "--db-url", db_url,
                           *args], capture_output=True, text=True, timeout=60)


def test_a_roll_number_another_account_holds_is_refused_until_released(lms, lti_hub):
    """A second LMS identity with the same SIS id (a recycled account, a typo) gets no
    account: the roll number, its submissions and grades stay with the first."""
    first = new_user(sourcedid="CS21B077")
    assert launch(lms, Launch(first, COURSE_CONTEXT, [LEARNER])).status_code == 302
    assert launch(lms, Launch(first, COURSE_CONTEXT, [LEARNER])).status_code == 302  # again
    second = new_user(sourcedid=" cs21-b077 ")  # the same roll number, written differently
    answer = launch(lms, Launch(second, COURSE_CONTEXT, [LEARNER]))
    assert answer.status_code == 403
    assert "already belongs to another account" in answer.text
    assert hub_name(lms, first) not in answer.text  # the other account is not named
    assert lti_hub.user(hub_name(lms, second)) is None
    assert lti_hub.user(hub_name(lms, first))["auth_state"]["roll_number"] == "CS21B077"
    assert "roll number CS21B077 belongs to " + hub_name(lms, first) in lti_hub.log()

    listing = roll_registry(lti_hub, "list")
    assert f"CS21B077\t{hub_name(lms, first)}\t" in listing.stdout, listing
    released = roll_registry(lti_hub, "release", "cs21b077")
    assert released.returncode == 0 and hub_name(lms, first) in released.stdout, released
    assert launch(lms, Launch(second, COURSE_CONTEXT, [LEARNER])).status_code == 302
    assert lti_hub.user(hub_name(lms, second))["auth_state"]["roll_number"] == "CS21B077"
    first_again = launch(lms, Launch(first, COURSE_CONTEXT, [LEARNER]))
    assert first_again.status_code == 403  # now the first is the one refused
    assert roll_registry(lti_hub, "release", "CS21B999").returncode == 1


def test_a_refusal_page_says_its_message_once_with_whom_to_ask(lms, lti_hub):
    answer = launch(lms, Launch(new_user(fresh_roll=False), COURSE_CONTEXT, [LEARNER]))
    assert answer.status_code == 403
    page = answer.text
    heading = re.search(r"<h1[^>]*>(.*?)</h1>", page, re.S).group(1).strip()
    assert heading == "You cannot use this course hub yet"
    assert page.count(MISSING_CLAIM_MESSAGE.split(",")[0]) == 1
    assert f"Course staff: {COURSE_CONTACT}" in page
