"""How things end, as enums: a grading run, an upload, an export.

These are domain types, not metrics: the runners, the intake and the exporters return
them, and :mod:`.metrics` uses their values as label values (every label set created up
front). Nothing here imports the rest of the service.
"""

import enum


class Outcome(enum.StrEnum):
    """How a grading run ended (the ``outcome`` label and ``result["outcome"]``)."""

    SUCCESS = "success"  # sandbox returned a result; submission is graded
    TIMEOUT = "timeout"  # wall-clock limit hit, container killed
    OOM = "oom"  # sandbox killed by the memory limit
    ERROR = "error"  # sandbox crashed or printed something that is not one JSON object
    INFRASTRUCTURE = "infrastructure"  # the runner itself failed (e.g. Docker down); retried


class Rejection(enum.StrEnum):
    """Why an upload was refused (the ``reason`` label)."""

    TOO_LARGE = "too_large"
    TOO_MANY_FILES = "too_many_files"
    FILE_TYPE = "file_type"
    UNSAFE = "unsafe"
    EMPTY = "empty"
    POLICY = "policy"
    IDENTITY = "identity"
    RATE = "rate"
    ROLL_TAKEN = "roll_taken"


class ExportOutcome(enum.StrEnum):
    DELIVERED = "delivered"
    ALREADY_DELIVERED = "already_delivered"  # the destination held it (a replay)
    REFUSED = "refused"  # this record only (e.g. student not in the LMS course); retried
    FAILED = "failed"  # the destination is unusable (down, credentials); retried
