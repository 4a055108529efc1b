"""Tests of the demo OIDC IdP (hub/demo-idp), run as a real node process.

A plain OAuth 2.0 / OIDC client written with ``requests`` drives the
authorization code flow the way JupyterHub's GenericOAuthenticator does:
browser-side steps go to the issuer host (``localhost``), back-channel token
and userinfo calls go to ``127.0.0.1`` (a different Host header).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests

from scripts.demo_idp import DEMO_PASSWORD
from tests.e2e.support.oidc_login import parse_page

SCOPE = "openid profile email"


def backchannel(idp, path: str) -> str:
    """URL of ``path`` on the IdP's loopback address (not the issuer host)."""
    return idp.url_for(path)


def authorize(idp, redirect_uri, username, password, *, scope=SCOPE, pkce=False):
    """Browser part of the flow; returns (code, code_verifier, final_response)."""
    sess = requests.Session()
    state = secrets.token_urlsafe(16)
    params = {
        "client_id": idp.client_id,
        "response_type": "code",
        "scope": scope,
        "redirect_uri": redirect_uri,
        "state": state,
        "nonce": secrets.token_urlsafe(16),
    }
    verifier = None
    if pkce:
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        params["code_challenge"] = challenge.decode().rstrip("=")
        params["code_challenge_method"] = "S256"

    response = sess.get(idp.authorize_url, params=params, allow_redirects=True, timeout=10)
    assert response.status_code == 200, response.text
    page = parse_page(response.text)
    form = next(f for f in page.forms if {"username", "password"} <= f.input_names)
    response = sess.post(
        urljoin(response.url, form.action),
        data={"username": username, "password": password},
        allow_redirects=False,
        timeout=10,
    )
    # Follow redirects inside the IdP, answer the consent page, stop at redirect_uri.
    for _ in range(10):
        if response.status_code in (302, 303):
            location = urljoin(response.url, response.headers["Location"])
            if location.startswith(redirect_uri):
                query = parse_qs(urlsplit(location).query)
                assert query["state"] == [state]
                assert "error" not in query, query
                return query["code"][0], verifier, response
            response = sess.get(location, allow_redirects=False, timeout=10)
            continue
        if response.status_code != 200:
            return None, verifier, response
        page = parse_page(response.text)
        consent = next((f for f in page.forms if "confirm" in f.action), None)
        if consent is None:
            return None, verifier, response
        assert not any(f.input_names & {"password"} for f in page.forms)
        response = sess.post(
            urljoin(response.url, consent.action),
            data=consent.fields,
            allow_redirects=False,
            timeout=10,
        )
    raise AssertionError("too many redirects")


def exchange(idp, redirect_uri, code, *, auth="basic", verifier=None):
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if verifier:
        data["code_verifier"] = verifier
    kwargs = {}
    if auth == "basic":
        kwargs["auth"] = (idp.client_id, idp.client_secret)
    else:
        data.update(client_id=idp.client_id, client_secret=idp.client_secret)
    response = requests.post(backchannel(idp, "/token"), data=data, timeout=10, **kwargs)
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens["token_type"].lower() == "bearer"
    return tokens


