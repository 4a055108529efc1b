"""Grades reach the LMS: LTI 1.3 AGS and Canvas exporters against protocol-faithful fakes.

The fakes (``tests/fake_lms``) stand in for a commercial LMS. The exporters run for
real: the AGS token exchange is verified against the tool keys the service publishes at
``/api/lti/jwks``; line items and Canvas assignments are found or created; a replay,
a crash between delivering and noting it, and an LMS outage never post a grade twice.
"""

import os
import stat
import threading

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from grader_testing import CALLERS, StaticIdentityProvider, auth, ps0_result
from werkzeug.serving import make_server

from grader_service.db import Submission, session_factory
from grader_service.exporters import DeliveryRefused, get_exporters
from grader_service.exporters.canvas import CanvasError, CanvasExporter
from grader_service.exporters.lti_ags import (
    HubLaunches,
    LtiAgsExporter,
    parse_context_map,
    parse_course_map,
)
from grader_service.hub import AGS_ENDPOINT_CLAIM
from grader_service.worker import get_workers
from tests.fake_lms.ags import FakeAgsPlatform
from tests.fake_lms.canvas import FakeCanvas
from tests.grader_service.prepared import prepared_app

CLIENT_ID = "dlcourse-tool"
CANVAS_TOKEN = "canvas-secret-token"


def record(submission_id="s1", username="alice", roll="21CS001", score=2.0,
           graded_at="2026-11-27T10:00:00.000000Z", assignment="ps0", **extra):
    return {"submission_id": submission_id, "course": "ml101", "assignment": assignment,
            "username": username, "roll_number": roll, "score": score, "max_score": 3.0,
            "graded_at": graded_at, "late": False, "tests": [], **extra}


@pytest.fixture
def platform():
    lms = FakeAgsPlatform(CLIENT_ID, {"ctx-ml101": {"alice": "21CS001", "bob": "21CS002"}}).serve()
    yield lms
    lms.stop()


@pytest.fixture
def canvas():
    lms = FakeCanvas(CANVAS_TOKEN, {"ml101": {"21CS001", "21CS002"}}).serve()
    yield lms
    lms.stop()


def serve_jwks(exporter):
    """The tool's key set on loopback (what ``/api/lti/jwks`` serves) -> (URL, server)."""
    def app(environ, start_response):
        import json

        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(exporter.jwks()).encode()]

    server = make_server("127.0.0.1", 0, app)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}/jwks", server


