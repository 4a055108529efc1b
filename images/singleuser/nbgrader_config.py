"""nbgrader settings for the course's single-user servers.

Assignments move through the course grading service instead of a shared exchange
directory: every exchange operation (release, fetch, list, submit...) is an HTTP
client of that service, which identifies the caller by this server's JupyterHub API
token. The course id and the student id come from the hub (COURSE_ID,
JUPYTERHUB_USER), never from the user.
"""

import os

from grader_service.exchange.nbgrader_config_snippet import apply as use_grader_exchange

c = get_config()  # noqa: F821

c.CourseDirectory.course_id = os.environ.get("COURSE_ID", "")
c.CourseDirectory.student_id = os.environ.get("JUPYTERHUB_USER", "")
use_grader_exchange(c)
