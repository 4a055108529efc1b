"""``dl-grader``: serve the service, prepare its storage, create a signing key, and the instructor commands
(list, rolls, regrade, export, push, pull-results, push-manual, fetch-source, verify) that talk to a running service with an API token."""

import argparse
import json
import os
import re
import sys


def cmd_serve(args):
    refuse_unknown_variables()
    from .server import serve

    return serve(args.host, args.port, processes=args.processes, threads=args.threads)


def cmd_http(args):
    refuse_unknown_variables()
    from .server import run_http

    return run_http(args.host, args.port, processes=args.processes, threads=args.threads)


def cmd_work(_args):
    refuse_unknown_variables()
    from .server import run_grading

    return run_grading()


def cmd_migrate(_args):
    refuse_unknown_variables()
    from .config import from_env
    from .prepare import prepare

    done = prepare(from_env())
    key = "created" if done["signing_key_created"] else "kept"
    print(f"database ({done['database']}) at the latest schema; signing key {key}: "
          f"{done['signing_key']}")
    return 0


def cmd_config(args):
    from .config import describe, unknown_variables

    rows = describe()
    if args.json:
        print(json.dumps(rows, indent=2, default=list))
    else:
        for row in rows:
            mark = "" if row["set"] else "  (default)"
            print(f"{row['variable']} = {row['value']!s}{mark}\n    {row['help']} "
                  f"(since {row['since']})")
    for var in unknown_variables():
        print(f"unknown: {var}", file=sys.stderr)
    return 0


def refuse_unknown_variables():
    """``serve``, ``http`` and ``work`` do not start with a ``GRADER_*`` variable that no
    setting reads: a typo would otherwise leave a default in force unnoticed."""
    from .config import unknown_variables

    unknown = unknown_variables()
    if unknown:
        raise SystemExit("dl-grader: unknown settings: " + "; ".join(unknown)
                         + " (`dl-grader config` lists every setting)")


def cmd_keygen(args):
    from .stamp import load_or_create_key, public_key_pem

    if os.path.exists(args.key_file):
        print(f"{args.key_file} exists; not overwriting", file=sys.stderr)
        return 1
    pem = public_key_pem(load_or_create_key(args.key_file))
    if args.public_key:
        with open(args.public_key, "wb") as fh:
            fh.write(pem)
    else:
        sys.stdout.write(pem.decode())
    return 0


DEFAULT_URL = "http://127.0.0.1:5000"


def service_url(args, environ=None):
    """``--url`` (after the command or before it), else ``$GRADER_URL``, else
    ``$GRADER_SERVICE_URL`` (set in every single-user server by the hub), else
    http://127.0.0.1:5000."""
    environ = os.environ if environ is None else environ
    return (getattr(args, "url", None) or getattr(args, "global_url", None)
            or environ.get("GRADER_URL") or environ.get("GRADER_SERVICE_URL") or DEFAULT_URL)


def api_token(args, environ=None):
    """``--token``, else ``$GRADER_API_TOKEN``, else ``$JUPYTERHUB_API_TOKEN`` (the token of
    the user's own server, which the hub puts in every terminal's environment)."""
    environ = os.environ if environ is None else environ
    return (getattr(args, "token", None) or getattr(args, "global_token", None)
            or environ.get("GRADER_API_TOKEN") or environ.get("JUPYTERHUB_API_TOKEN") or "")


def _client(args):
    from .client import GraderClient

    token = api_token(args)
    if not token:
        raise SystemExit("dl-grader: no API token: pass --token or set $GRADER_API_TOKEN "
                         "(in a JupyterLab terminal $JUPYTERHUB_API_TOKEN is used)")
    return GraderClient(service_url(args), token)


def cmd_list(args):
    rows = _client(args).submissions(args.course, args.assignment)
    if args.status:
        rows = [r for r in rows if r["status"] == args.status]
    for row in rows:
        print(submission_line(row))
    print(f"{len(rows)} submission(s)", file=sys.stderr)
    return 0


def submission_line(row):
    """One line of ``dl-grader list``: id, user, assignment, time, status, score, and the
    flags LATE and ARTIFACT? (notebooks whose handed-in integrity artifact did not verify
    for the graded roll number)."""
    result = row.get("result") or {}
    score = f"{result['score']}/{result['max_score']}" if "score" in result else "-"
    flags = ["LATE"] if row["late"] else []
    unverified = sorted(name for name, values in (result.get("metrics") or {}).items()
                        if values.get("artifact_verified") == 0.0)
    if unverified:
        flags.append(f"ARTIFACT? {','.join(unverified)}")
    return (f"{row['submission_id']}  {row['username']:<12} {row['assignment']:<10} "
            f"{row['timestamp']}  {row['status']:<10} {score}"
            + "".join(f"  {flag}" for flag in flags))


