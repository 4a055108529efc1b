"""Student: download the release archive into the usual nbgrader place."""

import os

from nbgrader.exchange.abc import ExchangeFetchAssignment as ABCExchangeFetchAssignment

from .exchange import GraderServiceExchange, quote


class ExchangeFetchAssignment(GraderServiceExchange, ABCExchangeFetchAssignment):
    """Fetch into ``<assignment>/`` (or ``<course>/<assignment>/``); with
    ``replace_missing_files`` only files the student deleted are restored."""

    def init_dest(self):
        self.dest_path = self.local_assignment_dir(self.course_id, self.coursedir.assignment_id)
        if os.path.isdir(self.dest_path) and not self.replace_missing_files:
            self.fail("You already have a copy of the assignment in this directory: "
                      f"{os.path.relpath(self.dest_path)}")

    def copy_files(self):
        course, assignment = self.course_id, self.coursedir.assignment_id
        self.download_tree(
            f"api/courses/{quote(course)}/assignments/{quote(assignment)}/release",
            self.dest_path, merge=True)
        self.log.info("Fetched as: %s %s", course, assignment)
