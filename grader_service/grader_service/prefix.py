"""WSGI middleware: serve the same routes at ``/`` and below the hub's service prefix."""


class PrefixMiddleware:
    """Move a leading ``prefix`` (e.g. ``/services/grader``) from PATH_INFO to SCRIPT_NAME.

    The hub proxy forwards ``/services/grader/...`` unchanged while direct callers use
    ``/...``; both reach the same view, and ``url_for`` keeps the caller's prefix.
    """

    def __init__(self, app, prefix):
        self.app = app
        self.prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if self.prefix and (path == self.prefix or path.startswith(self.prefix + "/")):
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + self.prefix
            environ["PATH_INFO"] = path[len(self.prefix):] or "/"
        return self.app(environ, start_response)
