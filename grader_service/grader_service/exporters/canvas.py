"""Canvas LMS exporter: the score as the student's grade through the Canvas REST API.

``PUT /api/v1/courses/:course/assignments/:id/submissions/:user`` with
``submission[posted_grade]`` sets the grade; putting the same grade again changes
nothing, so a replay never double-posts (no comments are added for the same reason).
Course and user are addressed by SIS ids by default (``sis_course_id:<course>``,
``sis_user_id:<roll number>``: the roll number is the university's student id); the
assignment is found by its exact name, or created (published, points = the maximum).
"""

import threading

import requests

from . import DeliveryRefused, Exporter

API_TIMEOUT = 30


class CanvasError(RuntimeError):
    """Canvas answered with an error status."""

    def __init__(self, response):
        super().__init__(f"Canvas {response.request.method} {response.url}: "
                         f"{response.status_code} {response.text[:300]}")
        self.status_code = response.status_code


class CanvasExporter(Exporter):
    """Post each graded record's score to the matching Canvas assignment."""

    name = "canvas"

    def __init__(self, base_url, token, course_id="sis_course_id:{course}",
                 user_id="sis_user_id:{roll_number}", session=None):
        self.api = base_url.rstrip("/") + "/api/v1"
        self.course_id = course_id
        self.user_id = user_id
        self.http = session or requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"
        self._assignment_ids = {}  # (course, assignment) -> Canvas assignment id
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config):
        if not config["CANVAS_URL"] or not config["CANVAS_TOKEN"]:
            raise ValueError("the canvas exporter needs GRADER_CANVAS_URL and GRADER_CANVAS_TOKEN")
        return cls(config["CANVAS_URL"], config["CANVAS_TOKEN"],
                   course_id=config["CANVAS_COURSE"], user_id=config["CANVAS_USER"])

    def _call(self, method, url, **kwargs):
        response = self.http.request(method, url, timeout=API_TIMEOUT, **kwargs)
        if not response.ok:
            raise CanvasError(response)
        return response

    def _find_assignment(self, course, name):
        url = f"{self.api}/courses/{course}/assignments"
        params = {"search_term": name, "per_page": 100}
        while url:
            response = self._call("GET", url, params=params)
            for assignment in response.json():
                if assignment["name"] == name:
                    return assignment["id"]
            url, params = response.links.get("next", {}).get("url"), None
        return None

    def assignment_id(self, record):
        """The Canvas id of the record's assignment, created the first time if missing."""
        key = (record["course"], record["assignment"])
        with self._lock:
            if key not in self._assignment_ids:
                course = self.course_id.format(**record)
                found = self._find_assignment(course, record["assignment"])
                if found is None:
                    found = self._call("POST", f"{self.api}/courses/{course}/assignments", data={
                        "assignment[name]": record["assignment"],
                        "assignment[points_possible]": record["max_score"],
                        "assignment[submission_types][]": "none",
                        "assignment[published]": "true",
                    }).json()["id"]
                self._assignment_ids[key] = found
            return self._assignment_ids[key]

    def export(self, record):
        course = self.course_id.format(**record)
        user = self.user_id.format(**record)
        try:
            url = (f"{self.api}/courses/{course}/assignments/{self.assignment_id(record)}"
                   f"/submissions/{user}")
            self._call("PUT", url, data={"submission[posted_grade]": f"{record['score']:g}"})
        except CanvasError as err:
            if err.status_code == 404:  # assignment deleted in Canvas: look it up again
                with self._lock:
                    self._assignment_ids.pop((record["course"], record["assignment"]), None)
            if err.status_code in (400, 404, 422):  # e.g. the student is not in the course
                raise DeliveryRefused(str(err)) from err
            raise
        return True