def cmd_rolls(args):
    """List which account holds each roll number, or release one (``--release``)."""
    client = _client(args)
    if args.release:
        reply = client.release_roll(args.course, args.release)
        print(f"released roll number {reply['roll_number']} (held by {reply['username']} "
              f"since {reply['bound_at']}); the next account that submits with it holds it")
        return 0
    rows = client.roll_bindings(args.course)
    for row in rows:
        print(f"{row['roll_number']:<14} {row['username']:<16} {row['bound_at']}")
    print(f"{len(rows)} roll number(s) bound in {args.course}", file=sys.stderr)
    return 0


def cmd_regrade(args):
    from .progress import Progress

    client = _client(args)
    if args.assignment:
        reply = client.regrade_assignment(args.course, args.assignment)
        print(f"requeued {reply['requeued']} submission(s) of {args.course}/{args.assignment}")
        return 0
    if not args.submission_ids:
        raise SystemExit("name submission ids, or --course and --assignment")
    for submission_id in Progress(args.submission_ids, "regrade"):
        client.regrade(submission_id)
    return 0


def cmd_export(args):
    """Write ``gradebook.csv`` and every graded stamp (``stamps/<id>.json``) to a folder."""
    from .progress import Progress

    client = _client(args)
    os.makedirs(os.path.join(args.output, "stamps"), exist_ok=True)
    with open(os.path.join(args.output, "gradebook.csv"), "w", encoding="utf-8") as fh:
        fh.write(client.gradebook(args.course))
    with open(os.path.join(args.output, "public-key.pem"), "wb") as fh:
        fh.write(client.public_key())
    graded = [r["submission_id"] for r in client.submissions(args.course, args.assignment)
              if r["status"] == "graded"]
    for submission_id in Progress(graded, "export"):
        stamp = client.submission(submission_id)["stamp"]
        with open(os.path.join(args.output, "stamps", f"{submission_id}.json"), "w") as fh:
            json.dump(stamp, fh, sort_keys=True)
    print(f"exported {len(graded)} stamp(s) to {args.output}", file=sys.stderr)
    return 0


def cmd_push(args):
    """Send the assignment's latest grades to the exporters (the LMS) again."""
    if not args.assignment:
        raise SystemExit("push needs --course and --assignment")
    reply = _client(args).export_assignment(args.course, args.assignment)
    print(f"handed {reply['exporting']} grade(s) of {args.course}/{args.assignment} to the "
          f"exporters; each one that already holds a grade skips it")
    return 0


def cmd_push_manual(args):
    """Send the manual grades and comments of the formgrader's gradebook to the service,
    for each student's latest graded submission of the assignment; print what changed."""
    from .push_manual import PushError, push_manual

    if not args.course:
        raise SystemExit("push-manual needs --course (or $COURSE_ID)")
    db_url = args.db_url or "sqlite:///" + os.path.abspath(args.gradebook)
    if not args.db_url and not os.path.exists(args.gradebook):
        raise SystemExit(f"no gradebook at {args.gradebook}: run in the course directory "
                         "or pass --gradebook / --db-url")
    try:
        report = push_manual(_client(args), args.course, args.assignment, db_url)
    except PushError as err:
        raise SystemExit(str(err)) from None
    for line in report.lines:
        print(line)
    for line in report.errors:
        print(line, file=sys.stderr)
    print(report.summary(), file=sys.stderr)
    return 1 if report.counts["failed"] else 0


def instructor_coursedir(course_dir="", course=""):
    """nbgrader's ``CourseDirectory`` from the nbgrader config (as ``nbgrader`` itself
    loads it: Jupyter's config path, then the current directory), with ``course_dir``
    as its root if given."""
    from nbgrader.apps.baseapp import NbGrader
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    app = NbGrader()
    app.load_config_file()
    config = Config(app.config)
    if course_dir:
        config.CourseDirectory.root = os.path.abspath(course_dir)
    if course:
        config.CourseDirectory.course_id = course
    return CourseDirectory(config=config)


