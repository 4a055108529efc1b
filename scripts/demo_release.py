"""Release one assignment of the built course as an instructor, the way nbgrader's Release
button does (the release and source archives to the grading service), from a host.

``make demo`` uses it so that a newcomer's student finds something in the Assignments
tab at once. The instructor account is made in the hub if it never logged in (with the
course's instructor group), and acts through a token that expires in five minutes; the
ops service token (``HUB_OPS_API_TOKEN``) is what allows that. The archives come from
``build/course-release`` (student versions) and ``build/course-source`` (with solutions
and hidden tests, which the service keeps for grading and never hands out).

    python -m scripts.demo_release HUB_URL OPS_TOKEN ASSIGNMENT [--course dl101]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import requests

from grader_service.tarsafe import pack_directory

REPO = Path(__file__).resolve().parent.parent
RELEASE_DIR = REPO / "build" / "course-release"
SOURCE_DIR = REPO / "build" / "course-source"
#: the preloaded copy's note ("fetch this from the Assignments tab") is not released
SKIP = (".ipynb_checkpoints", "__pycache__", "FETCH_TO_WORK.md")


class ReleaseFailed(RuntimeError):
    """The hub or the grading service refused a step (the message says which)."""


def _check(response: requests.Response, what: str, ok=(200, 201, 204)) -> requests.Response:
    if response.status_code not in ok:
        raise ReleaseFailed(f"{what}: HTTP {response.status_code} {response.text[:300]}")
    return response


def instructor_token(hub_url: str, ops_token: str, course: str, instructor: str) -> str:
    """A 5-minute token of ``instructor``, made with the course's instructor group."""
    api = f"{hub_url}/hub/api"
    ops = {"Authorization": f"token {ops_token}"}
    group = f"formgrade-{course}"
    if requests.get(f"{api}/users/{instructor}", headers=ops, timeout=30).status_code == 404:
        _check(requests.post(f"{api}/users/{instructor}", headers=ops, timeout=30),
               f"creating {instructor}")
    if requests.get(f"{api}/groups/{group}", headers=ops, timeout=30).status_code == 404:
        _check(requests.post(f"{api}/groups/{group}", headers=ops, timeout=30),
               f"creating group {group}")
    _check(requests.post(f"{api}/groups/{group}/users", headers=ops, timeout=30,
                         json={"users": [instructor]}), f"adding {instructor} to {group}")
    reply = _check(requests.post(f"{api}/users/{instructor}/tokens", headers=ops, timeout=30,
                                 json={"expires_in": 300, "note": "demo release"}),
                   f"a token for {instructor}")
    return reply.json()["token"]


def release(hub_url: str, ops_token: str, assignment: str, course: str = "dl101",
            instructor: str = "instructor1") -> dict:
    """Release ``assignment`` of the built course; return the service's assignment record."""
    release_path, source_path = RELEASE_DIR / assignment, SOURCE_DIR / assignment
    for path in (release_path, source_path):
        if not path.is_dir():
            raise ReleaseFailed(f"{path} is missing: run `make course-release course-source`")
    token = instructor_token(hub_url, ops_token, course, instructor)
    files = {"release": ("release.tar.gz", pack_directory(release_path, SKIP),
                         "application/gzip"),
             "source": ("source.tar.gz", pack_directory(source_path, SKIP),
                        "application/gzip")}
    url = f"{hub_url}/services/grader/api/courses/{course}/assignments/{assignment}/release"
    reply = _check(requests.post(url, files=files, timeout=60,
                                 headers={"Authorization": f"token {token}"}),
                   f"releasing {assignment}")
    return reply.json()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.demo_release", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("hub_url")
    parser.add_argument("ops_token")
    parser.add_argument("assignment")
    parser.add_argument("--course", default="dl101")
    parser.add_argument("--instructor", default="instructor1")
    args = parser.parse_args(argv)
    try:
        record = release(args.hub_url, args.ops_token, args.assignment, args.course,
                         args.instructor)
    except (ReleaseFailed, requests.RequestException) as err:
        print(f"release of {args.assignment} failed: {err}", file=sys.stderr)
        return 1
    print(f"released {args.course}/{record.get('assignment', args.assignment)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
