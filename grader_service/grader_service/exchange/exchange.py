"""Base exchange: where the service is, who we are, and one ``api()`` helper for HTTP."""

import os
import shutil
import tempfile
import urllib.parse

from nbgrader.exchange.abc import Exchange
from traitlets import Bool, Float, Integer, Unicode, default

DEFAULT_MAX_UPLOAD = 20 * 1024 * 1024
MAX_UNPACKED = 500 * 1024 * 1024


class GraderServiceExchange(Exchange):
    """Common traits and HTTP plumbing of the grading-service exchange."""

    service_url = Unicode(
        help="""Base URL of the grading service, e.g. http://dlcourse-grader:5000.
        Defaults to $GRADER_SERVICE_URL. Example: c.GraderServiceExchange.service_url = "..."
        (added in dlcourse-grader 0.1)""").tag(config=True)

    @default("service_url")
    def _service_url_default(self):
        return os.environ.get("GRADER_SERVICE_URL", "http://dlcourse-grader:5000")

    api_token = Unicode(
        help="""JupyterHub API token sent as `Authorization: token ...`; defaults to
        $JUPYTERHUB_API_TOKEN (set by the hub in every single-user server).""").tag(config=True)

    @default("api_token")
    def _api_token_default(self):
        return os.environ.get("JUPYTERHUB_API_TOKEN", "")

    request_timeout = Float(60.0, help="Seconds to wait for the grading service.").tag(config=True)

    max_upload_bytes = Integer(
        DEFAULT_MAX_UPLOAD,
        help="Refuse to upload archives larger than this (bytes); the service enforces "
             "its own limit too.").tag(config=True)

    path_includes_course = Bool(
        False,
        help="""Fetch/submit below `<course>/<assignment>` instead of `<assignment>`
        (same meaning as nbgrader's default exchange).""").tag(config=True)

    def init_src(self):
        pass

    def init_dest(self):
        pass

    def copy_files(self):
        pass

    @property
    def course_id(self):
        """The course from ``CourseDirectory.course_id`` (fails if unset)."""
        if not self.coursedir.course_id:
            self.fail("No course id specified. Set c.CourseDirectory.course_id or use --course.")
        return self.coursedir.course_id

    def local_assignment_dir(self, course_id, assignment_id):
        """Where nbgrader keeps a fetched assignment: ``<assignment>`` or ``<course>/<assignment>``."""
        parts = [course_id, assignment_id] if self.path_includes_course else [assignment_id]
        return os.path.abspath(os.path.join(self.assignment_dir, *parts))

    def api(self, method, path, **kwargs):
        """Call the service; any failure becomes an ExchangeError with the service's message."""
        import requests

        url = self.service_url.rstrip("/") + "/" + path.lstrip("/")
        headers = {**kwargs.pop("headers", {}), "Authorization": f"token {self.api_token}"}
        try:
            response = requests.request(method, url, headers=headers,
                                        timeout=self.request_timeout, **kwargs)
        except requests.RequestException as err:
            self.fail(f"Cannot reach the grading service at {self.service_url}: {err}")
        if response.status_code >= 400:
            try:
                message = response.json()["error"]
            except (ValueError, KeyError, TypeError):
                message = response.text[:200] or response.reason
            self.fail(f"Grading service refused {method} {path} "
                      f"(HTTP {response.status_code}): {message}")
        return response

    def download_tree(self, path, dest, merge=False):
        """GET the tar at ``path`` and unpack it safely as directory ``dest``.

        An existing ``dest`` is replaced, or with ``merge`` only its missing files are
        restored. Unpacking happens in a temporary sibling, so a bad archive leaves
        ``dest`` untouched.
        """
        from ..tarsafe import UnsafeArchive, extract

        data = self.api("GET", path).content
        parent = os.path.dirname(dest)
        os.makedirs(parent, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=parent) as tmp:
            unpacked = os.path.join(tmp, "tree")
            try:
                extract(data, unpacked, MAX_UNPACKED)
            except UnsafeArchive as err:
                self.fail(f"The archive from {path} is unsafe, not extracting it: {err}")
            if merge and os.path.isdir(dest):
                _copy_missing(unpacked, dest, self.log)
                return
            if os.path.isdir(dest):
                shutil.rmtree(dest)
            shutil.move(unpacked, dest)

    def follow_up(self, failure, command, action, expected=()):
        """Run ``action(client)``, a step after the exchange's own work that returns a
        report with ``lines`` (e.g. pulling results); each line is logged. A failure
        (the service unreachable or refusing, or one of ``expected``) is a warning
        ``failure (reason); run `command```, and the exchange's own work stands."""
        import requests

        from ..client import ApiError, GraderClient

        client = GraderClient(self.service_url, self.api_token, timeout=self.request_timeout)
        try:
            report = action(client)
        except (ApiError, requests.RequestException, OSError, *expected) as err:
            self.log.warning("%s (%s); run `%s`", failure, err, command)
            return None
        for line in report.lines:
            self.log.info("%s", line)
        return report

    def submissions(self, course, assignment=""):
        """The service's submission list (the caller's own, or everyone's for instructors)."""
        query = {"assignment": assignment} if assignment else {}
        return self.api("GET", f"api/courses/{quote(course)}/submissions", params=query).json()


def quote(name):
    return urllib.parse.quote(name, safe="")


def _copy_missing(src, dest, log):
    for dirpath, _dirnames, filenames in os.walk(src):
        for filename in filenames:
            rel = os.path.relpath(os.path.join(dirpath, filename), src)
            target = os.path.join(dest, rel)
            if not os.path.exists(target):
                log.warning("Replacing missing file '%s'", rel)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                shutil.copy(os.path.join(dirpath, filename), target)
