"""Which promotion decisions the item page offers, why a button is disabled, and what
each confirmation says will happen.

Pure functions over the item, the chosen match, the caller and the settings. They
mirror the checks of the promotion components (:mod:`service.promotion.decisions`,
:mod:`service.promotion.multiple`, :mod:`service.promotion.lifecycle`; P1-P9, P16) so
that a button a component would refuse is shown disabled with the reason; the component
still decides, and a refusal it raises (409 / 422) is shown as its own message.

    >>> from indexer.records import Record
    >>> item = Record(id="II-1", kind="inbox_item", organization="ORG-A", state="duplicate")
    >>> p = Principal("k", frozenset({"ORG-A"}), frozenset({"promote"}))
    >>> d = decisions_for(item, None, p, Settings())
    >>> d[0].action, d[0].enabled, d[0].reason
    ('promote', False, "Inbox Item II-1 is in state 'duplicate'; promote starts from new, triage or verified")
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from indexer.records import Record
from matcher import Match
from service.auth import Principal
from service.promotion.followup import COPY_SECTIONS
from service.promotion.multiple import MAX_MULTIPLE
from service.promotion.states import (
    DEFAULT_PROMOTABLE_STATES,
    FOLLOW_UP_REFUSED_CASE_STATES,
    is_in_flight,
)
from service.settings import Settings

Action = Literal[
    "promote",
    "create_new_case",
    "copy_patient_info",
    "mark_duplicate",
    "mark_follow_up",
    "merge_to_current",
    "promote_multiple",
    "unmark_follow_up",
    "reset_to_new",
]

#: Every decision, in the order the page lists them, with its button label.
LABELS: dict[Action, str] = {
    "promote": "Promote (detection first)",
    "create_new_case": "Create new Case",
    "copy_patient_info": "Create new Case, copying patient information",
    "mark_duplicate": "Mark as duplicate",
    "mark_follow_up": "Mark as follow-up",
    "merge_to_current": "Merge to in-flight Case",
    "promote_multiple": "Promote to multiple Cases",
    "unmark_follow_up": "Unmark follow-up",
    "reset_to_new": "Reset to new",
}
ACTIONS: tuple[Action, ...] = tuple(LABELS)
#: Decisions that act on the chosen match.
TARGETED: frozenset[Action] = frozenset(
    {"copy_patient_info", "mark_duplicate", "mark_follow_up", "merge_to_current"}
)


@dataclass(frozen=True)
class Target:
    """The record a decision acts on: its type, id and lifecycle state (no values)."""

    record_type: Literal["case", "inbox_item"]
    record_id: str
    state: str

    @property
    def label(self) -> str:
        return f"{'Case' if self.record_type == 'case' else 'Inbox Item'} {self.record_id}"

    @classmethod
    def of(cls, match: Match) -> Target:
        return cls(match.record_type, match.record_id, match.state)


@dataclass(frozen=True)
class Decision:
    action: Action
    label: str
    enabled: bool
    reason: str = ""
    target: Target | None = None


def _promotable_states(item: Record, settings: Settings) -> tuple[str, ...]:
    org = settings.organization(item.organization)
    return tuple(org.promotable_states or DEFAULT_PROMOTABLE_STATES)


def _state_list(states: tuple[str, ...]) -> str:
    return ", ".join(states[:-1]) + f" or {states[-1]}" if len(states) > 1 else states[0]


def _follow_up_refusal(target: Target, item: Record, settings: Settings, what: str) -> str:
    """P4's reason a Case cannot take a follow-up, or ''."""
    prohibited = set(settings.organization(item.organization).prohibited_follow_up_states)
    if target.state in FOLLOW_UP_REFUSED_CASE_STATES:
        return f"{target.label} is in state '{target.state}': {what} is refused for a Case in that state"
    if target.state in prohibited:
        return f"{target.label} is in state '{target.state}', which the organization's settings prohibit for {what}"
    return ""


