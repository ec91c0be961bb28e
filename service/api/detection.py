"""``POST /v1/inbox-items/{id}/duplicate-check``: run detection, change nothing.

Needs ``read_matches`` (or ``promote``/``admin``) and a key of the item's
organization. Values in the comparison table are masked (``"***"``) unless
the key has ``read_phi`` (M20); match indicators always show. The work is in
:mod:`service.detection`.
"""

from __future__ import annotations

from fastapi import APIRouter

from matcher import Detection
from service import detection as service
from service.auth import ReaderDep
from service.deps import EngineDep, ModelsDep, SettingsDep, StoreDep

router = APIRouter(prefix="/inbox-items", tags=["inbox-items"])


@router.post(
    "/{item_id}/duplicate-check",
    response_model=Detection,
    responses={
        401: {"description": "missing or invalid X-API-Key"},
        403: {"description": "the key lacks read_matches or the organization"},
        404: {"description": "no such Inbox Item"},
        503: {"description": "the search engine is unavailable (Retry-After)"},
    },
    summary="Potential matches of an Inbox Item (changes nothing)",
)
def duplicate_check(
    item_id: str,
    principal: ReaderDep,
    engine: EngineDep,
    store: StoreDep,
    settings: SettingsDep,
    models: ModelsDep,
) -> Detection:
    return service.duplicate_check(engine, store, settings, principal, item_id, models)
