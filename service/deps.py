"""FastAPI dependencies shared by the routers, as ``Annotated`` aliases.

Settings come from :func:`service.settings.get_settings` (cached, read on first
use, never at import time); tests and :func:`service.app.create_app` replace
them through ``app.dependency_overrides[get_settings]``. The engine and the
record store live on ``app.state`` for the lifetime of the app (opened and
closed by the lifespan in :mod:`service.app`).
"""

from __future__ import annotations

import threading
from typing import Annotated

from fastapi import Depends, Header, Request

from indexer.engine import Engine
from indexer.store import RecordStore
from service.models import ModelCache
from service.promotion.idempotency import IdempotencyStore
from service.settings import Settings, get_settings


def resolve_settings(request: Request) -> Settings:
    """The settings in force for this app (honours ``dependency_overrides``)."""
    override = request.app.dependency_overrides.get(get_settings)
    settings: Settings = override() if override is not None else get_settings()
    return settings


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def get_models(request: Request) -> ModelCache:
    """The organizations' latest match models (``service.models``), cached."""
    models: ModelCache = request.app.state.promotion.models
    return models


def get_store(request: Request) -> RecordStore:
    store: RecordStore = request.app.state.store
    return store


_idempotency_lock = threading.Lock()


def get_idempotency(request: Request) -> IdempotencyStore:
    """The app's idempotency-key store (P17), its index ensured on first keyed use."""
    state = request.app.state
    store: RecordStore = state.store
    found: IdempotencyStore | None = getattr(state, "idempotency", None)
    if found is not None and found.engine is store.engine:
        return found
    with _idempotency_lock:
        found = getattr(state, "idempotency", None)
        if found is None or found.engine is not store.engine:
            # Its index is ensured on first keyed use, so that a request without an
            # Idempotency-Key is validated (422) even while the engine is down.
            found = IdempotencyStore(store.engine, store.names)
            state.idempotency = found
    return found


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
StoreDep = Annotated[RecordStore, Depends(get_store)]
ModelsDep = Annotated[ModelCache, Depends(get_models)]
IdempotencyDep = Annotated[IdempotencyStore, Depends(get_idempotency)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Repeat a request safely: the same key and body replay the first "
        "completed outcome; the same key with another body is 422.",
    ),
]
