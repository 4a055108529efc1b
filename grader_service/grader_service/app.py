"""Application factory (Flask tutorial style: no module-level app).

``create_app`` only wires: it reads settings and connects components. The database
schema and the signing key are prepared once beforehand (:mod:`.prepare`, ``dl-grader
migrate``), and only a process that grades builds the grading service.
"""

from flask import Flask

from . import (
    auth,
    blobs,
    db,
    errors,
    exporters,
    intake,
    metrics,
    results,
    stamp,
    throttle,
    wakeup,
    worker,
)
from .api import BLUEPRINTS
from .config import from_env
from .prefix import PrefixMiddleware


def create_app(test_config=None, *, grading=True):
    """Build the grading service: config from the environment, then ``test_config`` on top.

    ``grading`` wires the grading threads into this process (``worker.init_app``; they
    start only when asked); an HTTP-only process passes False and wakes the grading
    process through :mod:`.wakeup` instead.
    """
    app = Flask(__name__, static_folder=None)
    app.config.from_mapping(from_env())
    if test_config is not None:
        app.config.from_mapping(test_config)
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_UPLOAD_BYTES"]
    throttle.parse_rate(app.config["SUBMIT_RATE"])  # a bad setting fails here, not per request

    for component in (errors, db, blobs, stamp, metrics, exporters, auth, intake, wakeup):
        component.init_app(app)
    if grading:  # the runner and the grading threads: only where grading runs
        worker.init_app(app)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    results.init_app(app)  # the browser page (hub OAuth), beside the API
    app.register_blueprint(results.bp)
    app.wsgi_app = PrefixMiddleware(app.wsgi_app, app.config["SERVICE_PREFIX"])
    return app
