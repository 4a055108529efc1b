"""A JupyterLab terminal in the single-user image: the course's commands are on PATH.

Jupyter's terminals run ``$SHELL -l`` (jupyter_server_terminals: a login shell when the
server has no tty, as under JupyterHub), and Debian's /etc/profile replaces the PATH the
container started with; ``/etc/profile.d/dlcourse-venv.sh`` puts ``/opt/venv/bin`` back.
The test runs that login shell as the image's own user, with the environment the hub's
spawner gives a server (``GRADER_SERVICE_URL``, ``JUPYTERHUB_API_TOKEN``), and no network.
"""

import pytest

from tests.conftest import require_image

IMAGE = "dlcourse/singleuser:latest"
UNREACHABLE = "http://127.0.0.1:9"  # nothing listens there (and the container has no network)

pytestmark = pytest.mark.slow


def run_login_shell(docker_client, script, **environment):
    """``bash -lc script`` in a throwaway container as the image's user: (exit, output)."""
    container = docker_client.containers.run(
        IMAGE, ["bash", "-lc", script], detach=True, network_mode="none",
        environment=environment)
    try:
        status = container.wait(timeout=120)["StatusCode"]
        return status, container.logs(stdout=True, stderr=True).decode()
    finally:
        container.remove(force=True)


def test_terminal_finds_nbgrader_and_dl_grader(docker_client):
    require_image(docker_client, IMAGE)
    status, out = run_login_shell(
        docker_client,
        'id -u; command -v nbgrader dl-grader || exit 10; '
        'dl-grader list --course dl101; echo "dl-grader exit $?"',
        GRADER_SERVICE_URL=UNREACHABLE, JUPYTERHUB_API_TOKEN="not-a-real-token")
    lines = out.strip().splitlines()
    assert status == 0, out
    assert lines[0] == "1000", out  # the image's user, not root
    assert lines[1:3] == ["/opt/venv/bin/nbgrader", "/opt/venv/bin/dl-grader"], out
    # dl-grader took the URL from $GRADER_SERVICE_URL, and an unreachable service is one line
    assert lines[3:] == [f"dl-grader: cannot reach the grading service at {UNREACHABLE} "
                         "(Connection refused); pass --url or set $GRADER_SERVICE_URL",
                         "dl-grader exit 2"], out


def test_server_start_imports_no_grammar_builder(docker_client):
    """rfc3987-syntax (jsonschema's optional IRI check) cost half of every server start;
    it is gone, and what needed jsonschema still validates (jupyter_events' schemas,
    nbformat), with the URI checks it uses."""
    require_image(docker_client, IMAGE)
    status, out = run_login_shell(docker_client, "python - <<'PY'\n"
                                  "import importlib.util, sys\n"
                                  "import jupyter_events.logger, jsonschema, nbformat\n"
                                  "assert importlib.util.find_spec('rfc3987_syntax') is None\n"
                                  "assert 'rfc3987_syntax' not in sys.modules\n"
                                  "checker = jsonschema.FormatChecker()\n"
                                  "assert 'uri' in checker.checkers\n"
                                  "nb = nbformat.v4.new_notebook()\n"
                                  "nbformat.validate(nb)\n"
                                  "print('ok')\n"
                                  "PY")
    assert status == 0 and out.strip().endswith("ok"), out
