"""Student: tar the assignment directory and POST it; identity comes from the token."""

import os

from nbgrader.exchange.abc import ExchangeSubmit as ABCExchangeSubmit

from ..tarsafe import ArchiveTooLarge, pack_directory
from .exchange import GraderServiceExchange, quote

ALWAYS_SKIP = (".ipynb_checkpoints", "__pycache__", "feedback")


class ExchangeSubmit(GraderServiceExchange, ABCExchangeSubmit):
    """Submit the local assignment directory.

    ``student_id`` (if set explicitly) and ``$ROLL_NUMBER`` are sent as claims only: the
    service rejects them (403) if they differ from the authenticated identity.
    """

    def init_src(self):
        self.src_path = self.local_assignment_dir(self.course_id, self.coursedir.assignment_id)
        if not os.path.isdir(self.src_path):
            self.fail(f"Assignment not found at: {self.src_path}")

    def copy_files(self):
        course, assignment = self.course_id, self.coursedir.assignment_id
        try:
            data = pack_directory(self.src_path, ALWAYS_SKIP + tuple(self.coursedir.ignore),
                                  self.max_upload_bytes)
        except ArchiveTooLarge as err:
            self.fail(f"Submission too large: {err}")
        headers = {"Content-Type": "application/gzip"}  # the archive is the body
        if self.coursedir.student_id not in ("", "*"):
            headers["X-Student-Id"] = self.coursedir.student_id
        if os.environ.get("ROLL_NUMBER"):
            headers["X-Roll-Number"] = os.environ["ROLL_NUMBER"]
        reply = self.api(
            "POST", f"api/courses/{quote(course)}/assignments/{quote(assignment)}/submissions",
            data=data, headers=headers).json()
        self.reply = reply  # submission_id, timestamp (server-side UTC), sha256, status
        self.timestamp = reply["timestamp"]
        self.log.info("Submitted as: %s %s %s (id %s, sha256 %s)", course, assignment,
                      reply["timestamp"], reply["submission_id"], reply["sha256"])
