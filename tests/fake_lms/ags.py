"""FAKE LMS, grade side: the platform half of LTI 1.3 Assignment and Grade Services 2.0.

A stand-in for a commercial LMS (Canvas, Moodle, Blackboard) that cannot run here. It
implements the published protocol the grading service's ``lti-ags`` exporter speaks:

- OAuth 2 client credentials with a signed JWT client assertion (RFC 7523, LTI Security
  Framework): the assertion is verified against the tool's public key set (fetched from
  its JWKS URL, as an LMS does), ``iss = sub = client_id``, ``aud`` = the token URL, a
  ``jti`` is accepted once; the access token carries only the scopes asked for and allowed.
- Line items container (``application/vnd.ims.lis.v2.lineitemcontainer+json``) with the
  ``resource_id`` / ``resource_link_id`` / ``tag`` filters and ``Link: rel="next"`` paging;
  line item creation (``application/vnd.ims.lis.v2.lineitem+json``; label, scoreMaximum).
- Scores (``application/vnd.ims.lis.v1.score+json``): the required fields and enumerations
  are validated, the user must be a member of the context, and a score whose timestamp is
  not newer than the last one applied for that user is refused with 409 (AGS 2.0 §3.4.2:
  the platform must not update a result with an older score).
- Results (``application/vnd.ims.lis.v2.resultcontainer+json``).
- Names and Role Provisioning Services 2.0 membership
  (``application/vnd.ims.lti-nrps.v2.membershipcontainer+json``, paged): ``user_id``,
  ``lis_person_sourcedid`` (the SIS id: our roll number), ``roles``, ``status``.

Everything received is kept (``received_scores``) so tests can count deliveries.
"""

import datetime
import secrets
import threading
import time
import uuid

import jwt
from flask import Flask, abort, jsonify, request

from . import LoopbackServer

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
SCOPE_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
SCOPE_LINEITEM_READ = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
SCOPE_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
SCOPE_RESULT_READ = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"
SCOPE_MEMBERSHIP = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
ALL_SCOPES = {SCOPE_LINEITEM, SCOPE_LINEITEM_READ, SCOPE_SCORE, SCOPE_RESULT_READ,
              SCOPE_MEMBERSHIP}
MEMBERSHIP_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
LINEITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
CONTAINER_TYPE = "application/vnd.ims.lis.v2.lineitemcontainer+json"
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
RESULTS_TYPE = "application/vnd.ims.lis.v2.resultcontainer+json"
ACTIVITY = {"Initialized", "Started", "InProgress", "Submitted", "Completed"}
GRADING = {"FullyGraded", "Pending", "PendingManual", "Failed", "NotReady"}
PAGE_SIZE = 10


def _error(status, message):
    response = jsonify(error=message)
    response.status_code = status
    abort(response)


