"""Instructor: upload ``feedback/<student>/<assignment>/*.html`` to the submission it grades."""

import glob
import os
import re

from nbgrader.exchange.abc import ExchangeReleaseFeedback as ABCExchangeReleaseFeedback
from nbgrader.utils import parse_utc

from ..tarsafe import pack_directory
from .exchange import GraderServiceExchange, quote


class ExchangeReleaseFeedback(GraderServiceExchange, ABCExchangeReleaseFeedback):
    """The submission is the one whose timestamp is in the folder's ``timestamp.txt``
    (written by collect, carried through autograde and generate_feedback), else the
    student's latest."""

    def init_src(self):
        student = self.coursedir.student_id if self.coursedir.student_id else "*"
        pattern = self.coursedir.format_path(self.coursedir.feedback_directory, student,
                                             self.coursedir.assignment_id)
        self.src_dirs = sorted(d for d in glob.glob(pattern) if os.path.isdir(d))
        self.student_pattern = re.compile(self.coursedir.format_path(
            self.coursedir.feedback_directory, "(?P<student_id>[^/]+)",
            self.coursedir.assignment_id, escape=True) + "$")

    def copy_files(self):
        excluded = set(filter(None, self.coursedir.student_id_exclude.split(",")))
        submissions = self.submissions(self.course_id, self.coursedir.assignment_id)
        for folder in self.src_dirs:
            match = self.student_pattern.match(folder)
            if match is None or match["student_id"] in excluded:
                continue
            student = match["student_id"]
            target = self.find_submission(folder, [s for s in submissions
                                                   if s["username"] == student])
            if target is None:
                self.log.warning("No submission of %s to attach feedback to", student)
                continue
            archive = pack_directory(folder, include=("*.html",), max_bytes=self.max_upload_bytes)
            self.api("PUT", f"api/submissions/{quote(target['submission_id'])}/feedback",
                     files={"feedback": ("feedback.tar.gz", archive, "application/gzip")})
            self.log.info("Released feedback for %s on %s/%s (%s)", student, self.course_id,
                          self.coursedir.assignment_id, target["timestamp"])

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
