"""The Course menu under a hub base URL, in the single-user image.

JupyterLab serves the menu's settings from the image's overrides; the link to the
results page is a path on the hub's host. With the hub at ``/`` it is
``/services/grader/``; under ``JUPYTERHUB_BASE_URL=/jupyter/`` (z2jh's ``hub.baseUrl``)
it must be ``/jupyter/services/grader/``. A real ``jupyter lab`` from the image answers,
with the image's own ``/etc/jupyter`` config, as the image's user, without a network.
"""

import json

import pytest

from tests.conftest import require_image
from tests.images.test_singleuser_terminal import IMAGE, run_login_shell

pytestmark = pytest.mark.slow

MENU_SETTINGS = "/lab/api/settings/@jupyterlab/mainmenu-extension:plugin"
#: start JupyterLab, wait until it answers, print the Course menu's items as JSON
ASK_THE_LAB = """
jupyter lab --no-browser --ip=127.0.0.1 --port=8888 --IdentityProvider.token=t \
    > /tmp/lab.log 2>&1 &
python - <<'PY'
import json, time, urllib.request
url = "http://127.0.0.1:8888%s?token=t" % ("{path}",)
for _ in range(240):
    try:
        settings = json.load(urllib.request.urlopen(url, timeout=5))
        break
    except OSError:
        time.sleep(0.25)
else:
    print(open("/tmp/lab.log").read()); raise SystemExit(3)
menus = settings["schema"]["properties"]["menus"]["default"]
print(json.dumps([m["items"] for m in menus if m["id"] == "jp-mainmenu-dlcourse"]))
PY
"""


def course_menu(docker_client, **environment):
    status, out = run_login_shell(docker_client, ASK_THE_LAB.format(path=MENU_SETTINGS),
                                  **environment)
    assert status == 0, out
    (items,) = json.loads(out.strip().splitlines()[-1])
    return {item["args"]["text"]: item["args"]["url"] for item in items}


@pytest.mark.parametrize("base_url, results", [
    (None, "/services/grader/"),
    ("/", "/services/grader/"),
    ("/jupyter/", "/jupyter/services/grader/"),
    ("/courses/dl101", "/courses/dl101/services/grader/"),
])
def test_the_results_link_follows_the_hubs_base_url(docker_client, base_url, results):
    require_image(docker_client, IMAGE)
    environment = {} if base_url is None else {"JUPYTERHUB_BASE_URL": base_url}
    assert course_menu(docker_client, **environment) == {"My Results and Feedback": results}
