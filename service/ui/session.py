"""The review page's session: a signed, HttpOnly, SameSite=Strict cookie, idle expiry, CSRF.

A person signs in with an API key of ``Settings.api_keys``. The cookie never
holds the key: it holds the key's SHA-256 *fingerprint*, a CSRF token and at
most one flash message, serialized and signed by ``itsdangerous`` with a
timestamp. Every request re-signs it (a sliding window), and a cookie older than
``ui_idle_timeout_minutes`` is refused, so a session ends after that long
without a request. Removing a key from the settings ends its sessions at once:
the fingerprint no longer resolves.

    >>> fingerprint("k-a") == fingerprint("k-a"), len(fingerprint("k-a"))
    (True, 64)

Every state-changing form carries ``csrf_token``; :func:`check_csrf` compares it
with the session's in constant time. The sign-in form has one too (a session
without a key holds only the token).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request, Response
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from service.auth import Principal, resolve_key
from service.deps import resolve_settings
from service.errors import Forbidden, ServiceError
from service.settings import Settings

COOKIE = "casematch_ui"
COOKIE_PATH = "/ui"
_SALT = "casematch-ui-session"


class SessionExpired(ServiceError):  # noqa: N818 (reads as what happened)
    """The cookie was valid once but has been idle too long, or its key was removed."""

    status_code = 401


class CsrfRefused(ServiceError):  # noqa: N818 (reads as what happened)
    status_code = 403


def fingerprint(key: str) -> str:
    """The non-secret name of a key in the session cookie (SHA-256, hex)."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass
class Session:
    """What the cookie carries. ``key_fp`` is empty until sign-in."""

    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    key_fp: str = ""
    flash: str = ""
    #: Set by :func:`load` when a cookie was presented but refused (expired / bad).
    expired: bool = False

    def dump(self) -> dict[str, Any]:
        out: dict[str, Any] = {"c": self.csrf}
        if self.key_fp:
            out["k"] = self.key_fp
        if self.flash:
            out["f"] = self.flash
        return out

    def pop_flash(self) -> str:
        message, self.flash = self.flash, ""
        return message


def _secret(request: Request, settings: Settings) -> str:
    if settings.ui_session_secret is not None:
        return settings.ui_session_secret.get_secret_value()
    state = request.app.state
    secret: str | None = getattr(state, "ui_session_secret", None)
    if secret is None:
        secret = secrets.token_urlsafe(32)
        state.ui_session_secret = secret
    return secret


def _serializer(request: Request, settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(_secret(request, settings), salt=_SALT)


def load(request: Request) -> Session:
    """The request's session (cached on ``request.state``); a fresh one if none or refused."""
    cached: Session | None = getattr(request.state, "ui_session", None)
    if cached is not None:
        return cached
    settings = resolve_settings(request)
    session = Session()
    raw = request.cookies.get(COOKIE)
    if raw:
        try:
            data = _serializer(request, settings).loads(
                raw, max_age=settings.ui_idle_timeout_minutes * 60
            )
        except SignatureExpired:
            session.expired = True
        except BadSignature:
            pass
        else:
            if isinstance(data, dict) and isinstance(data.get("c"), str):
                session = Session(
                    csrf=data["c"], key_fp=str(data.get("k", "")), flash=str(data.get("f", ""))
                )
    request.state.ui_session = session
    return session


def save(request: Request, response: Response, session: Session) -> None:
    """Write the (re-signed) session cookie onto ``response``."""
    settings = resolve_settings(request)
    response.set_cookie(
        COOKIE,
        _serializer(request, settings).dumps(session.dump()),
        max_age=settings.ui_idle_timeout_minutes * 60,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def clear(response: Response) -> None:
    response.delete_cookie(COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict")


def sign_in(request: Request, session: Session, key: str) -> Principal:
    """Check ``key`` (401 with the reason if wrong) and bind the session to it."""
    settings = resolve_settings(request)
    principal = resolve_key(key.strip(), settings.api_keys)
    session.key_fp = fingerprint(key.strip())
    session.csrf = secrets.token_urlsafe(24)  # a new token for the signed-in session
    return principal


def principal_of(request: Request, session: Session) -> Principal | None:
    """The signed-in principal, or None (no session, or its key is no longer configured)."""
    if not session.key_fp:
        return None
    settings = resolve_settings(request)
    wanted = session.key_fp.encode()
    found: str | None = None
    for key in settings.api_keys:
        if hmac.compare_digest(fingerprint(key).encode(), wanted) and found is None:
            found = key
    if found is None:
        session.key_fp = ""
        session.expired = True
        return None
    return resolve_key(found, settings.api_keys)


def check_csrf(session: Session, form: dict[str, str]) -> None:
    """403 unless the form's ``csrf_token`` is this session's token."""
    token = form.get("csrf_token", "")
    if not token or not hmac.compare_digest(token.encode(), session.csrf.encode()):
        raise CsrfRefused(
            "this form was refused: its security token is missing or out of date "
            "(reload the page and submit again)"
        )


def require_reader(principal: Principal) -> None:
    if not principal.can("read_matches"):
        raise Forbidden("this API key lacks the permission: read_matches")
