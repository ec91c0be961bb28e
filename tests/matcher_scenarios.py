"""Duplicate-detection scenarios, one or more per SPEC rule M1-M26.

Each scenario is data (a source, its candidates, the options) plus a check on
the resulting Detection. The unit tests run them through the brute-force
reference (``rank_reference``); the integration tests store the candidates in
the engine, run ``detect`` and require both the check and equality with the
reference, so every rule is proven on both paths.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from indexer.records import Record
from matcher import Detection, DetectionOptions, Match
from tests.factories import blank
from tests.factories import record as make_record

TODAY = date(2025, 4, 1)


def opts(**kw: Any) -> DetectionOptions:
    base: dict[str, Any] = {"today": TODAY, "mask_phi": False}
    base.update(kw)
    return DetectionOptions(**base)


def source(**fields: Any) -> Record:
    return make_record("II-SRC", **fields)


def ids(matches: list[Match]) -> list[str]:
    return [m.record_id for m in matches]


def section_of(detection: Detection, record_id: str) -> str | None:
    for name, matches in detection.sections:
        if record_id in ids(matches):
            return str(name)
    return None


def row(match: Match, section: str, fld: str) -> tuple[str | None, str | None, str]:
    for r in match.comparison:
        if r.section == section and r.field == fld:
            return r.source, r.match, r.result
    raise AssertionError(f"no row {section}.{fld}")


def the(detection: Detection, record_id: str) -> Match:
    for m in detection.sections.all():
        if m.record_id == record_id:
            return m
    raise AssertionError(f"{record_id} not listed")


@dataclass
class Scenario:
    source: Record
    candidates: list[Record]
    check: Callable[[Detection], None]
    options: DetectionOptions = field(default_factory=opts)


# -- scope and exclusions ----------------------------------------------------------


def m1_other_organization() -> Scenario:
    twin = make_record("C-OTHER", kind="case", organization="ORG-B", identifiers={"wwuid": "W-1"})
    mine = make_record("C-MINE", kind="case", identifiers={"wwuid": "W-1"})

    def check(d: Detection) -> None:
        assert section_of(d, "C-OTHER") is None
        assert section_of(d, "C-MINE") == "id_matches"

    return Scenario(source(identifiers={"wwuid": "W-1"}), [twin, mine], check)


def m2_across_report_types() -> Scenario:
    cand = make_record("C-1", kind="case", report_type="study")

    def check(d: Detection) -> None:
        assert section_of(d, "C-1") == "possible_matches"

    return Scenario(source(report_type="spontaneous"), [cand], check)


def m3_clinical_trial_only_with_clinical_trial() -> Scenario:
    ct = make_record("C-CT", kind="case", study_type="clinical_trial", study_number="S-1")
    pm = make_record("C-PM", kind="case", study_type="postmarketing")

    def check(d: Detection) -> None:
        assert section_of(d, "C-CT") is None
        assert section_of(d, "C-PM") == "possible_matches"

    return Scenario(source(study_type="postmarketing"), [ct, pm], check)


def m4_unknown_study_uses_study_type() -> Scenario:
    ct = make_record("C-CT", kind="case", study_type="clinical_trial", study_number="S-1")
    pm = make_record("C-PM", kind="case", study_type="postmarketing")
    src = source(study="STUDY-X", study_type="postmarketing")

    def check(d: Detection) -> None:
        # The study is known (a clinical-trial study), so the source is a clinical-trial record.
        assert section_of(d, "C-CT") == "possible_matches"
        assert section_of(d, "C-PM") is None

    return Scenario(src, [ct, pm], check, opts(known_studies=frozenset({"STUDY-X"})))


def m4_unknown_study_falls_back() -> Scenario:
    ct = make_record("C-CT", kind="case", study_type="clinical_trial", study_number="S-1")
    pm = make_record("C-PM", kind="case", study_type="postmarketing")
    src = source(study="STUDY-UNKNOWN", study_type="postmarketing")

    def check(d: Detection) -> None:
        assert section_of(d, "C-CT") is None
        assert section_of(d, "C-PM") == "possible_matches"

    return Scenario(src, [ct, pm], check, opts(known_studies=frozenset({"STUDY-X"})))


def m5_country() -> Scenario:
    reporter_fr = {"first_name": "Jacob", "last_name": "Smith", "country": "FR"}
    no_patient = blank("C-FR", reporter=reporter_fr)
    with_patient = blank("C-FR-PAT", reporter=reporter_fr, patient={"initials": "J.S."})
    same_country = blank(
        "C-US", reporter={"first_name": "Jacob", "last_name": "Smith", "country": "USA"}
    )
    no_country = blank("C-NONE", reporter={"first_name": "Jacob", "last_name": "Smith"})
    id_only = blank("C-FR-ID", reporter=reporter_fr, identifiers={"case_identifiers": ["K-5"]})
    id_and_patient = blank(
        "C-FR-ID-PAT",
        reporter=reporter_fr,
        identifiers={"case_identifiers": ["K-6"]},
        patient={"initials": "J.S."},
    )

    def check(d: Detection) -> None:
        assert section_of(d, "C-FR") is None
        assert section_of(d, "C-FR-PAT") == "possible_matches"
        assert section_of(d, "C-US") == "possible_matches"
        assert section_of(d, "C-NONE") == "possible_matches"
        assert section_of(d, "C-FR-ID") is None  # M5 scopes ID Matches too
        assert section_of(d, "C-FR-ID-PAT") == "id_matches"

    candidates = [no_patient, with_patient, same_country, no_country, id_only, id_and_patient]
    return Scenario(source(identifiers={"case_identifiers": ["K-5", "K-6"]}), candidates, check)


def m6_old_new_info_date() -> Scenario:
    old = make_record("C-OLD", kind="case", receipt_date="2022-01-01", new_info_date="2023-03-31")
    old_id = make_record(
        "C-OLD-ID", kind="case", receipt_date="2022-01-01", identifiers={"uid": "U-9"}
    )
    recent = make_record(
        "C-NEW", kind="case", receipt_date="2022-01-01", new_info_date="2023-04-01"
    )

    def check(d: Detection) -> None:
        assert section_of(d, "C-OLD") is None
        assert section_of(d, "C-OLD-ID") == "id_matches"
        assert section_of(d, "C-NEW") == "possible_matches"

    return Scenario(source(identifiers={"uid": "U-9"}), [old, old_id, recent], check)


def m7_closed_states() -> Scenario:
    superseded = make_record("C-SUP", kind="case", state="superseded")
    promoted = make_record("II-PRO", state="promoted")
    duplicate = make_record("II-DUP", state="duplicate")
    rejected = make_record("II-REJ", state="rejected")
    open_item = make_record("II-OPEN", state="triage")
    approved = make_record("C-APP", kind="case", state="approved")

    def check(d: Detection) -> None:
        for gone in ("C-SUP", "II-PRO", "II-DUP", "II-REJ"):
            assert section_of(d, gone) is None, gone
        assert section_of(d, "II-OPEN") == "possible_matches"
        assert section_of(d, "C-APP") == "possible_matches"

    cands = [superseded, promoted, duplicate, rejected, open_item, approved]
    return Scenario(source(), cands, check)


def m8_blinded_and_no_information() -> Scenario:
    product = [{"study_product": "SP-1", "rank": 1}]
    blinded = blank("C-BLIND", blinded=True, products=product)
    open_label = blank("C-OPEN", products=product)
    unknown_initials = blank("C-UNK", patient={"initials": "UNK"})

    def check(d: Detection) -> None:
        assert section_of(d, "C-BLIND") is None
        assert section_of(d, "C-OPEN") == "possible_matches"
        assert section_of(d, "C-UNK") is None

    src = source(products=product, patient={"initials": "Unknown"})
    return Scenario(src, [blinded, open_label, unknown_initials], check)


def m9_inbox_items_setting(on: bool) -> Scenario:
    item = make_record("II-OTHER")
    case = make_record("C-1", kind="case")

    def check(d: Detection) -> None:
        assert section_of(d, "II-OTHER") == ("possible_matches" if on else None)
        assert section_of(d, "C-1") == "possible_matches"
        if on:
            assert the(d, "II-OTHER").record_type == "inbox_item"

    return Scenario(source(), [item, case], check, opts(match_inbox_items=on))


# -- ID and Subject Matches --------------------------------------------------------


def m10_cross_field_ids() -> Scenario:
    cross = blank("C-X", identifiers={"external_system_uid": " w-42 "})
    ci = blank("C-CI", identifiers={"case_identifiers": ["ACME-1", "CI-SRC-2"]})
    vault = blank("C-V", identifiers={"case_vault_global_id": "CV-7"})
    other = blank("C-NO", identifiers={"uid": "W-43"})

    def check(d: Detection) -> None:
        assert set(ids(d.sections.id_matches)) == {"C-X", "C-CI", "C-V"}
        assert section_of(d, "C-NO") is None

    src = source(
        identifiers={
            "wwuid": "W-42",
            "case_identifiers": ["acme-1"],
            "event_vault_global_id": "cv-7",
        }
    )
    return Scenario(src, [cross, ci, vault, other], check)


def m11_badges() -> Scenario:
    ww = blank("C-WW", identifiers={"wwuid": "W-1"})
    both = blank("C-BOTH", identifiers={"wwuid": "W-1", "uid": "U-1"})
    cross = blank("C-ID", identifiers={"uid": "W-1"})
    uid = blank("C-UID", identifiers={"uid": "U-1"})

    def check(d: Detection) -> None:
        badges = {m.record_id: m.badge for m in d.sections.id_matches}
        assert badges == {"C-WW": "WWUID", "C-BOTH": "WWUID", "C-ID": "ID", "C-UID": "ID"}
        assert ids(d.sections.id_matches)[:2] == ["C-BOTH", "C-WW"]

    return Scenario(
        source(identifiers={"wwuid": "W-1", "uid": "U-1"}), [ww, both, cross, uid], check
    )


def _ct(record_id: str, **fields: Any) -> Record:
    fields.setdefault("study_type", "clinical_trial")
    return blank(record_id, **fields)


def m12_subject_ranking() -> Scenario:
    edc = _ct("C-EDC", patient={"edc_subject": "SUBJ-1"}, new_info_date="2025-01-01")
    mrn = _ct(
        "C-MRN",
        study_number="S-1",
        patient={"mrn": {"investigation": "INV-9"}},
        new_info_date="2025-03-01",
    )
    initials = _ct(
        "C-INI", study_number="S-1", patient={"initials": "JS"}, new_info_date="2025-03-20"
    )
    other_study = _ct("C-S2", study_number="S-2", patient={"initials": "JS"})

    def check(d: Detection) -> None:
        assert ids(d.sections.subject_matches) == ["C-EDC", "C-MRN", "C-INI"]
        assert section_of(d, "C-S2") == "possible_matches"
        assert d.sections.subject_matches[0].status.patient

    src = source(
        study_type="clinical_trial",
        study_number="S-1",
        patient={"initials": "JS", "edc_subject": "subj-1", "mrn": {"investigation": "INV-9"}},
    )
    return Scenario(src, [initials, mrn, edc, other_study], check)


# -- Possible Matches --------------------------------------------------------------


def m13_any_field() -> Scenario:
    event_only = blank("C-EV", events=[{"event_reported": "Headache", "rank": 1}])
    nothing = blank(
        "C-NOTHING",
        patient={"sex": "female"},
        reporter={"country": "US", "qualification": "physician"},
    )

    def check(d: Detection) -> None:
        assert section_of(d, "C-EV") == "possible_matches"
        assert section_of(d, "C-NOTHING") is None

    src = source(
        reporter={
            "first_name": "Jacob",
            "last_name": "Smith",
            "country": "US",
            "qualification": "physician",
        },
        events=[{"event_reported": "headache", "rank": 1}],
    )
    return Scenario(src, [event_only, nothing], check)


def m14_category_order() -> Scenario:
    events = [{"event_reported": "headache", "meddra_pt_code": "10019211", "rank": 1}]
    products = [{"product": "PRD-17", "product_reported": "Aspirin 100 mg", "rank": 1}]
    patient = blank("C-PAT", patient={"initials": "JS"})
    study = blank("C-STU", study_number="ST-1", products=products, events=events)
    reporter = blank(
        "C-REP",
        reporter={"first_name": "Jacob", "last_name": "Smith", "country": "US"},
        products=products,
    )
    product = blank("C-PRO", products=products, events=events)
    product_fewer = blank("C-PRO-1", products=[{"product": "PRD-17", "rank": 1}])
    event = blank("C-EVT", events=events)
    tie_a = blank("C-TIE-A", events=events, new_info_date="2025-03-01")
    tie_b = blank("C-TIE-B", events=events, new_info_date="2025-03-01")
    tie_newer = blank("C-TIE-NEW", events=events, new_info_date="2025-03-02")

    def check(d: Detection) -> None:
        assert ids(d.sections.possible_matches) == [
            "C-PAT",
            "C-STU",
            "C-REP",
            "C-PRO",
            "C-PRO-1",
            "C-TIE-NEW",
            "C-EVT",
            "C-TIE-A",
            "C-TIE-B",
        ]

    src = source(study_number="ST-1", products=products, events=events)
    cands = [tie_b, event, tie_a, product_fewer, product, reporter, study, patient, tie_newer]
    return Scenario(src, cands, check)


def m15_one_section() -> Scenario:
    everything = make_record(
        "C-ALL",
        kind="case",
        study_type="clinical_trial",
        study_number="S-1",
        identifiers={"wwuid": "W-1"},
    )
    subject_and_possible = make_record(
        "C-SUB", kind="case", study_type="clinical_trial", study_number="S-1"
    )

    def check(d: Detection) -> None:
        listed = ids(d.sections.all())
        assert len(listed) == len(set(listed))
        assert section_of(d, "C-ALL") == "id_matches"
        assert section_of(d, "C-SUB") == "subject_matches"

    src = source(study_type="clinical_trial", study_number="S-1", identifiers={"wwuid": "W-1"})
    return Scenario(src, [everything, subject_and_possible], check)


def m26_cap(cap: int | None) -> Scenario:
    cands = [
        blank(
            f"C-{i:03d}",
            patient={"initials": "JS"} if i % 7 == 0 else {},
            events=[{"event_reported": "headache", "rank": 1}],
            products=[{"product": "PRD-17", "rank": 1}] if i % 3 == 0 else [],
            new_info_date=f"2025-01-{1 + i % 28:02d}",
        )
        for i in range(40)
    ]

    def check(d: Detection) -> None:
        if cap is not None:
            assert len(d.sections.possible_matches) == cap

    src = source(events=[{"event_reported": "headache", "rank": 1}])
    return Scenario(src, cands, check, opts(max_possible_matches=cap))


# -- match quality, table, masking, profiles ---------------------------------------


def m16_exact_cross_field() -> Scenario:
    cand = blank("C-X", identifiers={"external_system_uid": "w-42"}, patient={"initials": "j.s."})

    def check(d: Detection) -> None:
        m = the(d, "C-X")
        assert row(m, "identifiers", "wwuid~external_system_uid") == ("W-42", "w-42", "exact")
        assert row(m, "patient", "initials")[2] == "exact"

    return Scenario(source(identifiers={"wwuid": "W-42"}), [cand], check)


def m17_partial() -> Scenario:
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

    def check(d: Detection) -> None:
        m = the(d, "C-1")
        assert row(m, "details", "receipt_date")[2] == "partial"
        # Names swapped (N3): each cross-field pair is a row of its own, and the rows
        # comparing the dissimilar first names and last names say so.
        assert row(m, "reporter", "first_name~last_name") == ("Jacob", "Jakob", "partial")
        assert row(m, "reporter", "last_name~first_name") == ("Smith", "Smith", "partial")
        assert row(m, "reporter", "first_name")[2] == "none"
        assert row(m, "reporter", "last_name")[2] == "none"
        assert m.status.reporter
        assert row(m, "products", "product_reported")[2] == "partial"
        # 2025-02-03 vs 2025-03-02: day and month swapped
        assert row(m, "events", "onset")[2] == "partial"

    return Scenario(src, [cand], check)


def m18_status_bars() -> Scenario:
    cand = blank(
        "C-1",
        patient={"dob": "1980"},
        reporter={"qualification": "physician", "country": "US"},
        events=[{"meddra_pt_code": "10019211", "rank": 1}],
    )

    def check(d: Detection) -> None:
        assert the(d, "C-1").status.model_dump() == {
            "patient": True,
            "country": True,
            "reporter": True,
            "products": False,
            "events": True,
        }

    return Scenario(source(reporter={"qualification": "physician", "country": "US"}), [cand], check)


def m19_table_limits() -> Scenario:
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

    def check(d: Detection) -> None:
        m = the(d, "C-1")
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

    return Scenario(src, [cand], check)


M20_PHI = ("Anna", "Berg", "1980-06-02", "Jacob", "Smith")


def m20_masking(mask: bool) -> Scenario:
    patient = {"first_name": "Anna", "last_name": "Berg", "initials": "AB", "dob": "1980-06-02"}
    cand = blank(
        "C-1",
        patient=patient,
        events=[{"event_reported": "rash", "onset": "2025-01-01", "rank": 1}],
    )

    def check(d: Detection) -> None:
        m = the(d, "C-1")
        if mask:
            assert row(m, "patient", "first_name") == ("***", "***", "exact")
            assert row(m, "events", "onset") == (None, "***", "none")
            assert row(m, "reporter", "country") == ("***", "***", "exact")
            dumped = d.model_dump_json()
            for phi in M20_PHI:
                assert phi not in dumped
        else:
            assert row(m, "patient", "first_name") == ("Anna", "Anna", "exact")

    return Scenario(source(patient=patient), [cand], check, opts(mask_phi=mask))


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


def m24_deep_22r1() -> Scenario:
    src, cands = _deep_records()

    def check(d: Detection) -> None:
        tags = {m.record_id: m.tag for m in d.sections.possible_matches}
        assert tags["C-LIKELY"] == "likely"
        assert tags["C-POSSIBLE"] == "possible"
        assert "C-WEAK" not in tags
        assert ids(d.sections.possible_matches)[0] == "C-LIKELY"

    return Scenario(src, cands, check, opts(profile="deep_22r1"))


def m25_deep_22r3() -> Scenario:
    src, cands = _deep_records()

    def check(d: Detection) -> None:
        tags = {m.record_id: m.tag for m in d.sections.possible_matches}
        assert tags["C-MRN"] == "likely"
        assert tags["C-STUDY"] == "likely"
        assert tags["C-WEAK"] == "possible"
        order = ids(d.sections.possible_matches)
        assert order.index("C-WEAK") < order.index("C-STUDY")  # product ranks above event

    return Scenario(src, cands, check, opts(profile="deep_22r3"))


SCENARIOS: dict[str, Callable[[], Scenario]] = {
    "M1": m1_other_organization,
    "M2": m2_across_report_types,
    "M3": m3_clinical_trial_only_with_clinical_trial,
    "M4-known": m4_unknown_study_uses_study_type,
    "M4-unknown": m4_unknown_study_falls_back,
    "M5": m5_country,
    "M6": m6_old_new_info_date,
    "M7": m7_closed_states,
    "M8": m8_blinded_and_no_information,
    "M9-on": lambda: m9_inbox_items_setting(True),
    "M9-off": lambda: m9_inbox_items_setting(False),
    "M10": m10_cross_field_ids,
    "M11": m11_badges,
    "M12": m12_subject_ranking,
    "M13": m13_any_field,
    "M14": m14_category_order,
    "M15": m15_one_section,
    "M16": m16_exact_cross_field,
    "M17": m17_partial,
    "M18": m18_status_bars,
    "M19": m19_table_limits,
    "M20-masked": lambda: m20_masking(True),
    "M20-clear": lambda: m20_masking(False),
    "M24": m24_deep_22r1,
    "M25": m25_deep_22r3,
    "M26": lambda: m26_cap(5),
}
