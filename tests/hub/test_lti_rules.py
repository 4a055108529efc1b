"""Unit tests of the LTI login rules: claim paths, context and role mapping, nonces."""

import asyncio
from types import SimpleNamespace

import pytest
from tornado import web
from traitlets import TraitError
from traitlets.config import Config

from course_hub.claims import lookup_claim, parse_claim_path
from course_hub.lti import (
    CONTEXT_CLAIM,
    DEPLOYMENT_CLAIM,
    LIS_CLAIM,
    ROLES_CLAIM,
    CourseLTI13Authenticator,
    course_for_context,
    groups_after_launch,
    groups_for_roles,
    lti_username,
)
from tests.fake_lms.launch import INSTRUCTOR, LEARNER, TEACHING_ASSISTANT

LIS_PATH = f"[{LIS_CLAIM}].person_sourcedid"


@pytest.mark.parametrize("path, keys", [
    ("roll_number", ("roll_number",)),
    ("ext.roll_no", ("ext", "roll_no")),
    (LIS_PATH, (LIS_CLAIM, "person_sourcedid")),
    ("[a.b].[c/d].e", ("a.b", "c/d", "e")),
    ("[https://x.example/custom]", ("https://x.example/custom",)),
])
def test_claim_paths(path, keys):
    assert parse_claim_path(path) == keys


@pytest.mark.parametrize("path", ["", "a..b", ".a", "a.", "[]", "[a", "a]", "[a]b", "a[b]"])
def test_malformed_claim_paths_are_rejected(path):
    with pytest.raises(ValueError):
        parse_claim_path(path)


def test_lookup_reaches_claims_named_by_urls():
    claims = {LIS_CLAIM: {"person_sourcedid": "CS21B001"}, "a": 1}
    assert lookup_claim(claims, LIS_PATH) == "CS21B001"
    assert lookup_claim(claims, "a.b") is None
    assert lookup_claim(claims, "[https://purl.imsglobal.org/spec/lti/claim/lis]") == {
        "person_sourcedid": "CS21B001"}


def test_a_malformed_roll_number_claim_setting_fails_at_configuration():
    with pytest.raises(TraitError, match="expected"):
        CourseLTI13Authenticator(roll_number_claim="[unclosed.person_sourcedid")
    assert CourseLTI13Authenticator().roll_number_claim == LIS_PATH


ISSUER = "https://lms.example"
DEPLOYMENT = "1:3f2a9c"
COURSES = {"1:3f2a9c/ctx-1": "dl101", "1:3f2a9c/ctx-2": "ml202", "2:b7/ctx-1": "ml202"}


@pytest.mark.parametrize("context, deployment, course", [
    ({"id": "ctx-1", "label": "whatever"}, DEPLOYMENT, "dl101"),
    ({"id": "ctx-2", "label": "DL101"}, DEPLOYMENT, "ml202"),
    ({"id": "ctx-1"}, "2:b7", "ml202"),  # context ids are unique per deployment only
])
def test_context_maps_to_course_by_deployment_and_id(context, deployment, course):
    assert course_for_context(context, deployment, COURSES) == course


@pytest.mark.parametrize("context, deployment, fragment", [
    (None, DEPLOYMENT, "did not say which course"),
    ({}, DEPLOYMENT, "did not say which course"),
    ("ctx-1", DEPLOYMENT, "did not say which course"),
    ({"label": "ctx-1"}, DEPLOYMENT, "did not say which course"),
    ({"id": "ctx-9", "label": "PHY204", "title": "Optics"}, DEPLOYMENT,
     "'PHY204' is not connected"),
    # a sandbox course whose owner labelled it like ours: the label is never matched
    ({"id": "sandbox", "label": "ctx-1"}, DEPLOYMENT, "'ctx-1' is not connected"),
    ({"id": "sandbox", "label": "1:3f2a9c/ctx-1"}, DEPLOYMENT, "is not connected"),
    ({"id": "sandbox", "label": "dl101"}, DEPLOYMENT, "'dl101' is not connected"),
    ({"id": "ctx-1"}, "9:other", "is not connected"),  # same id, another deployment
])
def test_unknown_or_missing_context_is_refused(context, deployment, fragment):
    with pytest.raises(web.HTTPError) as info:
        course_for_context(context, deployment, COURSES)
    assert info.value.status_code == 403
    assert fragment in info.value.log_message


@pytest.mark.parametrize("roles, groups", [
    ([LEARNER], {"nbgrader-dl101"}),
    ([INSTRUCTOR], {"formgrade-dl101"}),
    ([TEACHING_ASSISTANT], {"formgrade-dl101"}),
    (["Learner"], {"nbgrader-dl101"}),
    ([INSTRUCTOR, LEARNER], {"formgrade-dl101", "nbgrader-dl101"}),
])
def test_roles_map_to_course_groups(roles, groups):
    assert groups_for_roles(roles, "dl101") == groups


