"""nbgrader exchange plugin that talks to the grading service over HTTP.

Installed in the student/instructor JupyterLab image (needs only ``requests``);
enable it with the lines from :mod:`.nbgrader_config_snippet`.
"""

from .collect import ExchangeCollect
from .exchange import GraderServiceExchange
from .fetch_assignment import ExchangeFetchAssignment
from .fetch_feedback import ExchangeFetchFeedback
from .list import ExchangeList
from .release_assignment import ExchangeReleaseAssignment
from .release_feedback import ExchangeReleaseFeedback
from .submit import ExchangeSubmit

__all__ = ["GraderServiceExchange", "ExchangeCollect", "ExchangeFetchAssignment",
           "ExchangeFetchFeedback", "ExchangeList", "ExchangeReleaseAssignment",
           "ExchangeReleaseFeedback", "ExchangeSubmit"]
