"""Jupyter Server settings for the course's single-user servers.

Students do not get nbgrader's formgrader server extension; instructors
(NBGRADER_ROLE=instructor, set by the hub from the formgrade-<course> group) do.
The role is a convenience for the UI only: the grading service checks every request
against the hub's groups.
"""

import os

c = get_config()  # noqa: F821

if os.environ.get("NBGRADER_ROLE") != "instructor":
    c.ServerApp.jpserver_extensions = {
        "nbgrader.server_extensions.formgrader": False,
    }
