"""The FastAPI application: routers, error handlers, and the engine's lifetime.

    >>> app = create_app(Settings(data_dir=Path("/tmp/cm"), api_keys={}))  # doctest: +SKIP
    >>> with TestClient(app) as client:                                     # doctest: +SKIP
    ...     client.get("/health").json()["engine"]["kind"]
    'opensearch'

:func:`create_app` serves the given settings through the cached settings
dependency (``app.dependency_overrides[get_settings]``), so routers and tests
read them the same way. The lifespan opens the engine and the record store
(:func:`open_services`) unless the caller hands it already open services (the
CLI does, so that an engine that cannot start is one clear line before the
server binds, and so that ``--sample`` data is loaded first).
"""

from __future__ import annotations

import importlib.metadata
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from indexer.engine import Engine, EngineConfig, open_engine
from indexer.records import RecordIn
from indexer.store import IndexNames, RecordStore
from service import errors, ui
from service.api import detection, health, links, promotion, records
from service.promotion.service import Promotion
from service.settings import Settings, get_settings

log = logging.getLogger("casematch.service")


@dataclass
class Services:
    """What the API needs at run time: the engine, the record store over it, and the
    promotion components over the store (built here, once; their aux indices are
    ensured when the app starts, see :func:`create_app`)."""

    settings: Settings
    engine: Engine
    store: RecordStore
    promotion: Promotion = field(init=False)

    def __post_init__(self) -> None:
        self.promotion = Promotion(self.store, self.settings)

    @property
    def indices(self) -> IndexNames:
        return self.store.names


def engine_config(settings: Settings) -> EngineConfig:
    """The engine configuration a :class:`Settings` describes."""
    return settings.engine_config()


@contextmanager
def open_services(settings: Settings, *, check_doc_ids: bool = True) -> Iterator[Services]:
    """Open the engine, make sure the indices exist (the promotion ones too), and close
    it all on exit.

    Raises :class:`indexer.engine.EngineStartupError` with a message saying what to fix,
    and :class:`indexer.store.OutdatedStoreError` for a store whose document ids predate
    ids unique per organization (unless ``check_doc_ids`` is off: ``casematch reindex``,
    which rewrites them).
    """
    engine = open_engine(engine_config(settings))
    try:
        store = RecordStore(engine, IndexNames(settings.index_prefix))
        store.ensure_indices()
        if check_doc_ids:
            store.check_doc_ids()
        services = Services(settings=settings, engine=engine, store=store)
        services.promotion.ensure_indices()
        yield services
    finally:
        engine.close()


def create_app(settings: Settings | None = None, *, services: Services | None = None) -> FastAPI:
    """The casematch API. ``settings`` default to the environment; ``services``
    default to being opened (and closed) by the app's lifespan."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if services is not None:
            services.promotion.ensure_indices()  # handed in: not opened (and ensured) here
            _attach(app, services)
            yield
            return
        with open_services(_settings_of(app)) as opened:
            _attach(app, opened)
            yield

    app = FastAPI(
        title="casematch",
        version=_version(),
        summary="Duplicate detection for pharmacovigilance case intake",
        lifespan=lifespan,
        # /docs is served by service.ui with locally vendored Swagger UI (works offline).
        docs_url=None,
        redoc_url=None,
    )
    if settings is not None:
        app.dependency_overrides[get_settings] = lambda: settings
    errors.install(app)
    app.include_router(health.router)
    app.include_router(records.cases_router, prefix="/v1")
    app.include_router(records.inbox_items_router, prefix="/v1")
    app.include_router(detection.router, prefix="/v1")
    app.include_router(promotion.router, prefix="/v1")
    ui.mount(app)  # the review page under /ui, and the offline /docs
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _version() -> str:
    try:
        return importlib.metadata.version("casematch")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


def _settings_of(app: FastAPI) -> Settings:
    provider = app.dependency_overrides.get(get_settings, get_settings)
    settings: Settings = provider()
    return settings


def _attach(app: FastAPI, services: Services) -> None:
    # A server notices a dead engine process within seconds and restarts it (indexer.engine).
    services.engine.start_watchdog()
    app.state.engine = services.engine
    app.state.store = services.store
    app.state.promotion = services.promotion
    app.state.services = services


def _openapi(app: FastAPI) -> dict[str, Any]:
    """OpenAPI with the record schema (POST bodies are validated by hand, per item)."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, summary=app.summary, routes=app.routes
    )
    # The intake model: what a caller may send (the stored Record adds workflow state).
    record_schema = RecordIn.model_json_schema(ref_template="#/components/schemas/{model}")
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(record_schema.pop("$defs", {}))
    components["Record"] = record_schema
    app.openapi_schema = links.add_links(errors.document_errors(schema))
    return schema
