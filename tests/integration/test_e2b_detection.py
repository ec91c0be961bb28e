"""The FDA E2B(R3) examples as a real duplicate cluster, through the real detection.

Scenario 1 is loaded as a Case, every other FDA instance as an open Inbox Item
of the same organization, all on the engine; then each item is checked the way
promotion checks it (``matcher.detect.detect``). The clusters (SOURCE.md):

* 1, 2, 3, 7, 8 share the WWUID ``US-APHARMA-8744554B`` and the patient JD,
  born 2001-06-15;
* 6 carries the same WWUID for another patient (SM, born 2014-10-01);
* 5-1, 5-2, 5-3 share ``US-APHARMA-234545656`` (patient SM, born 1980-06-15).

Scenario 3 is a clinical-trial report (C.5.4 = 1, "Clinical trials") while the
Case from Scenario 1 is a spontaneous postmarketing report, so M3 keeps them
apart even though their identifiers are equal.
"""

from __future__ import annotations

from datetime import date

import pytest

from indexer.e2b import E2BOptions, parse_e2b_file
from indexer.records import Record
from indexer.store import RecordStore
from matcher.detect import detect
from matcher.model import Detection, DetectionOptions, Match
from tests.paths import FDA_EXAMPLES

FDA = FDA_EXAMPLES
WWUID_CLUSTER = ["Scenario2", "Scenario7", "Scenario8"]
SECOND_CLUSTER = ["Scenario5-1", "Scenario5-2", "Scenario5-3"]
#: A fixed "today" two years after the reports: M6 then keeps old records out of
#: Possible Matches, so the sections below are decided by identifiers alone.
OPTIONS = DetectionOptions(mask_phi=False, today=date(2025, 1, 1))


def parse(name: str, kind: str) -> Record:
    options = E2BOptions(organization="ORG-A", kind="case" if kind == "case" else "inbox_item")
    result = parse_e2b_file(FDA / f"FAERS2022{name}.xml", options)
    assert result.errors == []
    [record] = result.records
    return record


@pytest.fixture
def loaded(store: RecordStore) -> dict[str, Record]:
    """Scenario 1 as a Case and every other FDA instance as an Inbox Item, on the engine."""
    records = {"Scenario1": parse("Scenario1", "case")}
    for path in sorted(FDA.glob("*.xml")):
        name = path.stem.removeprefix("FAERS2022")
        if name != "Scenario1":
            records[name] = parse(name, "inbox_item")
    report = store.put_many(list(records.values()))
    assert not report.failed
    return records


def check(store: RecordStore, source: Record) -> Detection:
    return detect(store.engine, store.names, source, OPTIONS).detection


def id_match(detection: Detection, record_id: str) -> Match | None:
    return next((m for m in detection.sections.id_matches if m.record_id == record_id), None)


@pytest.mark.parametrize("name", WWUID_CLUSTER, ids=WWUID_CLUSTER)
def test_M11_a_follow_up_report_finds_the_case_by_wwuid_with_a_matching_patient(
    store: RecordStore, loaded: dict[str, Record], name: str
) -> None:
    case = loaded["Scenario1"]
    match = id_match(check(store, loaded[name]), case.id)
    assert match is not None, f"{name} does not find the Scenario 1 Case among its ID matches"
    assert (match.record_type, match.badge, match.status.patient) == ("case", "WWUID", True)


def test_M11_scenario6_is_an_id_match_whose_patient_does_not_match(
    store: RecordStore, loaded: dict[str, Record]
) -> None:
    match = id_match(check(store, loaded["Scenario6"]), loaded["Scenario1"].id)
    assert match is not None
    assert (match.badge, match.status.patient) == ("WWUID", False)


def test_M3_scenario3_clinical_trial_report_does_not_match_the_postmarketing_case(
    store: RecordStore, loaded: dict[str, Record]
) -> None:
    source = loaded["Scenario3"]
    assert source.is_clinical_trial and not loaded["Scenario1"].is_clinical_trial
    detection = check(store, source)
    assert loaded["Scenario1"].id not in {m.record_id for m in detection.sections.all()}


@pytest.mark.parametrize("name", SECOND_CLUSTER, ids=SECOND_CLUSTER)
def test_M10_the_5x_scenarios_form_their_own_cluster(
    store: RecordStore, loaded: dict[str, Record], name: str
) -> None:
    detection = check(store, loaded[name])
    others = {loaded[n].id for n in SECOND_CLUSTER if n != name}
    assert {m.record_id for m in detection.sections.id_matches} == others
    assert all(m.badge == "WWUID" and m.status.patient for m in detection.sections.id_matches)


@pytest.mark.parametrize("name", [*WWUID_CLUSTER, "Scenario6"], ids=[*WWUID_CLUSTER, "Scenario6"])
def test_M10_the_wwuid_cluster_never_reaches_the_5x_cluster(
    store: RecordStore, loaded: dict[str, Record], name: str
) -> None:
    second = {loaded[n].id for n in SECOND_CLUSTER}
    found = {m.record_id for m in check(store, loaded[name]).sections.all()}
    assert not found & second
