"""Instructor: upload release/<assignment> and source/<assignment> to the service."""

import os

from nbgrader.exchange.abc import ExchangeReleaseAssignment as ABCExchangeReleaseAssignment

from ..tarsafe import ArchiveTooLarge, pack_directory
from .exchange import GraderServiceExchange, quote

SKIP = (".ipynb_checkpoints", "__pycache__")


class ExchangeReleaseAssignment(GraderServiceExchange, ABCExchangeReleaseAssignment):
    """Release = POST both archives; a re-release replaces the previous one (``force`` is moot).

    The source archive holds the hidden tests: the service keeps it for grading and
    never hands it to students.
    """

    def init_src(self):
        assignment = self.coursedir.assignment_id
        self.release_path = self.coursedir.format_path(
            self.coursedir.release_directory, ".", assignment)
        self.source_path = self.coursedir.format_path(
            self.coursedir.source_directory, ".", assignment)
        if not os.path.isdir(self.release_path):
            hint = (" run `nbgrader generate_assignment` first"
                    if os.path.isdir(self.source_path) else "")
            self.fail(f"Assignment not found at: {self.release_path}.{hint}")
        if not os.path.isdir(self.source_path):
            self.fail(f"Source of the assignment not found at: {self.source_path}")

    def copy_files(self):
        course, assignment = self.course_id, self.coursedir.assignment_id
        try:
            files = {
                "release": ("release.tar.gz", pack_directory(
                    self.release_path, SKIP, self.max_upload_bytes), "application/gzip"),
                "source": ("source.tar.gz", pack_directory(
                    self.source_path, SKIP, self.max_upload_bytes), "application/gzip"),
            }
        except ArchiveTooLarge as err:
            self.fail(str(err))
        self.api("POST", f"api/courses/{quote(course)}/assignments/{quote(assignment)}/release",
                 files=files)
        self.log.info("Released as: %s %s", course, assignment)
