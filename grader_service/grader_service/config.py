"""Service settings: one documented default per key, overridable from the environment.

``create_app`` reads :func:`from_env` then applies a test config on top, Flask-tutorial style;
``dl-grader config`` prints every setting with its help, default and current value.
"""

import json
import os
import re

MB = 1024 * 1024


def as_bool(text):
    """``true``, ``1`` or ``yes`` (any case) -> True; anything else -> False."""
    return text.strip().lower() in ("1", "true", "yes")


def json_of(kind):
    """A converter: JSON text that must decode to ``kind`` (dict or list)."""
    def convert(raw):
        value = json.loads(raw)
        if not isinstance(value, kind):
            raise ValueError(f"expected a JSON {kind.__name__}, got {raw!r}")
        return value
    return convert


def comma_names(raw):
    """``a, b`` -> ``("a", "b")``."""
    return tuple(x.strip() for x in raw.split(",") if x.strip())


#: key -> (environment variable, default, converter, help, the version it appeared in);
#: ``K8S_*``: the kubernetes runner's (``KubernetesSettings``). 0.2.0 is the first version
#: this repository records; a new setting carries the version it will ship in.
SETTINGS = {
    "DATA_DIR": ("GRADER_DATA_DIR", "/srv/grader", str,
                 "Directory for the SQLite DB, content-addressed blobs, signing key and gradebook CSV.", "0.2.0"),
    "DATABASE_URL": ("GRADER_DATABASE_URL", "", str,
                     "SQLAlchemy URL; empty means sqlite:///$GRADER_DATA_DIR/grader.sqlite.", "0.2.0"),
    "HUB_API_URL": ("JUPYTERHUB_API_URL", "http://hub:8081/hub/api", str,
                    "JupyterHub REST API base, e.g. http://hub:8081/hub/api.", "0.2.0"),
    "HUB_API_TOKEN": ("JUPYTERHUB_API_TOKEN", "", str,
                      "This service's own hub token (scopes read:users, read:users:groups, "
                      "read:groups, admin:auth_state).", "0.2.0"),
    "SERVICE_PREFIX": ("JUPYTERHUB_SERVICE_PREFIX", "/services/grader/", str,
                       "URL prefix the hub proxy forwards unchanged; stripped by the app.", "0.2.0"),
    "OAUTH_CLIENT_ID": ("JUPYTERHUB_CLIENT_ID", "service-grader", str,
                        "The results page's OAuth client id at the hub (the hub names a "
                        "service's client service-<name>).", "0.3.0"),
    "OAUTH_CALLBACK_URL": ("JUPYTERHUB_OAUTH_CALLBACK_URL", "", str,
                           "Where the hub sends a browser back after login; empty means "
                           "$JUPYTERHUB_SERVICE_PREFIX/oauth_callback (the hub's default).", "0.3.0"),
    "HUB_BASE_URL": ("JUPYTERHUB_BASE_URL", "/", str,
                     "The hub's public base URL path (the results page sends browsers to "
                     "<base>hub/api/oauth2/authorize).", "0.3.0"),
    "SESSION_SECRET_FILE": ("GRADER_SESSION_SECRET_FILE", "", str,
                            "Secret that signs the results page's session cookie; empty means "
                            "$GRADER_DATA_DIR/session_secret, made by dl-grader migrate. Replicas "
                            "must share it.", "0.3.0"),
    "COOKIE_SECURE": ("GRADER_COOKIE_SECURE", False, as_bool,
                      "Send the results page's session cookie over HTTPS only (set true "
                      "when the hub is served over HTTPS).", "0.3.0"),
    "IDENTITY_CACHE_SECONDS": ("GRADER_IDENTITY_CACHE_SECONDS", 30.0, float,
                               "How long a resolved token identity is reused.", "0.2.0"),
    "POLICY_CACHE_SECONDS": ("GRADER_POLICY_CACHE_SECONDS", 2.0, float,
                             "How long the submit path reuses an assignment's due date and "
                             "resubmission limit (a change made through another replica "
                             "applies after at most this long).", "0.3.0"),
    "SUBMIT_RATE": ("GRADER_SUBMIT_RATE", "6/60", str,
                    "Most submissions one student may make to a course per window, as "
                    "`count/seconds`; more gets 429 with Retry-After and nothing is "
                    "stored. Empty or `0/...` turns the limit off.", "0.3.0"),
    "SANDBOX_IMAGE": ("GRADER_SANDBOX_IMAGE", "dlcourse/sandbox:latest", str,
                      "Image the docker runner starts for every grading job.", "0.2.0"),
    "RUNNER": ("GRADER_RUNNER", "docker", str,
               "Runner name (docker | local | an entry point) or `package.module:Class`.", "0.2.0"),
    "MAX_UPLOAD_BYTES": ("GRADER_MAX_UPLOAD_BYTES", 20 * MB, int,
                         "Largest accepted request body (bytes); larger gets 413.", "0.2.0"),
    "MAX_UNPACKED_BYTES": ("GRADER_MAX_UNPACKED_BYTES", 100 * MB, int,
                           "Largest total size of the files inside an uploaded tar (bytes).", "0.2.0"),
    "MAX_SUBMISSION_FILES": ("GRADER_MAX_SUBMISSION_FILES", 100, int,
                             "Most files one submission may hold; more gets 413.", "0.2.0"),
    "SUBMISSION_FILE_TYPES": ("GRADER_SUBMISSION_FILE_TYPES",
                              ".ipynb,.py,.txt,.md,.csv,.json,.npy,.npz,.png,.jpg,.jpeg", str,
                              "Comma-separated file suffixes a submission may hold "
                              "(case-insensitive); another suffix gets 415. Empty = any.", "0.2.0"),
    "SANDBOX_MEMORY": ("GRADER_SANDBOX_MEMORY", "2g", str,
                       "Sandbox memory limit; swap limit is set equal (no swap). The "
                       "framework labs load TensorFlow and PyTorch: keep at least 2g.", "0.2.0"),
    "SANDBOX_CPUS": ("GRADER_SANDBOX_CPUS", 1.0, float, "Sandbox CPU quota in cores.", "0.2.0"),
    "SANDBOX_PIDS": ("GRADER_SANDBOX_PIDS", 512, int, "Sandbox process/thread limit.", "0.2.0"),
    "SANDBOX_TIMEOUT": ("GRADER_SANDBOX_TIMEOUT", 300.0, float,
                        "Wall-clock limit for one grading job (seconds); then killed.", "0.2.0"),
    "SANDBOX_CELL_TIMEOUT": ("GRADER_SANDBOX_CELL_TIMEOUT", 60.0, float,
                             "Per-cell execution timeout inside the sandbox (seconds).", "0.2.0"),
    "SANDBOX_OUTPUT_BYTES": ("GRADER_SANDBOX_OUTPUT_BYTES", 1 * MB, int,
                             "Cap on the sandbox's stdout (bytes); more is an error.", "0.2.0"),
    "WORKERS": ("GRADER_WORKERS", len(os.sched_getaffinity(0)), int,
                "Grading worker threads (each runs one sandbox at a time) in the grading "
                "process of `dl-grader serve`; default: one per core this process may "
                "use. 0: an HTTP-only replica that grades nothing.", "0.2.0"),
    "SANDBOX_WARM": ("GRADER_SANDBOX_WARM", -1, int,
                     "docker runner: sandboxes started ahead of their jobs, waiting with their imports "
                     "done (each still serves one job and is then removed): a job finds "
                     "one ready instead of starting its own. -1: one per grading worker; "
                     "0: none (every job starts a fresh sandbox).", "0.3.0"),
    "HTTP_PROCESSES": ("GRADER_HTTP_PROCESSES", 2, int,
                       "`dl-grader serve`/`http`: HTTP worker processes (about one per "
                       "core); `--processes` wins.", "0.3.0"),
    "HTTP_THREADS": ("GRADER_HTTP_THREADS", 8, int,
                     "`dl-grader serve`/`http`: HTTP threads per process; `--threads` wins.", "0.3.0"),
    "LEASE_SECONDS": ("GRADER_LEASE_SECONDS", 60.0, float,
                      "A running job's lease; the worker renews it every third of this, and a "
                      "job whose lease ran out (dead worker) is claimed again.", "0.2.0"),
    "MAX_ATTEMPTS": ("GRADER_MAX_ATTEMPTS", 3, int,
                     "Claims per job before it is marked failed (infrastructure failures and "
                     "workers dying mid-job both count).", "0.2.0"),
    "POLL_SECONDS": ("GRADER_POLL_SECONDS", 5.0, float,
                     "How often an idle worker looks for queued jobs and expired leases.", "0.2.0"),
    "METRICS_TOKEN": ("GRADER_METRICS_TOKEN", "", str,
                      "Bearer token Prometheus sends for /metrics (`Authorization: Bearer "
                      "<token>`; missing: 401, wrong: 403). Empty leaves /metrics open, for "
                      "development only: the Ansible roles and the chart always set one.", "0.3.0"),
    "SWEEP_SECONDS": ("GRADER_SWEEP_SECONDS", 120.0, float,
                      "How often the grading process removes sandbox containers that no live "
                      "job owns (left by a grading process that died mid-job); also at start. "
                      "0 turns the janitor off.", "0.3.0"),
    "SIGNING_KEY_FILE": ("GRADER_SIGNING_KEY_FILE", "", str,
                         "Ed25519 private key (PEM); empty means $GRADER_DATA_DIR/signing_key.pem, "
                         "generated on first start.", "0.2.0"),
    "EXPORTERS": ("GRADER_EXPORTERS", "csv", str,
                  "Comma-separated exporter names: csv, lti-ags, canvas (or an entry point).", "0.2.0"),
    "EXPORT_RETRY_SECONDS": ("GRADER_EXPORT_RETRY_SECONDS", 60.0, float,
                             "After an exporter fails, wait this long before retrying it "
                             "(doubling on each further failure, at most 1 h).", "0.3.0"),
    "LTI_CLIENT_ID": ("GRADER_LTI_CLIENT_ID", "", str,
                      "lti-ags: the tool's client id in the LMS's LTI 1.3 registration.", "0.3.0"),
    "LTI_TOKEN_URL": ("GRADER_LTI_TOKEN_URL", "", str,
                      "lti-ags: the LMS's OAuth 2 access token URL.", "0.3.0"),
    "LTI_TOKEN_AUDIENCE": ("GRADER_LTI_TOKEN_AUDIENCE", "", str,
                           "lti-ags: `aud` of the client assertion if the LMS wants another "
                           "than the token URL.", "0.3.0"),
    "LTI_PRIVATE_KEY_FILE": ("GRADER_LTI_PRIVATE_KEY_FILE", "", str,
                             "lti-ags: the tool's RSA private key (PEM); empty means "
                             "$GRADER_DATA_DIR/lti_tool_key.pem, generated on first start. "
                             "Its public key set is served at /api/lti/jwks.", "0.3.0"),
    "LTI_FROM_LAUNCHES": ("GRADER_LTI_FROM_LAUNCHES", True, as_bool,
                          "lti-ags: take each student's LMS user id (sub) and the course's "
                          "line items URL from their last LTI launch (hub auth_state), when "
                          "the hub logs in through LTI.", "0.3.0"),
    "LTI_ISSUER": ("GRADER_LTI_ISSUER", "", str,
                   "lti-ags: the LMS's issuer (`iss` of its launches; the hub's "
                   "LTI13_ISSUER). Launches from any other issuer are never used.", "0.3.0"),
    "LTI_CONTEXTS": ("GRADER_LTI_CONTEXTS", "", str,
                     "lti-ags: `<deployment id>/<context id>=<course>` pairs, comma-"
                     "separated (the hub's LTI13_CONTEXT_COURSES): the LMS courses whose "
                     "launches may name a course's line items URL and a student's LMS "
                     "user id. A launch from any other LMS course is ignored.", "0.3.0"),
    "LTI_LINEITEMS": ("GRADER_LTI_LINEITEMS", "", str,
                      "lti-ags: course=URL pairs, comma-separated: each course's LMS line "
                      "items URL (`lineitems` of a launch's AGS endpoint claim); not needed "
                      "when students log in through LTI launches.", "0.3.0"),
    "LTI_MEMBERSHIPS": ("GRADER_LTI_MEMBERSHIPS", "", str,
                        "lti-ags: course=URL pairs: each course's Names and Role "
                        "Provisioning Services `context_memberships_url`; the score's "
                        "userId is then the member whose lis_person_sourcedid is the "
                        "roll number (works with any hub login).", "0.3.0"),
    "LTI_USER_ID": ("GRADER_LTI_USER_ID", "{username}", str,
                    "lti-ags, courses without GRADER_LTI_MEMBERSHIPS: the score's "
                    "`userId` (the LMS's LTI user id) as a template of the record, e.g. "
                    "{username} when the hub's usernames are LTI subs.", "0.3.0"),
    "CANVAS_URL": ("GRADER_CANVAS_URL", "", str, "canvas: the Canvas base URL.", "0.3.0"),
    "CANVAS_TOKEN": ("GRADER_CANVAS_TOKEN", "", str,
                     "canvas: an API access token allowed to grade in the courses.", "0.3.0"),
    "CANVAS_COURSE": ("GRADER_CANVAS_COURSE", "sis_course_id:{course}", str,
                      "canvas: the Canvas course id as a template of the record.", "0.3.0"),
    "CANVAS_USER": ("GRADER_CANVAS_USER", "sis_user_id:{roll_number}", str,
                    "canvas: the Canvas user id as a template of the record.", "0.3.0"),
    "COURSE_SOURCE_DIR": ("GRADER_COURSE_SOURCE_DIR", "", str,
                          "The course's nbgrader source tree (`<assignment>/...`, with "
                          "solutions and hidden tests), served to the instructors of every "
                          "course at GET /api/courses/<course>/course-source (`dl-grader "
                          "fetch-source`). Empty turns that off; the service image sets "
                          "/opt/course/source.", "0.3.0"),
    "LOG_FORMAT": ("GRADER_LOG_FORMAT", "json", str,
                   "`dl-grader serve` log lines: json (one object per line, with "
                   "submission_id where known) or text.", "0.2.0"),
    # --- the kubernetes runner (GRADER_RUNNER=kubernetes) ---
    "K8S_NAMESPACE": ("GRADER_K8S_NAMESPACE", "", str,
                      "Namespace of the grading Jobs; empty means the service's own namespace "
                      "(in cluster) or `default`.", "0.3.0"),
    "K8S_SERVICE_ACCOUNT": ("GRADER_K8S_SERVICE_ACCOUNT", "", str,
                            "ServiceAccount of the grading pods (its token is never mounted); "
                            "empty means the namespace's `default`.", "0.3.0"),
    "K8S_IMAGE_PULL_POLICY": ("GRADER_K8S_IMAGE_PULL_POLICY", "IfNotPresent", str,
                              "imagePullPolicy of the sandbox container.", "0.3.0"),
    "K8S_IMAGE_PULL_SECRETS": ("GRADER_K8S_IMAGE_PULL_SECRETS", (), comma_names,
                               "Comma-separated Secret names for pulling the sandbox image.", "0.3.0"),
    "K8S_EPHEMERAL_STORAGE": ("GRADER_K8S_EPHEMERAL_STORAGE", "1Gi", str,
                              "Ephemeral-storage request and limit (scratch volumes plus the log); "
                              "keep it above the scratch sizes, 384Mi.", "0.3.0"),
    "K8S_SECCOMP_PROFILE": ("GRADER_K8S_SECCOMP_PROFILE", "", str,
                            "Seccomp profile of the grading pods as a `Localhost` profile: its "
                            "path below the kubelet's seccomp directory "
                            "(/var/lib/kubelet/seccomp), "
                            "e.g. `dlcourse/sandbox.json`. The file must exist on every node that "
                            "runs grading pods, or they fail to start: it is "
                            "`python -m grader_service.runners.seccomp` (the Helm chart ships it "
                            "in a ConfigMap). Empty means `RuntimeDefault`, the container "
                            "runtime's profile, which allows ptrace.", "0.3.0"),
    "K8S_START_TIMEOUT": ("GRADER_K8S_START_TIMEOUT", 300.0, float,
                          "Seconds a grading pod may take to be scheduled and pull its image; "
                          "then the attempt fails as infrastructure and is retried.", "0.3.0"),
    "K8S_NODE_SELECTOR": ("GRADER_K8S_NODE_SELECTOR", {}, json_of(dict),
                          'JSON object, e.g. {"dlcourse/node-purpose": "grading"}.', "0.3.0"),
    "K8S_TOLERATIONS": ("GRADER_K8S_TOLERATIONS", [], json_of(list),
                        "JSON list of tolerations for the grading pods.", "0.3.0"),
    "K8S_PRIORITY_CLASS": ("GRADER_K8S_PRIORITY_CLASS", "", str, "priorityClassName, if any.", "0.3.0"),
    "K8S_RUNTIME_CLASS": ("GRADER_K8S_RUNTIME_CLASS", "", str,
                          "runtimeClassName, e.g. `gvisor` for a user-space kernel, if any.", "0.3.0"),
    "K8S_POD_LABELS": ("GRADER_K8S_POD_LABELS", {}, json_of(dict),
                       "JSON object of extra pod labels (the sandbox labels always win).", "0.3.0"),
    "K8S_TTL_SECONDS": ("GRADER_K8S_TTL_SECONDS", 300, int,
                        "ttlSecondsAfterFinished: how long a finished Job survives a dead "
                        "service.", "0.3.0"),
    "K8S_POLL_SECONDS": ("GRADER_K8S_POLL_SECONDS", 1.0, float,
                         "Longest pause between two looks at a pod's status (seconds).", "0.3.0"),
}


