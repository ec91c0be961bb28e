"""The plumbing every review page shares: who is signed in, rendering, redirects, forms.

A route asks for :data:`PageDep` and gets the signed-in :class:`Page` (or the
request is redirected to the sign-in form); it answers with :func:`render` or
:func:`redirect`, which re-sign the session cookie (the idle window slides) and
set the headers every page carries: no caching (a page may show PHI to a key
with ``read_phi``; it must not stay in the browser's cache or history), no
referrer, and a Content-Security-Policy that admits casematch's own assets only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from service.auth import Principal
from service.deps import resolve_settings
from service.errors import InvalidInput, ServiceError
from service.settings import Settings
from service.ui import session as sessions
from service.ui.views import RESULTS, STATUS_SEGMENTS, field_label

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
TEMPLATES.env.globals.update(
    STATUS_SEGMENTS=STATUS_SEGMENTS, RESULTS=RESULTS, field_label=field_label
)
#: The most a form body may carry (the sign-in form and the decision forms are tiny).
MAX_FORM_BYTES = 64 * 1024

HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


class SignInRequired(Exception):  # noqa: N818 (a redirect, not a failure)
    """No signed-in session: the handler in :mod:`service.ui` redirects to the sign-in form."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class Page:
    """The signed-in caller of one request."""

    request: Request
    session: sessions.Session
    principal: Principal
    settings: Settings

    @property
    def sees_phi(self) -> bool:
        return self.principal.sees_phi(self.settings.mask_phi)

    @property
    def owner(self) -> str:
        """The signed-in key's fingerprint (who owns an automated run)."""
        return self.session.key_fp


def signed_in(request: Request) -> Page:
    """The signed-in :class:`Page`, else :class:`SignInRequired`."""
    session = sessions.load(request)
    principal = sessions.principal_of(request, session)
    if principal is None:
        idle = resolve_settings(request).ui_idle_timeout_minutes
        raise SignInRequired(
            f"Your session ended after {idle} minutes without activity; sign in again."
            if session.expired
            else "Sign in with your API key."
        )
    return Page(request, session, principal, resolve_settings(request))


PageDep = Annotated[Page, Depends(signed_in)]


def _with_headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers[name] = value
    return response


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    session: sessions.Session,
    principal: Principal | None = None,
    status_code: int = 200,
) -> Response:
    """A page from ``template``, with the shared context, the session saved."""
    settings = resolve_settings(request)
    shared = {
        "principal": principal,
        "csrf_token": session.csrf,
        "flash": session.pop_flash(),
        "sees_phi": principal.sees_phi(settings.mask_phi) if principal else False,
        "idle_minutes": settings.ui_idle_timeout_minutes,
    }
    response = TEMPLATES.TemplateResponse(
        request, template, {**shared, **context}, status_code=status_code
    )
    sessions.save(request, response, session)
    return _with_headers(response)


def render_page(
    page: Page, template: str, context: dict[str, Any], *, status_code: int = 200
) -> Response:
    return render(
        page.request,
        template,
        context,
        session=page.session,
        principal=page.principal,
        status_code=status_code,
    )


def redirect(
    request: Request, url: str, *, session: sessions.Session | None = None, flash: str = ""
) -> Response:
    """303 to ``url`` (a path under /ui), carrying ``flash`` to the next page."""
    response = RedirectResponse(url, status_code=303)
    if session is not None:
        if flash:
            session.flash = flash
        sessions.save(request, response, session)
    return _with_headers(response)


def error_page(page: Page, exc: ServiceError, *, title: str = "Refused") -> Response:
    """A refusal as a page: its status and its message (and 422's field list)."""
    return render_page(
        page,
        "error.html",
        {"title": title, "error": error_text(exc), "details": _details(exc)},
        status_code=exc.status_code,
    )


def error_text(exc: ServiceError) -> str:
    return f"{exc.status_code}: {exc.message}"


def _details(exc: ServiceError) -> list[dict[str, Any]]:
    return list(exc.details) if isinstance(exc, InvalidInput) else []


async def read_form(request: Request) -> dict[str, list[str]]:
    """An ``application/x-www-form-urlencoded`` body (every form here is one)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await request.body()
    if kind != "application/x-www-form-urlencoded" or len(body) > MAX_FORM_BYTES:
        return {}
    return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)


FormDep = Annotated[dict[str, list[str]], Depends(read_form)]


def first(form: dict[str, list[str]], name: str) -> str:
    values = form.get(name) or [""]
    return values[0]


def flat(form: dict[str, list[str]]) -> dict[str, str]:
    return {k: v[0] for k, v in form.items() if v}
