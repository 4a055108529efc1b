"""The authorization matrix as data: every endpoint x every kind of caller -> HTTP status.

Path placeholders: ``{course}`` (ml101), ``{assignment}`` (ps0, released), ``{sid}`` (a
queued submission of alice's), ``{done}`` (a finished submission of alice's that has
released feedback), ``{graded}`` (a graded submission of alice's with manual items) and
``{item}`` (one of them), ``{roll}`` (alice's roll number, bound by her submissions). Bodies: ``release``, ``submission``, ``feedback``, ``manual``
(JSON) or None.
"""

import collections

#: column -> token (None = no Authorization header)
CALLERS = {
    "student": "alice-token",  # owns the submissions
    "other_student": "bob-token",  # same course
    "instructor": "prof-token",  # formgrade-ml101
    "other_instructor": "olga-token",  # formgrade-ml999
    "anonymous": None,
    "forged_or_expired": "forged-token",  # the hub rejects both the same way
}

Row = collections.namedtuple("Row", "method path body expected")

_C = "/api/courses/{course}"
_A = _C + "/assignments/{assignment}"

#: expected status per caller, in the column order of CALLERS
_TABLE = [
    #   method    path                              body          stu  other ins  o-ins anon forged
    ("GET", "/health", None,                        (200, 200, 200, 200, 200, 200)),
    ("GET", "/metrics", None,                       (200, 200, 200, 200, 200, 200)),
    ("GET", "/api/public-key", None,                (200, 200, 200, 200, 200, 200)),
    # the results page: a browser without a session is sent to the hub's login (302)
    ("GET", "/", None,                              (200, 200, 200, 200, 302, 401)),
    ("GET", "/results/{sid}", None,                 (200, 404, 200, 404, 302, 401)),
    ("GET", "/oauth_callback", None,                (400, 400, 400, 400, 400, 400)),  # no code
    ("GET", "/api/lti/jwks", None,                  (404, 404, 404, 404, 404, 404)),  # public; no lti-ags here
    ("GET", "/api/courses", None,                   (200, 200, 200, 200, 401, 401)),
    ("GET", _C + "/assignments", None,              (200, 200, 200, 403, 401, 401)),
    ("DELETE", _A, None,                            (403, 403, 204, 403, 401, 401)),
    ("POST", _A + "/release", "release",            (403, 403, 201, 403, 401, 401)),
    ("GET", _A + "/release", None,                  (200, 200, 200, 403, 401, 401)),
    ("POST", _A + "/regrade", None,                 (403, 403, 202, 403, 401, 401)),
    ("POST", _A + "/export", None,                  (403, 403, 202, 403, 401, 401)),
    ("POST", _A + "/submissions", "submission",     (202, 202, 403, 403, 401, 401)),
    ("GET", _C + "/submissions", None,              (200, 200, 200, 403, 401, 401)),
    ("GET", _C + "/gradebook.csv", None,            (403, 403, 200, 403, 401, 401)),
    # no GRADER_COURSE_SOURCE_DIR here: 404 for the instructor (test_course_source.py)
    ("GET", _C + "/course-source", None,            (403, 403, 404, 403, 401, 401)),
    ("GET", _A + "/grading-guide", None,            (403, 403, 200, 403, 401, 401)),
    ("GET", _C + "/roll-bindings", None,            (403, 403, 200, 403, 401, 401)),
    ("DELETE", _C + "/roll-bindings/{roll}", None,  (403, 403, 200, 403, 401, 401)),
    ("GET", "/api/submissions/{sid}", None,         (200, 404, 200, 404, 401, 401)),
    ("GET", "/api/submissions/{sid}/files", None,   (200, 404, 200, 404, 401, 401)),
    ("GET", "/api/submissions/{sid}/report", None,  (200, 404, 200, 404, 401, 401)),
    ("POST", "/api/submissions/{sid}/cancel", None, (200, 404, 200, 404, 401, 401)),
    ("POST", "/api/submissions/{done}/regrade", None, (403, 404, 202, 404, 401, 401)),
    ("GET", "/api/submissions/{done}/stamps", None, (403, 404, 200, 404, 401, 401)),
    ("PUT", "/api/submissions/{sid}/feedback", "feedback", (403, 404, 200, 404, 401, 401)),
    ("GET", "/api/submissions/{done}/feedback", None, (200, 404, 200, 404, 401, 401)),
    ("GET", "/api/submissions/{graded}/manual", None, (403, 404, 200, 404, 401, 401)),
    ("PUT", "/api/submissions/{graded}/manual/{item}", "manual", (403, 404, 200, 404, 401, 401)),
]

ROWS = [Row(method, path, body, dict(zip(CALLERS, codes, strict=True)))
        for method, path, body, codes in _TABLE]


def cases():
    """``(row, caller)`` pairs with readable ids for ``pytest.mark.parametrize``."""
    return [(row, caller, f"{row.method} {row.path} as {caller}")
            for row in ROWS for caller in CALLERS]
