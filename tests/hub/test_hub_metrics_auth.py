"""/hub/metrics needs the prometheus service's token (authenticate_prometheus = True)."""

import requests

from tests.hub.test_lti_rules import load_hub_config


def test_config_authenticates_prometheus_with_a_read_metrics_service(monkeypatch):
    config = load_hub_config(monkeypatch, HUB_PROMETHEUS_API_TOKEN="t0ken")
    assert config.JupyterHub.authenticate_prometheus is True
    service = next(s for s in config.JupyterHub.services if s["name"] == "prometheus")
    assert service == {"name": "prometheus", "api_token": "t0ken"}
    role = next(r for r in config.JupyterHub.load_roles if r["name"] == "prometheus")
    assert role["scopes"] == ["read:metrics"] and role["services"] == ["prometheus"]


def test_hub_metrics_refuse_without_the_token(lti_hub, prometheus_token):
    url = f"{lti_hub.url}/hub/metrics"
    assert requests.get(url, timeout=10).status_code in (401, 403)
    wrong = requests.get(url, headers={"Authorization": "Bearer nope"}, timeout=10)
    assert wrong.status_code in (401, 403)
    scraped = requests.get(url, headers={"Authorization": f"Bearer {prometheus_token}"},
                           timeout=10)
    assert scraped.status_code == 200 and "jupyterhub_" in scraped.text
