"""Unit tests of the hub package: roll-number login rules, spawn environment, roles."""

import asyncio

import pytest
from tornado import web

from course_hub.authenticator import CourseOAuthenticator
from course_hub.claims import lookup_claim
from course_hub.roles import course_groups, course_role
from course_hub.spawner_hooks import MissingRollNumber, single_user_environment


def auth_model(claims):
    return {"name": "student1", "admin": None,
            "auth_state": {"access_token": "x", "oauth_user": claims}}


def run_update(authenticator, claims):
    return asyncio.run(authenticator.update_auth_model(auth_model(claims)))


@pytest.fixture
def authenticator():
    return CourseOAuthenticator(client_id="c", client_secret="s",
                                authorize_url="http://idp/auth", token_url="http://idp/token",
                                userdata_url="http://idp/me")


def test_valid_claim_is_normalised_into_auth_state(authenticator):
    model = run_update(authenticator, {"preferred_username": "student1",
                                       "roll_number": " cs21-b001 "})
    assert model["auth_state"]["roll_number"] == "CS21B001"
    assert model["auth_state"]["oauth_user"]["roll_number"] == " cs21-b001 "


@pytest.mark.parametrize("claims, fragment", [
    ({}, "did not include a roll number"),
    ({"roll_number": ""}, "did not include a roll number"),
    ({"roll_number": "   "}, "did not include a roll number"),
    ({"roll_number": "!!"}, "cannot use"),
    ({"roll_number": 12345}, "cannot use"),
    ({"roll_number": "x" * 200}, "cannot use"),
])
def test_login_without_valid_roll_number_is_refused(authenticator, claims, fragment):
    with pytest.raises(web.HTTPError) as info:
        run_update(authenticator, claims)
    assert info.value.status_code == 403
    assert fragment in info.value.log_message


def test_nested_claim_path(authenticator):
    authenticator.roll_number_claim = "ext.roll"
    model = run_update(authenticator, {"ext": {"roll": "EE21B045"}})
    assert model["auth_state"]["roll_number"] == "EE21B045"
    assert lookup_claim({"a": {"b": 1}}, "a.c") is None


def test_spawn_environment_carries_authoritative_identity():
    env = single_user_environment({"roll_number": "CS21B001"}, ["nbgrader-dl101"], "dl101",
                                  "http://grader:5000")
    assert env == {"ROLL_NUMBER": "CS21B001", "COURSE_ID": "dl101",
                   "NBGRADER_ROLE": "student", "GRADER_SERVICE_URL": "http://grader:5000"}
    env = single_user_environment({"roll_number": "FAC0001"}, ["formgrade-dl101"], "dl101", "u")
    assert env["NBGRADER_ROLE"] == "instructor"


@pytest.mark.parametrize("auth_state", [None, {}, {"roll_number": ""}])
def test_spawn_without_roll_number_is_refused(auth_state):
    with pytest.raises(MissingRollNumber):
        single_user_environment(auth_state, [], "dl101", "u")


def test_course_roles_from_groups():
    assert course_groups(["dl101"]) == {"nbgrader-dl101", "formgrade-dl101"}
    assert course_role(["nbgrader-dl101", "formgrade-dl101"], "dl101") == "instructor"
    assert course_role(["nbgrader-dl101"], "dl101") == "student"
    assert course_role(["nbgrader-ml202"], "dl101") is None


def test_demo_accounts_cover_the_refusal_cases():
    from scripts.localstack import demo_accounts

    users = {u["username"]: u for u in demo_accounts()}
    assert users["student1"]["roll_number"] == "CS21B001"
    assert "roll_number" not in users["noroll"]
    assert "formgrade-dl101" in users["instructor1"]["groups"]
