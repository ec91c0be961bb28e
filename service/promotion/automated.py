"""Automated Case promotion (P10-P16): the pure decisions (the workflow is in
:mod:`service.promotion.auto_promotion`).

:func:`decide_auto` is the seed's flowchart as one pure function: given the
open Case versions that share a Case Identifier with the item, the item's
seriousness and the transmission profile, it says what happens. The order is
the seed's: one in-flight match that may be marked -> mark as follow-up (P12);
otherwise classify (P13), refuse prohibited states (P4/P14), then apply the
profile's merge method. A profile's ``follow_up_probability`` (off by default) gates the
one-match branch on the organization's match model: below it the item never merges.
:func:`auto_refusal` says whether an item may be
promoted automatically at all, and :func:`auto_step` turns a decision into the
plan or the state change that carries it out.

    >>> from service.settings import TransmissionProfile
    >>> decide_auto([], "serious", TransmissionProfile()).outcome
    'initial_case'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from indexer.records import Record
from service.errors import ServiceError
from service.promotion.errors import ActionRefusedError, TransitionError
from service.promotion.ledger import StateChange
from service.promotion.outcomes import AutoMarkedFollowUp, AutoPromotionFailed, MissingInformation
from service.promotion.plans import PlanDraft, case_id_for
from service.promotion.rules import Seriousness
from service.promotion.states import FOLLOW_UP_REFUSED_CASE_STATES, is_in_flight
from service.settings import MergeMethod, TransmissionProfile

AutoOutcome = Literal["initial_case", "marked_as_follow_up", "follow_up_case", "promotion_failed"]

#: Sources whose items may be promoted automatically (P10-P16 preamble).
AUTO_SOURCES: frozenset[str] = frozenset({"intake_api", "as2", "edc", "structured_import", "e2b"})


@dataclass(frozen=True)
class AutoDecision:
    outcome: AutoOutcome
    #: The matched Case (latest open version), when there is exactly one.
    case_id: str | None = None
    case_version: int | None = None
    method: MergeMethod | None = None
    seriousness: Seriousness | None = None
    #: The Automation Message (P16) for every outcome that is not a plain success.
    message: str | None = None
    #: The match model's probability of the one match, and the profile's threshold, when
    #: the profile sets ``follow_up_probability`` (recorded in the audit entry, P18).
    probability: float | None = None
    threshold: float | None = None

    def audit_details(self) -> dict[str, Any]:
        """The probability gate's part of the audit entry (empty when the gate is off)."""
        if self.threshold is None:
            return {}
        return {"match_probability": self.probability, "follow_up_probability": self.threshold}


def _case_label(case: Record) -> str:
    return f"Case {case.case_id or case.id} (version {case.version}, state '{case.state}')"


def decide_auto(
    matches: list[Record],
    seriousness: Seriousness,
    profile: TransmissionProfile,
    *,
    org_prohibited_follow_up_states: frozenset[str] = frozenset(),
    probability: float | None = None,
) -> AutoDecision:
    """P11-P15 for an item that passed validation (P10).

    ``matches`` are the latest open (not superseded) versions of the Cases whose
    Case Identifier matches one of the item's. Kept as one function (a little over
    80 lines): it is the seed's flowchart, read top to bottom in the seed's order.
    ``probability``: the match model's probability that the item and the one match
    are the same report (``None``: no trained model); read only when the profile sets
    ``follow_up_probability``, which then decides first whether the one match is a
    follow-up candidate at all (:func:`_below_threshold`).
    """
    if not matches:
        return AutoDecision("initial_case", seriousness=seriousness)
    if len(matches) > 1:
        ids = ", ".join(sorted(m.case_id or m.id for m in matches))
        return AutoDecision(
            "promotion_failed",
            seriousness=seriousness,
            message=f"{len(matches)} open Cases share a Case Identifier with this item ({ids}); "
            "promote it manually",
        )
    case = matches[0]
    cid, ver = case.case_id or case.id, case.version
    label = _case_label(case)
    threshold = profile.follow_up_probability
    if threshold is not None and (probability is None or probability < threshold):
        return _below_threshold(case, seriousness, probability, threshold)
    if case.state in FOLLOW_UP_REFUSED_CASE_STATES:
        return AutoDecision(
            "promotion_failed",
            case_id=cid,
            case_version=ver,
            seriousness=seriousness,
            message=f"{label} cannot take a follow-up",
            probability=probability,
            threshold=threshold,
        )
    in_flight = is_in_flight(case.state)
    mark_prohibited = case.state in set(profile.allow_mark_follow_up_prohibited_states)
    if profile.allow_mark_follow_up and in_flight and not mark_prohibited:  # P12
        return AutoDecision(
            "marked_as_follow_up",
            case_id=cid,
            case_version=ver,
            seriousness=seriousness,
            message=f"marked as follow-up of in-flight {label}; merge it into the Case",
            probability=probability,
            threshold=threshold,
        )
    method: MergeMethod = (
        profile.merge_method_serious
        if seriousness == "serious"
        else profile.merge_method_non_serious
    )
    follow_up_prohibited = (
        set(profile.follow_up_prohibited_states) | org_prohibited_follow_up_states
    )
    if case.state in follow_up_prohibited:  # P14, follow-up options
        return AutoDecision(
            "promotion_failed",
            case_id=cid,
            case_version=ver,
            method=method,
            seriousness=seriousness,
            message=f"{label} is in a state the follow-up options prohibit",
            probability=probability,
            threshold=threshold,
        )
    if method == "manual":
        if profile.allow_mark_follow_up and in_flight and mark_prohibited:  # P14
            return AutoDecision(
                "promotion_failed",
                case_id=cid,
                case_version=ver,
                method=method,
                seriousness=seriousness,
                message=f"manual merge: {label} is in a state that prohibits mark as follow-up",
                probability=probability,
                threshold=threshold,
            )
        return AutoDecision(
            "marked_as_follow_up",
            case_id=cid,
            case_version=ver,
            method=method,
            seriousness=seriousness,
            message=f"manual merge ({seriousness.replace('_', '-')}): marked as follow-up of "
            f"{label}; merge it to create the follow-up version",
            probability=probability,
            threshold=threshold,
        )
    return AutoDecision(
        "follow_up_case",
        case_id=cid,
        case_version=ver,
        method=method,
        seriousness=seriousness,
        probability=probability,
        threshold=threshold,
    )


