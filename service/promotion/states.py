"""Lifecycle state machines of Inbox Items and Cases (SPEC §1), as data.

Every allowed transition is listed below; anything else is refused with
:class:`TransitionError` (HTTP 409), whose message names the current state.
The tables are the single source of truth: workflows call :func:`transition`
before every write, and the write itself is optimistic (``if_seq_no``) so two
concurrent transitions from the same state cannot both succeed.

    >>> transition("inbox_item", "new", "processing")
    'processing'
    >>> transition("inbox_item", "promoted", "new")
    Traceback (most recent call last):
    ...
    service.promotion.errors.TransitionError: Inbox Item ? is in state 'promoted'; ...
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from indexer.records import NOT_IN_FLIGHT_CASE_STATES, CaseState, InboxState
from service.promotion.errors import TransitionError

RecordKind = Literal["inbox_item", "case"]

_I = InboxState
_C = CaseState

#: Inbox Item transitions. ``processing`` is both the P11 state of automated
#: promotion and the claim a manual promotion holds while it creates its Case;
#: from it an item moves on to its outcome or back to where it was (rollback).
INBOX_TRANSITIONS: Mapping[str, frozenset[str]] = {
    # Automated promotion decides missing_information / marked_as_follow_up /
    # promotion_failed in one step; processing is held while a Case is created.
    _I.new: frozenset(
        {
            _I.promotion_failed,
            _I.triage,
            _I.verified,
            _I.processing,
            _I.missing_information,
            _I.duplicate,
            _I.marked_as_follow_up,
            _I.rejected,
            _I.superseded,
        }
    ),
    _I.triage: frozenset(
        {
            _I.new,
            _I.verified,
            _I.processing,
            _I.duplicate,
            _I.marked_as_follow_up,
            _I.rejected,
            _I.superseded,
        }
    ),
    _I.verified: frozenset(
        {_I.triage, _I.processing, _I.duplicate, _I.marked_as_follow_up, _I.rejected, _I.superseded}
    ),
    _I.processing: frozenset(
        {
            _I.promoted,
            _I.marked_as_follow_up,
            _I.missing_information,
            _I.promotion_failed,
            _I.new,
            _I.triage,
            _I.verified,
        }
    ),
    # P16: a person resets these to new explicitly (or rejects them).
    _I.missing_information: frozenset({_I.new, _I.rejected}),
    _I.promotion_failed: frozenset({_I.new, _I.rejected}),
    # P3 merge_to_current claims the item (-> processing); P5 unmark returns it to
    # its prior state; a follow-up may still turn out to be a duplicate.
    _I.marked_as_follow_up: frozenset(
        {_I.processing, _I.new, _I.triage, _I.verified, _I.duplicate, _I.rejected}
    ),
    # P5: a promoted item can never be unlinked from its Case.
    _I.promoted: frozenset(),
    _I.duplicate: frozenset(),
    _I.rejected: frozenset(),
    _I.superseded: frozenset(),
}

_RETIRE = frozenset({_C.superseded, _C.voiding, _C.nullifying, _C.deleted})

#: Case version transitions. Any live version can be superseded by its next
#: version (I2); in-flight versions move forward through review to approval.
CASE_TRANSITIONS: Mapping[str, frozenset[str]] = {
    _C.new: frozenset({_C.in_progress, _C.medical_review, _C.approved}) | _RETIRE,
    _C.in_progress: frozenset({_C.medical_review, _C.approved}) | _RETIRE,
    _C.medical_review: frozenset({_C.in_progress, _C.approved}) | _RETIRE,
    _C.approved: frozenset({_C.closed, _C.superseded, _C.voiding, _C.nullifying}),
    _C.closed: frozenset({_C.superseded, _C.voiding, _C.nullifying}),
    _C.voiding: frozenset({_C.void}),
    _C.nullifying: frozenset({_C.nullified}),
    _C.void: frozenset(),
    _C.nullified: frozenset(),
    _C.deleted: frozenset(),
    _C.superseded: frozenset(),
}

#: Case states that refuse follow-up and mark-as-follow-up whatever the settings (P4).
FOLLOW_UP_REFUSED_CASE_STATES: frozenset[str] = frozenset(
    {_C.void, _C.nullified, _C.voiding, _C.nullifying, _C.deleted}
)

#: Inbox Item states from which ``promote`` may start (organizations may narrow this).
DEFAULT_PROMOTABLE_STATES: tuple[str, ...] = (_I.new, _I.triage, _I.verified)


def _table(kind: RecordKind) -> Mapping[str, frozenset[str]]:
    return INBOX_TRANSITIONS if kind == "inbox_item" else CASE_TRANSITIONS


def allowed_targets(kind: RecordKind, state: str) -> frozenset[str]:
    """The states a record of ``kind`` may move to from ``state`` (empty if terminal/unknown)."""
    return _table(kind).get(state, frozenset())


def can_transition(kind: RecordKind, from_state: str, to_state: str) -> bool:
    return to_state in allowed_targets(kind, from_state)


def transition(
    kind: RecordKind,
    from_state: str,
    to_state: str,
    *,
    record_id: str = "?",
    action: str | None = None,
) -> str:
    """Check one transition; return ``to_state`` or raise :class:`TransitionError`."""
    if not can_transition(kind, from_state, to_state):
        raise TransitionError(kind, record_id, from_state, to_state, action or "this change")
    return to_state


def is_in_flight(case_state: str) -> bool:
    """SPEC §1: a Case version not approved, closed, superseded, void(ing), nullif(y)ing, deleted."""
    return case_state not in NOT_IN_FLIGHT_CASE_STATES


def is_terminal(kind: RecordKind, state: str) -> bool:
    return not allowed_targets(kind, state)


__all__ = [
    "CASE_TRANSITIONS",
    "DEFAULT_PROMOTABLE_STATES",
    "FOLLOW_UP_REFUSED_CASE_STATES",
    "INBOX_TRANSITIONS",
    "allowed_targets",
    "can_transition",
    "is_in_flight",
    "is_terminal",
    "transition",
]
