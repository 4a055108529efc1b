"""One account per roll number in a course: a second account carrying a classmate's roll
number (an LMS course whose owner edits the roll claim, a misconfigured provider) is
refused with the remedy named and nothing stored; an instructor sees the bindings and
releases one made by mistake."""

import pytest
from grader_testing import auth

from grader_service.auth import Identity

#: mallory's login carries alice's roll number; carl's is his own
IMPOSTORS = {
    "mallory-token": Identity("mallory", frozenset({"nbgrader-ml101"}), roll_number="21CS001"),
    "carl-token": Identity("carl", frozenset({"nbgrader-ml101"}), roll_number="21CS003"),
}


@pytest.fixture
def provider(app):
    identities = app.config["IDENTITY_PROVIDER"].identities
    identities.update(IMPOSTORS)
    return identities


def usernames(client):
    return [r["username"] for r in client.get("/api/courses/ml101/submissions",
                                              headers=auth("prof-token")).json]


@pytest.mark.parametrize("first", ["alice", "mallory"])
def test_the_first_account_holds_the_roll_number(client, actions, released, provider, first):
    """Whoever submits first holds it; the other is refused, whatever the order."""
    second = {"alice": "mallory", "mallory": "alice"}[first]
    assert actions.submit(token=f"{first}-token").status_code == 202
    refused = actions.submit(token=f"{second}-token")
    assert refused.status_code == 403, refused.json
    assert "roll number 21CS001 already belongs to another account" in refused.json["error"]
    assert "course staff" in refused.json["error"]
    assert usernames(client) == [first]
    assert actions.submit(token=f"{first}-token").status_code == 202  # the holder goes on
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'submissions_rejected_total{reason="roll_taken"} 1.0' in metrics


def test_instructor_lists_and_releases_a_binding(client, actions, released, provider):
    assert actions.submit(token="mallory-token").status_code == 202
    assert actions.submit(token="carl-token").status_code == 202
    listed = client.get("/api/courses/ml101/roll-bindings", headers=auth("prof-token")).json
    assert [(b["roll_number"], b["username"]) for b in listed] == [("21CS001", "mallory"),
                                                                 ("21CS003", "carl")]
    # students cannot see or change them
    assert client.get("/api/courses/ml101/roll-bindings",
                      headers=auth("alice-token")).status_code == 403
    assert client.delete("/api/courses/ml101/roll-bindings/21CS001",
                         headers=auth("alice-token")).status_code == 403
    assert actions.submit(token="alice-token").status_code == 403

    released_binding = client.delete("/api/courses/ml101/roll-bindings/21CS001",
                                     headers=auth("prof-token"))
    assert released_binding.status_code == 200
    assert released_binding.json["username"] == "mallory"
    assert released_binding.json["released_by"] == "prof"
    assert actions.submit(token="alice-token").status_code == 202  # the roll's owner now
    assert client.delete("/api/courses/ml101/roll-bindings/21CS001",
                         headers=auth("prof-token")).status_code == 200
    assert client.delete("/api/courses/ml101/roll-bindings/21CS009",
                         headers=auth("prof-token")).status_code == 404
    # mallory's earlier submission is kept, under the account and roll it was made with
    assert sorted(usernames(client)) == ["alice", "carl", "mallory"]


def test_bindings_are_per_course(app, client, actions, released, provider):
    """The same roll number in another course is another binding."""
    from grader_service.db import utcnow
    from grader_service.roll_binding import bind

    with app.app_context():
        from grader_service.db import get_db

        bind(get_db(), "ml999", "21CS001", "mallory", utcnow())
    assert actions.submit(token="alice-token").status_code == 202


def test_dl_grader_rolls_lists_and_releases(actions, released, provider, service_url, capsys):
    from grader_service.cli import main

    assert actions.submit(token="mallory-token").status_code == 202
    base = ["--course", "ml101", "--url", service_url, "--token", "prof-token"]
    capsys.readouterr()
    assert main(["rolls", *base]) == 0
    out, err = capsys.readouterr()
    assert "21CS001" in out and "mallory" in out and "1 roll number(s) bound" in err
    assert main(["rolls", *base, "--release", "21CS001"]) == 0
    assert "released roll number 21CS001 (held by mallory" in capsys.readouterr().out
    assert actions.submit(token="alice-token").status_code == 202