def cmd_pull_results(args):
    """Write the service's latest graded results into the nbgrader course directory:
    ``autograded/<student>/<assignment>/`` and the gradebook (see pull_results.py)."""
    from .pull_results import PullError, pull_results

    coursedir = instructor_coursedir(args.course_dir, args.course)
    course = args.course or coursedir.course_id
    if not course:
        raise SystemExit("pull-results needs --course (or $COURSE_ID)")
    try:
        report = pull_results(_client(args), course, args.assignment, coursedir)
    except PullError as err:
        raise SystemExit(f"dl-grader: {err}") from None
    for line in report.lines:
        print(line)
    if report.not_graded:
        print(f"not graded yet in the service (pull again later): "
              f"{', '.join(report.not_graded)}")
    print(f"{report.students} graded submission(s) of {course}/{args.assignment}: "
          f"{report.changed} change(s) in {coursedir.root}", file=sys.stderr)
    return 0


def cmd_fetch_source(args):
    """Unpack the course's source tree from the service into ``<course dir>/source/``:
    one line per assignment, added, or kept (exists) unless ``--force`` replaces it."""
    from .fetch_source import FetchError, fetch_source

    coursedir = instructor_coursedir(args.course_dir, args.course)
    course = args.course or coursedir.course_id
    if not course:
        raise SystemExit("fetch-source needs --course (or $COURSE_ID)")
    source = os.path.join(coursedir.root, coursedir.source_directory)
    try:
        report = fetch_source(_client(args), course, source, force=args.force,
                              only=args.assignment)
    except FetchError as err:
        raise SystemExit(f"dl-grader: {err}") from None
    for line in report.lines:
        print(line)
    print(report.summary(source), file=sys.stderr)
    return 0


def cmd_verify(args):
    """Verify one stamp file, or with ``--course`` every graded stamp of a course.

    A stamp file's signature is checked with ``--public-key`` (or the service's key);
    unless ``--offline`` (or without an API token), the service is then asked whether
    it is still the submission's current stamp. Exit status: 0 valid (and current, if
    asked), 1 invalid, 2 the service could not answer, 3 valid but superseded by a
    regrade (or unknown to the service).
    """
    from .stamp import explain_stamp

    if args.course:
        return _verify_course(args)
    online = bool(api_token(args)) and not args.offline
    if not args.stamp or not (args.public_key or online):
        raise SystemExit("verify needs STAMP and --public-key (or an API token to ask the "
                         "service), or --course")
    with open(args.stamp, "rb") as fh:
        stamp = fh.read()
    client = _client(args) if online else None
    if args.public_key:
        with open(args.public_key, "rb") as fh:
            key = fh.read()
    else:
        key = client.public_key()
    problem = explain_stamp(stamp, key)
    if problem:
        print(f"INVALID: {problem}", file=sys.stderr)
        return 1
    stamp = json.loads(stamp)
    record = stamp["record"]
    summary = (f"{record.get('username')} ({record.get('roll_number')}) "
               f"{record.get('course')}/{record.get('assignment')} "
               f"score {record.get('score')}/{record.get('max_score')}")
    if client is None:
        print(f"OK: {summary} (signature only; not checked for a later regrade)")
        return 0
    history = client.stamp_history(record["submission_id"])
    current = history.get("current") or {}
    if current.get("signature") == stamp["signature"]:
        print(f"OK: {summary}, the current grade")
        return 0
    now = f"now {history['status']}"
    if current:
        now += f" {current['record']['score']}/{current['record']['max_score']}"
    for earlier in history["superseded"]:
        if earlier["stamp"]["signature"] == stamp["signature"]:
            newer = earlier["superseded_by"]
            grade = (f" {newer['score']}/{newer['max_score']}" if newer["score"] is not None
                     else "")
            print(f"SUPERSEDED: valid signature, but {summary} (graded {record.get('graded_at')}) "
                  f"was replaced at {earlier['superseded_at']} by {_replaced_by(history, earlier)}: "
                  f"{newer['status']}{grade}; {now}")
            return 3
    print(f"NOT CURRENT: valid signature, but the service holds neither this stamp of "
          f"{summary} nor a record of it being superseded; {now}")
    return 3


