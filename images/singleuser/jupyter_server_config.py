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

The Course menu's "My Results and Feedback" link (``lab-overrides.json``, installed in
JupyterLab's settings folder) is a path on the hub's host, ``/services/grader/``. Under
a hub base URL (``JUPYTERHUB_BASE_URL``, e.g. z2jh's ``hub.baseUrl: /jupyter/``) the
server writes a copy of those overrides with the prefix into a private temporary folder
at start and points JupyterLab at it.

The role only shapes the UI: the grading service authorizes every request against
the hub's groups, whatever a browser shows or asks for.
"""

import json
import os
import sys
import tempfile
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


def lab_settings_under(base_url, shipped=Path(sys.prefix, "share", "jupyter", "lab", "settings")):
    """A copy of JupyterLab's shipped settings overrides whose menu links to paths on
    the hub's host (``/...``) carry ``base_url``; returns the new settings folder."""
    folder = Path(tempfile.mkdtemp(prefix="dlcourse-lab-settings-"))
    (folder / "overrides.d").mkdir()
    for source in sorted((shipped / "overrides.d").glob("*.json")):
        overrides = json.loads(source.read_text())
        for menu in overrides.get("@jupyterlab/mainmenu-extension:plugin", {}).get("menus", []):
            for item in menu.get("items", []):
                url = item.get("args", {}).get("url", "")
                if url.startswith("/") and not url.startswith("//"):
                    item["args"]["url"] = base_url.rstrip("/") + url
        (folder / "overrides.d" / source.name).write_text(json.dumps(overrides, indent=1))
    return str(folder)


hub_base_url = os.environ.get("JUPYTERHUB_BASE_URL", "/")
if hub_base_url != "/":
    c.LabApp.app_settings_dir = lab_settings_under(hub_base_url)
