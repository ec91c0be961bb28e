"""``GET /health``: the engine and the indices, for operators and load balancers.

No API key is needed and nothing here is PHI: the engine kind, mode and version, the
index aliases, and what happened to the engine process (restarts). Document counts
are tenant data: they are shown only to a caller with an ``X-API-Key``, counted over
that key's organizations (a key never learns how many records another organization
holds); without a key they are ``null``. While the engine is down or being restarted
the answer is 503 with ``Retry-After`` and ``status: "degraded"`` with the reason, so a
load balancer takes the server out of rotation and an operator sees why.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Security
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from indexer.engine import EngineKind, EngineMode, EngineUnavailable
from service.auth import api_key_header, resolve_key
from service.deps import EngineDep, SettingsDep, StoreDep
from service.errors import RETRY_AFTER_S


class EngineOut(BaseModel):
    kind: EngineKind
    #: ``local`` (casematch's own node), ``external`` (a cluster by URL) or ``osmem``.
    mode: EngineMode
    version: str
    #: What happened to the engine process lately (restarts), newest last.
    events: list[str] = Field(default_factory=list)


class IndexOut(BaseModel):
    name: str
    #: Documents of the key's organizations (``null`` without a key).
    documents: int | None = None
    searchable: int | None = None


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"]
    #: Why the service is degraded (``None`` when it is not).
    reason: str | None = None
    engine: EngineOut
    indices: dict[str, IndexOut]


router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=HealthOut,
    responses={
        503: {"model": HealthOut, "description": "degraded: the engine is down or restarting"}
    },
)
def health(
    engine: EngineDep,
    store: StoreDep,
    settings: SettingsDep,
    presented: Annotated[str | None, Security(api_key_header)] = None,
) -> HealthOut | JSONResponse:
    """Engine kind, mode and version, index names; document counts of the key's organizations."""
    # An invalid key is 401 here as everywhere; a valid one scopes the counts.
    principal = resolve_key(presented, settings.api_keys) if presented else None
    engine_out = EngineOut(
        kind=engine.kind, mode=engine.mode, version=engine.version, events=list(engine.events)
    )
    try:
        condition = engine.condition()
        if condition is not None:
            raise EngineUnavailable(condition)
        counts = store.counts(principal.organizations) if principal is not None else {}
    except EngineUnavailable as exc:
        body = HealthOut(status="degraded", reason=str(exc), engine=engine_out, indices={})
        return JSONResponse(
            body.model_dump(mode="json"),
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )
    names = {"cases": store.names.cases, "inbox_items": store.names.inbox_items}
    return HealthOut(
        status="ok",
        engine=engine_out,
        indices={
            key: IndexOut(
                name=name, documents=counts.get(key), searchable=counts.get(f"{key}_searchable")
            )
            for key, name in names.items()
        },
    )
