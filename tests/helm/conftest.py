"""Render the dlcourse chart offline (helm-python-sdk) and validate what comes out.

No cluster is needed. Without ``helm_python`` / ``kubernetes_validate`` the tests skip
on a developer machine and FAIL under CI=true (see tests/conftest.py ``require``).
"""

from pathlib import Path

import pytest
import yaml
from helm_testing import CHART, NAMESPACE, RELEASE, Z2JH_VALUES, with_api_server

from tests.conftest import require


@pytest.fixture(scope="session")
def helm():
    try:
        import helm_python
    except Exception as err:  # noqa: BLE001 - ImportError or a missing native library
        require(False, f"helm-python-sdk is not usable: {err}")
    return helm_python


@pytest.fixture(scope="session")
def kube_validate():
    try:
        import kubernetes_validate
    except ImportError as err:
        require(False, f"kubernetes-validate is not installed: {err}")
    return kubernetes_validate


@pytest.fixture(scope="session")
def render(helm):
    """``render(values) -> [manifest dicts]`` of the chart for release dlcourse.

    There is no cluster to look the API server's endpoints up in: the values get
    API_SERVER_CIDRS unless they set their own or ``api_server=False`` (the bare
    defaults, which must fail)."""
    chart = helm.Chart.load(str(CHART))

    def render(values=None, name=RELEASE, namespace=NAMESPACE, api_server=True):
        values = with_api_server(values) if api_server else (values or {})
        out = chart.render(values, name=name, namespace=namespace)
        docs = []
        for path, text in sorted(out.items()):
            if path.endswith("NOTES.txt"):
                continue
            for doc in yaml.safe_load_all(text):
                if doc:
                    docs.append(doc)
        return docs

    render.chart = chart
    render.notes = lambda values=None: chart.render(
        with_api_server(values), name=RELEASE, namespace=NAMESPACE)[
        f"{CHART.name}/templates/NOTES.txt"]
    return render


@pytest.fixture(scope="session")
def z2jh_values():
    return yaml.safe_load(Path(Z2JH_VALUES).read_text())

