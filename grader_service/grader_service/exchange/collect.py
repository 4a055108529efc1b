"""Instructor: download each student's latest submission into ``submitted/<student>/<assignment>``."""

import os

from nbgrader.exchange.abc import ExchangeCollect as ABCExchangeCollect
from nbgrader.utils import parse_utc
from traitlets import Bool

from .exchange import GraderServiceExchange, quote

NOT_COLLECTED = ("cancelled",)


def pick_submission(submissions, before_duedate):
    """The submission nbgrader would collect: the latest, or with ``before_duedate`` the
    latest one that was not late (falling back to the latest)."""
    ordered = sorted(submissions, key=lambda s: parse_utc(s["timestamp"]), reverse=True)
    if before_duedate:
        on_time = [s for s in ordered if not s.get("late")]
        if on_time:
            return on_time[0]
    return ordered[0]


class ExchangeCollect(GraderServiceExchange, ABCExchangeCollect):
    """Collect from the service; ``update`` and ``before_duedate`` keep nbgrader's meaning
    (the service's server-side late flag decides what was before the due date). Each
    collected folder gets ``timestamp.txt`` and ``submission_id.txt``.

    Then, with ``pull_results`` (the default), the service's results of the collected
    students are written to ``autograded/`` and the gradebook, as ``dl-grader
    pull-results`` does (no student code runs): the formgrader's Manual Grading and
    Generate Feedback work on them right after Collect."""

    pull_results = Bool(
        True,
        help="""After collecting, write the grading service's results of the collected
        students into autograded/ and the gradebook (`dl-grader pull-results`), so the
        formgrader shows them. Example: c.ExchangeCollect.pull_results = False
        (added in dlcourse-grader 0.3)""").tag(config=True)

    def init_src(self):
        wanted = self.coursedir.student_id
        by_student = {}
        for sub in self.submissions(self.course_id, self.coursedir.assignment_id):
            if sub["status"] in NOT_COLLECTED or sub["assignment"] != self.coursedir.assignment_id:
                continue
            if wanted not in ("", "*") and sub["username"] != wanted:
                continue
            by_student.setdefault(sub["username"], []).append(sub)
        self.src_records = [pick_submission(subs, self.before_duedate)
                            for _student, subs in sorted(by_student.items())]

    def copy_files(self):
        if not self.src_records:
            self.log.warning("No submissions of '%s' for course '%s' to collect",
                             self.coursedir.assignment_id, self.course_id)
        for sub in self.src_records:
            self.collect_one(sub)
        if self.pull_results and self.src_records:
            self.pull_service_results({sub["username"] for sub in self.src_records})

    def pull_service_results(self, students):
        """``dl-grader pull-results`` for ``students``; a failure is a warning (the
        collected files stay), with the command to run again."""
        from ..pull_results import PullError, pull_results

        assignment = self.coursedir.assignment_id
        report = self.follow_up(
            "Collected, but the service's results were not pulled",
            f"dl-grader pull-results {assignment}",
            lambda client: pull_results(client, self.course_id, assignment, self.coursedir,
                                        students=students),
            expected=(PullError,))
        if report is not None and report.not_graded:
            self.log.warning("Not graded yet in the grading service: %s; run `dl-grader "
                             "pull-results %s` once they are", ", ".join(report.not_graded),
                             assignment)

    def collect_one(self, sub):
        student, assignment = sub["username"], self.coursedir.assignment_id
        dest = self.coursedir.format_path(self.coursedir.submitted_directory, student, assignment)
        if os.path.isdir(dest):
            existing = self.coursedir.get_existing_timestamp(dest)
            new = parse_utc(sub["timestamp"])
            newer = self.update and (existing is None or new > existing)
            if not (newer or (self.before_duedate and existing != new)):
                self.log.info("Submission already collected (use --update for newer ones): "
                              "%s %s", student, assignment)
                return
        self.download_tree(f"api/submissions/{quote(sub['submission_id'])}/files", dest)
        for name, value in (("timestamp.txt", sub["timestamp"]),
                            ("submission_id.txt", sub["submission_id"])):
            with open(os.path.join(dest, name), "w") as fh:
                fh.write(value)
        self.log.info("Collected submission: %s %s (%s)", student, assignment, sub["timestamp"])
