"""``GRADER_SUBMIT_RATE``: a student over the limit gets 429 with Retry-After, nothing is
stored, other students are not slowed, and a bad setting fails at start."""

import pytest
from grader_testing import auth

from grader_service.app import create_app
from grader_service.throttle import RateSetting, parse_rate


def rows(client, token="prof-token"):
    return client.get("/api/courses/ml101/submissions", headers=auth(token)).json


def test_a_flood_is_cut_at_the_limit_and_stores_nothing_more(app, client, actions, released):
    app.config["SUBMIT_RATE"] = "3/60"
    answers = [actions.submit().status_code for _ in range(3)]
    assert answers == [202, 202, 202]
    refused = actions.submit()
    assert refused.status_code == 429, refused.json
    assert "at most 3 per 60 s" in refused.json["error"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert len(rows(client)) == 3  # the 4th was not stored
    # another student is not affected; a rejected request did not count
    assert actions.submit(token="bob-token").status_code == 202
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'submissions_rejected_total{reason="rate"} 1.0' in metrics


def test_the_limit_is_per_window(app, client, actions, released, monkeypatch):
    import datetime

    from grader_service.api import submissions

    app.config["SUBMIT_RATE"] = "2/60"
    start = datetime.datetime(2026, 12, 1, 9, 0, tzinfo=datetime.UTC)
    clock = {"now": start}
    monkeypatch.setattr(submissions, "utcnow", lambda: clock["now"])
    assert [actions.submit().status_code for _ in range(2)] == [202, 202]
    clock["now"] = start + datetime.timedelta(seconds=30)
    refused = actions.submit()
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "30"
    clock["now"] = start + datetime.timedelta(seconds=61)
    assert actions.submit().status_code == 202


@pytest.mark.parametrize(("text", "rate"), [("6/60", (6, 60.0)), ("", None), ("0/60", None),
                                            (" 10/1.5 ", (10, 1.5))])
def test_rate_settings(text, rate):
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["6", "six/60", "6/0", "-1/60", "6/60/1"])
def test_a_bad_setting_fails_at_start(data_dir, text):
    with pytest.raises(RateSetting, match="GRADER_SUBMIT_RATE"):
        create_app({"DATA_DIR": data_dir, "SUBMIT_RATE": text, "RUNNER": "local",
                    "SIGNING_KEY_FILE": ""})
