"""A student's code reaches the hub and the grading service, and nothing else.

Student servers run on ``<project>-students`` (scripts/localstack.py): internal, no host
address on its bridge, shared only with the hub and the grading service. From a
student's kernel the hub's API and proxy ports and the grading service answer; a
container on the main network (started here, a tiny HTTP server) neither resolves nor
answers, nor does the IdP on the host, while the hub reaches both (so their silence is
the network's doing, not a dead server).
"""

import contextlib
import json
from urllib.parse import urlsplit

import docker
import pytest

from tests.e2e.support import run_code

pytestmark = [pytest.mark.e2e, pytest.mark.docker]

# Run in a kernel (or with the hub's Python): TCP status of each "host:port" in
# TARGETS, HTTP status of each URL in URLS ($VARIABLES expanded), as JSON.
PROBE = """
import json, os, socket, urllib.request

def tcp(target):
    host, port = target.rsplit(":", 1)
    try:
        address = socket.gethostbyname(host)
    except OSError:
        return "unresolved"
    try:
        socket.create_connection((address, int(port)), timeout=3).close()
        return "open"
    except ConnectionRefusedError:
        return "refused"
    except OSError:
        return "unreachable"

def http(url):
    try:
        return urllib.request.urlopen(os.path.expandvars(url), timeout=10).status
    except Exception as e:
        return repr(e)

print(json.dumps({"tcp": {t: tcp(t) for t in TARGETS}, "http": {u: http(u) for u in URLS}}))
"""


def probe_code(targets=(), urls=()) -> str:
    return f"TARGETS = {list(targets)!r}\nURLS = {list(urls)!r}\n{PROBE}"


@pytest.fixture(scope="module")
def outsider(stack):
    """A container on the main network only, serving HTTP on port 8000."""
    name = f"{stack.config.project}-outsider"
    with contextlib.suppress(docker.errors.NotFound):
        stack.docker.containers.get(name).remove(force=True)
    container = stack.docker.containers.run(
        stack.config.singleuser_image, ["python3", "-m", "http.server", "8000"], name=name,
        detach=True, network=stack.config.network, user="1000",
        labels={"dlcourse.project": stack.config.project})
    try:
        container.reload()
        yield container.attrs["NetworkSettings"]["Networks"][stack.config.network]["IPAddress"]
    finally:
        container.remove(force=True)


def from_hub(stack, code: str) -> dict:
    hub = stack.docker.containers.get(stack.config.hub_container)
    exit_code, output = hub.exec_run(["python", "-c", code])
    assert exit_code == 0, output.decode()
    return json.loads(output)


def from_student(person, code: str) -> dict:
    out, err = run_code(person.server_url, person.token, code, timeout=120)
    assert err is None, f"{err}\n{out}"
    return json.loads(out)


def networks_of(stack, name: str) -> set[str]:
    container = stack.docker.containers.get(name)
    return set(container.attrs["NetworkSettings"]["Networks"])


def test_student_servers_share_a_network_only_with_the_hub_and_the_grading_service(
        people, stack):
    cfg = stack.config
    people("student1")
    assert networks_of(stack, f"{cfg.project}-user-student1") == {cfg.students_network}
    for name in (cfg.hub_container, cfg.grader_container):
        assert networks_of(stack, name) == {cfg.network, cfg.students_network}, name
    students = stack.docker.networks.get(cfg.students_network)
    assert students.attrs["Internal"] is True
    assert students.attrs["Options"] == {"com.docker.network.bridge.inhibit_ipv4": "true"}
    assert set(students.attrs["Containers"]) <= {
        c.id for c in [stack.docker.containers.get(cfg.hub_container),
                       stack.docker.containers.get(cfg.grader_container),
                       *stack.user_containers()]}


def test_a_students_kernel_reaches_the_hub_and_the_grading_service(people, stack):
    cfg = stack.config
    targets = [f"{cfg.hub_container}:{port}" for port in (8000, 8081, 8001)]
    targets.append(f"{cfg.grader_container}:5000")
    # the URLs the server itself uses: the hub API and the grading service
    urls = ["$JUPYTERHUB_API_URL", "$GRADER_SERVICE_URL/health"]
    seen = from_student(people("student1"), probe_code(targets, urls))
    assert seen["http"] == dict.fromkeys(urls, 200), seen
    assert seen["tcp"] == {
        f"{cfg.hub_container}:8000": "open",  # the proxy
        f"{cfg.hub_container}:8081": "open",  # the hub's API
        f"{cfg.hub_container}:8001": "refused",  # the proxy's API listens on loopback only
        f"{cfg.grader_container}:5000": "open",
    }


def test_nothing_else_answers_a_students_kernel(people, stack, outsider):
    cfg = stack.config
    idp = urlsplit(stack.idp_issuer(stack.ensure_network()))
    students_gateway = stack.docker.networks.get(cfg.students_network).attrs[
        "IPAM"]["Config"][0]["Gateway"]
    name = f"{cfg.project}-outsider"
    targets = [f"{name}:8000", f"{outsider}:8000", f"{idp.hostname}:{idp.port}",
               f"{students_gateway}:{idp.port}"]
    # the hub, on the main network, reaches the outsider and the IdP ...
    hub_sees = from_hub(stack, probe_code(targets[:3]))["tcp"]
    assert hub_sees == dict.fromkeys(targets[:3], "open"), hub_sees
    # ... a student's kernel neither resolves nor reaches them
    student_sees = from_student(people("student1"), probe_code(targets))["tcp"]
    assert student_sees == {
        f"{name}:8000": "unresolved",
        f"{outsider}:8000": "unreachable",
        f"{idp.hostname}:{idp.port}": "unreachable",  # a service of the host
        f"{students_gateway}:{idp.port}": "unreachable",  # the bridge has no host address
    }
