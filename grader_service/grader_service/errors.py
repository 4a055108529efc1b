"""Every error is JSON ``{"error": "..."}`` with a proper status code."""

import logging

from flask import jsonify
from werkzeug.exceptions import HTTPException

from .auth import AuthError

log = logging.getLogger(__name__)


def _json_error(status, message):
    response = jsonify(error=message)
    response.status_code = status
    return response


def init_app(app):
    @app.errorhandler(HTTPException)
    def http_error(err):
        response = _json_error(err.code, err.description)
        for name, value in err.get_headers():  # e.g. Retry-After of a 429
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(AuthError)
    def auth_error(err):
        response = _json_error(401, str(err))
        response.headers["WWW-Authenticate"] = "token"
        return response

    @app.errorhandler(Exception)
    def unexpected(err):
        import requests

        if isinstance(err, requests.RequestException):
            log.error("JupyterHub API unreachable: %s", err)
            return _json_error(503, "cannot reach JupyterHub to check the token")
        log.exception("unhandled error")
        return _json_error(500, "internal error")
