"""Instructor: upload ``feedback/<student>/<assignment>/*.html`` to the submission it grades."""

import glob
import os
import re

from nbgrader.exchange.abc import ExchangeReleaseFeedback as ABCExchangeReleaseFeedback
from nbgrader.utils import parse_utc
from traitlets import Bool

from ..tarsafe import pack_directory
from .exchange import GraderServiceExchange, quote
from .feedback_filter import holds_guide


class ExchangeReleaseFeedback(GraderServiceExchange, ABCExchangeReleaseFeedback):
    """The submission is the one whose timestamp is in the folder's ``timestamp.txt``
    (written by collect, carried through autograde and generate_feedback), else the
    student's latest.

    With ``push_manual`` (the default), the manual grades of the released students are
    first sent from the gradebook to the service (``dl-grader push-manual``), so the
    score in the feedback is the one the service signs and exports to the LMS."""

    push_manual = Bool(
        True,
        help="""Before releasing feedback, send the formgrader's manual grades of those
        students to the grading service (`dl-grader push-manual`). Example:
        c.ExchangeReleaseFeedback.push_manual = False (added in dlcourse-grader 0.3)""",
    ).tag(config=True)

    def init_src(self):
        student = self.coursedir.student_id if self.coursedir.student_id else "*"
        pattern = self.coursedir.format_path(self.coursedir.feedback_directory, student,
                                             self.coursedir.assignment_id)
        self.src_dirs = sorted(d for d in glob.glob(pattern) if os.path.isdir(d))
        self.student_pattern = re.compile(self.coursedir.format_path(
            self.coursedir.feedback_directory, "(?P<student_id>[^/]+)",
            self.coursedir.assignment_id, escape=True) + "$")

    def released_students(self):
        """``{student: feedback folder}`` of the folders to release."""
        excluded = set(filter(None, self.coursedir.student_id_exclude.split(",")))
        found = {}
        for folder in self.src_dirs:
            match = self.student_pattern.match(folder)
            if match is not None and match["student_id"] not in excluded:
                found[match["student_id"]] = folder
        return found

    def copy_files(self):
        folders = self.released_students()
        if self.push_manual and folders:
            self.push_manual_grades(set(folders))
        submissions = self.submissions(self.course_id, self.coursedir.assignment_id)
        for student, folder in sorted(folders.items()):
            target = self.find_submission(folder, [s for s in submissions
                                                   if s["username"] == student])
            if target is None:
                self.log.warning("No submission of %s to attach feedback to", student)
                continue
            if holds_guide(folder):
                self.log.error("Not releasing feedback for %s: it holds the instructors' "
                               "grading guide; generate feedback again with the course's "
                               "nbgrader config (grader_service.exchange.feedback_filter)",
                               student)
                continue
            archive = pack_directory(folder, include=("*.html",), max_bytes=self.max_upload_bytes)
            self.api("PUT", f"api/submissions/{quote(target['submission_id'])}/feedback",
                     files={"feedback": ("feedback.tar.gz", archive, "application/gzip")})
            self.log.info("Released feedback for %s on %s/%s (%s)", student, self.course_id,
                          self.coursedir.assignment_id, target["timestamp"])

    def push_manual_grades(self, students):
        """``dl-grader push-manual`` for ``students``; a failure is a warning naming the
        command to run again (the feedback is still released)."""
        from ..push_manual import PushError, push_manual

        assignment = self.coursedir.assignment_id
        report = self.follow_up(
            "Manual grades not sent to the grading service",
            f"dl-grader push-manual {assignment}",
            lambda client: push_manual(client, self.course_id, assignment,
                                       self.coursedir.db_url, students=students),
            expected=(PushError,))
        for line in (report.errors if report is not None else ()):
            self.log.warning("Manual grade not sent: %s", line)

    def find_submission(self, folder, submissions):
        """The submission matching ``folder/timestamp.txt``, else the latest one."""
        if not submissions:
            return None
        stamp_file = os.path.join(folder, "timestamp.txt")
        if os.path.exists(stamp_file):
            with open(stamp_file) as fh:
                wanted = parse_utc(fh.read().strip())
            for sub in submissions:
                if parse_utc(sub["timestamp"]) == wanted:
                    return sub
        return max(submissions, key=lambda s: parse_utc(s["timestamp"]))