@pytest.fixture
def ags(platform):
    """An AGS exporter registered at ``platform`` (its key set published)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    exporter = LtiAgsExporter(CLIENT_ID, platform.token_url, key,
                              {"ml101": platform.lineitems_url("ctx-ml101")})
    platform.tool_jwks_url, server = serve_jwks(exporter)
    yield exporter
    server.shutdown()


def test_a_graded_record_becomes_an_ags_score(platform, ags):
    assert ags.export(record()) is True
    [item] = platform.lineitems["ctx-ml101"]
    assert (item["label"], item["resourceId"], item["scoreMaximum"]) == ("ps0", "ps0", 3.0)
    score = platform.scores_for("alice")["ps0"]
    assert (score["scoreGiven"], score["scoreMaximum"]) == (2.0, 3.0)
    assert (score["activityProgress"], score["gradingProgress"]) == ("Completed", "FullyGraded")
    assert score["timestamp"] == "2026-11-27T10:00:00.000+00:00"
    assert "s1" in score["comment"]


def test_one_line_item_per_assignment_and_one_token(platform, ags):
    for number in range(12):  # more than a page of other line items: paging is followed
        platform.lineitems["ctx-ml101"].append(
            {"id": f"{platform.lineitems_url('ctx-ml101')}/{number + 1}", "label": f"x{number}",
             "resourceId": f"x{number}", "scoreMaximum": 1})
    ags.export(record("s1", "alice"))
    ags.export(record("s2", "bob"))
    created = [li for li in platform.lineitems["ctx-ml101"] if li["resourceId"] == "ps0"]
    assert len(created) == 1 and platform.token_requests == 1
    # a restarted service finds the line item instead of creating another
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    restarted = LtiAgsExporter(CLIENT_ID, platform.token_url, key,
                               {"ml101": platform.lineitems_url("ctx-ml101")})
    platform.tool_jwks_url, server = serve_jwks(restarted)
    try:
        restarted.export(record("s3", "alice", graded_at="2026-11-27T11:00:00.000000Z", score=3.0))
    finally:
        server.shutdown()
    assert len([li for li in platform.lineitems["ctx-ml101"] if li["resourceId"] == "ps0"]) == 1
    assert platform.scores_for("alice")["ps0"]["scoreGiven"] == 3.0


def test_a_replayed_score_is_not_applied_twice(platform, ags):
    assert ags.export(record()) is True
    assert ags.export(record()) is False  # the platform answers 409: it holds this score
    assert len(platform.applied) == 1
    older = record(score=0.0, graded_at="2026-11-27T09:00:00.000000Z")
    assert ags.export(older) is False  # never overwrites a newer grade
    assert platform.scores_for("alice")["ps0"]["scoreGiven"] == 2.0


def test_manual_items_leave_the_grade_pending(platform, ags):
    ags.export(record(tests=[{"grade_id": "essay", "manual": True}]))
    assert platform.scores_for("alice")["ps0"]["gradingProgress"] == "PendingManual"


def test_an_unregistered_key_gets_no_token_and_posts_nothing(platform, ags):
    impostor = LtiAgsExporter(CLIENT_ID, platform.token_url,
                              rsa.generate_private_key(public_exponent=65537, key_size=2048),
                              {"ml101": platform.lineitems_url("ctx-ml101")})
    with pytest.raises(Exception, match="401"):
        impostor.export(record())
    assert platform.received_scores == [] and platform.lineitems["ctx-ml101"] == []


def test_unknown_course_or_student_is_refused_for_that_record(platform, ags):
    with pytest.raises(DeliveryRefused, match="GRADER_LTI_LINEITEMS"):
        ags.export({**record(), "course": "ml999"})
    with pytest.raises(DeliveryRefused, match="422"):
        ags.export(record(username="mallory"))


def test_membership_lookup_finds_the_lms_user_by_roll_number(platform, ags):
    platform.contexts["ctx-ml101"].update({f"u{n:03d}": f"22XX{n:03d}" for n in range(25)})
    platform.contexts["ctx-ml101"]["lms-7f3a"] = "21CS009"  # an opaque LMS id, no hub name
    ags.memberships = {"ml101": platform.memberships_url("ctx-ml101")}
    ags.export(record(username="carol", roll="21cs009"))  # any case: roll numbers normalise
    assert platform.scores_for("lms-7f3a")["ps0"]["scoreGiven"] == 2.0
    ags.export(record("s2", username="bob", roll="21CS002"))
    assert platform.membership_requests == 1  # reused while every roll number is found
    with pytest.raises(DeliveryRefused, match="21CS404 is not an active member"):
        ags.export(record("s3", username="dave", roll="21CS404"))
    assert platform.membership_requests == 2  # a miss refetches once, then gives up


def test_course_map_parsing():
    assert parse_course_map("ml101=http://lms/a?x=1, dl101 = http://lms/b\n") == {
        "ml101": "http://lms/a?x=1", "dl101": "http://lms/b"}
    with pytest.raises(ValueError, match="course=URL"):
        parse_course_map("ml101")


def test_canvas_grade_by_sis_ids_creates_the_assignment_once(canvas):
    exporter = CanvasExporter(canvas.base_url, CANVAS_TOKEN)
    assert exporter.export(record("s1", roll="21CS001", score=2.5)) is True
    assert exporter.export(record("s2", username="bob", roll="21CS002", score=3.0)) is True
    [assignment] = canvas.assignments[101]
    assert (assignment["name"], assignment["points_possible"], assignment["published"]) == (
        "ps0", 3.0, True)
    assert canvas.grade_of("ml101", "ps0", "21CS001") == "2.5"
    assert canvas.grade_of("ml101", "ps0", "21CS002") == "3"


def test_canvas_finds_an_existing_assignment_across_pages(canvas):
    for number in range(120):
        canvas.add_assignment("ml101", f"ps0-draft-{number}", 1)
    existing = canvas.add_assignment("ml101", "ps0", 3)
    CanvasExporter(canvas.base_url, CANVAS_TOKEN).export(record())
    assert len(canvas.assignments[101]) == 121
    assert canvas.grade_puts == [(101, existing["id"], canvas.users["21CS001"], "2")]


def test_canvas_refusals_are_errors(canvas):
    with pytest.raises(CanvasError, match="401"):  # the whole exporter is unusable
        CanvasExporter(canvas.base_url, "wrong-token").export(record())
    with pytest.raises(DeliveryRefused, match="404"):  # only this student
        CanvasExporter(canvas.base_url, CANVAS_TOKEN).export(record(roll="99XX999"))
    assert canvas.grade_puts == []


# -- through the service: publishing keys, delivery records, outages ---------------------


@pytest.fixture
def lms_app(tmp_path, platform, canvas):
    """A grading service exporting to csv, LTI AGS and Canvas, served on loopback."""
    app = prepared_app({
        "DATA_DIR": str(tmp_path), "DATABASE_URL": "", "RUNNER": "local",
        "IDENTITY_PROVIDER": StaticIdentityProvider(CALLERS), "SIGNING_KEY_FILE": "",
        "EXPORTERS": "csv,lti-ags,canvas", "EXPORT_RETRY_SECONDS": 0.0,
        "LTI_FROM_LAUNCHES": False,  # the hub here logs in with OIDC
        "LTI_CLIENT_ID": CLIENT_ID, "LTI_TOKEN_URL": platform.token_url,
        "LTI_LINEITEMS": f"ml101={platform.lineitems_url('ctx-ml101')}",
        "CANVAS_URL": canvas.base_url, "CANVAS_TOKEN": CANVAS_TOKEN,
    })
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    app.url = f"http://127.0.0.1:{server.server_port}"
    platform.tool_jwks_url = app.url + "/api/lti/jwks"  # what the LMS admin registers
    yield app
    server.shutdown()
    app.extensions["grader_engine"].dispose()


def _grade_one(app, actions):
    actions.release()
    sid = actions.submit(variant="student_wrong").json["submission_id"]
    get_workers(app).service.runner = _FixedRunner()
    assert get_workers(app).run_once().id == sid
    return sid


class _FixedRunner:
    """Grades every submission out of 3 without running anything: ``points`` per ps0
    test (default 1 point, from ``test_add_floats``)."""

    name = "fixed"

    def __init__(self, **points):
        self.points = points or {"test_add_floats": 1.0}

    def run(self, bundle, cancelled=None):
        from grader_service.outcomes import Outcome
        from grader_service.runners import RunResult

        return RunResult(Outcome.SUCCESS, ps0_result(**self.points), {"runner": "fixed"}, "",
                         0.01)


def test_the_service_publishes_its_tool_key(lms_app, tmp_path):
    keys = requests.get(lms_app.url + "/api/lti/jwks", timeout=10).json()["keys"]
    assert [(k["kty"], k["alg"], k["use"]) for k in keys] == [("RSA", "RS256", "sig")]
    assert keys[0]["kid"] and "d" not in keys[0]  # public half only
    mode = stat.S_IMODE(os.stat(tmp_path / "lti_tool_key.pem").st_mode)
    assert mode == 0o600


def test_graded_submission_reaches_both_lms_once(lms_app, actions_factory, platform, canvas):
    actions = actions_factory(lms_app.test_client())
    sid = _grade_one(lms_app, actions)
    assert platform.scores_for("alice")["ps0"]["scoreGiven"] == 1.0
    assert canvas.grade_of("ml101", "ps0", "21CS001") == "1"
    service = get_workers(lms_app).service
    with session_factory(lms_app)() as session:  # a crash before exported_at was noted
        session.get(Submission, sid).exported_at = None
        session.commit()
    assert service.export_pending() == 1
    assert len(platform.received_scores) == 1 and len(canvas.grade_puts) == 1
    metrics = lms_app.test_client().get("/metrics").data.decode()
    for name in ("csv", "lti-ags", "canvas"):
        assert f'grader_exports_finished_total{{exporter="{name}",outcome="delivered"}} 1.0' in metrics


def test_an_lms_outage_is_caught_up_without_double_posts(lms_app, actions_factory, platform,
                                                          canvas):
    platform.fail_next = [503, 503]
    actions = actions_factory(lms_app.test_client())
    sid = _grade_one(lms_app, actions)
    service = get_workers(lms_app).service
    assert platform.scores_for("alice") == {} and len(canvas.grade_puts) == 1
    service.export_pending()  # the LMS is still down
    assert platform.scores_for("alice") == {}
    service.export_pending()  # back up
    assert platform.scores_for("alice")["ps0"]["scoreGiven"] == 1.0
    assert service.export_pending() == 0
    assert len(canvas.grade_puts) == 1  # Canvas delivered the first time: never again
    body = lms_app.test_client().get(f"/api/submissions/{sid}", headers=auth("prof-token")).json
    assert body["status"] == "graded"
    assert [e.name for e in get_exporters(lms_app)] == ["csv", "lti-ags", "canvas"]


def test_push_sends_latest_grades_to_an_lms_configured_later(lms_app, actions_factory,
                                                            platform, canvas):
    actions = actions_factory(lms_app.test_client())
    service = get_workers(lms_app).service
    csv_only, service.exporters = service.exporters, service.exporters[:1]
    _grade_one(lms_app, actions)  # alice's first submission: 1 point
    service.runner = _FixedRunner(test_add=2.0)
    actions.submit(variant="student_wrong")
    get_workers(lms_app).run_once()  # alice's second: 2 points, the one that counts
    assert platform.received_scores == [] and canvas.grade_puts == []
    service.exporters = csv_only  # the LMS is configured now
    client = lms_app.test_client()
    assert client.post("/api/courses/ml101/assignments/ps0/export",
                       headers=auth("alice-token")).status_code == 403
    reply = client.post("/api/courses/ml101/assignments/ps0/export", headers=auth("prof-token"))
    assert reply.status_code == 202 and reply.json == {"exporting": 1}
    service.export_pending()
    assert platform.scores_for("alice")["ps0"]["scoreGiven"] == 2.0
    assert len(platform.received_scores) == 1 and len(canvas.grade_puts) == 1
    again = client.post("/api/courses/ml101/assignments/ps0/export", headers=auth("prof-token"))
    assert again.json == {"exporting": 1}
    service.export_pending()  # every exporter holds it already: nothing is posted
    assert len(platform.received_scores) == 1 and len(canvas.grade_puts) == 1


def test_a_student_missing_from_the_lms_holds_up_nobody_else(lms_app, actions_factory,
                                                            platform, canvas):
    """bob is not in the LMS course: his grade is refused and retried on its own, while
    alice's (graded after his) reaches the LMS at once."""
    platform.contexts["ctx-ml101"].pop("bob")
    actions = actions_factory(lms_app.test_client())
    actions.release()
    service = get_workers(lms_app).service
    service.runner = _FixedRunner()
    service.export_retry.base = 3600.0  # a refused record waits; the exporter must not
    for token in ("bob-token", "alice-token"):
        actions.submit(token=token, variant="student_wrong")
        get_workers(lms_app).run_once()
    assert set(platform.applied) == {(platform.lineitems["ctx-ml101"][0]["id"], "alice")}
    assert len(canvas.grade_puts) == 2  # Canvas knows both students
    metrics = lms_app.test_client().get("/metrics").data.decode()
    assert 'grader_exports_finished_total{exporter="lti-ags",outcome="refused"} 1.0' in metrics
    platform.contexts["ctx-ml101"]["bob"] = "21CS002"  # enrolled at last
    service.export_retry.clock = lambda: 1e12  # ... and his retry is due
    service.export_pending()
    assert platform.scores_for("bob")["ps0"]["scoreGiven"] == 1.0


