"""/metrics behind the configured Prometheus token (GRADER_METRICS_TOKEN)."""

import pytest
from grader_testing import CALLERS, StaticIdentityProvider

from tests.grader_service.prepared import prepared_app


@pytest.fixture
def guarded(data_dir):
    app = prepared_app({"DATA_DIR": data_dir, "RUNNER": "local", "SIGNING_KEY_FILE": "",
                        "IDENTITY_PROVIDER": StaticIdentityProvider(CALLERS),
                        "METRICS_TOKEN": "prometheus-secret"})
    yield app.test_client()
    app.extensions["grader_engine"].dispose()


@pytest.mark.parametrize("path", ["/metrics", "/services/grader/metrics"])
@pytest.mark.parametrize("headers, status", [
    ({}, 401),
    ({"Authorization": "Bearer wrong"}, 403),
    ({"Authorization": "token alice-token"}, 401),  # a user's hub token is not the key
    ({"Authorization": "Bearer "}, 401),
    ({"Authorization": "Bearer prometheus-secret"}, 200),
])
def test_metrics_need_the_token(guarded, path, headers, status):
    response = guarded.get(path, headers=headers)
    assert response.status_code == status
    if status == 200:
        assert b"grader_jobs_current" in response.data
    else:
        assert b"grader_" not in response.data
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