@pytest.mark.parametrize("roles", [
    [], None, "Learner",
    ["http://purl.imsglobal.org/vocab/lis/v2/institution/person#Instructor"],
    ["http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor"],
])
def test_roles_without_course_access_are_refused(roles):
    with pytest.raises(web.HTTPError) as info:
        groups_for_roles(roles, "dl101")
    assert info.value.status_code == 403
    assert "gives no access" in info.value.log_message


def test_a_launch_replaces_only_its_own_course_groups():
    current = ["nbgrader-dl101", "formgrade-ml202", "tutors"]
    assert groups_after_launch(current, "dl101", {"formgrade-dl101"}) == [
        "formgrade-dl101", "formgrade-ml202", "tutors"]


def launch_claims(**overrides):
    claims = {"iss": ISSUER, DEPLOYMENT_CLAIM: DEPLOYMENT,
              "sub": "u-1", "email": "Asha@Univ.example",
              LIS_CLAIM: {"person_sourcedid": "cs21b001"},
              CONTEXT_CLAIM: {"id": "ctx-1", "label": "DL101-2026"},
              ROLES_CLAIM: [LEARNER]}
    claims.update(overrides)
    return claims


def authenticate(authenticator, claims, existing_groups=None):
    user = None
    if existing_groups is not None:
        user = SimpleNamespace(groups=[SimpleNamespace(name=g) for g in existing_groups])
    handler = SimpleNamespace(find_user=lambda name: user)
    return asyncio.run(authenticator.authenticate(handler, claims))


@pytest.fixture
def authenticator():
    return CourseLTI13Authenticator(config=Config(
        {"CourseLTI13Authenticator": {"context_courses": COURSES, "issuer": ISSUER,
                                      "deployment_ids": {DEPLOYMENT, "2:b7"}}}))


def test_authenticate_builds_the_auth_model(authenticator):
    claims = launch_claims()
    model = authenticate(authenticator, claims, existing_groups=["nbgrader-ml202"])
    assert model == {"name": lti_username(ISSUER, "u-1"),
                     "groups": ["nbgrader-dl101", "nbgrader-ml202"],
                     "auth_state": {"roll_number": "CS21B001", "lti_course": "dl101",
                                    "lti_claims": claims}}
    assert authenticator.manage_groups
    assert authenticator.any_allow_config
    assert authenticator.check_allowed(model["name"], model)
    assert not authenticator.check_allowed("x", {"groups": ["nbgrader-phy204"]})


def test_authenticate_reads_a_configured_roll_number_claim(authenticator):
    authenticator.roll_number_claim = "[https://purl.imsglobal.org/spec/lti/claim/custom].roll"
    claims = launch_claims(**{"https://purl.imsglobal.org/spec/lti/claim/custom":
                              {"roll": "EE21B045"}})
    assert authenticate(authenticator, claims)["auth_state"]["roll_number"] == "EE21B045"


@pytest.mark.parametrize("lis, fragment", [
    ({}, "did not include a roll number"),
    ({"person_sourcedid": "!!"}, "cannot use"),
])
def test_authenticate_refuses_a_launch_without_valid_roll_number(authenticator, lis, fragment):
    with pytest.raises(web.HTTPError) as info:
        authenticate(authenticator, launch_claims(**{LIS_CLAIM: lis}))
    assert info.value.status_code == 403
    assert fragment in info.value.log_message


def test_a_nonce_is_accepted_once(authenticator):
    assert authenticator.accept_nonce_once("n-1")
    assert not authenticator.accept_nonce_once("n-1")
    assert authenticator.accept_nonce_once("n-2")


HUB_ENV = {"JUPYTERHUB_CRYPT_KEY": "x", "HUB_CONNECT_HOST": "h", "SINGLEUSER_IMAGE": "i",
           "DOCKER_NETWORK_NAME": "n", "GRADER_SERVICE_URL": "http://g",
           "GRADER_SERVICE_API_TOKEN": "t", "HUB_AUTHENTICATOR": "lti13",
           "LTI13_ISSUER": "https://lms.example", "LTI13_CLIENT_ID": "c1, c2",
           "LTI13_AUTHORIZE_URL": "https://lms.example/auth",
           "LTI13_JWKS_URL": "https://lms.example/jwks",
           "LTI13_DEPLOYMENT_IDS": "1:3f2a9c, 2:b7",
           "LTI13_CONTEXT_COURSES": "1:3f2a9c/4dde05=dl101, 2:b7/ctx=1=dl101"}


REMOVE_ENV = object()


def load_hub_config(monkeypatch, **env):
    from traitlets.config.loader import PyFileConfigLoader

    from tests.conftest import REPO

    monkeypatch.delenv("OIDC_AUTHORIZE_URL", raising=False)
    for name, value in {**HUB_ENV, **env}.items():
        if value is REMOVE_ENV:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    return PyFileConfigLoader("jupyterhub_config.py", path=str(REPO / "hub")).load_config()


