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
    """``inbound`` (instructor: everyone's submissions) and ``cached`` (own submissions)
    both come from the service; ``remove`` is not supported."""

    def courses(self):
        if self.coursedir.course_id:
            return [self.coursedir.course_id]
        return [c["course"] for c in self.api("GET", "api/courses").json()]

    def list_files(self):
        if self.inbound or self.cached:
            return self._group(self._submissions())
        return self._released()

    def remove_files(self):
        self.fail("Removing assignments is not supported by the grading service exchange.")

    def _released(self):
        wanted = self.coursedir.assignment_id
        entries = []
        for course in self.courses():
            for item in self.api("GET", f"api/courses/{quote(course)}/assignments").json():
                if wanted and wanted != item["assignment"]:
                    continue
                entries.append(self._released_entry(course, item))
        for info in entries:
            self.log.info("%s %s (%s)", info["course_id"], info["assignment_id"], info["status"])
        return entries

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
        found = []
        for course in self.courses():
            for sub in self.api("GET", f"api/courses/{quote(course)}/submissions").json():
                if wanted and wanted != sub["assignment"]:
                    continue
                found.append({
                    "course_id": course, "student_id": sub["username"],
                    "assignment_id": sub["assignment"], "timestamp": sub["timestamp"],
                    "status": "submitted", "path": sub["submission_id"], "notebooks": [],
                    "grading_status": sub["status"],
                    "score": (sub.get("result") or {}).get("score"),
                    "max_score": (sub.get("result") or {}).get("max_score"),
                    "has_local_feedback": False, "has_exchange_feedback": False,
                    "feedback_updated": False, "local_feedback_path": None,
                })
        return found

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
