"""Idempotency keys (P17): the same key returns the first outcome.

A mutating call with an ``Idempotency-Key`` header first *claims* the key in
``{prefix}-idempotency`` with ``op_type=create``, so of concurrent requests with
one key exactly one creates the claim. The record holds a hash of the request
(method, path, body and the organizations it acts within) and, once the operation finishes, its outcome (status +
body). Then:

* same key, same request, outcome stored -> that outcome, nothing runs again;
* same key, same request, still pending (in flight, or the first attempt died
  with the engine) -> the operation runs again with the *same operation id*;
  the workflows are written so that re-running an operation id completes or
  returns what the first attempt did, never does it twice;
* same key, another request -> 422 (while the first one's outcome is kept).

Keys are scoped to the calling API key (two callers may use the same key).
Only completed mutations (2xx) are stored and replayed. A refusal (422, 404 for
a missing target, 409 for a state conflict, any 4xx) releases the key, so a
retry after fixing the cause runs, with the same or a corrected body. A 5xx
leaves the claim pending: the retry (same request) resumes the same operation.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from indexer.documents import load_mapping
from indexer.engine import Engine, VersionConflict
from indexer.store import IndexNames
from service.errors import InvalidInput, ServiceError
from service.promotion.audit import now_iso
from service.promotion.errors import IdempotencyKeyError

MAX_KEY_LENGTH = 200


@dataclass(frozen=True)
class Outcome:
    """An HTTP outcome: status and JSON body."""

    status: int
    body: dict[str, Any]


def request_hash(
    method: str, path: str, body: Any, organizations: Iterable[str] | None = None
) -> str:
    """A digest of the request; bodies with lone surrogates (valid JSON escapes that are
    not valid UTF-8) are hashed through their escaped form.

    ``organizations`` are those the request acts within (the key's, or the one its
    ``organization`` parameter names): ids are unique per organization, so the same
    path in another organization is another request (same key: 422, never a replay).
    """
    request: dict[str, Any] = {"m": method, "p": path, "b": body}
    if organizations is not None:
        request["o"] = sorted(organizations)
    try:
        payload = orjson.dumps(request, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        payload = json.dumps(request, sort_keys=True, ensure_ascii=True).encode()
    return hashlib.sha256(payload).hexdigest()


def error_outcome(exc: ServiceError) -> Outcome:
    detail: Any = exc.details if isinstance(exc, InvalidInput) else exc.message
    return Outcome(exc.status_code, {"detail": detail})


class IdempotencyStore:
    """Claims and outcomes of idempotency keys."""

    def __init__(self, engine: Engine, names: IndexNames) -> None:
        self.engine = engine
        self.index = names.aux("idempotency")
        self._ensured = False

    def ensure_index(self) -> None:
        self.engine.ensure_index(self.index, load_mapping("idempotency"))
        self._ensured = True

    @staticmethod
    def key_hash(actor: str, key: str) -> str:
        return hashlib.sha256(f"{actor}\x00{key}".encode()).hexdigest()

    def run(
        self,
        *,
        actor: str,
        key: str | None,
        fingerprint: str,
        operation: Callable[[str], Outcome],
    ) -> Outcome:
        """Run ``operation(operation_id)`` at most once per (actor, key); see the module doc."""
        if key is None:
            return _guarded(operation, "op-" + uuid.uuid4().hex)
        if not key.strip() or len(key) > MAX_KEY_LENGTH:
            raise IdempotencyKeyError(f"an Idempotency-Key is 1-{MAX_KEY_LENGTH} characters")
        if not self._ensured:  # on first keyed use: a call without a key needs no index
            self.ensure_index()
        kid = self.key_hash(actor, key)
        claim = {
            "key_hash": kid,
            "actor": actor,
            "request_hash": fingerprint,
            "state": "pending",
            "created_at": now_iso(),
            "payload": {},
        }
        try:
            self.engine.index(self.index, kid, claim, op_type="create", refresh=False)
        except VersionConflict:
            doc = self.engine.get(self.index, kid)
            if doc is not None:
                stored = doc["_source"]
                if stored["request_hash"] != fingerprint:
                    raise IdempotencyKeyError(
                        "this Idempotency-Key was already used with a different request; "
                        "use a new key for a new request"
                    ) from None
                if stored["state"] == "done":
                    out = stored["payload"]
                    return Outcome(int(out["status"]), out["body"])
        outcome = _guarded(operation, "op-" + kid[:32])
        if 400 <= outcome.status < 500:
            # A refusal is not an outcome to replay: release the key so that a retry
            # after fixing the cause (the body, the missing target, the state) runs.
            self.engine.delete(self.index, kid)
        elif outcome.status < 400:
            done = {
                **claim,
                "state": "done",
                "completed_at": now_iso(),
                "payload": {"status": outcome.status, "body": outcome.body},
            }
            self.engine.index(self.index, kid, done, refresh=False)
        return outcome


def _guarded(operation: Callable[[str], Outcome], operation_id: str) -> Outcome:
    """Run the operation; a refusal (4xx ServiceError) is an outcome too."""
    try:
        return operation(operation_id)
    except ServiceError as exc:
        return error_outcome(exc)