def test_hub_config_for_lti13(monkeypatch):
    lti = load_hub_config(monkeypatch).CourseLTI13Authenticator
    assert lti.client_id == {"c1", "c2"}
    assert lti.context_courses == {"1:3f2a9c/4dde05": "dl101", "2:b7/ctx=1": "dl101"}
    assert lti.deployment_ids == {"1:3f2a9c", "2:b7"}
    assert lti.username_key == "sub"
    assert "roll_number_claim" not in lti  # the class default: the SIS id


@pytest.mark.parametrize("env, fragment", [
    ({"LTI13_CONTEXT_COURSES": "1:3f2a9c/4dde05=ml999"}, "not in COURSE_IDS"),
    ({"LTI13_CONTEXT_COURSES": "DL101-2026"}, "key=value"),
    ({"LTI13_CONTEXT_COURSES": "DL101-2026=dl101"}, "labels are no longer accepted"),
    ({"LTI13_CONTEXT_COURSES": "9:x/4dde05=dl101"}, "<deployment id>/<context id>"),
    ({"LTI13_DEPLOYMENT_IDS": " , "}, "names no deployment"),
    ({"LTI13_DEPLOYMENT_IDS": REMOVE_ENV}, "LTI13_DEPLOYMENT_IDS is required"),
    ({"LTI13_USERNAME_CLAIM": "email"}, "cannot name hub accounts"),
    ({"HUB_AUTHENTICATOR": "saml"}, "oidc or lti13"),
    ({"HUB_AUTHENTICATOR": "oidc"}, "OIDC_AUTHORIZE_URL is required"),
])
def test_hub_config_refuses_unusable_login_settings(monkeypatch, env, fragment):
    with pytest.raises(SystemExit, match=fragment):
        load_hub_config(monkeypatch, **env)


def test_usernames_are_the_issuers_sub_hashed():
    name = lti_username(ISSUER, "u-1")
    assert name.startswith("lti-") and len(name) == 24 and name == name.lower()
    assert name == lti_username(ISSUER, "u-1")
    assert name != lti_username("https://other-lms.example", "u-1")  # scoped by issuer
    assert lti_username(ISSUER, "AbC") != lti_username(ISSUER, "abc")  # case kept apart


@pytest.mark.parametrize("change", [
    {"email": "someone.else@univ.example"},  # a duplicated email
    {"email": "new.address@univ.example"},  # a changed email
    {"name": "Other Student", "given_name": "Other"},
])
def test_the_username_follows_sub_never_email_or_names(authenticator, change):
    assert (authenticate(authenticator, launch_claims(**change))["name"]
            == lti_username(ISSUER, "u-1"))
    other = authenticate(authenticator, launch_claims(sub="u-2", **change))["name"]
    assert other == lti_username(ISSUER, "u-2") != lti_username(ISSUER, "u-1")


def test_a_launch_without_sub_is_refused_not_named_by_email(authenticator):
    claims = launch_claims()
    del claims["sub"]
    with pytest.raises(web.HTTPError) as info:
        authenticate(authenticator, claims)
    assert info.value.status_code == 403 and "did not say who you are" in info.value.log_message


def test_a_custom_username_claim_is_read_from_the_custom_claim(authenticator):
    authenticator.username_key = "custom_uid"
    claims = launch_claims(**{"https://purl.imsglobal.org/spec/lti/claim/custom": {"uid": 42}})
    assert authenticate(authenticator, claims)["name"] == lti_username(ISSUER, "42", "custom_uid")


@pytest.mark.parametrize("key", ["email", "name", "preferred_username", "given_name", ""])
def test_editable_claims_cannot_name_accounts(key):
    with pytest.raises(TraitError, match="cannot name hub accounts"):
        CourseLTI13Authenticator(username_key=key)
    assert CourseLTI13Authenticator().username_key == "sub"


@pytest.mark.parametrize("claims, status, fragment", [
    ({DEPLOYMENT_CLAIM: "9:installed-by-a-teacher"}, 403, "not registered"),
    ({DEPLOYMENT_CLAIM: None}, 403, "not registered"),
    ({"iss": "https://other-lms.example"}, 403, "not registered"),
])
def test_launches_from_other_deployments_or_issuers_are_refused(authenticator, claims, status,
                                                                fragment):
    with pytest.raises(web.HTTPError) as info:
        authenticate(authenticator, launch_claims(**claims))
    assert info.value.status_code == status and fragment in info.value.log_message


def test_without_deployment_ids_nobody_gets_in_and_the_hub_does_not_start():
    bare = CourseLTI13Authenticator(config=Config({"CourseLTI13Authenticator": {
        "context_courses": COURSES, "issuer": ISSUER}}))
    with pytest.raises(ValueError, match="no deployment_ids"):
        bare.check_allow_config()
    with pytest.raises(web.HTTPError) as info:
        authenticate(bare, launch_claims())
    assert info.value.status_code == 500 and "not configured" in info.value.log_message


def test_label_keys_from_before_stop_the_hub(authenticator):
    authenticator.context_courses = {"DL101-2026": "dl101"}
    with pytest.raises(ValueError, match="labels are no longer accepted"):
        authenticator.check_allow_config()
