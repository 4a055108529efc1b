"""nbgrader settings for the course's single-user servers.

Assignments move through the course grading service instead of a shared exchange
directory: every exchange operation (release, fetch, list, submit...) is an HTTP
client of that service, which identifies the caller by this server's JupyterHub API
token. The course id and the student id come from the hub (COURSE_ID,
JUPYTERHUB_USER), never from the user.

Per role (``NBGRADER_ROLE`` from the hub, ``instructor`` for the course's
``formgrade-<course>`` group; anything else is a student):

- students: ``CourseDirectory.student_id`` is the logged-in user;
- instructors: ``student_id`` keeps nbgrader's default ``"*"`` (collect and feedback
  cover every student) and the course directory is ``CourseDirectory.root =
  ~/<course id>`` (``source/``, ``release/``, ``submitted/``, ``gradebook.db``...).

Nobody's server autogrades (``grader_service.exchange.local_autograde``): the grading
service grades every submission in its sandbox. Generated feedback drops the grading
guides that ``pull-results`` shows instructors in the formgrader
(``grader_service.exchange.feedback_filter``).
"""

import os

from grader_service.exchange.feedback_filter import apply as feedback_without_guides
from grader_service.exchange.local_autograde import apply as refuse_local_autograde
from grader_service.exchange.nbgrader_config_snippet import apply as use_grader_exchange

c = get_config()  # noqa: F821

COURSE_ID = os.environ.get("COURSE_ID", "")

c.CourseDirectory.course_id = COURSE_ID
if os.environ.get("NBGRADER_ROLE") == "instructor":
    if COURSE_ID:  # the hub always sets it; without it nbgrader's default (the cwd) stays
        c.CourseDirectory.root = os.path.join(os.path.expanduser("~"), COURSE_ID)
        os.makedirs(c.CourseDirectory.root, exist_ok=True)
else:
    c.CourseDirectory.student_id = os.environ.get("JUPYTERHUB_USER", "")
use_grader_exchange(c)
refuse_local_autograde(c)
feedback_without_guides(c)
