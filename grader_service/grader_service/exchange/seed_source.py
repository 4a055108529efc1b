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
    # Decided before the server answers anyone: a folder made through the contents API
    # right after the start must not cancel the first seeding.
    target = seed_target(serverapp.log)
    if target is not None:
        threading.Thread(target=fetch_into, args=(serverapp.log, *target),
                         name="seed-course-source", daemon=True).start()


def _warn(log, source, err):
    reason = connection_problem(err) if isinstance(err, requests.RequestException) else err
    log.warning("The course source was not fetched into %s (%s); run `%s` in a "
                "terminal", source, reason, COMMAND)


def seed_target(log):
    """``(course, source folder)`` to seed: an instructor's course directory (nbgrader's
    config: ``~/<course>/source/`` on the hub) whose source/ holds no assignment; else
    None. Never raises."""
    if os.environ.get("NBGRADER_ROLE") != "instructor":
        return None
    source = "the course directory's source/"
    try:
        coursedir = instructor_coursedir()
        source = os.path.join(coursedir.root, coursedir.source_directory)
        if not coursedir.course_id or assignments_in(source):
            return None
    except Exception as err:  # noqa: BLE001 - the server starts whatever happened here
        _warn(log, source, err)
        return None
    return coursedir.course_id, source


def fetch_into(log, course, source, timeout=TIMEOUT):
    """Fetch the course source into ``source``; the report, or None on a failure (a
    warning naming the command). Never raises."""
    try:
        client = GraderClient(service_url(None), api_token(None), timeout=timeout)
        report = fetch_source(client, course, source)
    except Exception as err:  # noqa: BLE001 - the server starts whatever happened here
        _warn(log, source, err)
        return None
    for line in report.lines:
        log.info("course source: %s", line)
    return report


def seed(log, timeout=TIMEOUT):
    """Seed the instructor's ``source/`` if it holds no assignment (``seed_target``);
    the report, or None when nothing was fetched. Never raises."""
    target = seed_target(log)
    return None if target is None else fetch_into(log, *target, timeout=timeout)