def _replaced_by(history, earlier):
    """"manual grades" when the stamp that replaced ``earlier`` added an instructor's
    manual points to the same automatic result, else "a regrade"."""
    stamps = [e["stamp"] for e in history["superseded"]] + [history.get("current")]
    for later in filter(None, stamps):
        record = later["record"]
        if record.get("graded_at") == earlier["superseded_at"]:
            manual = record.get("autograded_at") not in (None, record["graded_at"])
            return "manual grades" if manual else "a regrade"
    return "a regrade"


def _verify_course(args):
    from .progress import Progress
    from .stamp import explain_stamp

    client = _client(args)
    if args.public_key:
        with open(args.public_key, "rb") as fh:
            key = fh.read()
    else:
        key = client.public_key()
    graded = [r["submission_id"] for r in client.submissions(args.course, args.assignment)
              if r["status"] == "graded"]
    bad = []
    for submission_id in Progress(graded, "verify"):
        stamp = client.submission(submission_id)["stamp"]
        problem = explain_stamp(stamp, key)
        if problem or stamp["record"]["submission_id"] != submission_id:
            bad.append((submission_id, problem or "stamp belongs to another submission"))
    for submission_id, problem in bad:
        print(f"INVALID {submission_id}: {problem}", file=sys.stderr)
    print(f"{len(graded) - len(bad)}/{len(graded)} stamps valid")
    return 1 if bad else 0


URL_HELP = ("grading service base URL (default $GRADER_URL, else $GRADER_SERVICE_URL, else "
            f"{DEFAULT_URL})")
TOKEN_HELP = ("JupyterHub API token (default $GRADER_API_TOKEN, else $JUPYTERHUB_API_TOKEN: "
              "your own in a JupyterLab terminal)")


def _api_options(parser, course_required=True):
    parser.add_argument("--url", help=URL_HELP)
    parser.add_argument("--token", help=TOKEN_HELP)
    parser.add_argument("--course", required=course_required)
    parser.add_argument("--assignment", default="")


def _formgrader_command(sub, name, help, assignment=True):
    """A command between the service and the formgrader: an assignment (unless
    ``assignment`` is false: then ``--assignment`` is optional), the course from
    ``--course`` or ``$COURSE_ID`` (what the hub sets in an instructor's server)."""
    command = sub.add_parser(name, help=help)
    _api_options(command, course_required=False)
    command.set_defaults(course=os.environ.get("COURSE_ID", ""))
    if assignment:
        command.add_argument("assignment", help="assignment name (as in the formgrader)")
    return command


def _course_dir_option(command):
    command.add_argument("--course-dir", default="",
                         help="the nbgrader course directory (default: CourseDirectory.root "
                              "of the nbgrader config)")


