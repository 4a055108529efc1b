"""Student: download released feedback into ``<assignment>/feedback/<timestamp>/``."""

import os

from nbgrader.exchange.abc import ExchangeFetchFeedback as ABCExchangeFetchFeedback

from .exchange import GraderServiceExchange, quote


class ExchangeFetchFeedback(GraderServiceExchange, ABCExchangeFetchFeedback):
    """One folder per submission that has feedback, named by its server-side timestamp."""

    def feedback_dir(self, sub):
        """Where the feedback of submission ``sub`` goes (nbgrader's layout)."""
        return os.path.join(self.local_assignment_dir(self.course_id, sub["assignment"]),
                            "feedback", sub["timestamp"])

    def copy_files(self):
        found = [s for s in self.submissions(self.course_id, self.coursedir.assignment_id)
                 if s.get("has_feedback")]
        if not found:
            self.log.warning("No feedback available for %s %s", self.course_id,
                             self.coursedir.assignment_id or "(any assignment)")
        for sub in found:
            dest = self.feedback_dir(sub)
            self.download_tree(f"api/submissions/{quote(sub['submission_id'])}/feedback", dest)
            self.log.info("Fetched feedback: %s", dest)
