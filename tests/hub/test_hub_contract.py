"""The hub contract both sides spell: what ``course_hub`` writes at login is what the
grading service (``grader_service.hub``) reads.

The real authenticators produce the auth models (an OIDC login, an LTI launch); the
grading service's readers must find in them the roll number, the course roles and the
launch that the hub meant.
"""

import asyncio
from types import SimpleNamespace

from traitlets.config import Config

from course_hub import lti, roles
from course_hub.authenticator import CourseOAuthenticator
from grader_service import hub
from grader_service.identity import Identity, Role

ISSUER = "https://lms.example"
DEPLOYMENT = "1:a3"


def test_group_prefixes_and_lti_claim_names_are_the_same():
    assert hub.STUDENT_GROUP_PREFIX == roles.STUDENT_GROUP_PREFIX
    assert hub.INSTRUCTOR_GROUP_PREFIX == roles.INSTRUCTOR_GROUP_PREFIX
    assert hub.AGS_ENDPOINT_CLAIM == lti.AGS_ENDPOINT_CLAIM
    assert hub.DEPLOYMENT_CLAIM == lti.DEPLOYMENT_CLAIM
    assert hub.CONTEXT_CLAIM == lti.CONTEXT_CLAIM


def test_an_oidc_login_gives_the_service_the_normalised_roll_number():
    authenticator = CourseOAuthenticator(client_id="c", client_secret="s",
                                         authorize_url="http://idp/auth",
                                         token_url="http://idp/token",
                                         userdata_url="http://idp/me")
    model = asyncio.run(authenticator.update_auth_model({
        "name": "asha", "admin": None,
        "auth_state": {"access_token": "x",
                       "oauth_user": {"preferred_username": "asha", "roll_number": " cs21-b001 "}}}))
    assert hub.roll_number_from_auth_state(model["auth_state"]) == "CS21B001"


def test_an_lti_launch_gives_the_service_roll_number_roles_and_launch():
    authenticator = lti.CourseLTI13Authenticator(config=Config({"CourseLTI13Authenticator": {
        "context_courses": {f"{DEPLOYMENT}/ctx-1": "dl101"}, "issuer": ISSUER,
        "deployment_ids": {DEPLOYMENT}}}))
    claims = {"iss": ISSUER, lti.DEPLOYMENT_CLAIM: DEPLOYMENT, "sub": "u-1",
              lti.LIS_CLAIM: {"person_sourcedid": "cs21b001"},
              lti.CONTEXT_CLAIM: {"id": "ctx-1"},
              lti.ROLES_CLAIM: ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"],
              lti.AGS_ENDPOINT_CLAIM: {"lineitems": "https://lms.example/ctx-1/lineitems"}}
    handler = SimpleNamespace(find_user=lambda name: None)
    model = asyncio.run(authenticator.authenticate(handler, claims))
    state = model["auth_state"]
    assert hub.roll_number_from_auth_state(state) == "CS21B001"
    course, launch = hub.lti_launch_from_auth_state(state)
    assert course == "dl101"
    assert launch[hub.AGS_ENDPOINT_CLAIM]["lineitems"].endswith("/lineitems")
    who = Identity(username=model["name"], groups=frozenset(model["groups"]),
                   roll_number="CS21B001")
    assert who.role_in("dl101") is Role.STUDENT
