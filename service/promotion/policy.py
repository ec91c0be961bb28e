"""An organization's promotion policy, and the pure checks every action shares.

The checks return the refusal (a typed error) instead of raising it, so the
deciders (:mod:`service.promotion.decisions`, :mod:`service.promotion.automated`)
stay pure functions whose answer a table-driven test can compare.

    >>> policy = OrgPolicy.of(Settings(api_keys={}), "ORG-A")
    >>> sorted(policy.promotable_states)
    ['new', 'triage', 'verified']
"""

from __future__ import annotations

from dataclasses import dataclass

from indexer.records import Record
from service.promotion.errors import ActionRefusedError, PrerequisitesError, TransitionError
from service.promotion.rules import missing_prerequisites
from service.promotion.states import DEFAULT_PROMOTABLE_STATES, FOLLOW_UP_REFUSED_CASE_STATES
from service.settings import Settings


@dataclass(frozen=True)
class OrgPolicy:
    """What an organization's settings say about promotion (P1, P3, P4)."""

    promotable_states: frozenset[str] = frozenset(DEFAULT_PROMOTABLE_STATES)
    minimum_case_criteria: bool = False
    allow_mark_follow_up: bool = True
    prohibited_follow_up_states: frozenset[str] = frozenset()

    @classmethod
    def of(cls, settings: Settings, organization: str) -> OrgPolicy:
        org = settings.organization(organization)
        minimum = (
            org.require_minimum_case_criteria
            if org.require_minimum_case_criteria is not None
            else settings.require_minimum_case_criteria
        )
        return cls(
            promotable_states=frozenset(org.promotable_states or DEFAULT_PROMOTABLE_STATES),
            minimum_case_criteria=minimum,
            allow_mark_follow_up=org.allow_mark_follow_up,
            prohibited_follow_up_states=frozenset(org.prohibited_follow_up_states),
        )


def not_promotable(item: Record, action: str, policy: OrgPolicy) -> TransitionError | None:
    """P1: the item's state is not one promotion may start from."""
    if item.state in policy.promotable_states:
        return None
    return TransitionError("inbox_item", item.id, item.state, "processing", action)


def unmet_prerequisites(item: Record, policy: OrgPolicy) -> PrerequisitesError | None:
    """P1: the fields the item lacks before it can become a Case."""
    missing = missing_prerequisites(item, minimum_case_criteria=policy.minimum_case_criteria)
    return PrerequisitesError(item.id, missing) if missing else None


def follow_up_refused(case: Record, action: str, policy: OrgPolicy) -> ActionRefusedError | None:
    """P4: void/nullified/voiding/nullifying/deleted, or a state the settings prohibit."""
    label = f"Case {case.case_id} is in state '{case.state}'"
    if case.state in FOLLOW_UP_REFUSED_CASE_STATES:
        return ActionRefusedError(f"{label}: {action} is refused for a Case in that state")
    if case.state in policy.prohibited_follow_up_states:
        return ActionRefusedError(
            f"{label}, which the organization's settings prohibit for {action}"
        )
    return None
