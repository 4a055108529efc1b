"""Jupyter Server extension of students' servers: nbgrader's assignment list and
"Validate" button, imported at their first request instead of at every server start.

nbgrader's server extensions import the whole of nbgrader when a server starts
(SQLAlchemy, nbconvert, the exchange, the formgrader): about 0.37 CPU-s of each start,
before the student has asked for anything, and at a workshop every start waits for the
ones ahead of it (``benchmarks/singleuser_start.py --imports`` shows it). Students'
servers enable this module instead of ``nbgrader.server_extensions.assignment_list``
and ``.validate_assignment`` (``images/singleuser/jupyter_server_config.py``).

It registers the same routes with stand-in handler classes. The first request to one of
an extension's routes runs nbgrader's own loader for it (what it sets up, it sets up as
it always does) and from then on every request is served by an instance of nbgrader's
own handler class: authentication, XSRF and the answers are nbgrader's. The routes are
nbgrader 0.9's; a test compares them with the installed nbgrader's ``default_handlers``.
"""

from __future__ import annotations

import importlib

from jupyter_server.utils import url_path_join
from tornado.web import RequestHandler

#: nbgrader's server extension -> the routes its ``default_handlers`` serve
ROUTES = {
    "nbgrader.server_extensions.assignment_list": (
        r"/assignments",
        r"/assignments/(?P<action>fetch|submit|fetch_feedback)",
        r"/courses",
        r"/nbgrader_version",
    ),
    "nbgrader.server_extensions.validate_assignment": (
        r"/assignments/validate",
        r"/nbgrader_version",
    ),
}


def _jupyter_server_extension_points():
    return [{"module": __name__}]


def _load_jupyter_server_extension(serverapp):
    base_url = serverapp.web_app.settings["base_url"]
    for extension, patterns in ROUTES.items():
        serverapp.web_app.add_handlers(".*$", [
            (url_path_join(base_url, pattern), deferred_handler(serverapp, extension, pattern))
            for pattern in patterns])


class _DeferredHandlerType(type):
    """Calling a stand-in class (tornado does, once per request) builds nbgrader's handler."""

    def __call__(cls, application, request, **kwargs):
        return cls.resolve()(application, request, **kwargs)


class DeferredHandler(RequestHandler, metaclass=_DeferredHandlerType):
    """Stands in for the handler of one nbgrader route until that route is first asked."""

    serverapp = None
    extension = ""
    pattern = ""
    resolved: type[RequestHandler] | None = None

    @classmethod
    def resolve(cls) -> type[RequestHandler]:
        """nbgrader's handler class for this route; its extension loaded on first use."""
        if cls.resolved is None:
            settings = cls.serverapp.web_app.settings
            loaded = settings.setdefault("dlcourse_deferred_nbgrader_loaded", set())
            if cls.extension not in loaded:
                importlib.import_module(cls.extension).load_jupyter_server_extension(
                    cls.serverapp)
                loaded.add(cls.extension)
            handlers = importlib.import_module(f"{cls.extension}.handlers").default_handlers
            cls.resolved = dict(handlers)[cls.pattern]
        return cls.resolved


def deferred_handler(serverapp, extension: str, pattern: str) -> type[DeferredHandler]:
    """A stand-in handler class for ``pattern`` of nbgrader's server ``extension``."""
    name = f"Deferred{extension.rsplit('.', 1)[-1].title().replace('_', '')}Handler"
    return type(name, (DeferredHandler,), {"serverapp": serverapp, "extension": extension,
                                          "pattern": pattern})