def _why_not(
    action: Action,
    item: Record,
    target: Target | None,
    principal: Principal,
    settings: Settings,
) -> str:
    """The reason ``action`` is not available now, or '' when it is."""
    if not principal.can("promote"):
        return "this API key lacks the permission: promote"
    states = _promotable_states(item, settings)
    promotable = item.state in states
    not_promotable = (
        f"Inbox Item {item.id} is in state '{item.state}'; "
        f"{action.replace('_', ' ')} starts from {_state_list(states)}"
    )
    if action in ("promote", "create_new_case"):
        return "" if promotable else not_promotable
    if action == "promote_multiple":
        if item.source.value == "e2b":
            return "not available for E2B-imported items (P7)"
        return "" if promotable else not_promotable
    if action == "unmark_follow_up":
        if item.state != "marked_as_follow_up":
            return f"Inbox Item {item.id} is in state '{item.state}', not marked_as_follow_up"
        return ""
    if action == "reset_to_new":
        if item.state not in ("promotion_failed", "missing_information"):
            return f"only a promotion_failed or missing_information item is reset; this one is '{item.state}'"
        return ""
    follow_up_item = item.state == "marked_as_follow_up"
    if not promotable and not (follow_up_item and action in ("mark_duplicate", "merge_to_current")):
        return not_promotable
    if target is None:
        return "choose a match first (its Compare link)"
    if action == "mark_duplicate":
        return ""
    if target.record_type != "case":
        return f"{target.label} is an Inbox Item; {LABELS[action].lower()} needs a Case"
    if action == "copy_patient_info":
        return ""
    if action == "mark_follow_up":
        if not settings.organization(item.organization).allow_mark_follow_up:
            return "mark as follow-up is not enabled for this organization"
        refused = _follow_up_refusal(target, item, settings, "mark as follow-up")
        if refused:
            return refused
        if not is_in_flight(target.state):
            return f"{target.label} is in state '{target.state}': mark as follow-up needs an in-flight Case"
        return ""
    return _follow_up_refusal(target, item, settings, "follow-up")


def merge_target(item: Record, match: Match | None, follow_up_state: str) -> Target | None:
    """Merge-to-current acts on the chosen Case, else on the Case the item follows up
    (whose state the caller read: ``follow_up_state``)."""
    if match is not None:
        return Target.of(match)
    follows = item.links.get("follow_up_of")
    if isinstance(follows, str) and follows:
        return Target("case", follows, follow_up_state)
    return None


def decisions_for(
    item: Record,
    match: Match | None,
    principal: Principal,
    settings: Settings,
    *,
    follow_up_state: str = "",
) -> list[Decision]:
    """Every decision of :data:`ACTIONS`, enabled or disabled with its reason.

    ``follow_up_state``: the state of the Case a ``marked_as_follow_up`` item follows up.
    """
    out: list[Decision] = []
    for action in ACTIONS:
        target: Target | None = None
        if action == "merge_to_current":
            target = merge_target(item, match, follow_up_state)
        elif action in TARGETED and match is not None:
            target = Target.of(match)
        elif action == "unmark_follow_up" and item.links.get("follow_up_of"):
            target = Target("case", str(item.links["follow_up_of"]), follow_up_state)
        reason = _why_not(action, item, target, principal, settings)
        out.append(Decision(action, LABELS[action], not reason, reason, target))
    return out


def consequence(
    action: Action, item: Record, target: Target | None, *, count: int = 1, settings: Settings
) -> str:
    """What the confirmation says will happen (ids and states only, never values)."""
    it = f"Inbox Item {item.id}"
    t = target.label if target else "the chosen record"
    if action == "promote":
        return (
            f"Duplicate detection runs for {it}. If nothing matches, a Case and an Inbound "
            "Transmission are created and the item becomes promoted. If anything matches, "
            "nothing is created: the potential matches are listed and logged on the item's "
            "Inbound Transmission (results log, M22)."
        )
    if action == "create_new_case":
        return (
            f"A new Case is created from {it}, with an Inbound Transmission, whatever the "
            "potential matches; the item becomes promoted."
        )
    if action == "copy_patient_info":
        return (
            f"A new Case is created from {it}, with the patient information of {t} copied into "
            "it, and the sections you tick below; the item becomes promoted."
        )
    if action == "mark_duplicate":
        return (
            f"{it} is marked as a duplicate of {t}. No Case is created; the item becomes "
            "duplicate and leaves the Inbox's open items and every later detection."
        )
    if action == "mark_follow_up":
        return (
            f"{it} is linked to {t} as its follow-up and becomes marked_as_follow_up. Merge "
            "method: manual: the Case is not changed now; a person merges later with "
            f"'{LABELS['merge_to_current']}'."
        )
    if action == "merge_to_current":
        return (
            f"A follow-up version of {t} is created from {it} and the Case's current version "
            "(merge method: smart, the default merge behaviour of P6: reasons omitted win, "
            "age fields and measurements are taken from the follow-up, the receipt date stays "
            "the initial's); the item becomes promoted."
        )
    if action == "promote_multiple":
        return (
            f"{count} Case{'s' if count != 1 else ''} are created from {it}, each with its own "
            "Inbound Transmission, without duplicate detection; every Case links to the first "
            "one created; the item becomes promoted."
        )
    if action == "unmark_follow_up":
        prior = item.links.get("prior_state") or "new"
        return f"{it} is unlinked from {t} and returns to its prior state '{prior}'."
    return (
        f"{it} goes from '{item.state}' back to new, so that it can be promoted again; its "
        "automation message is cleared."
    )


#: Sections copy-patient-info may add (P3), for the confirmation's checkboxes.
COPYABLE: tuple[str, ...] = COPY_SECTIONS
MULTIPLE_RANGE = (1, MAX_MULTIPLE)