# -- grades for students who log in through LTI launches ---------------------------------


class _HubUsers:
    """The hub API's ``GET /users/<name>`` with the auth_state the LTI login stores."""

    def __init__(self, users):
        self.users = users
        self.calls = 0

    def __call__(self, environ, start_response):
        import json

        self.calls += 1
        name = environ["PATH_INFO"].rpartition("/")[2]
        if environ.get("HTTP_AUTHORIZATION") != "token service-token" or name not in self.users:
            start_response("404 Not Found", [("Content-Type", "application/json")])
            return [b'{"message": "no such user"}']
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps({"name": name, "auth_state": self.users[name]}).encode()]


LMS_ISSUER = "https://lms.example"
LMS_CONTEXTS = {"1:dep/ctx-ml101": "ml101", "1:dep/ctx-dl999": "dl999"}
DEPLOYMENT_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/deployment_id"
CONTEXT_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/context"


def launched(course, sub, lineitems=None, context=None, deployment="1:dep", issuer=LMS_ISSUER,
             label=None):
    claims = {"sub": sub, "iss": issuer, DEPLOYMENT_CLAIM: deployment,
              CONTEXT_CLAIM: {"id": context or f"ctx-{course}", "label": label or course}}
    if lineitems:
        claims[AGS_ENDPOINT_CLAIM] = {"lineitems": lineitems, "scope": []}
    return {"roll_number": "21CS001", "lti_course": course, "lti_claims": claims}


