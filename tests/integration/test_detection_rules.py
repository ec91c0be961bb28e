"""SPEC §5 rules M1-M26 through ``detect`` on the engine, each equal to the brute-force reference.

Every scenario of ``tests/matcher_scenarios.py`` is stored in the engine; the
detection must pass the rule's check *and* list exactly what
``rank_reference`` lists, in the same order, with the same comparison tables.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from indexer.engine import Engine
from indexer.store import RecordStore
from matcher import Detection, DetectionRun, detect, rank_reference
from tests.matcher_scenarios import SCENARIOS, Scenario, ids, m26_cap, opts, source

pytestmark = pytest.mark.integration


def run(store: RecordStore, engine: Engine, s: Scenario) -> DetectionRun:
    report = store.put_many(s.candidates)
    assert not report.failures if hasattr(report, "failures") else True
    result = detect(engine, store.names, s.source, s.options)
    expected = rank_reference(s.source, s.candidates, s.options)
    assert _comparable(result.detection) == _comparable(expected)
    return result


def _comparable(d: Detection) -> dict[str, object]:
    out = d.model_dump(mode="json")
    out.pop("took_ms")
    return out


def check(store: RecordStore, engine: Engine, name: str) -> DetectionRun:
    s = SCENARIOS[name]()
    result = run(store, engine, s)
    s.check(result.detection)
    return result


def test_M1_other_organizations_are_never_retrieved(store: RecordStore, engine: Engine) -> None:
    result = check(store, engine, "M1")
    assert "C-OTHER" not in result.retrieved_ids


def test_M2_matching_is_across_report_types(store: RecordStore, engine: Engine) -> None:
    check(store, engine, "M2")


def test_M3_clinical_trial_matches_only_clinical_trial(store: RecordStore, engine: Engine) -> None:
    result = check(store, engine, "M3")
    assert "C-CT" not in result.retrieved_ids


def test_M4_known_study_makes_the_source_clinical_trial(store: RecordStore, engine: Engine) -> None:
    check(store, engine, "M4-known")


def test_M4_unknown_study_uses_the_source_study_type(store: RecordStore, engine: Engine) -> None:
    check(store, engine, "M4-unknown")


def test_M5_reporter_country_excludes_unless_patient_matches(
    store: RecordStore, engine: Engine
) -> None:
    check(store, engine, "M5")


def test_M6_possible_matches_exclude_old_new_info_dates(store: RecordStore, engine: Engine) -> None:
    check(store, engine, "M6")


def test_M7_superseded_and_closed_records_are_never_returned(
    store: RecordStore, engine: Engine
) -> None:
    result = check(store, engine, "M7")
    assert not {"II-PRO", "II-DUP", "II-REJ"} & set(result.retrieved_ids)


def test_M8_blinded_study_products_and_unknown_initials_not_compared(
    store: RecordStore, engine: Engine
) -> None:
    check(store, engine, "M8")


@pytest.mark.parametrize("name", ["M9-on", "M9-off"])
def test_M9_open_inbox_items_follow_the_setting(
    store: RecordStore, engine: Engine, name: str
) -> None:
    check(store, engine, name)


def test_M10_identifiers_match_cross_field(store: RecordStore, engine: Engine) -> None:
    check(store, engine, "M10")


def test_M11_wwuid_badge_wins_over_id_badge(store: RecordStore, engine: Engine) -> None:
    check(store, engine, "M11")


def test_M12_subject_matches_ranked(store: RecordStore, engine: Engine) -> None:
    check(store, engine, "M12")


def test_M13_any_matching_value_makes_a_possible_match(store: RecordStore, engine: Engine) -> None:
    check(store, engine, "M13")


def test_M14_engine_ranking_equals_the_rule(store: RecordStore, engine: Engine) -> None:
    check(store, engine, "M14")


def test_M15_one_section_per_record(store: RecordStore, engine: Engine) -> None:
    check(store, engine, "M15")


def test_M16_exact_matches_include_cross_field_ids(store: RecordStore, engine: Engine) -> None:
    check(store, engine, "M16")


def test_M17_partial_matches(store: RecordStore, engine: Engine) -> None:
    check(store, engine, "M17")


def test_M18_status_bars(store: RecordStore, engine: Engine) -> None:
    check(store, engine, "M18")


def test_M19_comparison_table(store: RecordStore, engine: Engine) -> None:
    check(store, engine, "M19")


@pytest.mark.parametrize("name", ["M20-masked", "M20-clear"])
def test_M20_masking(store: RecordStore, engine: Engine, name: str) -> None:
    check(store, engine, name)


def test_M22_detection_is_a_complete_results_log_entry(store: RecordStore, engine: Engine) -> None:
    result = check(store, engine, "M11")
    dumped = result.detection.model_dump(mode="json")
    assert set(dumped) == {"source_id", "organization", "profile", "sections", "took_ms"}
    assert {m["badge"] for m in dumped["sections"]["id_matches"]} == {"WWUID", "ID"}


def test_M23_enhanced_profile_by_default(store: RecordStore, engine: Engine) -> None:
    result = check(store, engine, "M14")
    assert result.detection.profile == "enhanced"


def test_M24_deep_22r1(store: RecordStore, engine: Engine) -> None:
    check(store, engine, "M24")


def test_M25_deep_22r3(store: RecordStore, engine: Engine) -> None:
    check(store, engine, "M25")


def test_M26_cap_is_exactly_the_first_n(store: RecordStore, engine: Engine) -> None:
    capped = run(store, engine, m26_cap(5))
    full = rank_reference(m26_cap(None).source, m26_cap(None).candidates, opts())
    assert (
        ids(capped.detection.sections.possible_matches) == ids(full.sections.possible_matches)[:5]
    )


def test_M21_no_phi_in_any_log_line_at_debug(
    store: RecordStore, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    phi = {"Zebulon", "Quixley", "ZQ", "1931-02-03", "MRN-77331", "Orvald", "Pennywhistle"}
    patient = {
        "first_name": "Zebulon",
        "last_name": "Quixley",
        "initials": "ZQ",
        "dob": "1931-02-03",
        "mrn": {"hospital": "MRN-77331"},
    }
    reporter = {"first_name": "Orvald", "last_name": "Pennywhistle", "country": "NZ"}
    s = Scenario(
        source(patient=patient, reporter=reporter, identifiers={"wwuid": "W-LOG"}),
        [source(patient=patient, reporter=reporter).model_copy(update={"id": "II-TWIN"})],
        lambda d: None,
        opts(mask_phi=True),
    )
    with caplog.at_level(logging.DEBUG):
        result = run(store, engine, s)
    assert result.detection.sections.possible_matches
    text = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert "detection source_id=II-SRC" in caplog.text
    for value in phi:
        assert value.lower() not in text.lower(), "PHI in a log line"
    assert not any(v in result.detection.model_dump_json() for v in phi)


def test_round_trips_stay_small(store: RecordStore, engine: Engine) -> None:
    result = check(store, engine, "M14")
    assert result.round_trips <= 4
    assert result.searches >= 1


class _CpuBurningEngine:
    """The engine, with every ``msearch`` first spending ``burn_s`` of this thread's CPU."""

    def __init__(self, engine: Engine, burn_s: float) -> None:
        self.engine, self.burn_s = engine, burn_s

    def msearch(self, searches: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
        until = time.thread_time() + self.burn_s
        while time.thread_time() < until:
            pass
        return self.engine.msearch(searches)


def test_matcher_cpu_excludes_the_engine_calls(store: RecordStore, engine: Engine) -> None:
    """``matcher_cpu_ms`` counts the matcher's own work, never CPU spent in engine calls."""
    s = SCENARIOS["M14"]()
    store.put_many(s.candidates)
    result = detect(_CpuBurningEngine(engine, 0.25), store.names, s.source, s.options)
    assert result.round_trips >= 2
    assert 0 < result.matcher_cpu_ms < 250
