"""What ops staff rely on in the running hub: idle servers are stopped by the culler."""

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.docker]


def test_the_idle_culler_runs_as_a_managed_service(hub):
    reply = hub.request("GET", "/services/idle-culler")
    assert reply.status_code == 200, reply.text
    model = reply.json()
    assert model["kind"] == "service" and model["pid"] > 0  # started and supervised by the hub
    assert "jupyterhub_idle_culler" in " ".join(model["command"])
    assert "--timeout=3600" in model["command"]
