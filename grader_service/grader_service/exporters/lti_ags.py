"""LTI 1.3 Assignment and Grade Services exporter: one score per graded submission.

The service acts as the LTI tool's back end (pylti1p3 does the protocol): it signs a
client assertion with the tool's RSA key, exchanges it at the LMS's token endpoint for
an access token (OAuth 2 client credentials, RFC 7523), finds or creates the course's
line item for the assignment (``resourceId`` = assignment name) and posts the score.

Idempotent by design: the score's ``timestamp`` is the record's ``graded_at``, and a
platform must not apply a score that is not newer than the one it holds (AGS 2.0
§3.4.2); a ``409 Conflict`` for a replay therefore means "already delivered". The tool's
public key set is served at ``/api/lti/jwks`` for the LMS registration.

Settings (``GRADER_LTI_*``, see config.py): client id, token URL and the key file.
Where the course's line items are and who the student is at the LMS comes, in order:

- from the student's last LTI launch, when the hub logs in through LTI
  (``auth_state["lti_claims"]``, read from the hub API): ``sub`` is the LMS user id and
  the AGS endpoint claim names the course's ``lineitems``. Only a launch from a
  configured LMS course counts: its (issuer, deployment id, context id) must be one of
  ``GRADER_LTI_CONTEXTS`` (with ``GRADER_LTI_ISSUER``; the hub's own mapping), and the
  line items are learnt only from a launch of the record's course. A launch from any
  other LMS course (e.g. a sandbox course a student made and labelled like the real
  one) is ignored, so grades cannot be routed to it;
- from ``GRADER_LTI_LINEITEMS`` (course=URL) and ``GRADER_LTI_MEMBERSHIPS``: the user id
  is looked up by roll number (``lis_person_sourcedid``) in the course's Names and Role
  Provisioning Services membership list, whichever way students log in to the hub;
- else the ``GRADER_LTI_USER_ID`` template of the record.
"""

import datetime
import os
import threading
import time

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pylti1p3.assignments_grades import AssignmentsGradesService
from pylti1p3.exception import LtiServiceException
from pylti1p3.grade import Grade
from pylti1p3.lineitem import LineItem
from pylti1p3.names_roles import NamesRolesProvisioningService
from pylti1p3.registration import Registration
from pylti1p3.service_connector import ServiceConnector

from ..hub import (
    AGS_ENDPOINT_CLAIM,
    CONTEXT_CLAIM,
    DEPLOYMENT_CLAIM,
    HubClient,
    lti_launch_from_auth_state,
)
from ..manual import is_pending
from ..stamp import load_key, load_or_create_key
from . import DeliveryRefused, Exporter

SCOPES = ["https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
          "https://purl.imsglobal.org/spec/lti-ags/scope/score"]
#: a new access token well before the usual one-hour lifetime runs out
TOKEN_REFRESH_SECONDS = 45 * 60
#: how long a course's membership list is reused (a roll number not in it refetches it)
MEMBERSHIP_REFRESH_SECONDS = 600



class HubLaunches:
    """What each student's last LTI launch told the hub (``auth_state`` through the hub
    API, with the service's token): ``(course, claims)``, reused for a few minutes."""

    REUSE_SECONDS = 300

    def __init__(self, api_url, token, session=None):
        self.hub = HubClient(api_url, token, timeout=30.0, session=session)
        self._seen = {}  # username -> (fetched at, (course, claims))

    def last_launch(self, username):
        """``(course id, id_token claims)`` of the user's last launch, or ``(None, {})``."""
        fetched_at, launch = self._seen.get(username, (0.0, None))
        if launch is None or time.monotonic() - fetched_at > self.REUSE_SECONDS:
            launch = lti_launch_from_auth_state(self.hub.user(username).get("auth_state") or {})
            self._seen[username] = (time.monotonic(), launch)
        return launch


def parse_course_map(text):
    """``"ml101=https://lms/…/line_items, dl101=…"`` -> ``{"ml101": "https://…"}``."""
    mapping = {}
    for item in text.replace("\n", ",").split(","):
        if not item.strip():
            continue
        course, sep, url = item.strip().partition("=")
        if not sep or not course.strip() or not url.strip():
            raise ValueError(f"expected course=URL, got {item.strip()!r}")
        mapping[course.strip()] = url.strip()
    return mapping


def parse_context_map(text):
    """``"<deployment id>/<context id>=<course>, ..."`` (the hub's ``LTI13_CONTEXT_COURSES``)
    -> ``{"<deployment id>/<context id>": "<course>"}``."""
    mapping = {}
    for item in text.replace("\n", ",").split(","):
        if not item.strip():
            continue
        key, sep, course = item.strip().rpartition("=")
        if not sep or "/" not in key.strip() or not course.strip():
            raise ValueError(f"expected <deployment id>/<context id>=<course>, "
                             f"got {item.strip()!r}")
        mapping[key.strip()] = course.strip()
    return mapping


