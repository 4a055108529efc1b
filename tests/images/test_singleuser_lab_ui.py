"""nbgrader's Lab UI per role: a real JupyterLab from the venv with the image's config.

The single-user image's ``/etc/jupyter`` is rebuilt in a temporary directory from the
Dockerfile's own ``COPY ... /etc/jupyter/...`` lines and put on ``JUPYTER_CONFIG_PATH``
(the venv pins the same JupyterLab, jupyterlab_server and nbgrader as the image). For
each ``NBGRADER_ROLE`` a real ``jupyter lab`` starts on a loopback port with a
temporary HOME; the test reads what a browser would get: the page config embedded in
``/lab``, the plugin manager's lock rules and the nbgrader server routes.

The ids must also be plugin ids of the installed ``@jupyter/nbgrader`` bundle: a
renamed plugin would otherwise be "disabled" without effect.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import REPO, stop_process

pytestmark = pytest.mark.slow

DOCKERFILE = REPO / "images" / "singleuser" / "Dockerfile"
NBGRADER_LABEXTENSION = Path(sys.prefix, "share", "jupyter", "labextensions", "@jupyter",
                             "nbgrader")
INSTRUCTOR_ONLY = {"@jupyter/nbgrader:course-list", "@jupyter/nbgrader:create-assignment",
                   "@jupyter/nbgrader:formgrader"}
STUDENT_KEEPS = {"@jupyter/nbgrader:menu", "@jupyter/nbgrader:assignment-list",
                 "@jupyter/nbgrader:validate-assignment"}
TOKEN = "lab-ui-test-token"
#: role -> (the server's log file, its text when the server first answered)
LOGS: dict[str, tuple[Path, str]] = {}
NBGRADER_LOADED = "Loading the assignment_list nbgrader serverextension"
LAB_OVERRIDES = REPO / "images" / "singleuser" / "lab-overrides.json"


def image_etc_jupyter(dest: Path) -> Path:
    """Lay out the image's /etc/jupyter under ``dest`` as the Dockerfile's COPY lines do."""
    root = dest / "etc" / "jupyter"
    for line in DOCKERFILE.read_text().splitlines():
        words = [w for w in line.split() if not w.startswith("--")]
        if not words or words[0] != "COPY" or not words[-1].startswith("/etc/jupyter/"):
            continue
        *sources, target = words[1:]
        into_dir = target.endswith("/")  # Docker: "dir/" receives the files by name
        target = root / target.removeprefix("/etc/jupyter/")
        for source in sources:
            to = target / Path(source).name if into_dir else target
            to.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(REPO / source, to)
    assert (root / "jupyter_server_config.py").is_file(), "Dockerfile no longer copies it"
    return root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module", params=["student", "instructor"])
def lab(request, tmp_path_factory):
    """A running ``jupyter lab`` for one role; yields (role, base URL)."""
    role = request.param
    tmp = tmp_path_factory.mktemp(role)
    home = tmp / "home"
    home.mkdir()
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "LANG": "C.UTF-8",
           "JUPYTER_CONFIG_PATH": str(image_etc_jupyter(tmp)), "NBGRADER_ROLE": role}
    settings = tmp / "lab-settings"  # the image's settings overrides, as its COPY puts them
    (settings / "overrides.d").mkdir(parents=True)
    shutil.copy(LAB_OVERRIDES, settings / "overrides.d" / "dlcourse.json")
    port = free_port()
    log = (tmp / "lab.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
         f"--port={port}", "--ServerApp.port_retries=0", "--ServerApp.allow_root=True",
         f"--IdentityProvider.token={TOKEN}", f"--LabApp.app_settings_dir={settings}"],
        cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, (tmp / "lab.log").read_text()
            try:
                if requests.get(f"{url}/api/status", params={"token": TOKEN},
                                timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, (tmp / "lab.log").read_text()
            time.sleep(0.25)
        LOGS[role] = (tmp / "lab.log", (tmp / "lab.log").read_text())
        yield role, url
    finally:
        stop_process(proc)
        log.close()


def get(url: str, path: str) -> requests.Response:
    return requests.get(f"{url}{path}", params={"token": TOKEN}, timeout=30,
                        allow_redirects=False)


def page_config(url: str) -> dict:
    """The page config JupyterLab embeds in /lab (what the browser's plugins see)."""
    html = get(url, "/lab").text
    match = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                      html, re.S)
    assert match, html[:2000]
    return json.loads(match.group(1))


