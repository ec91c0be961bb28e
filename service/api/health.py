"""``GET /health``: the engine and the indices, for operators and load balancers.

No API key is needed and nothing here is PHI: the engine kind, mode and version, the
index aliases and their document counts, and what happened to the engine process
(restarts). While the engine is down or being restarted the answer is 503 with
``Retry-After`` and ``status: "degraded"`` with the reason, so a load balancer takes
the server out of rotation and an operator sees why.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from indexer.engine import EngineKind, EngineMode, EngineUnavailable
from service.deps import EngineDep, StoreDep
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
    documents: int
    searchable: int


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
def health(engine: EngineDep, store: StoreDep) -> HealthOut | JSONResponse:
    """Engine kind, mode and version, index names and document counts."""
    engine_out = EngineOut(
        kind=engine.kind, mode=engine.mode, version=engine.version, events=list(engine.events)
    )
    try:
        condition = engine.condition()
        if condition is not None:
            raise EngineUnavailable(condition)
        counts = store.counts()
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
            key: IndexOut(name=name, documents=counts[key], searchable=counts[f"{key}_searchable"])
            for key, name in names.items()
        },
    )
