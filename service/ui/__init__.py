"""The review page (``/ui``) and an offline ``/docs``, served by the API's own app.

:func:`mount` adds to an app made by :func:`service.app.create_app`:

* the ``/ui`` routes (:mod:`service.ui.routes`): server-rendered Jinja2 pages over
  the existing service components, with a small progressive-enhancement script;
* ``/ui/static``: the page's CSS and script, and the vendored Swagger UI
  (``static/vendor/swagger-ui``, from the npm package ``swagger-ui-dist``);
* ``/docs``: Swagger UI built by FastAPI's ``get_swagger_ui_html`` with those
  local assets, so the API docs work with the network unplugged.

Nothing here loads anything from outside casematch; ``docs/ui.md`` says why it
is built this way.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from service.ui import session as sessions
from service.ui.pages import SignInRequired, redirect
from service.ui.routes import router

STATIC = Path(__file__).with_name("static")
SWAGGER = "/ui/static/vendor/swagger-ui"
DOCS_URL = "/docs"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"


def mount(app: FastAPI) -> None:
    """Serve the review page and the offline API docs from ``app``.

    ``app`` must have been created with ``docs_url=None`` (FastAPI's own docs
    page loads Swagger UI from a CDN).
    """
    app.include_router(router)
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="ui-static")
    app.add_exception_handler(SignInRequired, _to_sign_in)

    @app.get(DOCS_URL, include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            oauth2_redirect_url=OAUTH2_REDIRECT_URL,
            swagger_js_url=f"{SWAGGER}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER}/swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER}/favicon-32x32.png",
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()


async def _to_sign_in(request: Request, exc: Exception) -> Response:
    session = sessions.load(request)
    message = exc.message if isinstance(exc, SignInRequired) else ""
    if session.expired or not session.flash:
        session.flash = message
    session.key_fp = ""
    return redirect(request, "/ui/sign-in", session=session)


__all__ = ["mount"]
