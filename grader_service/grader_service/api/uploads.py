"""Read one multipart tar upload and enforce the limits; nothing is stored on a rejection."""

import os

from flask import abort, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from ..metrics import get_metrics
from ..outcomes import Rejection
from ..tarsafe import ArchiveTooLarge, UnsafeArchive, inspect_archive


def reject(status, reason: Rejection, message):
    """Count the rejection and abort with ``status``."""
    get_metrics().submissions_rejected.labels(reason=reason).inc()
    abort(status, message)


#: a submission may also be the whole request body (what the exchange plugin sends):
#: no multipart parsing, whose per-boundary regexes cost more CPU than the rest of a submit
RAW_ARCHIVE_TYPES = ("application/gzip", "application/x-gzip", "application/x-tar")


def is_raw_archive():
    """True when the request body is the archive itself (not a multipart form)."""
    return request.mimetype in RAW_ARCHIVE_TYPES


def read_upload(field, student=False) -> tuple[bytes, list]:
    """The bytes and file names of multipart file ``field`` (or, for a ``student``
    upload, of a raw archive body) after the safety checks.

    Every upload: a readable tar with safe paths (400) unpacking to at most
    ``MAX_UNPACKED_BYTES`` (413). A ``student`` upload also: at most
    ``MAX_SUBMISSION_FILES`` files (413) whose suffixes are in ``SUBMISSION_FILE_TYPES`` (415).
    """
    config = current_app.config
    if student and is_raw_archive():
        data = read_whole_body(config["MAX_CONTENT_LENGTH"])
    else:
        upload = request.files.get(field)
        if upload is None:
            abort(400, f"missing multipart file field {field!r}")
        data = upload.read()
    try:
        names = inspect_archive(data, config["MAX_UNPACKED_BYTES"])
    except ArchiveTooLarge as err:
        reject(413, Rejection.TOO_LARGE, f"{field}: {err}")
    except UnsafeArchive as err:
        reject(400, Rejection.UNSAFE, f"{field}: {err}")
    if not names:
        reject(400, Rejection.EMPTY, f"{field}: the archive holds no files")
    if student:
        check_student_files(names, config)
    return data, names


def read_whole_body(limit):
    """The request body; longer than ``limit`` is a 413, never silently cut short (a
    chunked body has no Content-Length for Werkzeug to refuse up front)."""
    try:
        data = request.stream.read()
        if limit is not None and len(data) >= limit:
            request.stream.read(1)  # past the limit: raises RequestEntityTooLarge
    except RequestEntityTooLarge:
        reject(413, Rejection.TOO_LARGE, f"the request body is larger than {limit} bytes")
    return data


def check_student_files(names, config):
    """Enforce the file-count and file-type limits of a student upload (413/415)."""
    limit = config["MAX_SUBMISSION_FILES"]
    if len(names) > limit:
        reject(413, Rejection.TOO_MANY_FILES,
               f"submission holds {len(names)} files; at most {limit} are accepted")
    allowed = {s.strip().lower() for s in config["SUBMISSION_FILE_TYPES"].split(",") if s.strip()}
    if not allowed:
        return
    refused = sorted(n for n in names if os.path.splitext(n)[1].lower() not in allowed)
    if refused:
        reject(415, Rejection.FILE_TYPE,
               f"file type not accepted: {', '.join(refused[:5])}; allowed suffixes: "
               f"{', '.join(sorted(allowed))}")
