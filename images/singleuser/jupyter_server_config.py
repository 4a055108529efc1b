"""Jupyter Server settings for the course's single-user servers: nbgrader per role.

The hub sets ``NBGRADER_ROLE`` (``instructor`` for members of ``formgrade-<course>``,
else ``student``; see ``course_hub.spawner_hooks``). Anything but ``instructor`` gets
the student view:

- server extensions: ``formgrader`` and ``course_list`` are off; ``assignment_list``
  (fetch/submit) and ``validate_assignment`` stay on, imported at their first request
  (``grader_service.deferred_nbgrader``: importing nbgrader at every start cost
  0.37 CPU-s of each student's server start).
- JupyterLab / Notebook 7 plugins of ``@jupyter/nbgrader`` 0.9.x: ``formgrader``,
  ``course-list`` and ``create-assignment`` are disabled and locked, so the Nbgrader
  menu and the command palette only offer "Assignment List" and notebooks keep the
  "Validate" button. ``menu``, ``assignment-list`` and ``validate-assignment`` stay.

The plugins are turned off the way ``jupyter labextension disable`` / ``lock`` do it:
``disabledExtensions`` / ``lockedExtensions`` in ``labconfig/page_config.json`` of a
Jupyter config directory. The Dockerfile installs ``student_page_config.json`` as
``student/labconfig/page_config.json`` next to this file (``/etc/jupyter/student``);
for students that directory goes first on ``JUPYTER_CONFIG_PATH`` before JupyterLab
reads its page config, so it outranks ``~/.jupyter``. Instructors get nbgrader as
installed, every part enabled. (JupyterHub's ``frame-ancestors 'none'`` leaves the Lab's
Formgrader panel blank; it is kept on purpose, see nbgrader#1947: instructors open
``/user/<name>/formgrader`` in a browser tab.)

Instructors' servers also load the server extension
``grader_service.exchange.seed_source``: at start, while ``~/<course>/source/`` holds no
assignment, it fetches the course's source notebooks from the grading service in the
background (a failure is a warning naming ``dl-grader fetch-source``). Students' servers
never load it, and the service answers 403 to them anyway.

The role only shapes the UI: the grading service authorizes every request against
the hub's groups, whatever a browser shows or asks for.
"""

import os
from pathlib import Path

c = get_config()  # noqa: F821

STUDENT_CONFIG_DIR = str(Path(__file__).resolve().with_name("student"))

if os.environ.get("NBGRADER_ROLE") == "instructor":
    c.ServerApp.jpserver_extensions = {"grader_service.exchange.seed_source": True}
else:
    c.ServerApp.jpserver_extensions = {
        "nbgrader.server_extensions.formgrader": False,
        "nbgrader.server_extensions.course_list": False,
        "nbgrader.server_extensions.assignment_list": False,
        "nbgrader.server_extensions.validate_assignment": False,
        "grader_service.deferred_nbgrader": True,
    }
    config_path = [p for p in os.environ.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep) if p]
    if STUDENT_CONFIG_DIR not in config_path:  # this file may be loaded more than once
        os.environ["JUPYTER_CONFIG_PATH"] = os.pathsep.join([STUDENT_CONFIG_DIR, *config_path])

# Idle kernels shut down after an hour, even while a Lab tab stays open (a connected
# browser would otherwise keep a kernel and its memory forever); a busy kernel is kept.
# KERNEL_CULL_IDLE_SECONDS=0 turns this off. The hub's idle culler then stops the server.
kernel_idle = int(os.environ.get("KERNEL_CULL_IDLE_SECONDS", "3600"))
if kernel_idle > 0:
    c.MappingKernelManager.cull_idle_timeout = kernel_idle
    c.MappingKernelManager.cull_interval = 300
    c.MappingKernelManager.cull_connected = True
    c.MappingKernelManager.cull_busy = False
    # an open terminal counts as activity too: stop idle ones after the same time
    c.TerminalManager.cull_inactive_timeout = kernel_idle
    c.TerminalManager.cull_interval = 300
