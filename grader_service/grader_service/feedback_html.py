"""The automatic HTML report of one submission.

It shows only what the signed record holds: per-test points, pass/fail and the message
the sandbox's checker wrote. Hidden test source never reaches the record (a failure on a
hidden line reads only "a hidden test failed", see ``autograde/steps/test_cells.py``;
``autograde/steps/redact.py`` withholds anything quoting hidden code), and everything
shown is HTML-escaped.
"""

from html import escape

from .db import isoformat

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>
<body><h1>{title}</h1>
<p>Submitted {submitted} &middot; status <b>{status}</b>{late}</p>
{body}
</body></html>
"""


def render_report(submission) -> str:
    """HTML for ``submission`` (a :class:`~grader_service.db.Submission`)."""
    title = escape(f"{submission.course} / {submission.assignment} - {submission.username}")
    result = submission.result or {}
    if "tests" in result:
        body = (f"<p>Score: {escape(str(result['score']))} / "
                f"{escape(str(result['max_score']))}</p>\n" + _tests_table(result["tests"]))
    elif result.get("message"):
        body = f"<p>Not graded: {escape(result['message'])}</p>"
    else:
        body = "<p>Not graded yet.</p>"
    return PAGE.format(title=title, submitted=escape(isoformat(submission.submitted_at)),
                       status=escape(submission.status), body=body,
                       late=" &middot; <b>late</b>" if submission.late else "")


def _tests_table(tests):
    rows = "".join(
        f"<tr><td>{escape(t['notebook'])}</td><td>{escape(t['grade_id'])}</td>"
        f"<td>{escape(str(t['points']))} / {escape(str(t['max_points']))}</td>"
        f"<td>{'passed' if t['passed'] else 'failed'}</td>"
        f"<td>{escape(t.get('message') or '')}</td></tr>\n" for t in tests)
    return ("<table><tr><th>notebook</th><th>test</th><th>points</th><th>result</th>"
            f"<th>message</th></tr>\n{rows}</table>")
