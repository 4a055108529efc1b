"""Student: download the release archive into the usual nbgrader place."""

import os
import shutil
import tempfile

from nbgrader.exchange.abc import ExchangeFetchAssignment as ABCExchangeFetchAssignment

from ..tarsafe import UnsafeArchive, extract
from .exchange import GraderServiceExchange, quote

MAX_UNPACKED = 500 * 1024 * 1024


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
        response = self.api(
            "GET", f"api/courses/{quote(course)}/assignments/{quote(assignment)}/release")
        os.makedirs(os.path.dirname(self.dest_path), exist_ok=True)
        with tempfile.TemporaryDirectory(dir=os.path.dirname(self.dest_path)) as tmp:
            unpacked = os.path.join(tmp, assignment)
            try:
                extract(response.content, unpacked, MAX_UNPACKED)
            except UnsafeArchive as err:
                self.fail(f"The release archive is unsafe, not extracting it: {err}")
            if os.path.isdir(self.dest_path):
                _copy_missing(unpacked, self.dest_path, self.log)
            else:
                shutil.move(unpacked, self.dest_path)
        self.log.info("Fetched as: %s %s", course, assignment)


def _copy_missing(src, dest, log):
    for dirpath, _dirnames, filenames in os.walk(src):
        for filename in filenames:
            rel = os.path.relpath(os.path.join(dirpath, filename), src)
            target = os.path.join(dest, rel)
            if not os.path.exists(target):
                log.warning("Replacing missing file '%s'", rel)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                shutil.copy(os.path.join(dirpath, filename), target)
