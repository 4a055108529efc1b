"""Service endpoints: health, Prometheus metrics, the stamp public key, the LTI tool key
set, the caller's courses."""

import hmac

from flask import Blueprint, Response, abort, current_app, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from ..auth import current_identity
from ..db import get_db
from ..exporters import get_exporters
from ..metrics import get_metrics
from ..queue import status_counts
from ..stamp import get_signer

bp = Blueprint("service", __name__)


@bp.get("/health")
def health():
    """Liveness plus a database round trip."""
    get_db().execute(text("SELECT 1"))
    return {"status": "ok"}


def _require_metrics_token():
    """401 without a bearer token, 403 with a wrong one, when ``METRICS_TOKEN`` is set."""
    expected = current_app.config.get("METRICS_TOKEN", "")
    if not expected:
        return None
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return Response("metrics need `Authorization: Bearer <GRADER_METRICS_TOKEN>`\n", 401,
                        {"WWW-Authenticate": 'Bearer realm="grader metrics"'},
                        mimetype="text/plain")
    if not hmac.compare_digest(token.strip().encode(), expected.encode()):
        return Response("wrong metrics token\n", 403, mimetype="text/plain")
    return None


@bp.get("/metrics")
def metrics():
    refused = _require_metrics_token()
    if refused is not None:
        return refused
    registry = get_metrics()
    registry.set_job_counts(status_counts(get_db()))
    return Response(registry.exposition(), mimetype=CONTENT_TYPE_LATEST)


@bp.get("/api/public-key")
def public_key():
    return Response(get_signer().public_key_pem, mimetype="application/x-pem-file")


@bp.get("/api/lti/jwks")
def lti_jwks():
    """The LTI tool's public keys, for the LMS registration (only with ``lti-ags``)."""
    for exporter in get_exporters():
        if hasattr(exporter, "jwks"):
            return jsonify(exporter.jwks())
    abort(404, description="no LTI exporter is configured (GRADER_EXPORTERS)")


@bp.get("/api/courses")
def my_courses():
    identity = current_identity()
    return jsonify([{"course": c, "role": r.value} for c, r in sorted(identity.courses().items())])
