"""The results page (``/services/grader/`` in a browser): hub OAuth login, a student's own
submissions only, an instructor's course, the per-submission report."""

import re
import urllib.parse

import pytest
from grader_testing import auth

from grader_service.results import get_hub_oauth
from grader_service.worker import get_workers

PAGE = "/services/grader/"


@pytest.fixture
def submitted(actions, released):
    """alice and bob have one (queued) submission each: ``{"alice": id, "bob": id}``."""
    return {name: actions.submit(token=f"{name}-token").json["submission_id"]
            for name in ("alice", "bob")}


@pytest.fixture
def graded(app, submitted):
    """The same, graded (the local runner: a few seconds)."""
    while get_workers(app).run_once() is not None:
        pass
    return submitted


@pytest.fixture
def hub_login(app, client, monkeypatch):
    """Log the test client in as ``name`` through the OAuth redirect and callback; the
    hub's token endpoint is stood in for (the code becomes ``<name>-token``)."""
    app.config["HUB_API_TOKEN"] = "service-token"
    with app.app_context():
        oauth = get_hub_oauth()
    seen = {}

    def token_for_code(code, code_verifier=None):
        seen["verifier"] = code_verifier
        return f"{code}-token"

    monkeypatch.setattr(oauth, "token_for_code", token_for_code)

    def login(name, page=PAGE):
        start = client.get(page)
        assert start.status_code == 302
        state = urllib.parse.parse_qs(urllib.parse.urlsplit(start.location).query)["state"][0]
        back = client.get(f"{PAGE}oauth_callback?code={name}&state={state}")
        assert back.status_code == 302 and back.location == page, back.get_data()
        assert seen["verifier"]  # PKCE
        return client.get(page)

    return login


def test_anonymous_browser_is_sent_to_the_hubs_login(app, client):
    app.config["HUB_API_TOKEN"] = "service-token"
    response = client.get(PAGE)
    assert response.status_code == 302
    url = urllib.parse.urlsplit(response.location)
    query = urllib.parse.parse_qs(url.query)
    assert url.path == "/hub/api/oauth2/authorize"
    assert query["client_id"] == ["service-grader"] and query["response_type"] == ["code"]
    assert query["redirect_uri"] == ["/services/grader/oauth_callback"]
    assert query["code_challenge_method"] == ["S256"] and query["state"]
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "Path=/services/grader/" in cookie


def test_student_sees_own_results_only(client, graded, hub_login):
    page = hub_login("alice")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    assert "<h1>My results</h1>" in html and "ml101 / ps0" in html
    assert graded["alice"] in html and graded["bob"] not in html
    assert re.search(r"<dt>Score</dt><dd>\d+(\.\d+)? / \d+", html)
    assert '<th scope="col">Points</th>' in html and "passed" in html
    assert "Signed in as <strong>alice</strong>" in html
    assert "feedback from your instructor: not released yet" in html  # nothing to fetch yet
    report = client.get(f"{PAGE}results/{graded['alice']}")
    assert report.status_code == 200 and "ml101 / ps0 - alice" in report.get_data(as_text=True)
    other = client.get(f"{PAGE}results/{graded['bob']}")  # (the error names the id asked for)
    assert other.status_code == 404 and "bob" not in other.get_data(as_text=True)


def test_instructor_sees_the_course_and_others_nothing(client, submitted, hub_login):
    html = hub_login("prof").get_data(as_text=True)
    assert "Course ml101: all submissions" in html
    assert submitted["alice"] in html and submitted["bob"] in html
    assert client.get(f"{PAGE}results/{submitted['bob']}").status_code == 200


def test_other_courses_instructor_sees_nothing(client, submitted, hub_login):
    html = hub_login("olga").get_data(as_text=True)
    assert submitted["alice"] not in html and submitted["bob"] not in html
    assert client.get(f"{PAGE}results/{submitted['alice']}").status_code == 404


def test_script_with_a_token_header(client, submitted):
    assert client.get(PAGE, headers=auth("bob-token")).status_code == 200
    assert client.get(f"{PAGE}results/{submitted['alice']}",
                      headers=auth("bob-token")).status_code == 404
    assert client.get(PAGE, headers=auth("forged-token")).status_code == 401


@pytest.mark.parametrize("query", ["code=alice&state=wrong", "code=alice", "state=x"])
def test_callback_refuses_a_foreign_or_partial_answer(app, client, query):
    app.config["HUB_API_TOKEN"] = "service-token"
    client.get(PAGE)  # starts a login: a state in the session
    response = client.get(f"{PAGE}oauth_callback?{query}")
    assert response.status_code == 400 and response.json["error"]


def test_a_token_the_hub_no_longer_accepts_means_login_again(app, client, submitted, hub_login):
    hub_login("alice")
    app.extensions["grader_identity"].identities.pop("alice-token")  # revoked at the hub
    assert client.get(PAGE).status_code == 302
