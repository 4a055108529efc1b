"""The roll number read from login claims, shared by every course authenticator.

Claim paths name a value inside nested claims. Dots separate keys; a key in square
brackets is taken literally, dots and slashes included, so the URL-named claims of
LTI 1.3 can be reached::

    roll_number                                                   claims["roll_number"]
    ext.roll_no                                                   claims["ext"]["roll_no"]
    [https://purl.imsglobal.org/spec/lti/claim/lis].person_sourcedid
        claims["https://purl.imsglobal.org/spec/lti/claim/lis"]["person_sourcedid"]

A bracketed key cannot contain ``]``; no key can be empty.
"""

import re

from tornado import web
from traitlets import HasTraits, TraitError, Unicode, validate

from dlcourse.roll import is_valid_roll_number, normalize_roll_number

MISSING_CLAIM_MESSAGE = (
    "Your university login did not include a roll number, so this course hub cannot "
    "let you in. Please contact the course staff with your username so they can fix "
    "your account at the identity provider."
)
INVALID_CLAIM_MESSAGE = (
    "Your university login sent a roll number this course hub cannot use ({value!r}). "
    "Please contact the course staff with your username and roll number."
)

_KEY = re.compile(r"\[(?P<literal>[^\]]+)\]|(?P<plain>[^.\[\]]+)")


def parse_claim_path(path: str) -> tuple[str, ...]:
    """Split a claim path into its keys; raise ``ValueError`` on a malformed path."""
    keys, position = [], 0
    while True:
        match = _KEY.match(path, position)
        if match is None:
            raise ValueError(f"claim path {path!r}: expected a key at character {position}")
        keys.append(match.group("literal") or match.group("plain"))
        position = match.end()
        if position == len(path):
            return tuple(keys)
        if path[position] != ".":
            raise ValueError(f"claim path {path!r}: expected '.' at character {position}")
        position += 1


def lookup_claim(claims: dict, path: str):
    """Return the value at claim ``path`` (see the module docstring), or ``None``."""
    value = claims
    for key in parse_claim_path(path):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def roll_number_from_claims(claims: dict | None, path: str) -> str:
    """Return the normalised roll number at ``path`` or raise a 403 with a clear message."""
    raw = lookup_claim(claims or {}, path)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise web.HTTPError(403, MISSING_CLAIM_MESSAGE)
    if not isinstance(raw, str) or not is_valid_roll_number(raw):
        raise web.HTTPError(403, INVALID_CLAIM_MESSAGE.format(value=str(raw)[:40]))
    return normalize_roll_number(raw)


class RollNumberClaim(HasTraits):
    """Mixin for authenticators: the ``roll_number_claim`` setting and its check."""

    roll_number_claim = Unicode(
        "roll_number",
        config=True,
        help="""Claim path of the student's roll number: dots reach nested claims and a
        key in square brackets is literal (for claims named by URLs).

        Example: ``c.CourseOAuthenticator.roll_number_claim = "ext.roll_no"``,
        ``c.CourseLTI13Authenticator.roll_number_claim =
        "[https://purl.imsglobal.org/spec/lti/claim/lis].person_sourcedid"``.
        Added in 0.1.0; square brackets in 0.2.0.
        """,
    )

    @validate("roll_number_claim")
    def _valid_claim_path(self, proposal):
        try:
            parse_claim_path(proposal["value"])
        except ValueError as e:
            raise TraitError(str(e)) from None
        return proposal["value"]

    def roll_number_from_claims(self, claims: dict | None) -> str:
        """The normalised roll number from ``claims``; a 403 when missing or invalid."""
        return roll_number_from_claims(claims, self.roll_number_claim)
