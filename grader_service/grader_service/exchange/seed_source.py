"""Jupyter Server extension of instructors' servers: seed the course directory's
``source/`` from the grading service (``GET /api/courses/<course>/course-source``) at
start, once, while it holds no assignment yet.

The single-user image's ``jupyter_server_config.py`` enables it for
``NBGRADER_ROLE=instructor`` only. The fetch runs in a background thread with a short
timeout: a failure is a warning naming ``dl-grader fetch-source``, never a slower or
failed server start. An assignment folder that exists is never touched
(``grader_service.fetch_source``).
"""

import os
import threading

import nbgrader.apps.baseapp  # noqa: F401 - imported here, not first in the thread
import nbgrader.coursedir  # noqa: F401
import requests

from ..cli import api_token, connection_problem, instructor_coursedir, service_url
from ..client import GraderClient
from ..fetch_source import assignments_in, fetch_source

#: seconds to wait for the grading service
TIMEOUT = 10.0
COMMAND = "dl-grader fetch-source"


def _jupyter_server_extension_points():
    return [{"module": __name__}]


def _load_jupyter_server_extension(serverapp):
    threading.Thread(target=seed, args=(serverapp.log,), name="seed-course-source",
                     daemon=True).start()


def seed(log, timeout=TIMEOUT):
    """Fetch the course source into the instructor's course directory (nbgrader's config:
    ``~/<course>/source/`` on the hub) if it holds no assignment; the report, or None
    when nothing was fetched. Never raises."""
    if os.environ.get("NBGRADER_ROLE") != "instructor":
        return None
    source = "the course directory's source/"
    try:
        coursedir = instructor_coursedir()
        source = os.path.join(coursedir.root, coursedir.source_directory)
        if not coursedir.course_id or assignments_in(source):
            return None
        client = GraderClient(service_url(None), api_token(None), timeout=timeout)
        report = fetch_source(client, coursedir.course_id, source)
    except Exception as err:  # noqa: BLE001 - the server starts whatever happened here
        reason = connection_problem(err) if isinstance(err, requests.RequestException) else err
        log.warning("The course source was not fetched into %s (%s); run `%s` in a "
                    "terminal", source, reason, COMMAND)
        return None
    for line in report.lines:
        log.info("course source: %s", line)
    return report