def build_parser():
    from .config import from_env

    settings = from_env()
    parser = argparse.ArgumentParser(prog="dl-grader", description=__doc__)
    # also before the command (`dl-grader --url URL list ...`); after it wins
    parser.add_argument("--url", dest="global_url", metavar="URL", help=URL_HELP)
    parser.add_argument("--token", dest="global_token", metavar="TOKEN", help=TOKEN_HELP)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the HTTP service (several processes) and the "
                                          "grading process: what the container runs")
    http = sub.add_parser("http", help="run only the HTTP service (gunicorn)")
    for command in (serve, http):
        command.add_argument("--host", default="0.0.0.0")
        command.add_argument("--port", type=int, default=5000)
        command.add_argument("--processes", type=int,
                             default=settings["HTTP_PROCESSES"],
                             help="HTTP worker processes (default $GRADER_HTTP_PROCESSES or 2; "
                                  "about one per core)")
        command.add_argument("--threads", type=int,
                             default=settings["HTTP_THREADS"],
                             help="HTTP threads per process (default $GRADER_HTTP_THREADS or 8)")
    http.set_defaults(func=cmd_http)
    work = sub.add_parser("work", help="run only the grading workers ($GRADER_WORKERS threads)")
    work.set_defaults(func=cmd_work)
    serve.set_defaults(func=cmd_serve)

    config = sub.add_parser("config", help="every service setting: its variable, default, "
                                           "current value (secrets hidden) and meaning")
    config.add_argument("--json", action="store_true", help="one JSON list instead of text")
    config.set_defaults(func=cmd_config)

    migrate = sub.add_parser("migrate", help="prepare the storage once before the service "
                                              "starts: the database schema at the latest "
                                              "revision, the signing key if missing "
                                              "(`serve` does this itself)")
    migrate.set_defaults(func=cmd_migrate)

    keygen = sub.add_parser("keygen", help="create an Ed25519 signing key (PEM, mode 0600)")
    keygen.add_argument("key_file")
    keygen.add_argument("--public-key", help="also write the public key here (default: stdout)")
    keygen.set_defaults(func=cmd_keygen)

    listing = sub.add_parser("list", help="list a course's submissions")
    _api_options(listing)
    listing.add_argument("--status", help="only this status (queued, graded, ...)")
    listing.set_defaults(func=cmd_list)

    rolls = sub.add_parser("rolls", help="which account holds each roll number of a course; "
                                         "--release ROLL frees one bound by mistake")
    _api_options(rolls)
    rolls.add_argument("--release", metavar="ROLL", default="",
                       help="free this roll number (the next account that submits with it "
                            "holds it)")
    rolls.set_defaults(func=cmd_rolls)

    regrade = sub.add_parser("regrade", help="regrade submissions, or a whole assignment")
    _api_options(regrade, course_required=False)
    regrade.add_argument("submission_ids", nargs="*")
    regrade.set_defaults(func=cmd_regrade)

    export = sub.add_parser("export", help="download the gradebook and every graded stamp")
    _api_options(export)
    export.add_argument("--output", required=True, help="folder to write into")
    export.set_defaults(func=cmd_export)

    push = sub.add_parser("push", help="send an assignment's latest grades to the LMS "
                                        "(the exporters) again")
    _api_options(push)
    push.set_defaults(func=cmd_push)

    pull = _formgrader_command(
        sub, "pull-results", "write the service's automatic results into the nbgrader "
                             "course directory (autograded/ and the gradebook) for the "
                             "formgrader; runs no student code")
    _course_dir_option(pull)
    pull.set_defaults(func=cmd_pull_results)

    push_manual = _formgrader_command(
        sub, "push-manual", "send the manual grades and comments of nbgrader's formgrader "
                            "(its gradebook) to the service, which signs and exports the "
                            "final grades")
    push_manual.add_argument("--gradebook", default="gradebook.db",
                             help="the formgrader's gradebook.db (default ./gradebook.db, "
                                  "in the course directory)")
    push_manual.add_argument("--db-url", default="",
                             help="the gradebook as an SQLAlchemy URL instead "
                                  "(nbgrader's CourseDirectory.db_url)")
    push_manual.set_defaults(func=cmd_push_manual)

    fetch = _formgrader_command(
        sub, "fetch-source", "unpack the course's nbgrader source tree (solutions, hidden "
                             "tests) from the service into <course dir>/source/; an "
                             "assignment folder that exists is kept", assignment=False)
    _course_dir_option(fetch)
    fetch.add_argument("--force", action="store_true",
                       help="replace assignment folders that exist (edits in them are lost)")
    fetch.set_defaults(func=cmd_fetch_source)

    verify = sub.add_parser("verify", help="check stamps: one file (and whether a regrade "
                                            "superseded it), or a whole course")
    _api_options(verify, course_required=False)
    verify.add_argument("stamp", nargs="?", help="stamp JSON file")
    verify.add_argument("--public-key", help="PEM from GET /api/public-key (default: ask "
                                             "the service)")
    verify.add_argument("--offline", action="store_true",
                        help="check the signature only; do not ask the service whether the "
                             "stamp is still the current grade")
    verify.set_defaults(func=cmd_verify)
    return parser


def connection_problem(err) -> str:
    """A short reason for a failed connection: the innermost OS error's text (``Connection
    refused``, ``Name or service not known``...), else the exception's class name."""
    seen = set()
    stack = [err]
    while stack:
        current = stack.pop()
        if id(current) in seen or current is None:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            return current.strerror
        stack.extend([current.__cause__, current.__context__,
                      *(a for a in getattr(current, "args", ()) if isinstance(a, BaseException)),
                      getattr(current, "reason", None)])
    text = str(err)
    match = re.search(r"\[Errno -?\d+\] ([^'\")]+)", text)
    if match:
        return match.group(1).strip()
    return "timed out" if "timed out" in text.lower() else type(err).__name__


def main(argv=None):
    import requests

    from .client import ApiError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ApiError as err:
        print(f"dl-grader: error: {err}", file=sys.stderr)
        return 2
    except requests.RequestException as err:
        url = service_url(args)
        print(f"dl-grader: cannot reach the grading service at {url} "
              f"({connection_problem(err)}); pass --url or set $GRADER_SERVICE_URL",
              file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
