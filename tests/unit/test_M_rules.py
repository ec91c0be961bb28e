"""SPEC §5 rules M1-M26 on the brute-force reference ranking (no engine).

The same scenarios run on the engine in ``tests/integration/test_detection_rules.py``.
"""

from __future__ import annotations

import logging
from datetime import date

import pytest

from indexer.records import Record
from matcher import Detection, DetectionOptions, rank_reference
from tests.conftest import make_record
from tests.matcher_scenarios import (
    SCENARIOS,
    Scenario,
    blank,
    ids,
    m26_cap,
    opts,
    row,
    section_of,
    source,
    the,
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
    src = source(identifiers={"wwuid": "W-42"})
    cand = blank("C-X", identifiers={"external_system_uid": "w-42"}, patient={"initials": "j.s."})
    d = rank_reference(src, [cand], opts())
    m = the(d, "C-X")
    assert row(m, "identifiers", "wwuid~external_system_uid") == ("W-42", "w-42", "exact")
    assert row(m, "patient", "initials")[2] == "exact"


def test_M17_partial_matches_dates_names_products_onset() -> None:
    src = source(
        receipt_date="2025-03-01",
        reporter={"first_name": "Jacob", "last_name": "Smith", "country": "US"},
        products=[{"product_reported": "Aspirin 100 mg", "rank": 1}],
        events=[{"event_reported": "rash", "onset": "2025-02-03", "rank": 1}],
    )
    cand = blank(
        "C-1",
        receipt_date="2025-03-25",
        reporter={"first_name": "Smith", "last_name": "Jakob", "country": "US"},
        products=[{"product_reported": "aspirin", "rank": 1}],
        events=[{"event_reported": "skin rash", "onset": "2025-03-02", "rank": 1}],
    )
    m = the(rank_reference(src, [cand], opts()), "C-1")
    assert row(m, "details", "receipt_date")[2] == "partial"
    assert row(m, "reporter", "first_name")[2] == "partial"
    assert row(m, "reporter", "last_name")[2] == "partial"
    assert row(m, "products", "product_reported")[2] == "partial"
    assert (
        row(m, "events", "onset")[2] == "partial"
    )  # 2025-02-03 vs 2025-03-02: day and month swapped


def test_M18_status_bars_show_matching_categories() -> None:
    src = source()
    cand = blank(
        "C-1",
        patient={"dob": "1980"},
        reporter={"qualification": "physician", "country": "US"},
        events=[{"meddra_pt_code": "10019211", "rank": 1}],
    )
    src = source(reporter={"qualification": "physician", "country": "US"})
    m = the(rank_reference(src, [cand], opts()), "C-1")
    assert m.status.model_dump() == {
        "patient": True,
        "country": True,
        "reporter": True,
        "products": False,
        "events": True,
    }


def test_M19_comparison_table_limits_rows_and_header() -> None:
    many_ids = [f"CI-{i}" for i in range(15)]
    products = [{"product": f"P-{i}", "rank": i + 1} for i in range(5)]
    events = [{"meddra_pt_code": f"1000000{i}", "rank": i + 1} for i in range(5)]
    src = source(
        identifiers={"case_identifiers": many_ids, "wwuid": "W-S", "uid": "U-S"},
        products=products,
        events=events,
    )
    cand = blank(
        "C-1",
        state="approved",
        identifiers={"case_identifiers": many_ids, "wwuid": "W-C", "uid": "U-C"},
        products=products,
        events=events,
    )
    m = the(rank_reference(src, [cand], opts()), "C-1")
    sections = [r.section for r in m.comparison]
    assert sections.count("identifiers") == 10
    assert all(r.badge == "ID" for r in m.comparison if r.section == "identifiers")
    assert sum(1 for r in m.comparison if r.section == "products" and r.field == "product") == 3
    assert sum(1 for r in m.comparison if r.section == "events" and r.field == "meddra_pt") == 3
    # rows where neither side has a value are omitted
    assert all(r.source is not None or r.match is not None for r in m.comparison)
    assert not any(r.field == "first_name" and r.section == "patient" for r in m.comparison)
    assert m.header.model_dump() == {
        "source": {"wwuid": "W-S", "uid": "U-S"},
        "match": {"wwuid": "W-C", "uid": "U-C"},
        "state": "approved",
    }


def test_M20_phi_is_masked_but_indicators_stay() -> None:
    src = source(
        patient={"first_name": "Anna", "last_name": "Berg", "initials": "AB", "dob": "1980-06-02"}
    )
    cand = blank(
        "C-1",
        patient={"first_name": "Anna", "last_name": "Berg", "initials": "AB", "dob": "1980-06-02"},
        events=[{"event_reported": "rash", "onset": "2025-01-01", "rank": 1}],
    )
    masked = the(rank_reference(src, [cand], opts(mask_phi=True)), "C-1")
    clear = the(rank_reference(src, [cand], opts(mask_phi=False)), "C-1")
    assert row(masked, "patient", "first_name") == ("***", "***", "exact")
    assert row(clear, "patient", "first_name") == ("Anna", "Anna", "exact")
    assert row(masked, "events", "onset") == (None, "***", "none")
    assert row(masked, "reporter", "country") == ("***", "***", "exact")
    dumped = masked.model_dump_json()
    for phi in ("Anna", "Berg", "1980-06-02", "Jacob", "Smith"):
        assert phi not in dumped


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


def _deep_records() -> tuple[Record, list[Record]]:
    events = [
        {"event_reported": "headache", "meddra_pt_code": "10019211", "country": "US", "rank": 1}
    ]
    products = [{"product": "PRD-17", "product_reported": "Aspirin", "rank": 1}]
    src = source(
        patient={"initials": "JS", "sex": "female", "dob": "1980-06", "mrn": {"hospital": "H-1"}},
        products=products,
        events=events,
        study="STUDY-A",
    )
    likely = blank(
        "C-LIKELY", patient={"initials": "JS", "dob": "1980-06"}, products=products, events=events
    )
    possible = blank("C-POSSIBLE", patient={"initials": "JS", "dob": "1980-06"}, products=products)
    weak = blank("C-WEAK", products=products)
    mrn = blank("C-MRN", patient={"mrn": {"hospital": "h-1"}})
    study = blank("C-STUDY", study="STUDY-A", events=events)
    return src, [likely, possible, weak, mrn, study]


def test_M24_deep_22r1_tags_likely_and_possible_and_drops_the_rest() -> None:
    src, cands = _deep_records()
    d = rank_reference(src, cands, opts(profile="deep_22r1"))
    tags = {m.record_id: m.tag for m in d.sections.possible_matches}
    assert tags["C-LIKELY"] == "likely"
    assert tags["C-POSSIBLE"] == "possible"
    assert "C-WEAK" not in tags
    assert ids(d.sections.possible_matches)[0] == "C-LIKELY"


def test_M25_deep_22r3_likely_on_mrn_or_study_and_ranks_without_study() -> None:
    src, cands = _deep_records()
    d = rank_reference(src, cands, opts(profile="deep_22r3"))
    tags = {m.record_id: m.tag for m in d.sections.possible_matches}
    assert tags["C-MRN"] == "likely"
    assert tags["C-STUDY"] == "likely"
    assert tags["C-WEAK"] == "possible"
    order = ids(d.sections.possible_matches)
    assert order.index("C-WEAK") < order.index("C-STUDY")  # product ranks above event here


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
