"""Browserless login to JupyterHub (GenericOAuthenticator) through the demo IdP.

``login(hub_url, username, password)`` walks the same HTTP exchange a browser
does: ``/hub/oauth_login`` -> IdP ``/auth`` -> login form -> consent form ->
``/hub/oauth_callback``. It returns the :class:`requests.Session` holding the
hub's login cookies, or raises :class:`LoginError` carrying the text of the
page that refused the login (the IdP's error, or the hub's 403 page).

Redirects are followed by hand so that the walk stops right after the hub's
OAuth callback: following the hub's next redirect would spawn the user's
server, which tests should do explicitly when they want it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import requests

MAX_STEPS = 30
REDIRECT_CODES = (301, 302, 303, 307, 308)


class LoginError(RuntimeError):
    """The IdP or the hub refused the login; ``message`` is the page's error text."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        url: str = "",
        page_text: str = "",
        stage: str = "",
    ):
        self.message = message
        self.status_code = status_code
        self.url = url
        self.page_text = page_text
        self.stage = stage
        where = f" [{stage}]" if stage else ""
        status = f" HTTP {status_code}" if status_code is not None else ""
        super().__init__(f"login refused{where}:{status} {message} ({url})")


# ---------------------------------------------------------------------------
# HTML parsing (stdlib only)
# ---------------------------------------------------------------------------


@dataclass
class Form:
    action: str
    method: str
    attrs: dict[str, str]
    fields: dict[str, str] = field(default_factory=dict)
    input_names: set[str] = field(default_factory=set)
    input_types: dict[str, str] = field(default_factory=dict)