def launch_context_key(claims):
    """``"<deployment id>/<context id>"`` of a launch's claims, or ``None``."""
    deployment = claims.get(DEPLOYMENT_CLAIM)
    context = claims.get(CONTEXT_CLAIM)
    context_id = context.get("id") if isinstance(context, dict) else None
    if not isinstance(deployment, str) or not isinstance(context_id, str):
        return None
    if not deployment or not context_id:
        return None
    return f"{deployment}/{context_id}"


def generate_rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def lti_timestamp(iso_text):
    """The record's ``...Z`` timestamp in the ISO 8601 form AGS asks for (with offset)."""
    moment = datetime.datetime.fromisoformat(iso_text.replace("Z", "+00:00"))
    return moment.isoformat(timespec="milliseconds")


def grading_progress(record):
    """``PendingManual`` while an instructor still has items to grade, else ``FullyGraded``."""
    return "PendingManual" if is_pending(record) else "FullyGraded"


def _manual_note(record):
    """Who graded the manual items, for the score's comment ("" if none or pending)."""
    graders = sorted({test["graded_by"] for test in record.get("tests", [])
                      if test.get("manual") and "graded_by" in test})
    if not graders or is_pending(record):
        return ""
    return ", manual items graded by " + ", ".join(graders)


def tool_key_path(config) -> str:
    """``LTI_PRIVATE_KEY_FILE``, or ``lti_tool_key.pem`` in ``DATA_DIR``."""
    return config["LTI_PRIVATE_KEY_FILE"] or os.path.join(config["DATA_DIR"], "lti_tool_key.pem")


def create_tool_key(config) -> str:
    """Make the tool's RSA key once (``dl-grader migrate``); return its path."""
    path = tool_key_path(config)
    load_or_create_key(path, generate=generate_rsa_key, key_type=rsa.RSAPrivateKey)
    return path


