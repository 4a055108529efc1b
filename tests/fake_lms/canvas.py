"""FAKE LMS, Canvas REST side: the part of the Canvas API the ``canvas`` exporter uses.

A stand-in for Instructure Canvas (which cannot run here), following its published REST
API: Bearer token authentication (401 ``Invalid access token``), course and user ids
either numeric or ``sis_course_id:`` / ``sis_user_id:``; ``GET .../assignments`` with
``search_term`` and ``per_page`` and ``Link: rel="next"`` paging; ``POST .../assignments``
with ``assignment[...]`` form fields; ``PUT .../assignments/:id/submissions/:user`` with
``submission[posted_grade]`` (only for students enrolled in the course). Every grade PUT
is kept in ``grade_puts``.
"""

import threading

from flask import Flask, abort, jsonify, request

from . import LoopbackServer


def _error(status, message):
    response = jsonify(errors=[{"message": message}])
    response.status_code = status
    abort(response)


class FakeCanvas(LoopbackServer):
    """Courses ``{sis_course_id: {sis_user_id, ...}}`` with numeric ids given in order."""

    def __init__(self, token, courses):
        self.token = token
        self.courses = {}  # numeric id -> {"sis": ..., "students": {user id: sis}}
        self.users = {}  # sis_user_id -> numeric id
        for number, (sis_course, students) in enumerate(courses.items(), start=101):
            for sis_user in students:
                self.users.setdefault(sis_user, 1000 + len(self.users))
            self.courses[number] = {"sis": sis_course,
                                    "students": {self.users[s] for s in students}}
        self.assignments = {}  # course id -> [assignment dicts]
        self.grades = {}  # (course id, assignment id, user id) -> posted grade
        self.grade_puts = []
        self._lock = threading.Lock()
        self.app = self._make_app()


    def add_assignment(self, sis_course, name, points):
        course = self._course(f"sis_course_id:{sis_course}")
        with self._lock:
            items = self.assignments.setdefault(course, [])
            item = {"id": 5000 + sum(map(len, self.assignments.values())), "name": name,
                    "points_possible": points, "course_id": course, "published": True}
            items.append(item)
        return item

    def grade_of(self, sis_course, name, sis_user):
        course = self._course(f"sis_course_id:{sis_course}")
        ids = [a["id"] for a in self.assignments.get(course, []) if a["name"] == name]
        return self.grades.get((course, ids[0], self.users[sis_user])) if ids else None

    def _course(self, ref):
        if ref.startswith("sis_course_id:"):
            found = [n for n, c in self.courses.items() if c["sis"] == ref.partition(":")[2]]
        else:
            found = [n for n in self.courses if str(n) == ref]
        if not found:
            _error(404, "The specified resource does not exist.")
        return found[0]

    def _user(self, ref):
        if ref.startswith("sis_user_id:"):
            number = self.users.get(ref.partition(":")[2])
        else:
            number = int(ref) if ref.isdigit() and int(ref) in self.users.values() else None
        if number is None:
            _error(404, "The specified resource does not exist.")
        return number

    def _make_app(self):
        app = Flask("fake-canvas")

        @app.before_request
        def authenticate():
            if request.headers.get("Authorization") != f"Bearer {self.token}":
                _error(401, "Invalid access token.")

        @app.get("/api/v1/courses/<course_ref>/assignments")
        def list_assignments(course_ref):
            items = self.assignments.get(self._course(course_ref), [])
            term = request.args.get("search_term", "").lower()
            items = [a for a in items if term in a["name"].lower()]
            per_page = min(int(request.args.get("per_page", 10)), 100)
            page = int(request.args.get("page", 1))
            response = jsonify(items[(page - 1) * per_page: page * per_page])
            if page * per_page < len(items):
                response.headers["Link"] = (
                    f'<{self.base_url}/api/v1/courses/{course_ref}/assignments?'
                    f'search_term={term}&per_page={per_page}&page={page + 1}>; rel="next"')
            return response

        @app.post("/api/v1/courses/<course_ref>/assignments")
        def create_assignment(course_ref):
            name = request.form.get("assignment[name]", "").strip()
            if not name:
                _error(400, "name is required")
            points = float(request.form.get("assignment[points_possible]", 0))
            course = self._course(course_ref)
            item = self.add_assignment(self.courses[course]["sis"], name, points)
            item["published"] = request.form.get("assignment[published]") == "true"
            item["submission_types"] = request.form.getlist("assignment[submission_types][]")
            return item

        @app.put("/api/v1/courses/<course_ref>/assignments/<int:assignment_id>"
                 "/submissions/<user_ref>")
        def grade(course_ref, assignment_id, user_ref):
            course = self._course(course_ref)
            if assignment_id not in {a["id"] for a in self.assignments.get(course, [])}:
                _error(404, "The specified resource does not exist.")
            user = self._user(user_ref)
            if user not in self.courses[course]["students"]:
                _error(404, "The specified resource does not exist.")
            posted = request.form.get("submission[posted_grade]")
            if posted is None:
                _error(400, "submission[posted_grade] is required")
            with self._lock:
                self.grade_puts.append((course, assignment_id, user, posted))
                self.grades[(course, assignment_id, user)] = posted
            return {"assignment_id": assignment_id, "user_id": user, "grade": posted,
                    "score": float(posted), "workflow_state": "graded"}

        return app
