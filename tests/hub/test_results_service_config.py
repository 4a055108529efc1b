"""The hub's configuration for the grading service's results page: in the Services menu,
OAuth without a confirmation page, and every user allowed to open it."""

from jupyterhub.services.service import Service

from tests.hub.test_lti_rules import load_hub_config


def test_grader_service_is_a_listed_oauth_client(monkeypatch):
    config = load_hub_config(monkeypatch)
    grader = next(s for s in config.JupyterHub.services if s["name"] == "grader")
    assert grader["display"] and grader["oauth_no_confirm"]
    assert grader["oauth_client_allowed_scopes"] == ["access:services!service=grader"]
    user_role = next(r for r in config.JupyterHub.load_roles if r["name"] == "user")
    assert set(user_role["scopes"]) == {"self", "access:services!service=grader"}
    # keys JupyterHub knows (a misspelt one would be refused at start); the hub names the
    # client service-grader with callback /services/grader/oauth_callback, the service's
    # defaults (grader_service.config OAUTH_CLIENT_ID, OAUTH_CALLBACK_URL)
    assert set(grader) <= set(Service.class_traits(input=True))
