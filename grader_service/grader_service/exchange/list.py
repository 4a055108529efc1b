"""List released assignments and submissions in the shapes nbgrader's Lab extension expects.

See ``nbgrader/server_extensions/assignment_list/handlers.py``: released entries are
``{course_id, assignment_id, status: released|fetched, path, notebooks}``; with
``inbound``/``cached`` entries are grouped per (course, student, assignment) with a
``submissions`` list.
"""

import glob
import os

from nbgrader.exchange.abc import ExchangeList as ABCExchangeList

from .exchange import GraderServiceExchange, quote


class ExchangeList(GraderServiceExchange, ABCExchangeList):
    """Released assignments (outbound), everyone's submissions (``inbound``, instructors)
    or the caller's own (``cached``), all from the service.

    ``remove`` withdraws a release (instructors; submissions are kept). Submissions are
    permanent records and cannot be removed; cancel grading through the service instead.
    """

    def courses(self):
        if self.coursedir.course_id:
            return [self.coursedir.course_id]
        return [c["course"] for c in self.api("GET", "api/courses").json()]

    def list_files(self):
        if self.inbound or self.cached:
            return self._group(self._submissions())
        return self._released()

    def remove_files(self):
        if self.inbound or self.cached:
            self.fail("Submissions are permanent records of the grading service and cannot be "
                      "removed; an instructor can cancel or regrade them instead.")
        removed = []
        for info in self._released():
            course, assignment = info["course_id"], info["assignment_id"]
            self.api("DELETE", f"api/courses/{quote(course)}/assignments/{quote(assignment)}")
            self.log.info("Removed release: %s %s", course, assignment)
            removed.append(info)
        return removed

    def _released(self):
        wanted = self.coursedir.assignment_id
        entries = [self._released_entry(course, item)
                   for course, item in self._per_course(self._assignments)
                   if not wanted or wanted == item["assignment"]]
        for info in entries:
            self.log.info("%s %s (%s)", info["course_id"], info["assignment_id"], info["status"])
        return entries

    def _assignments(self, course):
        return self.api("GET", f"api/courses/{quote(course)}/assignments").json()

    def _per_course(self, fetch):
        """``(course, item)`` for every item ``fetch(course)`` returns, over all courses."""
        for course in self.courses():
            for item in fetch(course):
                yield course, item

    def _released_entry(self, course, item):
        local = self.local_assignment_dir(course, item["assignment"])
        info = {"course_id": course, "assignment_id": item["assignment"],
                "released_at": item["released_at"]}
        if os.path.isdir(local):
            info.update(status="fetched", path=local)
            names = sorted(glob.glob(os.path.join(local, "*.ipynb")))
        else:
            info.update(status="released", path=f"{self.service_url}/{course}/{item['assignment']}")
            names = [os.path.join(info["path"], nb) for nb in item["notebooks"]]
        info["notebooks"] = [{"notebook_id": os.path.splitext(os.path.basename(n))[0],
                              "path": n} for n in names]
        return info

    def _submissions(self):
        wanted = self.coursedir.assignment_id
        return [self._submission_entry(course, sub) for course, sub
                in self._per_course(lambda course: self.submissions(course, wanted))]

    def _submission_entry(self, course, sub):
        """One submission in the shape of nbgrader's assignment list."""
        result = sub.get("result") or {}
        return {
            "course_id": course, "student_id": sub["username"],
            "assignment_id": sub["assignment"], "timestamp": sub["timestamp"],
            "status": "submitted", "path": sub["submission_id"], "notebooks": [],
            "grading_status": sub["status"], "score": result.get("score"),
            "max_score": result.get("max_score"), "late": sub.get("late", False),
            **self._feedback_info(course, sub),
        }

    def _feedback_info(self, course, sub):
        """The feedback fields nbgrader's assignment list shows for one submission."""
        local = os.path.join(self.local_assignment_dir(course, sub["assignment"]), "feedback",
                             sub["timestamp"])
        has_local = os.path.isdir(local)
        return {"has_exchange_feedback": bool(sub.get("has_feedback")),
                "has_local_feedback": has_local, "feedback_updated": False,
                "local_feedback_path": local if has_local else None}

    def _group(self, submissions):
        groups = {}
        for sub in submissions:
            key = (sub["course_id"], sub["student_id"], sub["assignment_id"])
            groups.setdefault(key, []).append(sub)
        result = []
        for (course, student, assignment), subs in sorted(groups.items()):
            subs.sort(key=lambda s: s["timestamp"])
            for sub in subs:
                self.log.info("%s %s %s %s (%s)", course, student, assignment,
                              sub["timestamp"], sub["grading_status"])
            result.append({"course_id": course, "student_id": student,
                           "assignment_id": assignment, "status": "submitted",
                           "submissions": subs})
        return result