@pytest.fixture
def hub_users():
    """Serve ``_HubUsers``; yields a function that points ``ags`` at given users."""
    servers = []

    def serve(ags, users):
        hub = _HubUsers(users)
        server = make_server("127.0.0.1", 0, hub)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        ags.lineitems = {}
        ags.issuer, ags.contexts = LMS_ISSUER, dict(LMS_CONTEXTS)
        ags.launches = HubLaunches(f"http://127.0.0.1:{server.server_port}/hub/api",
                                   "service-token")
        return hub

    yield serve
    for server in servers:
        server.shutdown()


def test_students_who_launched_from_the_lms_need_no_lti_settings(platform, ags,
                                                                  hub_users):
    """No GRADER_LTI_LINEITEMS: alice's launch names the course's line items and her LMS
    id; bob last launched another course, so only his LMS id comes from it; carol never
    launched and the course has no membership lookup, so the LMS refuses her hub name."""
    platform.contexts["ctx-ml101"].update({"lms-sub-a": "21CS001", "lms-sub-b": "21CS002"})
    hub = hub_users(ags, {
        "alice": launched("ml101", "lms-sub-a", platform.lineitems_url("ctx-ml101")),
        "bob": launched("dl999", "lms-sub-b", "http://elsewhere.invalid/line_items"),
        "carol": {"roll_number": "21CS003"},
    })
    with pytest.raises(DeliveryRefused, match="no line items URL"):
        ags.export(record("s0", username="bob", roll="21CS002"))  # nobody launched ml101 yet
    assert ags.export(record("s1", username="alice")) is True
    assert ags.export(record("s2", username="bob", roll="21CS002", score=3.0)) is True
    with pytest.raises(DeliveryRefused, match="422"):  # "carol" is nobody at the LMS
        ags.export(record("s3", username="carol", roll="21CS003"))
    assert platform.scores_for("lms-sub-a")["ps0"]["scoreGiven"] == 2.0
    assert platform.scores_for("lms-sub-b")["ps0"]["scoreGiven"] == 3.0
    assert hub.calls == 3  # each student's launch is fetched once and reused


