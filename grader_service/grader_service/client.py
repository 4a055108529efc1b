"""HTTP client of the service's API for the instructor CLI (token = a JupyterHub API token)."""

import urllib.parse

import requests


class ApiError(Exception):
    """The service answered with an error; the message is the service's ``error``."""


class GraderClient:
    """Thin wrapper over the routes in ``openapi.yaml`` that instructors use."""

    def __init__(self, url, token, timeout=60.0, session=None):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()
        self.session.headers["Authorization"] = f"token {token}"

    def _call(self, method, path, **kwargs):
        response = self.session.request(method, self.url + path, timeout=self.timeout, **kwargs)
        if response.status_code >= 400:
            try:
                message = response.json()["error"]
            except (ValueError, KeyError, TypeError):
                message = response.text[:200]
            raise ApiError(f"{method} {path}: HTTP {response.status_code}: {message}")
        return response

    def submissions(self, course, assignment=""):
        query = {"assignment": assignment} if assignment else {}
        return self._call("GET", f"/api/courses/{_q(course)}/submissions", params=query).json()

    def submission(self, submission_id):
        return self._call("GET", f"/api/submissions/{_q(submission_id)}").json()

    def submission_files(self, submission_id):
        """The submitted archive (tar.gz bytes), as the service stored it."""
        return self._call("GET", f"/api/submissions/{_q(submission_id)}/files").content

    def stamp_history(self, submission_id):
        """``{"current": stamp or None, "superseded": [...], ...}`` (instructor)."""
        return self._call("GET", f"/api/submissions/{_q(submission_id)}/stamps").json()

    def manual_grades(self, submission_id):
        """The submission's manual items, each with its grade or None (instructor)."""
        return self._call("GET", f"/api/submissions/{_q(submission_id)}/manual").json()

    def grade_manual(self, submission_id, test_id, points, comment=""):
        """Set one manual item's points and comment; the reply says whether it changed
        and whether the record was re-signed as the final grade."""
        path = f"/api/submissions/{_q(submission_id)}/manual/{urllib.parse.quote(test_id)}"
        return self._call("PUT", path, json={"points": points, "comment": comment}).json()

    def regrade(self, submission_id):
        return self._call("POST", f"/api/submissions/{_q(submission_id)}/regrade").json()

    def regrade_assignment(self, course, assignment):
        path = f"/api/courses/{_q(course)}/assignments/{_q(assignment)}/regrade"
        return self._call("POST", path).json()

    def export_assignment(self, course, assignment):
        path = f"/api/courses/{_q(course)}/assignments/{_q(assignment)}/export"
        return self._call("POST", path).json()

    def gradebook(self, course):
        return self._call("GET", f"/api/courses/{_q(course)}/gradebook.csv").text

    def course_source(self, course):
        """The course's nbgrader source tree, solutions included (tar.gz bytes; instructor)."""
        return self._call("GET", f"/api/courses/{_q(course)}/course-source").content

    def grading_guide(self, course, assignment):
        """``[{notebook, grade_id, item, points, guide}]`` of the hand-graded items
        (instructor)."""
        path = f"/api/courses/{_q(course)}/assignments/{_q(assignment)}/grading-guide"
        return self._call("GET", path).json()

    def roll_bindings(self, course):
        """``[{roll_number, username, bound_at}, ...]`` of the course (instructor)."""
        return self._call("GET", f"/api/courses/{_q(course)}/roll-bindings").json()

    def release_roll(self, course, roll_number):
        """Free ``roll_number``: the next account that submits with it holds it."""
        path = f"/api/courses/{_q(course)}/roll-bindings/{_q(roll_number)}"
        return self._call("DELETE", path).json()

    def public_key(self):
        return self._call("GET", "/api/public-key").content


def _q(name):
    return urllib.parse.quote(name, safe="")
