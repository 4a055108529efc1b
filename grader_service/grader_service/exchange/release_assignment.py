"""Instructor: upload release/<assignment> and source/<assignment> to the service."""

import os

from nbgrader.exchange.abc import ExchangeReleaseAssignment as ABCExchangeReleaseAssignment
from traitlets import Bool, Integer, Unicode

from ..tarsafe import ArchiveTooLarge, pack_directory
from .exchange import GraderServiceExchange, quote

SKIP = (".ipynb_checkpoints", "__pycache__")


def gradebook_duedate(coursedir):
    """The assignment's ``duedate`` in the course's gradebook as ISO 8601 UTC, or "".

    nbgrader stores due dates as naive UTC. A missing SQLite gradebook is not created.
    """
    from nbgrader.api import Gradebook, MissingEntry

    url = coursedir.db_url
    if url.startswith("sqlite:///") and not os.path.isfile(url[len("sqlite:///"):]):
        return ""
    with Gradebook(url, coursedir.course_id) as gb:
        try:
            duedate = gb.find_assignment(coursedir.assignment_id).duedate
        except MissingEntry:
            return ""
    return duedate.isoformat() + "+00:00" if duedate else ""


class ExchangeReleaseAssignment(GraderServiceExchange, ABCExchangeReleaseAssignment):
    """Release = POST both archives; a re-release replaces the previous one (``force`` is moot).

    The source archive holds the hidden tests: the service keeps it for grading and
    never hands it to students. The policy traits travel with the release; the service
    applies them on its own clock.
    """

    due_at = Unicode(
        "", help="""Due date, ISO 8601 (e.g. "2026-12-01T23:59:00+05:30"; naive means UTC).
        Later submissions are flagged late. Empty (the default) sends the assignment's
        due date from the gradebook (set in the formgrader or with `nbgrader db
        assignment add --duedate`), if any. Example:
        c.ExchangeReleaseAssignment.due_at = "2026-12-01T18:00:00Z" (added in 0.2)""",
    ).tag(config=True)

    allow_late = Bool(
        True, help="Accept submissions after `due_at` (flagged late); False refuses them "
                   "with HTTP 409 (added in 0.2).").tag(config=True)

    max_submissions = Integer(
        0, help="Submissions each student may make; 0 means unlimited. Example: "
                "c.ExchangeReleaseAssignment.max_submissions = 3 (added in 0.2)").tag(config=True)

    def policy_form(self):
        """The release policy as the service's form fields."""
        form = {"allow_late": "true" if self.allow_late else "false"}
        due_at = self.due_at or gradebook_duedate(self.coursedir)
        if due_at:
            form["due_at"] = due_at
        if self.max_submissions:
            form["max_submissions"] = str(self.max_submissions)
        return form

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
                 files=files, data=self.policy_form())
        self.log.info("Released as: %s %s", course, assignment)
