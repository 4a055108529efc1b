"""Service endpoints: health, Prometheus metrics, the stamp public key, the LTI tool key
set, the caller's courses."""

from flask import Blueprint, Response, abort, jsonify
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


@bp.get("/metrics")
def metrics():
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