ROGUE_LINEITEMS = "http://rogue.invalid/api/lti/contexts/sandbox/line_items"


@pytest.mark.parametrize("rogue", [
    pytest.param({"context": "ctx-sandbox", "label": "ctx-ml101"}, id="label-is-the-real-id"),
    pytest.param({"context": "ctx-sandbox", "label": "ml101"}, id="label-is-the-course"),
    pytest.param({"deployment": "9:teacher-installed"}, id="unknown-deployment"),
    pytest.param({"issuer": "https://other-lms.example"}, id="other-issuer"),
])
def test_a_launch_from_another_lms_course_never_names_the_line_items(platform, ags, hub_users,
                                                                     rogue):
    """Mallory's last launch is from a course she made (even if the hub had taken it
    for ml101): its line items are not learnt, her grade and everyone's stays with the
    configured course; her LMS id is not taken from it either."""
    platform.contexts["ctx-ml101"].update({"lms-sub-a": "21CS001"})
    hub_users(ags, {
        "mallory": launched("ml101", "lms-sub-m", ROGUE_LINEITEMS, **rogue),
        "alice": launched("ml101", "lms-sub-a", platform.lineitems_url("ctx-ml101")),
    })
    assert ags.last_launch(record("s0", username="mallory")) == (None, {})
    with pytest.raises(DeliveryRefused, match="no line items URL"):
        ags.export(record("s0", username="mallory"))
    assert "ml101" not in ags.lineitems
    assert ags.export(record("s1", username="alice")) is True
    assert ags.lineitems["ml101"] == platform.lineitems_url("ctx-ml101")
    assert platform.scores_for("lms-sub-a")["ps0"]["scoreGiven"] == 2.0


def test_launches_are_ignored_without_a_configured_context_mapping(platform, ags, hub_users):
    hub_users(ags, {"alice": launched("ml101", "lms-sub-a", platform.lineitems_url("ctx-ml101"))})
    ags.contexts = {}
    with pytest.raises(DeliveryRefused, match="GRADER_LTI_CONTEXTS"):
        ags.export(record("s1", username="alice"))


@pytest.mark.parametrize("text, mapping", [
    ("", {}),
    ("1:dep/ctx-1=dl101, 2/x/y=ml101", {"1:dep/ctx-1": "dl101", "2/x/y": "ml101"}),
])
def test_context_map_setting(text, mapping):
    assert parse_context_map(text) == mapping


@pytest.mark.parametrize("text", ["ctx-1=dl101", "1:dep/ctx-1", "1:dep/ctx-1="])
def test_context_map_setting_needs_deployment_context_and_course(text):
    with pytest.raises(ValueError, match="deployment id"):
        parse_context_map(text)