class _PageParser(HTMLParser):
    """Collects forms, the title, error texts and the visible text of a page."""

    _ERROR_MARKERS = ("error", "alert", "flash")
    _SKIP = {"script", "style", "noscript", "template"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.title = ""
        self.errors: list[str] = []
        self.headings: list[str] = []
        self.text_parts: list[str] = []
        self._form: Form | None = None
        self._stack: list[tuple[str, bool, bool]] = []  # (tag, is error container, hidden)
        self._error_buf: list[list[str]] = []
        self._in_title = False
        self._heading: list[str] | None = None
        self._skip_depth = 0

    # Void elements never get an end tag.
    _VOID = {
        "input",
        "br",
        "img",
        "meta",
        "link",
        "hr",
        "area",
        "base",
        "col",
        "embed",
        "source",
        "track",
        "wbr",
        "param",
    }

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        if tag in self._SKIP:
            self._skip_depth += 1
        if tag == "title":
            self._in_title = True
        if tag in ("h1", "h2"):
            self._heading = []
        if tag == "form":
            self._form = Form(
                action=a.get("action", ""), method=(a.get("method") or "get").lower(), attrs=a
            )
            self.forms.append(self._form)
        elif tag in ("input", "button", "select", "textarea") and self._form is not None:
            name = a.get("name")
            typ = (a.get("type") or ("submit" if tag == "button" else "text")).lower()
            if name:
                self._form.input_names.add(name)
                self._form.input_types[name] = typ
                if typ in ("submit", "image", "button", "reset"):
                    pass  # only the clicked button is sent
                elif typ in ("checkbox", "radio"):
                    if "checked" in a:
                        self._form.fields[name] = a.get("value", "on")
                else:
                    self._form.fields.setdefault(name, a.get("value", ""))
        if tag in self._VOID:
            return
        classes = set(a.get("class", "").lower().split())
        hidden = (
            "hidden" in a
            or a.get("aria-hidden", "").lower() == "true"
            or bool(classes & {"modal", "hidden", "d-none"})
        )
        markers = classes | {a.get("id", "").lower(), a.get("role", "").lower()}
        is_error = not hidden and any(
            m == marker or m.startswith(marker + "-") or m.endswith("-" + marker)
            for m in markers
            if m
            for marker in self._ERROR_MARKERS
        )
        self._stack.append((tag, is_error, hidden))
        if is_error:
            self._error_buf.append([])

    def handle_endtag(self, tag):
        if tag in self._SKIP and self._skip_depth:
            self._skip_depth -= 1
        if tag == "title":
            self._in_title = False
        if tag in ("h1", "h2") and self._heading is not None:
            text = _squash(" ".join(self._heading))
            if text:
                self.headings.append(text)
            self._heading = None
        if tag == "form":
            self._form = None
        # Pop up to the matching open tag (tolerates unclosed children).
        for i in range(len(self._stack) - 1, -1, -1):
            if self._stack[i][0] == tag:
                for _, is_error, _hidden in self._stack[i:][::-1]:
                    if is_error and self._error_buf:
                        text = _squash(" ".join(self._error_buf.pop()))
                        if text and text not in self.errors:
                            self.errors.append(text)
                del self._stack[i:]
                break

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        if self._skip_depth or any(hidden for _, _, hidden in self._stack):
            return
        if self._heading is not None:
            self._heading.append(data)
        for buf in self._error_buf:
            buf.append(data)
        self.text_parts.append(data)

    @property
    def text(self) -> str:
        return _squash(" ".join(self.text_parts))


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def parse_page(html: str) -> _PageParser:
    parser = _PageParser()
    parser.feed(html or "")
    parser.close()
    return parser


def page_error_text(html: str, limit: int = 1000) -> str:
    """Best-effort human-readable error text of an HTML error page."""
    page = parse_page(html)
    # Keep the outermost error containers only (nested ones repeat their text).
    errors = [e for e in page.errors if not any(e != o and e in o for o in page.errors)]
    if errors:
        text = " | ".join(errors)
    elif page.headings:
        text = " | ".join(page.headings)
    else:
        text = page.text or _squash(page.title)
    return text[:limit]


# ---------------------------------------------------------------------------
# Login walk
# ---------------------------------------------------------------------------


def _find_login_form(page: _PageParser) -> Form | None:
    for form in page.forms:
        if "username" in form.input_names and "password" in form.input_names:
            return form
    return None


def _find_consent_form(page: _PageParser) -> Form | None:
    for form in page.forms:
        if form.method != "post" or "password" in form.input_names:
            continue
        marker = (form.attrs.get("id", "") + " " + form.action).lower()
        if "consent" in marker or "confirm" in marker:
            return form
    return None


def _normalise_hub_url(hub_url: str) -> str:
    hub_url = hub_url.rstrip("/")
    if hub_url.endswith("/hub"):
        hub_url = hub_url[: -len("/hub")]
    return hub_url


def xsrf_headers(session: requests.Session) -> dict[str, str]:
    """Headers for cookie-authenticated POST/DELETE requests to the hub's API."""
    token = session.cookies.get("_xsrf")
    return {"X-XSRFToken": token} if token else {}


def login(
    hub_url: str,
    username: str,
    password: str,
    *,
    session: requests.Session | None = None,
    timeout: float = 30,
    next_url: str | None = None,
    verify: bool | str = True,
) -> requests.Session:
    """Log ``username`` in to the hub at ``hub_url`` through the OIDC IdP.

    ``hub_url`` is the hub's public base URL, e.g. ``http://localhost:8000``.
    Returns the session holding the hub cookies (``jupyterhub-hub-login``,
    ``jupyterhub-session-id``). Raises :class:`LoginError` when the IdP
    rejects the credentials or the hub refuses the user.

    Pass ``session`` only to reuse a session of the *same* user: the IdP
    remembers who signed in within a session and skips its login page, so a
    session that already signed in as another user would log that user in.
    """
    base = _normalise_hub_url(hub_url)
    callback_path = urlsplit(base).path.rstrip("/") + "/hub/oauth_callback"
    sess = session or requests.Session()
    sess.verify = verify

    url = base + "/hub/oauth_login"
    params = {"next": next_url} if next_url else None
    method, data = "GET", None
    posted_login = False
    posted_consent = False

    for _ in range(MAX_STEPS):
        response = sess.request(
            method, url, params=params, data=data, allow_redirects=False, timeout=timeout
        )
        params = None
        is_callback = urlsplit(response.url).path.rstrip("/") == callback_path

        if is_callback:
            if response.status_code in REDIRECT_CODES:
                if not _has_hub_login_cookie(sess):
                    raise LoginError(
                        "hub redirected from oauth_callback without setting a login cookie",
                        status_code=response.status_code,
                        url=response.url,
                        stage="hub",
                    )
                return sess
            if response.status_code >= 400:
                raise LoginError(
                    page_error_text(response.text) or response.reason,
                    status_code=response.status_code,
                    url=response.url,
                    page_text=response.text,
                    stage="hub",
                )
            # 200 from the callback is unusual; accept it if the cookie is there.
            if _has_hub_login_cookie(sess):
                return sess
            raise LoginError(
                page_error_text(response.text) or "no login cookie after oauth_callback",
                status_code=response.status_code,
                url=response.url,
                page_text=response.text,
                stage="hub",
            )

        if response.status_code in REDIRECT_CODES:
            location = response.headers.get("Location")
            if not location:
                raise LoginError(
                    "redirect without Location",
                    status_code=response.status_code,
                    url=response.url,
                    stage="redirect",
                )
            if response.status_code in (307, 308):
                pass  # keep method and body
            else:
                method, data = "GET", None
            url = urljoin(response.url, location)
            continue

        page = parse_page(response.text)
        login_form = _find_login_form(page)
        consent_form = _find_consent_form(page)

        if login_form is not None:
            if posted_login:
                raise LoginError(
                    " | ".join(page.errors) or "the IdP showed the login form again",
                    status_code=response.status_code,
                    url=response.url,
                    page_text=response.text,
                    stage="idp-login",
                )
            fields = dict(login_form.fields)
            fields.update({"username": username, "password": password})
            method, data = "POST", fields
            url = urljoin(response.url, login_form.action or response.url)
            posted_login = True
            continue

        if consent_form is not None and response.status_code < 400:
            if posted_consent:
                raise LoginError(
                    "the IdP showed the consent form again",
                    status_code=response.status_code,
                    url=response.url,
                    page_text=response.text,
                    stage="idp-consent",
                )
            method, data = "POST", dict(consent_form.fields)
            url = urljoin(response.url, consent_form.action or response.url)
            posted_consent = True
            continue

        stage = "hub" if response.url.startswith(base) else "idp"
        raise LoginError(
            page_error_text(response.text) or response.reason or "unexpected page",
            status_code=response.status_code,
            url=response.url,
            page_text=response.text,
            stage=stage,
        )

    raise LoginError(f"no login after {MAX_STEPS} steps", url=url, stage="redirect")


def _has_hub_login_cookie(sess: requests.Session) -> bool:
    return any(c.name.startswith("jupyterhub-hub-login") for c in sess.cookies)
