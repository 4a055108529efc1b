"""Structured logs: one JSON object per line, carrying ``extra=`` fields such as ``submission_id``.

    log.info("grading finished", extra={"submission_id": sid, "outcome": "success"})
    -> {"time": "...Z", "level": "INFO", "logger": "grader_service.grading",
        "message": "grading finished", "submission_id": "...", "outcome": "success"}
"""

import datetime
import json
import logging

#: attributes every LogRecord has; anything else came from ``extra=``
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """Format a record as a single JSON line (exceptions under ``"exception"``)."""

    def format(self, record):
        entry = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC)
            .strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(fmt="json", level=logging.INFO):
    """Log to stderr as ``json`` lines or human ``text``."""
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
