"""The student results page: ``/services/grader/`` in a browser, behind the hub's login.

A browser signs in with JupyterHub OAuth (``jupyterhub.services.auth.HubOAuth``, the
way JupyterHub documents it for Flask services): a visitor without a session is sent
to the hub's ``/hub/api/oauth2/authorize`` (with PKCE), the hub sends them back to
``oauth_callback`` with a code, the service trades it for the user's OAuth token and
keeps that token in a signed, HttpOnly session cookie scoped to the service's prefix.
Each request then resolves the token with the same identity provider the API uses
(:mod:`.auth`, cached in :mod:`.identity_cache`), so the page follows the same rules as
``GET /api/submissions/<id>``: a student sees their own submissions, an instructor also
those of the courses they teach, and anyone else's submission id is a 404. A request
that carries ``Authorization: token ...`` (a script) is identified by it instead.

The session cookie is signed with ``$GRADER_SESSION_SECRET_FILE`` (default
``$GRADER_DATA_DIR/session_secret``, made once by ``dl-grader migrate``, mode 0600), shared by the service's
processes; replicas must share it too. The page is server-rendered (one Jinja template,
no JavaScript) and shows each result as text, never by colour alone.
"""

import os
import secrets
import urllib.parse

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template_string,
    request,
    session,
)
from sqlalchemy import select

from .auth import AuthError, current_identity, get_identity_provider
from .db import Assignment, Submission, get_db, isoformat
from .feedback_html import render_report
from .identity import Identity, Role

bp = Blueprint("results", __name__)

SESSION_COOKIE = "grader-session"


def init_app(app):
    """Session cookie settings and the (lazily created) HubOAuth client."""
    app.secret_key = _session_secret(app)
    prefix = "/" + app.config["SERVICE_PREFIX"].strip("/")
    app.config.update(SESSION_COOKIE_NAME=SESSION_COOKIE,
                      SESSION_COOKIE_PATH=prefix + "/" if prefix != "/" else "/",
                      SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_SECURE=app.config["COOKIE_SECURE"])
    app.extensions.setdefault("grader_hub_oauth", None)  # tests may inject a stand-in


def session_secret_path(config) -> str:
    """``SESSION_SECRET_FILE``, or ``session_secret`` in ``DATA_DIR``."""
    return config["SESSION_SECRET_FILE"] or os.path.join(config["DATA_DIR"], "session_secret")