class LtiAgsExporter(Exporter):
    """Post each graded record as an AGS score to its course's line items."""

    name = "lti-ags"

    def __init__(self, client_id, token_url, private_key, lineitems, user_id="{username}",
                 token_audience="", memberships=None, launches=None, issuer="",
                 contexts=None):
        pem = private_key.private_bytes(serialization.Encoding.PEM,
                                        serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()).decode()
        public_pem = private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        self.registration = (Registration().set_client_id(client_id)
                             .set_auth_token_url(token_url)
                             .set_tool_private_key(pem).set_tool_public_key(public_pem))
        if token_audience:
            self.registration.set_auth_audience(token_audience)
        self.lineitems = dict(lineitems)  # configured, or learnt from launches
        self.memberships = dict(memberships or {})
        self.launches = launches  # HubLaunches, or None
        self.issuer = issuer  # the LMS whose launches count
        self.contexts = dict(contexts or {})  # "<deployment>/<context id>" -> course
        self.user_id = user_id
        self._members = {}  # course -> (fetched at, {roll number: LMS user id})
        self._lock = threading.Lock()
        self._connector = None
        self._connector_born = 0.0
        self._lineitem_ids = {}  # (course, assignment) -> line item URL

    @classmethod
    def from_config(cls, config):
        missing = [var for key, var in (("LTI_CLIENT_ID", "GRADER_LTI_CLIENT_ID"),
                                        ("LTI_TOKEN_URL", "GRADER_LTI_TOKEN_URL"))
                   if not config[key]]
        if missing:
            raise ValueError(f"the lti-ags exporter needs {', '.join(missing)}")
        key = load_key(tool_key_path(config), key_type=rsa.RSAPrivateKey)
        return cls(config["LTI_CLIENT_ID"], config["LTI_TOKEN_URL"], key,
                   parse_course_map(config["LTI_LINEITEMS"]), user_id=config["LTI_USER_ID"],
                   token_audience=config["LTI_TOKEN_AUDIENCE"],
                   memberships=parse_course_map(config["LTI_MEMBERSHIPS"]),
                   launches=HubLaunches(config["HUB_API_URL"], config["HUB_API_TOKEN"])
                   if config["LTI_FROM_LAUNCHES"] else None,
                   issuer=config["LTI_ISSUER"],
                   contexts=parse_context_map(config["LTI_CONTEXTS"]))

    def jwks(self):
        """The tool's public key set (``{"keys": [...]}``) for the LMS registration."""
        return {"keys": self.registration.get_jwks()}

    def _connection(self):
        """The service connector; a new one (new access tokens) every 45 minutes."""
        with self._lock:
            if self._connector is None or time.monotonic() - self._connector_born > TOKEN_REFRESH_SECONDS:
                self._connector = ServiceConnector(self.registration)
                self._connector_born = time.monotonic()
            return self._connector

    def launch_course(self, claims):
        """The course a launch came from by the configured mapping (issuer, deployment
        id, context id), or ``None`` for a launch from any other LMS course."""
        if not self.issuer or claims.get("iss") != self.issuer:
            return None
        key = launch_context_key(claims)
        return self.contexts.get(key) if key else None

    def last_launch(self, record):
        """The student's last launch ``(course, claims)`` if it came from a configured
        LMS course (else ``(None, {})``: nothing of it is used); learns the course's line
        items URL from it when it was a launch of the record's course."""
        if self.launches is None:
            return None, {}
        course, claims = self.launches.last_launch(record["username"])
        bound = self.launch_course(claims)
        if bound is None or bound != course:
            return None, {}
        lineitems = (claims.get(AGS_ENDPOINT_CLAIM) or {}).get("lineitems")
        if bound == record["course"] and lineitems:
            self.lineitems.setdefault(bound, lineitems)
        return bound, claims

    def _service(self, course):
        """An AGS client for ``course``."""
        if course not in self.lineitems:
            raise LookupError(f"no line items URL for course {course!r}: set "
                              "GRADER_LTI_LINEITEMS, or GRADER_LTI_ISSUER and "
                              "GRADER_LTI_CONTEXTS and let students launch it from the LMS")
        return AssignmentsGradesService(self._connection(), {"scope": SCOPES,
                                                             "lineitems": self.lineitems[course]})

    def lms_user_id(self, record, launch_claims=None):
        """The LMS's user id for the record's student: the ``sub`` of their LTI launch,
        else a membership lookup by roll number, else the template."""
        if (launch_claims or {}).get("sub"):
            return launch_claims["sub"]
        course = record["course"]
        if course not in self.memberships:
            return self.user_id.format(**record)
        roll = (record.get("roll_number") or "").strip().upper()
        fetched_at, members = self._members.get(course, (0.0, {}))
        if roll not in members or time.monotonic() - fetched_at > MEMBERSHIP_REFRESH_SECONDS:
            nrps = NamesRolesProvisioningService(
                self._connection(), {"context_memberships_url": self.memberships[course]})
            members = {m["lis_person_sourcedid"].strip().upper(): m["user_id"]
                       for m in nrps.get_members()
                       if m.get("lis_person_sourcedid") and m.get("status", "Active") == "Active"}
            self._members[course] = (time.monotonic(), members)
        if roll not in members:
            raise LookupError(f"roll number {roll or '(none)'} is not an active member of "
                              f"{course} at the LMS")
        return members[roll]

    def _lineitem(self, service, record):
        """The assignment's line item (found by ``resourceId`` or created), cached by URL."""
        key = (record["course"], record["assignment"])
        if key not in self._lineitem_ids:
            wanted = (LineItem().set_label(record["assignment"])
                      .set_resource_id(record["assignment"])
                      .set_score_maximum(float(record["max_score"])))
            found = service.find_or_create_lineitem(wanted, find_by="resource_id")
            self._lineitem_ids[key] = found.get_id()
        return LineItem().set_id(self._lineitem_ids[key])

    def score(self, record, launch_claims=None):
        """The AGS score for ``record``."""
        return (Grade().set_user_id(self.lms_user_id(record, launch_claims))
                .set_score_given(float(record["score"]))
                .set_score_maximum(float(record["max_score"]))
                .set_activity_progress("Completed")
                .set_grading_progress(grading_progress(record))
                .set_timestamp(lti_timestamp(record["graded_at"]))
                .set_comment("Autograded by the course grading service"
                             + _manual_note(record)
                             + f"; submission {record['submission_id']}"
                             + (" (late)" if record.get("late") else "")))

    def export(self, record):
        try:
            _course, claims = self.last_launch(record)
            service = self._service(record["course"])
            service.put_grade(self.score(record, claims), self._lineitem(service, record))
        except LookupError as err:  # course not configured, student not in the LMS course
            raise DeliveryRefused(str(err)) from err
        except LtiServiceException as err:
            status = err.response.status_code
            if status == 409:  # the platform holds this score (or a newer one) already
                return False
            if status == 401:  # token revoked or expired early: the next try gets a new one
                with self._lock:
                    self._connector = None
            if status == 404:  # line item deleted in the LMS: look it up again next time
                self._lineitem_ids.pop((record["course"], record["assignment"]), None)
            if status in (400, 404, 422):  # the LMS refuses this score, not every score
                raise DeliveryRefused(f"HTTP {status}: {err.response.text[:300]}") from err
            raise
        return True
