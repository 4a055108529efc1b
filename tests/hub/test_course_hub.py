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
    assert users["rollcopy"]["roll_number"] == users["student1"]["roll_number"]


def test_a_roll_number_binds_its_first_account_until_released(tmp_path):
    from course_hub.roll_registry import RollRegistry, RollTaken

    url = f"sqlite:///{tmp_path / 'hub.sqlite'}"
    registry = RollRegistry(url)
    registry.bind("CS21B001", "student1")
    registry.bind("CS21B001", "student1")  # every later login of the same account
    registry.bind("CS21B002", "student2")
    with pytest.raises(RollTaken) as taken:
        registry.bind("CS21B001", "student2")
    assert taken.value.owner == "student1"
    reopened = RollRegistry(url)  # the table outlives the hub process
    assert [row[:2] for row in reopened.all()] == [("CS21B001", "student1"),
                                                  ("CS21B002", "student2")]
    assert reopened.release("CS21B001") == "student1"
    assert reopened.release("CS21B001") is None
    registry.bind("CS21B001", "student2")
    assert registry.owner("CS21B001") == "student2"


def test_a_lost_race_for_a_roll_number_names_the_winner(tmp_path, monkeypatch):
    """Two first logins at once: the insert of the slower one fails on the key and it is
    refused with the winner as owner (never both bound, never an error page)."""
    from course_hub.roll_registry import RollRegistry, RollTaken

    registry = RollRegistry(f"sqlite:///{tmp_path / 'hub.sqlite'}")
    real_owner = registry.owner
    calls = []

    def owner_seen_before_the_other_insert(roll_number):
        calls.append(roll_number)
        if len(calls) == 1:  # the other login inserts between our read and our insert
            registry_other.bind(roll_number, "student1")
            return None
        return real_owner(roll_number)

    registry_other = RollRegistry(f"sqlite:///{tmp_path / 'hub.sqlite'}")
    monkeypatch.setattr(registry, "owner", owner_seen_before_the_other_insert)
    with pytest.raises(RollTaken) as taken:
        registry.bind("CS21B001", "student2")
    assert taken.value.owner == "student1"