def nbgrader_ids(ids) -> set[str]:
    return {i for i in ids if i.startswith("@jupyter/nbgrader")}


def test_disabled_ids_are_plugins_of_the_installed_nbgrader():
    package = json.loads((NBGRADER_LABEXTENSION / "package.json").read_text())
    assert package["version"].startswith("0.9."), package["version"]
    bundle = "".join(p.read_text() for p in (NBGRADER_LABEXTENSION / "static").glob("*.js"))
    ids = set(re.findall(r'"(@jupyter/nbgrader:[\w-]+)"', bundle))
    assert not (INSTRUCTOR_ONLY | STUDENT_KEEPS) - ids, ids


def test_lab_page_config_per_role(lab):
    role, url = lab
    config = page_config(url)
    assert "@jupyter/nbgrader" in {e["name"] for e in config["federated_extensions"]}
    disabled = nbgrader_ids(config["disabledExtensions"])
    locks = nbgrader_ids(get(url, "/lab/api/plugins").json()["lockRules"])
    if role == "student":
        assert disabled == INSTRUCTOR_ONLY
        assert locks == INSTRUCTOR_ONLY
        assert not disabled & STUDENT_KEEPS
    else:
        assert disabled == set()
        assert locks == set()


def test_nbgrader_server_extensions_per_role(lab):
    role, url = lab
    # assignment_list and validate_assignment answer for everyone (no 404) ...
    assert get(url, "/assignments").status_code != 404
    assert get(url, "/assignments/validate").status_code != 404
    # ... formgrader (/formgrader) and course_list (/formgraders) only for instructors.
    for path in ("/formgrader", "/formgraders"):
        status = get(url, path).status_code
        assert (status == 404) == (role == "student"), (path, status)


def test_students_import_nbgrader_at_the_first_request(lab):
    """A student's server starts without nbgrader (it answered before loading it) and
    serves nbgrader's own answers once asked; an instructor's loads it at start."""
    role, url = lab
    log, at_start = LOGS[role]
    assert (NBGRADER_LOADED in at_start) == (role == "instructor"), at_start
    version = get(url, "/nbgrader_version?version=0.9.6")
    assert version.status_code == 200 and version.json() == {"success": True}, version.text
    mismatch = get(url, "/nbgrader_version?version=0.0.1").json()
    assert mismatch["success"] is False and "0.9.6" in mismatch["message"], mismatch
    # nbgrader's own handler: a request without the token goes to the login page
    anonymous = requests.get(f"{url}/assignments", timeout=30, allow_redirects=False)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    listing = get(url, "/assignments?course_id=dl101")
    assert listing.status_code == 200 and "success" in listing.json(), listing.text
    assert log.read_text().count(NBGRADER_LOADED) == 1


def test_deferred_routes_are_nbgrader_routes():
    """The stand-ins cover exactly the routes of the installed nbgrader's extensions."""
    import importlib

    from grader_service.deferred_nbgrader import ROUTES
    for extension, patterns in ROUTES.items():
        handlers = importlib.import_module(f"{extension}.handlers").default_handlers
        assert [pattern for pattern, _handler in handlers] == list(patterns), extension


def test_no_news_prompt_and_the_course_menu(lab):
    """A newcomer's first Lab page asks nothing about Jupyter news (the server has no
    internet anyway) and has the Course menu with the results page."""
    _role, url = lab
    assert f"COPY {LAB_OVERRIDES.relative_to(REPO)} " in DOCKERFILE.read_text()
    news = get(url, "/lab/api/settings/@jupyterlab/apputils-extension:notification").json()
    properties = news["schema"]["properties"]
    assert properties["fetchNews"]["default"] == "false"
    assert properties["checkForUpdates"]["default"] is False
    menus = get(url, "/lab/api/settings/@jupyterlab/mainmenu-extension:plugin").json()
    course = [m for m in menus["schema"]["properties"]["menus"]["default"]
              if m["id"] == "jp-mainmenu-dlcourse"]
    assert course and course[0]["items"][0]["args"]["url"] == "/services/grader/", course
