"""The transmission profile's ``follow_up_probability`` gate in automated promotion.

It extends P12-P14 (one open Case sharing a Case Identifier): at or above the threshold
the seed's flowchart runs as before; below it, or without a trained model, the item
never merges (``promotion_failed``, P16's message says why); the decision carries the
probability and threshold for the audit entry (P18).
"""

from __future__ import annotations

from typing import Any

import pytest

from service.promotion.automated import auto_step, decide_auto
from service.promotion.ledger import StateChange
from service.promotion.plans import PlanDraft
from service.settings import TransmissionProfile
from tests.factories import bare

CASES = [
    # (id, case state, threshold, probability, outcome)
    ("off-P12-marks", "in_progress", None, None, "marked_as_follow_up"),
    ("off-P13-follow-up", "approved", None, 0.01, "follow_up_case"),
    ("above-P12-marks", "in_progress", 0.9, 0.95, "marked_as_follow_up"),
    ("at-threshold-P13-follow-up", "approved", 0.9, 0.9, "follow_up_case"),
    ("below-P12-never-marks", "in_progress", 0.9, 0.89, "promotion_failed"),
    ("below-P13-never-merges", "approved", 0.9, 0.2, "promotion_failed"),
    ("no-model-never-merges", "approved", 0.5, None, "promotion_failed"),
]


@pytest.mark.parametrize(
    ("state", "threshold", "probability", "outcome"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_P12_P13_follow_up_probability_gate(
    state: str, threshold: float | None, probability: float | None, outcome: str
) -> None:
    profile = TransmissionProfile(merge_method_serious="smart", follow_up_probability=threshold)
    decision = decide_auto(
        [bare("C-1", kind="case", state=state)], "serious", profile, probability=probability
    )
    assert decision.outcome == outcome
    assert decision.threshold == threshold
    assert decision.probability == probability


def test_P16_below_threshold_says_why_and_names_no_values() -> None:
    profile = TransmissionProfile(follow_up_probability=0.8)
    decision = decide_auto(
        [bare("C-1", kind="case", state="approved")], "serious", profile, probability=0.25
    )
    assert decision.message is not None
    assert "0.250" in decision.message and "follow_up_probability 0.8" in decision.message
    assert decision.case_id == "C-1"


def _details(step: PlanDraft | StateChange) -> dict[str, Any]:
    return step.audit_details if isinstance(step, PlanDraft) else step.details or {}


@pytest.mark.parametrize(
    ("state", "probability"),
    [("approved", 0.97), ("in_progress", 0.97), ("approved", 0.1)],
    ids=["follow-up-case", "marked", "refused"],
)
def test_P18_audit_entry_records_probability_and_threshold(state: str, probability: float) -> None:
    profile = TransmissionProfile(merge_method_serious="smart", follow_up_probability=0.9)
    item = bare("II-1", state="processing")
    decision = decide_auto(
        [bare("C-1", kind="case", state=state)], "serious", profile, probability=probability
    )
    details = _details(auto_step(item, decision))
    assert details["match_probability"] == probability
    assert details["follow_up_probability"] == 0.9


def test_P18_gate_off_adds_nothing_to_the_audit_entry() -> None:
    item = bare("II-1", state="processing")
    decision = decide_auto(
        [bare("C-1", kind="case", state="approved")],
        "serious",
        TransmissionProfile(merge_method_serious="smart"),
        probability=0.3,
    )
    assert "match_probability" not in _details(auto_step(item, decision))


def test_P15_several_matches_fail_whatever_the_probability() -> None:
    profile = TransmissionProfile(follow_up_probability=0.1)
    cases = [bare("C-1", kind="case", state="approved"), bare("C-2", kind="case", state="approved")]
    assert decide_auto(cases, "serious", profile, probability=0.99).outcome == "promotion_failed"


def test_follow_up_probability_is_validated() -> None:
    with pytest.raises(ValueError):
        TransmissionProfile(follow_up_probability=1.5)