def _below_threshold(
    case: Record, seriousness: Seriousness, probability: float | None, threshold: float
) -> AutoDecision:
    """The profile's probability gate refuses the one match: the item never merges; a
    person decides (``promotion_failed``, P16's Automation Message says why)."""
    why = (
        "no trained match model for the organization"
        if probability is None
        else f"match probability {probability:.3f}"
    )
    return AutoDecision(
        "promotion_failed",
        case_id=case.case_id or case.id,
        case_version=case.version,
        seriousness=seriousness,
        message=f"{_case_label(case)} shares a Case Identifier, but {why} is below the "
        f"transmission profile's follow_up_probability {threshold:g}; promote it manually",
        probability=probability,
        threshold=threshold,
    )


def auto_refusal(
    item: Record, profile_name: str, profile: TransmissionProfile
) -> ServiceError | None:
    """Why ``item`` cannot be promoted automatically at all (source, profile, state: P16)."""
    if item.source.value not in AUTO_SOURCES:
        return ActionRefusedError(
            f"Inbox Item {item.id} has source '{item.source.value}': automated promotion is for "
            f"{', '.join(sorted(AUTO_SOURCES))}"
        )
    if not profile.auto_promote:
        return ActionRefusedError(
            f"transmission profile '{profile_name}' does not enable auto-promote"
        )
    if item.state != "new":  # P16: failed items wait for an explicit reset
        hint = (
            " (reset it to new first)"
            if item.state in {"promotion_failed", "missing_information"}
            else ""
        )
        return TransitionError(
            "inbox_item", item.id, item.state, "processing", f"auto-promote{hint}"
        )
    return None


def missing_information_change(errors: list[str], transmission: str) -> StateChange:
    """P10: the item failed validation; its transmission records the errors."""
    message = "validation failed: " + "; ".join(errors)
    return StateChange(
        action="auto_promote",
        to_state="missing_information",
        links={"automation_message": message, "inbound_transmission_id": transmission},
        details={"validation_errors": errors},
        outcome=MissingInformation(
            automation_message=message,
            validation_errors=errors,
            inbound_transmission_id=transmission,
        ),
    )


def auto_step(item: Record, decision: AutoDecision) -> PlanDraft | StateChange:
    """What a decision does: a Case to write (P13, P15) or the item's new state (P12, P14, P16)."""
    if decision.outcome == "initial_case":
        return PlanDraft(action="auto_promote", kind="initial", case_ids=[case_id_for(item.id)])
    if decision.outcome == "follow_up_case":
        assert decision.case_id is not None and decision.method in ("smart", "override")
        return PlanDraft(
            action="auto_promote",
            kind="follow_up",
            case_ids=[decision.case_id],
            target_case_id=decision.case_id,
            target_version=decision.case_version,
            method=decision.method,
            audit_details=decision.audit_details(),
        )
    assert decision.message is not None
    links: dict[str, Any] = {"automation_message": decision.message}
    outcome: AutoMarkedFollowUp | AutoPromotionFailed
    if decision.outcome == "marked_as_follow_up":
        assert decision.case_id is not None
        links.update(follow_up_of=decision.case_id, prior_state=item.state)
        outcome = AutoMarkedFollowUp(automation_message=decision.message, case_id=decision.case_id)
    else:
        if decision.case_id:
            links["failed_case_id"] = decision.case_id
        outcome = AutoPromotionFailed(automation_message=decision.message, case_id=decision.case_id)
    return StateChange(
        action="auto_promote",
        to_state=decision.outcome,
        links=links,
        outcome=outcome,
        details={
            "decision": decision.outcome,
            "case_id": decision.case_id,
            "merge_method": decision.method,
            "seriousness": decision.seriousness,
            **decision.audit_details(),
        },
    )