class FakeAgsPlatform(LoopbackServer):
    """One LMS with contexts (courses) and their members; ``serve()`` runs it on loopback.

    ``contexts`` maps a context id (lowercase: some clients lowercase Link headers) to
    its learners ``{LTI user id: SIS id}``. ``tool_jwks_url`` is where the tool
    publishes its keys; it may be set after construction.
    """

    def __init__(self, client_id, contexts, tool_jwks_url=None, token_lifetime=3600):
        self.client_id = client_id
        self.contexts = {ctx: dict(users) for ctx, users in contexts.items()}
        self.membership_requests = 0
        self.tool_jwks_url = tool_jwks_url
        self.token_lifetime = token_lifetime
        self.base_url = None
        self.tokens = {}  # access token -> (scopes, expires at)
        self.token_requests = 0
        self.seen_jti = set()
        self.lineitems = {ctx: [] for ctx in contexts}  # ctx -> [line item dicts]
        self.received_scores = []  # every score POST that was well-formed, applied or not
        self.applied = {}  # (line item id, user id) -> the score in force
        self.fail_next = []  # HTTP statuses to answer the next score POSTs with (outages)
        self._lock = threading.Lock()
        self.app = self._make_app()

    @property
    def token_url(self):
        return f"{self.base_url}/oauth2/token"

    def lineitems_url(self, context):
        return f"{self.base_url}/api/lti/contexts/{context}/line_items"

    def memberships_url(self, context):
        return f"{self.base_url}/api/lti/contexts/{context}/memberships"


    # -- protocol ---------------------------------------------------------------------

    def _verify_assertion(self, assertion):
        if not self.tool_jwks_url:
            _error(401, "invalid_client: no key set registered for the tool")
        try:
            key = jwt.PyJWKClient(self.tool_jwks_url, cache_keys=False).get_signing_key_from_jwt(
                assertion)
            claims = jwt.decode(assertion, key.key, algorithms=["RS256"], audience=self.token_url,
                                options={"require": ["iss", "sub", "aud", "exp", "iat", "jti"]})
        except jwt.PyJWTError as err:
            _error(401, f"invalid_client: {err}")
        if claims["iss"] != self.client_id or claims["sub"] != self.client_id:
            _error(401, "invalid_client: iss and sub must be the client id")
        with self._lock:
            if claims["jti"] in self.seen_jti:
                _error(400, "invalid_grant: jti already used")
            self.seen_jti.add(claims["jti"])

    def _require_scope(self, *accepted):
        kind, _, token = request.headers.get("Authorization", "").partition(" ")
        grant = self.tokens.get(token) if kind == "Bearer" else None
        if grant is None or grant[1] < time.time():
            _error(401, "invalid or expired access token")
        if not set(accepted) & grant[0]:
            _error(403, f"token lacks scope {' or '.join(accepted)}")

    def _context(self, context):
        if context not in self.contexts:
            _error(404, f"no context {context}")
        return self.lineitems[context]

    def _lineitem(self, context, number):
        items = [li for li in self._context(context) if li["id"].endswith(f"/line_items/{number}")]
        if not items:
            _error(404, "no such line item")
        return items[0]

    def _make_app(self):
        app = Flask("fake-lms-ags")

        @app.post("/oauth2/token")
        def token():
            form = request.form
            if form.get("grant_type") != "client_credentials":
                _error(400, "unsupported_grant_type")
            if form.get("client_assertion_type") != CLIENT_ASSERTION_TYPE:
                _error(400, "invalid_request: client_assertion_type")
            self._verify_assertion(form.get("client_assertion", ""))
            asked = set(form.get("scope", "").split())
            if not asked or not asked <= ALL_SCOPES:
                _error(400, f"invalid_scope: {sorted(asked - ALL_SCOPES)}")
            access = secrets.token_urlsafe(24)
            with self._lock:
                self.token_requests += 1
                self.tokens[access] = (asked, time.time() + self.token_lifetime)
            return {"access_token": access, "token_type": "Bearer",
                    "expires_in": self.token_lifetime, "scope": " ".join(sorted(asked))}

        @app.get("/api/lti/contexts/<context>/line_items")
        def list_lineitems(context):
            self._require_scope(SCOPE_LINEITEM, SCOPE_LINEITEM_READ)
            items = self._context(context)
            for param, field in (("resource_id", "resourceId"), ("tag", "tag"),
                                 ("resource_link_id", "resourceLinkId")):
                if param in request.args:
                    items = [li for li in items if li.get(field) == request.args[param]]
            page, link = _page(items, self.lineitems_url(context))
            response = jsonify(page)
            response.content_type = CONTAINER_TYPE
            if link:
                response.headers["Link"] = link
            return response

        @app.post("/api/lti/contexts/<context>/line_items")
        def create_lineitem(context):
            self._require_scope(SCOPE_LINEITEM)
            if request.mimetype != LINEITEM_TYPE:
                _error(415, f"expected {LINEITEM_TYPE}")
            body = request.get_json(force=True)
            maximum = body.get("scoreMaximum")
            if not body.get("label") or not isinstance(maximum, int | float) or maximum <= 0:
                _error(400, "a line item needs a label and a scoreMaximum > 0")
            with self._lock:
                items = self._context(context)
                item = {**body, "id": f"{self.lineitems_url(context)}/{len(items) + 1}"}
                items.append(item)
            response = jsonify(item)
            response.status_code = 201
            response.content_type = LINEITEM_TYPE
            return response

        @app.get("/api/lti/contexts/<context>/line_items/<int:number>")
        def get_lineitem(context, number):
            self._require_scope(SCOPE_LINEITEM, SCOPE_LINEITEM_READ)
            response = jsonify(self._lineitem(context, number))
            response.content_type = LINEITEM_TYPE
            return response

        @app.post("/api/lti/contexts/<context>/line_items/<int:number>/scores")
        def post_score(context, number):
            self._require_scope(SCOPE_SCORE)
            item = self._lineitem(context, number)
            if request.mimetype != SCORE_TYPE:
                _error(415, f"expected {SCORE_TYPE}")
            score = request.get_json(force=True)
            self._validate_score(context, score)
            with self._lock:
                if self.fail_next:
                    _error(self.fail_next.pop(0), "simulated outage")
                self.received_scores.append({"lineitem": item["id"], **score})
                key = (item["id"], score["userId"])
                current = self.applied.get(key)
                if current and _moment(score["timestamp"]) <= _moment(current["timestamp"]):
                    _error(409, "a score with the same or a newer timestamp is in force")
                self.applied[key] = score
            return {"resultUrl": f"{item['id']}/results?user_id={score['userId']}"}

        @app.get("/api/lti/contexts/<context>/line_items/<int:number>/results")
        def results(context, number):
            self._require_scope(SCOPE_RESULT_READ)
            item = self._lineitem(context, number)
            rows = [{"id": f"{item['id']}/results/{uuid.uuid5(uuid.NAMESPACE_URL, user)}",
                     "scoreOf": item["id"], "userId": user,
                     "resultScore": s.get("scoreGiven"), "resultMaximum": s.get("scoreMaximum"),
                     "comment": s.get("comment")}
                    for (lineitem, user), s in self.applied.items() if lineitem == item["id"]]
            response = jsonify(rows)
            response.content_type = RESULTS_TYPE
            return response

        @app.get("/api/lti/contexts/<context>/memberships")
        def memberships(context):
            self._require_scope(SCOPE_MEMBERSHIP)
            self._context(context)
            if "page" not in request.args:  # count whole-list fetches, not pages
                self.membership_requests += 1
            members = [{"user_id": user, "lis_person_sourcedid": sis, "status": "Active",
                        "roles": ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"]}
                       for user, sis in sorted(self.contexts[context].items())]
            page, link = _page(members, self.memberships_url(context))
            response = jsonify({"id": request.base_url,
                                "context": {"id": context, "label": context}, "members": page})
            response.content_type = MEMBERSHIP_TYPE
            if link:
                response.headers["Link"] = link
            return response

        return app

    def _validate_score(self, context, score):
        for field in ("userId", "timestamp", "activityProgress", "gradingProgress"):
            if not score.get(field):
                _error(400, f"score.{field} is required")
        if score["activityProgress"] not in ACTIVITY or score["gradingProgress"] not in GRADING:
            _error(400, "unknown activityProgress or gradingProgress")
        try:
            moment = _moment(score["timestamp"])
        except ValueError:
            _error(400, "timestamp must be ISO 8601 with a time zone")
        if moment.tzinfo is None:
            _error(400, "timestamp must carry a time zone offset")
        if "scoreGiven" in score:
            given, maximum = score["scoreGiven"], score.get("scoreMaximum")
            if not isinstance(maximum, int | float) or maximum <= 0 or given < 0:
                _error(400, "scoreGiven needs a scoreMaximum > 0 and must be >= 0")
        if score["userId"] not in self.contexts[context]:
            _error(422, f"user {score['userId']} is not a member of {context}")

    # -- test helpers -----------------------------------------------------------------

    def scores_for(self, user):
        """Scores in force for ``user``: ``{line item label: score}``."""
        labels = {li["id"]: li["label"] for items in self.lineitems.values() for li in items}
        return {labels[lineitem]: s for (lineitem, u), s in self.applied.items() if u == user}


def _page(items, url):
    """This request's page of ``items`` (``page``, ``limit``) and the ``Link`` to the next."""
    limit = int(request.args.get("limit", PAGE_SIZE))
    number = int(request.args.get("page", 1))
    more = number * limit < len(items)
    link = f'<{url}?page={number + 1}&limit={limit}>; rel="next"' if more else None
    return items[(number - 1) * limit: number * limit], link


def _moment(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
