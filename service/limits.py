"""Limits at the HTTP edge: content types, body size and concurrent heavy requests.

One ASGI middleware (:class:`RequestGuard`) applies them before any route runs,
so a refused request costs no parsing and no memory (docs/api.md "Limits"):

* **Content types.** A request body must be ``application/json`` (``+json``
  types too); the record stores also take E2B(R3) XML and ZIP
  (``application/xml``, ``text/xml``, ``application/hl7-v3+xml``,
  ``application/zip``); the review page's forms (``/ui/...``) are
  ``application/x-www-form-urlencoded`` only. Anything else, or a body without a ``Content-Type``,
  is **415** naming what the route accepts, never a 500 or a parse error.
* **Body size.** At most :data:`MAX_BODY_BYTES` per request (``Content-Length``
  or counted while streaming): **413**.
* **Heavy requests.** Record stores with an E2B body or a body over
  :data:`HEAVY_BYTES` are heavy; at most :data:`MAX_HEAVY` run at once, the
  next one answers **429** with ``Retry-After`` at once (it is never queued,
  so memory stays bounded).

    >>> accepted("/v1/inbox-items", "application/zip"), accepted("/v1/cases/C-1/state", "text/plain")
    (True, False)
    >>> accepted("/ui/sign-in", "application/x-www-form-urlencoded"), accepted("/ui/sign-in", "application/json")
    (True, False)
"""

from __future__ import annotations

import re

from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: The largest request body accepted (JSON, XML or ZIP), in bytes.
MAX_BODY_BYTES = 32 * 1024 * 1024
#: A record store with a body larger than this (or any E2B body) is a heavy request.
HEAVY_BYTES = 1024 * 1024
#: Heavy requests running at once; one more is answered 429.
MAX_HEAVY = 2
#: Seconds a client is asked to wait after a 429.
RETRY_AFTER_S = 1

JSON_TYPES = ("application/json",)
E2B_TYPES = ("application/xml", "text/xml", "application/hl7-v3+xml", "application/zip")
_STORE_PATHS = re.compile(r"^/v1/(cases|inbox-items)/?$")
#: The review page's HTML forms post here (service.ui).
FORM_TYPES = ("application/x-www-form-urlencoded",)
_FORM_PATHS = re.compile(r"^/ui/")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def is_json(media: str) -> bool:
    return media in JSON_TYPES or (media.startswith("application/") and media.endswith("+json"))


def accepted(path: str, content_type: str | None) -> bool:
    """Whether a body of ``content_type`` may be sent to ``path``."""
    media = media_type(content_type)
    if _FORM_PATHS.match(path):
        return media in FORM_TYPES
    return is_json(media) or (media in E2B_TYPES and _STORE_PATHS.match(path) is not None)


def _accepts_text(path: str) -> str:
    if _FORM_PATHS.match(path):
        return ", ".join(FORM_TYPES)
    if _STORE_PATHS.match(path):
        return "application/json, or E2B(R3) as " + ", ".join(E2B_TYPES)
    return "application/json"


class BodyTooLarge(HTTPException):
    """Raised while the body streams in; FastAPI passes HTTP exceptions through as they are."""

    def __init__(self) -> None:
        super().__init__(413, _too_large())


class RequestGuard:
    """ASGI middleware applying the module's limits to every HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.heavy = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        path = str(scope.get("path", ""))
        length_text = headers.get("content-length")
        try:
            length = int(length_text) if length_text is not None else None
        except ValueError:
            await _answer(400, "Content-Length is not a number", scope, receive, send)
            return
        has_body = (length or 0) > 0 or "transfer-encoding" in headers
        content_type = headers.get("content-type")
        if has_body and not accepted(path, content_type):
            shown = media_type(content_type)[:60] or "none"
            await _answer(
                415,
                f"unsupported Content-Type ({shown}); this route accepts {_accepts_text(path)}",
                scope,
                receive,
                send,
            )
            return
        if length is not None and length > MAX_BODY_BYTES:
            await _answer(413, _too_large(), scope, receive, send)
            return
        heavy = (
            has_body
            and _STORE_PATHS.match(path) is not None
            and (media_type(content_type) in E2B_TYPES or length is None or length > HEAVY_BYTES)
        )
        if heavy and self.heavy >= MAX_HEAVY:
            await _answer(
                429,
                f"at most {MAX_HEAVY} large uploads run at once; retry shortly",
                scope,
                receive,
                send,
                {"Retry-After": str(RETRY_AFTER_S)},
            )
            return
        started = False
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > MAX_BODY_BYTES:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        if heavy:
            self.heavy += 1
        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await _answer(413, _too_large(), scope, receive, send)
        finally:
            if heavy:
                self.heavy -= 1


def _too_large() -> str:
    return f"the request body is larger than {MAX_BODY_BYTES // (1024 * 1024)} MiB; split it"


async def _answer(
    status: int,
    detail: str,
    scope: Scope,
    receive: Receive,
    send: Send,
    headers: dict[str, str] | None = None,
) -> None:
    await JSONResponse({"detail": detail}, status_code=status, headers=headers)(
        scope, receive, send
    )