def create_session_secret(config) -> str:
    """Make the session signing secret once (``dl-grader migrate``): written aside and
    hard-linked into place, so concurrent processes agree on one. Returns its path."""
    path = session_secret_path(config)
    if not os.path.exists(path):
        scratch = f"{path}.{os.getpid()}.tmp"
        fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
        try:
            os.link(scratch, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        finally:
            os.unlink(scratch)
    return path


def _session_secret(app):
    """The session signing secret that ``dl-grader migrate`` made."""
    path = session_secret_path(app.config)
    if not os.path.exists(path):
        raise RuntimeError(f"no session secret at {path}: run `dl-grader migrate` first")
    with open(path, encoding="ascii") as fh:
        return fh.read().strip()


def get_hub_oauth():
    """The service's ``HubOAuth`` (client ``$JUPYTERHUB_CLIENT_ID``, default
    ``service-grader``, the id the hub gives the service named ``grader``)."""
    oauth = current_app.extensions.get("grader_hub_oauth")
    if oauth is None:
        config = current_app.config
        if not config["HUB_API_TOKEN"]:
            abort(503, "browser login is not configured: the service has no "
                       "JUPYTERHUB_API_TOKEN")
        try:
            from jupyterhub.services.auth import HubOAuth
        except ImportError:
            abort(503, "browser login needs the jupyterhub package beside the service")

        prefix = "/" + config["SERVICE_PREFIX"].strip("/") + "/"
        base = "/" + config["HUB_BASE_URL"].strip("/")
        oauth = HubOAuth(api_token=config["HUB_API_TOKEN"], api_url=config["HUB_API_URL"],
                         oauth_client_id=config["OAUTH_CLIENT_ID"], base_url=prefix,
                         hub_prefix=base.rstrip("/") + "/hub/",
                         oauth_redirect_uri=(config["OAUTH_CALLBACK_URL"]
                                             or prefix + "oauth_callback"))
        current_app.extensions["grader_hub_oauth"] = oauth
    return oauth


def page_identity() -> Identity | None:
    """The caller: by ``Authorization`` header (a bad one is a 401), else by the session's
    OAuth token; None when the browser has to log in (a token the hub no longer accepts
    is dropped from the session)."""
    if request.headers.get("Authorization"):
        return current_identity()
    token = session.get("token")
    if token:
        try:
            return get_identity_provider().identify(token)
        except AuthError:
            session.pop("token", None)
    return None


def login_redirect():
    """Send the browser to the hub's OAuth authorize URL; come back to this page."""
    oauth = get_hub_oauth()
    verifier, challenge, method = oauth.generate_pkce_code_challenge()
    state = secrets.token_urlsafe(16)
    session["oauth"] = {"state": state, "verifier": verifier,
                        "next": request.script_root + request.path}
    query = urllib.parse.urlencode({"state": state, "code_challenge": challenge,
                                    "code_challenge_method": method})
    return redirect(f"{oauth.login_url}&{query}")


@bp.get("/oauth_callback")
def oauth_callback():
    """The hub's redirect after login: check the state, trade the code for a token."""
    code, state = request.args.get("code"), request.args.get("state")
    pending = session.pop("oauth", None)
    if not code or not state:
        abort(400, "the login answer lacks code or state")
    if not pending or not secrets.compare_digest(state, pending["state"]):
        abort(400, "login state does not match this browser (expired or from another tab); "
                   "open the results page again")
    session["token"] = get_hub_oauth().token_for_code(code, code_verifier=pending["verifier"])
    target = pending["next"]
    if not target.startswith(request.script_root + "/"):
        target = request.script_root + "/"
    return redirect(target)


@bp.get("/")
def results_page():
    """The caller's own submissions (every course), then each course they teach."""
    identity = page_identity()
    if identity is None:
        return login_redirect()
    courses = identity.courses()
    db = get_db()
    own_courses = [c for c, role in courses.items() if role is Role.STUDENT]
    own = db.scalars(select(Submission)
                     .where(Submission.username == identity.username,
                            Submission.course.in_(own_courses))
                     .order_by(Submission.course, Submission.assignment,
                               Submission.submitted_at.desc())).all()
    taught = {}
    for course in sorted(c for c, role in courses.items() if role is Role.INSTRUCTOR):
        taught[course] = db.scalars(select(Submission).where(Submission.course == course)
                                    .order_by(Submission.assignment, Submission.username,
                                              Submission.submitted_at.desc())).all()
    due = {(a.course, a.name): a.due_at for a in db.scalars(
        select(Assignment).where(Assignment.course.in_(own_courses)))} if own_courses else {}
    html = render_template_string(PAGE, identity=identity, base=request.script_root, own=[_view(r, due) for r in own],
                                  taught={c: [_view(r, {}) for r in rows]
                                          for c, rows in taught.items()})
    return _html(html)


@bp.get("/results/<submission_id>")
def result_report(submission_id):
    """One submission's automatic report (feedback_html) for its owner or instructor."""
    identity = page_identity()
    if identity is None:
        return login_redirect()
    row = get_db().get(Submission, submission_id)
    if row is not None:
        role = identity.role_in(row.course)
        if role is Role.INSTRUCTOR or (role is Role.STUDENT and row.username == identity.username):
            return _html(render_report(row))
    abort(404, f"no submission {submission_id} visible to {identity.username}")


def _html(text):
    response = Response(text, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"  # one person's grades: never cached
    return response


def _view(row, due):
    """What the template shows of one submission."""
    result = row.result or {}
    items = []
    for test in result.get("tests") or ():
        if test.get("manual") and not test.get("graded_by"):
            outcome = "awaiting grading by an instructor"
        else:
            outcome = "passed" if test.get("passed") else "not passed"
        items.append({"notebook": test.get("notebook", ""), "item": test.get("grade_id", ""),
                      "points": _num(test.get("points")), "max": _num(test.get("max_points")),
                      "outcome": outcome, "message": test.get("message") or ""})
    due_at = due.get((row.course, row.assignment))
    return {"id": row.id, "course": row.course, "assignment": row.assignment,
            "username": row.username, "submitted": _when(row.submitted_at),
            "graded": _when(row.graded_at), "status": row.status, "late": bool(row.late),
            "due": _when(due_at) if due_at else "",
            "score": _num(result.get("score")), "max_score": _num(result.get("max_score")),
            "problem": "" if "tests" in result else result.get("message") or "",
            "rubric": items, "feedback_released": row.feedback_sha256 is not None}


def _when(value):
    text = isoformat(value)
    return "" if text is None else text[:16].replace("T", " ") + " UTC"


def _num(value):
    if value is None:
        return ""
    return f"{value:g}" if isinstance(value, int | float) else str(value)


PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>My results</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5rem; max-width: 70rem; color: #111; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; }
th, td { border: 1px solid #888; padding: 0.25rem 0.5rem; text-align: left;
         vertical-align: top; }
caption { text-align: left; font-weight: bold; padding: 0.25rem 0; }
.status { font-weight: bold; }
</style>
</head>
<body>
<header><p>Signed in as <strong>{{ identity.username }}</strong></p></header>
<main>
<h1>My results</h1>
{% if not own %}
<p>You have no submissions yet. Submit an assignment from the <em>Assignments</em> tab in
JupyterLab; its result appears here once it has been graded.</p>
{% endif %}
{% for s in own %}
<section aria-labelledby="s-{{ s.id }}">
<h2 id="s-{{ s.id }}">{{ s.course }} / {{ s.assignment }}</h2>
<dl>
  <dt>Submitted</dt><dd>{{ s.submitted }}{% if s.late %} (<strong>late</strong>){% endif %}</dd>
  {% if s.due %}<dt>Due</dt><dd>{{ s.due }}</dd>{% endif %}
  <dt>Status</dt><dd class="status">{{ s.status }}</dd>
  {% if s.score != "" %}<dt>Score</dt><dd>{{ s.score }} / {{ s.max_score }}</dd>{% endif %}
  {% if s.problem %}<dt>Not graded</dt><dd>{{ s.problem }}</dd>{% endif %}
  {% if s.graded %}<dt>Graded</dt><dd>{{ s.graded }}</dd>{% endif %}
  <dt>Feedback</dt><dd><a href="{{ base }}/results/{{ s.id }}">Automatic report</a>{% if s.feedback_released %};
    your instructor has released feedback: use <em>Fetch Feedback</em> in the Assignments
    tab{% else %}; feedback from your instructor: not released yet (<em>Fetch Feedback</em>
    has nothing to fetch until then){% endif %}</dd>
</dl>
{% if s.rubric %}
<table>
<caption>Items of {{ s.assignment }}</caption>
<thead><tr><th scope="col">Notebook</th><th scope="col">Item</th><th scope="col">Points</th>
<th scope="col">Result</th><th scope="col">Message</th></tr></thead>
<tbody>
{% for t in s.rubric %}<tr><th scope="row">{{ t.notebook }}</th><td>{{ t.item }}</td>
<td>{{ t.points }} / {{ t.max }}</td><td>{{ t.outcome }}</td><td>{{ t.message }}</td></tr>
{% endfor %}</tbody>
</table>
{% endif %}
</section>
{% endfor %}
{% for course, rows in taught.items() %}
<section aria-labelledby="course-{{ course }}">
<h2 id="course-{{ course }}">Course {{ course }}: all submissions (instructor)</h2>
{% if rows %}
<table>
<thead><tr><th scope="col">Student</th><th scope="col">Assignment</th>
<th scope="col">Submitted</th><th scope="col">Status</th><th scope="col">Score</th>
<th scope="col">Late</th><th scope="col">Report</th></tr></thead>
<tbody>
{% for s in rows %}<tr><th scope="row">{{ s.username }}</th><td>{{ s.assignment }}</td>
<td>{{ s.submitted }}</td><td>{{ s.status }}</td>
<td>{% if s.score != "" %}{{ s.score }} / {{ s.max_score }}{% endif %}</td>
<td>{{ "late" if s.late else "on time" }}</td>
<td><a href="{{ base }}/results/{{ s.id }}">report</a></td></tr>
{% endfor %}</tbody>
</table>
{% else %}<p>No submissions yet.</p>{% endif %}
</section>
{% endfor %}
</main>
</body>
</html>
"""