def userinfo(idp, access_token):
    response = requests.get(
        backchannel(idp, "/me"),
        headers={"Authorization": f"Bearer {access_token}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()


def login_userinfo(idp, redirect_uri, username, **kwargs):
    auth = kwargs.pop("auth", "basic")
    code, verifier, response = authorize(idp, redirect_uri, username, DEMO_PASSWORD, **kwargs)
    assert code, f"no code: HTTP {response.status_code} {response.text[:500]}"
    tokens = exchange(idp, redirect_uri, code, auth=auth, verifier=verifier)
    return tokens, userinfo(idp, tokens["access_token"])


def jwt_payload(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_health(demo_idp):
    response = requests.get(backchannel(demo_idp, "/health"), timeout=5)
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_discovery_lists_endpoints_and_claims(demo_idp):
    response = requests.get(backchannel(demo_idp, "/.well-known/openid-configuration"), timeout=5)
    assert response.status_code == 200
    meta = response.json()
    assert meta["issuer"] == demo_idp.issuer
    assert meta["authorization_endpoint"].endswith("/auth")
    assert meta["token_endpoint"].endswith("/token")
    assert meta["userinfo_endpoint"].endswith("/me")
    assert {"roll_number", "groups", "preferred_username"} <= set(meta["claims_supported"])
    assert {"openid", "profile", "email", "course"} <= set(meta["scopes_supported"])
    assert {"client_secret_basic", "client_secret_post"} <= set(
        meta["token_endpoint_auth_methods_supported"]
    )


def test_student1_code_flow_basic_auth(demo_idp, redirect_uri):
    tokens, info = login_userinfo(demo_idp, redirect_uri, "student1", auth="basic")
    assert info["sub"] == "student1"
    assert info["preferred_username"] == "student1"
    assert info["roll_number"] == "CS21B001"
    assert info["groups"] == ["nbgrader-dl101"]
    assert info["email"] == "student1@students.example.edu"
    assert info["name"]
    # The ID token carries the same claims and the browser-facing issuer.
    claims = jwt_payload(tokens["id_token"])
    assert claims["iss"] == demo_idp.issuer
    assert claims["aud"] == demo_idp.client_id
    assert claims["roll_number"] == "CS21B001"


def test_client_secret_post_with_pkce(demo_idp, redirect_uri):
    _, info = login_userinfo(demo_idp, redirect_uri, "student3", auth="post", pkce=True)
    assert info["roll_number"] == "EE21B045"
    assert info["groups"] == ["nbgrader-dl101"]


def test_pkce_verifier_is_checked_when_sent(demo_idp, redirect_uri):
    code, _verifier, _ = authorize(demo_idp, redirect_uri, "student2", DEMO_PASSWORD, pkce=True)
    response = requests.post(
        backchannel(demo_idp, "/token"),
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": secrets.token_urlsafe(48),
        },
        auth=(demo_idp.client_id, demo_idp.client_secret),
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_course_scope_alone_gives_roll_number_and_groups(demo_idp, redirect_uri):
    _, info = login_userinfo(demo_idp, redirect_uri, "student2", scope="openid course")
    assert info == {"sub": "student2", "roll_number": "CS21B002", "groups": ["nbgrader-dl101"]}


def test_instructor_groups(demo_idp, redirect_uri):
    _, info = login_userinfo(demo_idp, redirect_uri, "instructor1")
    assert info["roll_number"] == "FAC0001"
    assert info["groups"] == ["formgrade-dl101"]


def test_noroll_has_no_roll_number_claim(demo_idp, redirect_uri):
    _, info = login_userinfo(demo_idp, redirect_uri, "noroll")
    assert info["preferred_username"] == "noroll"
    assert "roll_number" not in info


def test_badroll_has_malformed_roll_number(demo_idp, redirect_uri):
    _, info = login_userinfo(demo_idp, redirect_uri, "badroll")
    assert info["roll_number"] == "!!"


@pytest.mark.parametrize(
    ("username", "password"), [("student1", "wrong-password"), ("nosuchuser", DEMO_PASSWORD)]
)
def test_wrong_password_shows_error(demo_idp, redirect_uri, username, password):
    code, _, response = authorize(demo_idp, redirect_uri, username, password)
    assert code is None
    assert response.status_code == 401
    page = parse_page(response.text)
    assert page.errors == ["Invalid username or password."]
    # The login form is shown again, with the username kept.
    form = next(f for f in page.forms if {"username", "password"} <= f.input_names)
    assert form.fields["username"] == username
    assert "login FAILED" in demo_idp.log_text()


def test_userinfo_rejects_bad_token(demo_idp):
    response = requests.get(
        backchannel(demo_idp, "/me"), headers={"Authorization": "Bearer nope"}, timeout=5
    )
    assert response.status_code == 401


def test_token_rejects_wrong_client_secret(demo_idp, redirect_uri):
    code, _, _ = authorize(demo_idp, redirect_uri, "student1", DEMO_PASSWORD)
    response = requests.post(
        backchannel(demo_idp, "/token"),
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
        auth=(demo_idp.client_id, "wrong"),
        timeout=10,
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_unknown_redirect_uri_is_refused(demo_idp):
    response = requests.get(
        demo_idp.authorize_url,
        params={
            "client_id": demo_idp.client_id,
            "response_type": "code",
            "scope": SCOPE,
            "redirect_uri": "http://evil.invalid/cb",
        },
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 400
    assert "redirect_uri" in parse_page(response.text).text


def test_logins_are_logged(demo_idp, redirect_uri):
    login_userinfo(demo_idp, redirect_uri, "student2")
    assert "login OK: student2" in demo_idp.log_text()
