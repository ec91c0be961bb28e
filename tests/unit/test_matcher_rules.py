"""SPEC §5 rules M1-M26 on the brute-force reference ranking (no engine).

The same scenarios run on the engine in ``tests/integration/test_detection_rules.py``.
"""

from __future__ import annotations

import logging
from datetime import date

import pytest

from matcher import Detection, DetectionOptions, rank_reference
from tests.factories import record as make_record
from tests.matcher_scenarios import (
    SCENARIOS,
    Scenario,
    ids,
    m26_cap,
    opts,
    section_of,
    source,
)


def reference(s: Scenario) -> Detection:
    return rank_reference(s.source, s.candidates, s.options)


def check(name: str) -> Detection:
    s = SCENARIOS[name]()
    d = reference(s)
    s.check(d)
    return d


def test_M1_other_organizations_are_never_compared() -> None:
    check("M1")


def test_M2_matching_is_across_report_types() -> None:
    check("M2")


def test_M3_clinical_trial_matches_only_clinical_trial() -> None:
    check("M3")


def test_M4_known_study_makes_the_source_clinical_trial() -> None:
    check("M4-known")


def test_M4_unknown_study_uses_the_source_study_type() -> None:
    check("M4-unknown")


def test_M5_reporter_country_excludes_unless_patient_matches() -> None:
    check("M5")


def test_M6_possible_matches_exclude_new_info_older_than_two_years() -> None:
    check("M6")


def test_M7_superseded_and_closed_records_are_never_returned() -> None:
    check("M7")


def test_M8_blinded_study_products_and_no_information_initials_are_not_compared() -> None:
    check("M8")


@pytest.mark.parametrize("name", ["M9-on", "M9-off"])
def test_M9_open_inbox_items_follow_the_setting(name: str) -> None:
    check(name)


def test_M10_any_identifier_matches_any_identifier_field_cross_field() -> None:
    check("M10")


def test_M11_wwuid_badge_wins_over_id_badge() -> None:
    check("M11")


def test_M12_subject_matches_rank_edc_then_mrn_then_initials() -> None:
    check("M12")


def test_M12_postmarketing_source_has_no_subject_matches() -> None:
    s = SCENARIOS["M12"]()
    pm = s.source.model_copy(update={"study_type": "postmarketing"})
    d = rank_reference(
        pm, [c.model_copy(update={"study_type": None}) for c in s.candidates], s.options
    )
    assert d.sections.subject_matches == []


def test_M13_any_matching_value_makes_a_possible_match() -> None:
    check("M13")


def test_M14_ranking_by_category_then_count_then_date_then_id() -> None:
    check("M14")


def test_M14_ranking_does_not_depend_on_candidate_order() -> None:
    s = SCENARIOS["M14"]()
    first = ids(reference(s).sections.possible_matches)
    again = ids(
        rank_reference(s.source, list(reversed(s.candidates)), s.options).sections.possible_matches
    )
    assert first == again


def test_M15_a_record_appears_in_one_section_only() -> None:
    check("M15")


# -- match quality per field -------------------------------------------------------


def test_M16_exact_match_includes_cross_field_identifiers() -> None:
    check("M16")


def test_M17_partial_matches_dates_names_products_onset() -> None:
    check("M17")


def test_M18_status_bars_show_matching_categories() -> None:
    check("M18")


def test_M19_comparison_table_limits_rows_and_header() -> None:
    check("M19")


@pytest.mark.parametrize("name", ["M20-masked", "M20-clear"])
def test_M20_phi_is_masked_but_indicators_stay(name: str) -> None:
    check(name)


def test_M21_no_phi_in_log_lines_of_a_reference_ranking(caplog: pytest.LogCaptureFixture) -> None:
    # The engine path logs (tests/integration/test_detection_rules.py scans it); the reference
    # path must stay silent about values too.
    with caplog.at_level(logging.DEBUG):
        d = check("M5")
    assert d.sections.possible_matches
    assert "Jacob" not in caplog.text and "Smith" not in caplog.text


def test_M22_detection_carries_what_the_results_log_needs() -> None:
    d = check("M11")
    dumped = d.model_dump(mode="json")
    assert dumped["profile"] == "enhanced" and dumped["source_id"] == "II-SRC"
    first = dumped["sections"]["id_matches"][0]
    assert {"record_id", "rank", "badge", "status", "comparison", "state"} <= set(first)


# -- detection profiles ------------------------------------------------------------


def test_M23_enhanced_is_the_default_profile_and_untagged() -> None:
    assert DetectionOptions().profile == "enhanced"
    d = check("M14")
    assert all(m.tag is None for m in d.sections.all())


def test_M24_deep_22r1_tags_likely_and_possible_and_drops_the_rest() -> None:
    check("M24")


def test_M25_deep_22r3_likely_on_mrn_or_study_and_ranks_without_study() -> None:
    check("M25")


def test_M26_cap_keeps_exactly_the_first_n_in_rank_order() -> None:
    full = reference(m26_cap(None))
    capped = reference(m26_cap(5))
    assert len(full.sections.possible_matches) == 40
    assert ids(capped.sections.possible_matches) == ids(full.sections.possible_matches)[:5]


@pytest.mark.parametrize(
    ("clinical_trial", "expected"), [(False, 100), (True, 20)], ids=["pm", "ct"]
)
def test_M26_default_cap_depends_on_the_source(clinical_trial: bool, expected: int) -> None:
    assert DetectionOptions().cap(clinical_trial=clinical_trial) == expected


def test_source_is_never_its_own_match() -> None:
    src = source()
    d = rank_reference(src, [src, make_record("II-SRC", kind="inbox_item")], opts())
    assert section_of(d, "II-SRC") is None


def test_reference_uses_today_for_M6() -> None:
    s = SCENARIOS["M6"]()
    later = rank_reference(s.source, s.candidates, opts(today=date(2025, 4, 2)))
    assert section_of(later, "C-NEW") is None
