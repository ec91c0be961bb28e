"""The automated-promotion decision (P11-P15) as a pure function, table-driven."""

from __future__ import annotations

from typing import Any

import pytest

from indexer.records import Record
from service.promotion.automated import decide_auto
from service.settings import TransmissionProfile
from tests.factories import bare


def _case(state: str, case_id: str = "C-1") -> Record:
    return bare(case_id, kind="case", state=state)


def _profile(**fields: Any) -> TransmissionProfile:
    return TransmissionProfile(**fields)


@pytest.mark.parametrize(
    ("state", "seriousness", "profile", "outcome", "method"),
    [
        # P12: one in-flight match that may be marked
        ("in_progress", "serious", {}, "marked_as_follow_up", None),
        (
            "new",
            "non_serious",
            {"merge_method_non_serious": "override"},
            "marked_as_follow_up",
            None,
        ),
        # P13: not in flight -> merge method by seriousness
        ("approved", "serious", {"merge_method_serious": "smart"}, "follow_up_case", "smart"),
        (
            "closed",
            "non_serious",
            {"merge_method_non_serious": "override"},
            "follow_up_case",
            "override",
        ),
        (
            "approved",
            "serious",
            {"merge_method_serious": "manual"},
            "marked_as_follow_up",
            "manual",
        ),
        # allow_mark_follow_up off: in-flight cases go through the merge method
        (
            "in_progress",
            "serious",
            {"allow_mark_follow_up": False, "merge_method_serious": "smart"},
            "follow_up_case",
            "smart",
        ),
        # P14: mark prohibited -> manual fails, smart/override make a follow-up
        (
            "medical_review",
            "serious",
            {
                "allow_mark_follow_up_prohibited_states": ["medical_review"],
                "merge_method_serious": "manual",
            },
            "promotion_failed",
            "manual",
        ),
        (
            "medical_review",
            "serious",
            {
                "allow_mark_follow_up_prohibited_states": ["medical_review"],
                "merge_method_serious": "smart",
            },
            "follow_up_case",
            "smart",
        ),
        (
            "medical_review",
            "serious",
            {
                "allow_mark_follow_up_prohibited_states": ["medical_review"],
                "merge_method_serious": "override",
            },
            "follow_up_case",
            "override",
        ),
        # P14: follow-up options prohibit the state
        (
            "approved",
            "serious",
            {"follow_up_prohibited_states": ["approved"], "merge_method_serious": "smart"},
            "promotion_failed",
            "smart",
        ),
        # P4: retired Cases never take a follow-up
        ("void", "serious", {"merge_method_serious": "smart"}, "promotion_failed", None),
        ("nullifying", "non_serious", {}, "promotion_failed", None),
    ],
    ids=[
        "P12-in-flight",
        "P12-new",
        "P13-serious-smart",
        "P13-non-serious-override",
        "P13-manual-marks",
        "P12-off",
        "P14-manual-prohibited",
        "P14-smart-prohibited",
        "P14-override-prohibited",
        "P14-follow-up-prohibited",
        "P4-void",
        "P4-nullifying",
    ],
)
def test_P13_decision_table(
    state: str, seriousness: Any, profile: dict[str, Any], outcome: str, method: str | None
) -> None:
    decision = decide_auto([_case(state)], seriousness, _profile(**profile))
    assert (decision.outcome, decision.method) == (outcome, method)
    assert decision.case_id == "C-1"
    if outcome in ("promotion_failed", "marked_as_follow_up"):
        assert decision.message  # P16


def test_P11_no_match_is_an_initial_case() -> None:
    decision = decide_auto([], "serious", _profile())
    assert (decision.outcome, decision.message) == ("initial_case", None)


def test_P15_several_open_cases_fail() -> None:
    decision = decide_auto([_case("approved", "C-2"), _case("new", "C-1")], "serious", _profile())
    assert decision.outcome == "promotion_failed"
    assert decision.message is not None and "C-1, C-2" in decision.message


def test_P14_organization_follow_up_prohibited_states_apply() -> None:
    decision = decide_auto(
        [_case("approved")],
        "serious",
        _profile(merge_method_serious="smart"),
        org_prohibited_follow_up_states=frozenset({"approved"}),
    )
    assert decision.outcome == "promotion_failed"
