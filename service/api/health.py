"""``GET /health``: the engine and the indices, for operators and load balancers.

No API key is needed and nothing here is PHI: the engine kind and version, the
index aliases and their document counts. When the engine is down the answer is
503 with ``Retry-After`` (the error handlers in :mod:`service.errors`).
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from service.deps import EngineDep, StoreDep


class EngineOut(BaseModel):
    kind: Literal["embedded", "opensearch"]
    version: str


class IndexOut(BaseModel):
    name: str
    documents: int
    searchable: int


class HealthOut(BaseModel):
    status: Literal["ok"]
    engine: EngineOut
    indices: dict[str, IndexOut]


router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=HealthOut,
    responses={503: {"description": "the search engine is unavailable (Retry-After)"}},
)
def health(engine: EngineDep, store: StoreDep) -> HealthOut:
    """Engine kind and version, index names and document counts."""
    counts = store.counts()
    names = {"cases": store.names.cases, "inbox_items": store.names.inbox_items}
    return HealthOut(
        status="ok",
        engine=EngineOut(kind=engine.kind, version=engine.version),
        indices={
            key: IndexOut(name=name, documents=counts[key], searchable=counts[f"{key}_searchable"])
            for key, name in names.items()
        },
    )