#: ``GRADER_*`` variables that are not service settings: the ``dl-grader`` client
#: commands' (any machine) and the one ``serve`` hands its own children.
OTHER_VARIABLES = {
    "GRADER_URL": "client commands: the service's base URL",
    "GRADER_SERVICE_URL": "client commands: the service's URL, as the hub sets it in "
                          "single-user servers",
    "GRADER_API_TOKEN": "client commands: the JupyterHub API token to call the service with",
    "GRADER_WAKEUP_SOCKET": "set by `dl-grader serve` for its children",
}
#: what Kubernetes puts in a pod's environment for a Service named ``grader`` (service
#: links: the chart turns them off, a hand-written manifest may not)
SERVICE_LINK = re.compile(r"GRADER_(SERVICE_HOST|SERVICE_PORT(_\w+)?|PORT(_\d+_(TCP|UDP|SCTP)"
                          r"(_\w+)?)?)")
#: settings whose value is a secret: shown as ``(set)`` by :func:`describe`
SECRET_WORDS = ("TOKEN", "SECRET", "PASSWORD")


def unknown_variables(environ=None) -> list[str]:
    """``GRADER_*`` variables in ``environ`` that no setting reads (a typo, or a setting
    that was renamed), each with the nearest known name if there is one."""
    import difflib

    environ = os.environ if environ is None else environ
    known = [var for var, *_ in SETTINGS.values()] + list(OTHER_VARIABLES)
    found = []
    for var in sorted(v for v in environ if v.startswith("GRADER_") and v not in known
                      and not SERVICE_LINK.fullmatch(v)):
        near = difflib.get_close_matches(var, known, n=1)
        found.append(f"{var} (did you mean {near[0]}?)" if near else var)
    return found


def describe(environ=None) -> list[dict]:
    """Every setting: key, variable, default, current value (secrets hidden), help and
    the version it appeared in."""
    environ = os.environ if environ is None else environ
    current = from_env(environ)
    rows = []
    for key, (var, default, _convert, help_, since) in SETTINGS.items():
        value = current[key]
        if any(word in var for word in SECRET_WORDS) and value:
            value = "(set)"
        rows.append({"key": key, "variable": var, "default": default, "value": value,
                     "set": environ.get(var) not in (None, ""), "help": help_, "since": since})
    return rows


def from_env(environ=None):
    """Return the settings dict built from ``environ`` (default ``os.environ``)."""
    environ = os.environ if environ is None else environ
    values = {}
    for key, (var, default, convert, _help, _since) in SETTINGS.items():
        raw = environ.get(var)
        values[key] = default if raw in (None, "") else convert(raw)
    return values
