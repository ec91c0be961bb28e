"""Typed errors of the promotion workflows, on top of :mod:`service.errors`.

They subclass the service's HTTP-mapped errors, so the app's handlers turn
them into ``{"detail": ...}`` responses: 409 for a refused transition or
action (the message names the record and its current state), 422 with
field-by-field details for unmet prerequisites and bad requests. Messages
name records by id and states by name, never a PHI value (M21).
"""

from __future__ import annotations

from service.errors import Conflict, InvalidInput


class TransitionError(Conflict):
    """A state change that the record's current state does not allow (409)."""

    def __init__(self, kind: str, record_id: str, current: str, target: str, action: str) -> None:
        label = "Inbox Item" if kind == "inbox_item" else "Case"
        super().__init__(
            f"{label} {record_id} is in state '{current}': {action} is not allowed from "
            f"'{current}' (it would move to '{target}')"
        )
        self.kind = kind
        self.record_id = record_id
        self.current = current
        self.target = target


class ActionRefusedError(Conflict):
    """A business rule refuses the action (P4, P7, P16): 409 with the reason."""


class ConcurrentUpdateError(Conflict):
    """A record changed under the operation, which was rolled back: 409, retry."""


class PrerequisitesError(InvalidInput):
    """P1: what the Inbox Item lacks before it can be promoted, one entry per criterion."""

    def __init__(self, record_id: str, missing: list[str]) -> None:
        super().__init__(
            [
                {
                    "field": name,
                    "value": None,
                    "error": f"required to promote Inbox Item {record_id}",
                }
                for name in missing
            ]
        )
        self.message = f"Inbox Item {record_id} cannot be promoted: missing {', '.join(missing)}"
        self.missing = missing


class InvalidRequestError(InvalidInput):
    """Bad input that passed the schema (an unknown copy section, a count of 0): 422."""

    def __init__(self, field: str, error: str, value: object = None) -> None:
        super().__init__([{"field": field, "value": value, "error": error}])
        self.message = f"{field}: {error}"


class IdempotencyKeyError(InvalidInput):
    """P17: an Idempotency-Key reused with a different request (422)."""

    def __init__(self, error: str) -> None:
        super().__init__([{"field": "Idempotency-Key", "value": None, "error": error}])
        self.message = error
