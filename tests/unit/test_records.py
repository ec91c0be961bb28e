"""The record JSON of SPEC §7: strict validation, clear errors, PHI never repeated."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from indexer.records import (
    CLOSED_INBOX_STATES,
    NOT_IN_FLIGHT_CASE_STATES,
    PHI_FIELDS,
    CaseState,
    InboxState,
    Record,
    describe_errors,
    parse_record,
)

#: Two days ahead, so the dates stay in the future when a long run crosses midnight.
IN_TWO_DAYS = (date.today() + timedelta(days=2)).isoformat()
NEXT_YEAR = str(date.today().year + 1)

#: The SPEC §7 example, as an Intake-API caller sends it.
SPEC_EXAMPLE: dict[str, Any] = {
    "id": "II-000123",
    "kind": "inbox_item",
    "organization": "ORG-A",
    "state": "new",
    "version": 1,
    "source": "intake_api",
    "report_type": "spontaneous",
    "study_type": "postmarketing",
    "study_number": None,
    "study_arm": None,
    "blinded": False,
    "receipt_date": "2025-03-01",
    "new_info_date": "2025-03-01",
    "localization": "global",
    "identifiers": {
        "case_identifiers": ["ACME-2025-0001"],
        "wwuid": "US-ACME-0001",
        "uid": None,
        "external_system_uid": None,
        "case_vault_global_id": None,
        "event_vault_global_id": None,
    },
    "patient": {
        "initials": "JS",
        "first_name": None,
        "last_name": None,
        "sex": "female",
        "dob": "1980-06",
        "age": {"value": 44, "unit": "year"},
        "age_group": "adult",
        "gestation": None,
        "height": None,
        "weight": None,
        "mrn": {"gp": None, "specialist": None, "hospital": "H-991", "investigation": None},
        "edc_subject": None,
        "reason_omitted": {"first_name": "privacy"},
    },
    "reporter": {
        "first_name": "Jacob",
        "last_name": "Smith",
        "organization": None,
        "qualification": "physician",
        "country": "US",
        "reason_omitted": {},
    },
    "products": [
        {
            "product": "PRD-17",
            "product_reported": "Aspirin 100 mg",
            "study_product": None,
            "rank": 1,
            "drug_role": "suspect",
            "blinded": False,
        }
    ],
    "events": [
        {
            "event_reported": "severe headache",
            "meddra_pt_code": "10019211",
            "meddra_pt": "Headache",
            "country": "US",
            "onset": "2025-02-20",
            "seriousness": ["hospitalization"],
            "rank": 1,
        }
    ],
    "narrative": "...",
    "documents": [],
}


def _minimal(**extra: Any) -> dict[str, Any]:
    return {"id": "II-1", "kind": "inbox_item", "organization": "ORG-A", **extra}


def _errors(data: dict[str, Any]) -> list[dict[str, Any]]:
    with pytest.raises(ValidationError) as info:
        Record.model_validate(data)
    return describe_errors(info.value)


def _only_error(data: dict[str, Any]) -> dict[str, Any]:
    errors = _errors(data)
    assert len(errors) == 1, errors
    return errors[0]


def test_spec_example_validates_and_round_trips() -> None:
    record = Record.model_validate(SPEC_EXAMPLE)
    assert record.patient.dob is not None and record.patient.dob.precision == "month"
    dumped = record.model_dump(mode="json")
    assert Record.model_validate(dumped) == record
    assert Record.model_validate_json(orjson.dumps(dumped)) == record


def test_minimal_record_gets_defaults() -> None:
    record = Record.model_validate(_minimal())
    assert (record.state, record.version, record.source.value, record.localization) == (
        "new",
        1,
        "intake_api",
        "global",
    )
    assert record.identifiers.all() == [] and record.products == [] and record.events == []


def test_a_case_gets_its_id_as_case_id_and_a_versioned_doc_id() -> None:
    case = Record.model_validate(
        {"id": "C-9", "kind": "case", "organization": "ORG-A", "version": 3}
    )
    assert case.case_id == "C-9" and case.doc_id == "ORG-A|C-9~v3"
    item = Record.model_validate(_minimal())
    assert item.case_id is None and item.doc_id == "ORG-A|II-1"


def test_parse_record_fills_the_kind_from_the_route() -> None:
    assert parse_record({"id": "C-1", "organization": "O"}, kind="case").kind.value == "case"
    stated = parse_record({"id": "C-1", "organization": "O", "kind": "inbox_item"}, kind="case")
    assert stated.kind.value == "inbox_item"


@pytest.mark.parametrize(
    ("data", "field", "fragment"),
    [
        (_minimal(receipt_date=IN_TWO_DAYS), "receipt_date", "in the future"),
        (_minimal(new_info_date=NEXT_YEAR), "new_info_date", "in the future"),
        (_minimal(patient={"dob": IN_TWO_DAYS}), "patient.dob", "in the future"),
        (_minimal(events=[{"onset": IN_TWO_DAYS}]), "events.0.onset", "in the future"),
        (_minimal(receipt_date="2025-13-01"), "receipt_date", "month must be between"),
        (_minimal(receipt_date="03/01/2025"), "receipt_date", "YYYY, YYYY-MM or YYYY-MM-DD"),
        (_minimal(patient={"dob": "1980-02-30"}), "patient.dob", "day does not exist"),
        (_minimal(patient={"sex": "F"}), "patient.sex", "'female', 'male', 'unknown' or 'other'"),
        (_minimal(source="fax"), "source", "'manual', 'intake_api', 'e2b'"),
        (_minimal(state="promoted_twice"), "state", "allowed: new, triage"),
        (
            {"id": "C-1", "kind": "case", "organization": "O", "state": "triage"},
            "state",
            "not a case state; allowed: new, in_progress",
        ),
        (_minimal(kind="report"), "kind", "'case' or 'inbox_item'"),
        (_minimal(reporter={"qualification": "nurse"}), "reporter.qualification", "'physician'"),
        (_minimal(products=[{"drug_role": "victim"}]), "products.0.drug_role", "'suspect'"),
        (_minimal(events=[{"seriousness": ["bad"]}]), "events.0.seriousness.0", "'death'"),
        (_minimal(events=[{"meddra_pt_code": "1001921"}]), "events.0.meddra_pt_code", r"\d{8}"),
        (
            _minimal(patient={"reason_omitted": {"dob": "forgot"}}),
            "patient.reason_omitted.dob",
            "'privacy'",
        ),
        (_minimal(version=0), "version", "greater than or equal to 1"),
        (_minimal(products=[{"rank": 0}]), "products.0.rank", "greater than or equal to 1"),
    ],
    ids=[
        "future-receipt-date",
        "future-new-info-year",
        "future-dob",
        "future-onset",
        "impossible-month",
        "us-date-format",
        "impossible-dob",
        "unknown-sex",
        "unknown-source",
        "unknown-inbox-state",
        "inbox-state-on-a-case",
        "unknown-kind",
        "unknown-qualification",
        "unknown-drug-role",
        "unknown-seriousness",
        "meddra-code-not-8-digits",
        "unknown-reason-omitted",
        "version-zero",
        "rank-zero",
    ],
)
def test_invalid_value_names_the_field_and_what_is_allowed(
    data: dict[str, Any], field: str, fragment: str
) -> None:
    error = _only_error(data)
    assert error["field"] == field
    assert fragment in error["error"], error


@pytest.mark.parametrize(
    ("data", "field", "value"),
    [
        (_minimal(receipt_date="2025-13-01"), "receipt_date", "2025-13-01"),
        (_minimal(source="fax"), "source", "fax"),
        (_minimal(state="bogus"), "state", "bogus"),
    ],
    ids=["date", "enum", "state"],
)
def test_non_phi_value_is_shown(data: dict[str, Any], field: str, value: str) -> None:
    error = _only_error(data)
    assert (error["field"], error["value"]) == (field, value)


@pytest.mark.parametrize(
    "missing",
    ["id", "kind", "organization"],
    ids=["id", "kind", "organization"],
)
def test_required_field_missing_is_named(missing: str) -> None:
    data = _minimal()
    del data[missing]
    error = _only_error(data)
    assert error["field"] == missing and error["error"] == "Field required"


@pytest.mark.parametrize("value", ["", "   "], ids=["empty", "blank"])
def test_empty_organization_is_refused(value: str) -> None:
    error = _only_error(_minimal(organization=value))
    assert error["field"] == "organization" and "at least 1 character" in error["error"]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (_minimal(nickname="x"), "nickname"),
        (_minimal(patient={"full_name": "Jacob Smith"}), "patient.full_name"),
        (_minimal(identifiers={"ssn": "123-45-6789"}), "identifiers.ssn"),
        (_minimal(events=[{"onset_time": "10:00"}]), "events.0.onset_time"),
    ],
    ids=["top-level", "patient", "identifiers", "event"],
)
def test_unknown_fields_are_refused_and_their_value_masked(
    data: dict[str, Any], field: str
) -> None:
    error = _only_error(data)
    assert error == {"field": field, "value": "***", "error": "unknown field; not accepted here"}


# -- PHI never appears in an error (M20, M21) ------------------------------------------

_SECRET = "Zyxwvuts"
_PHI_INVALID: list[tuple[str, dict[str, Any]]] = [
    ("patient.first_name", {"patient": {"first_name": _SECRET * 30}}),
    ("patient.last_name", {"patient": {"last_name": _SECRET * 30}}),
    ("patient.initials", {"patient": {"initials": _SECRET * 30}}),
    ("patient.dob", {"patient": {"dob": f"{_SECRET}-1980"}}),
    ("patient.dob", {"patient": {"dob": "1980-02-31"}}),
    ("patient.sex", {"patient": {"sex": _SECRET}}),
    ("patient.mrn.hospital", {"patient": {"mrn": {"hospital": _SECRET * 30}}}),
    ("patient.mrn.investigation", {"patient": {"mrn": {"investigation": 12.5}}}),
    ("reporter.first_name", {"reporter": {"first_name": _SECRET * 30}}),
    ("reporter.last_name", {"reporter": {"last_name": _SECRET * 30}}),
    ("reporter.country", {"reporter": {"country": _SECRET * 30}}),
    ("events.0.onset", {"events": [{"onset": f"{_SECRET}"}]}),
    ("events.0.onset", {"events": [{"onset": "2024-04-31"}]}),
]


@pytest.mark.parametrize(
    ("field", "extra"),
    _PHI_INVALID,
    ids=[f"{field}-{i}" for i, (field, _) in enumerate(_PHI_INVALID)],
)
def test_phi_value_is_masked_and_never_appears_in_the_error(
    field: str, extra: dict[str, Any]
) -> None:
    data = _minimal(**extra)
    error = _only_error(data)
    assert error["field"] == field
    assert error["value"] == "***"
    text = str(error)
    assert _SECRET not in text and "1980-02-31" not in text and "2024-04-31" not in text


def test_every_phi_field_is_a_real_record_field() -> None:
    schema = Record.model_json_schema()
    defs = schema["$defs"]

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        for option in node.get("anyOf", [node]):
            if "$ref" in option:
                return defs[option["$ref"].rsplit("/", 1)[1]]
            if option.get("type") == "array" and "$ref" in option.get("items", {}):
                return defs[option["items"]["$ref"].rsplit("/", 1)[1]]
        return node

    for path in PHI_FIELDS:
        node: dict[str, Any] = schema
        for part in path.split("."):
            assert part in node["properties"], path
            node = resolve(node["properties"][part])


# -- reason omitted ------------------------------------------------------------------


def test_reason_omitted_is_kept_without_a_value() -> None:
    record = Record.model_validate(
        _minimal(
            patient={"reason_omitted": {"initials": "privacy", "dob": "asked_but_unknown"}},
            reporter={"reason_omitted": {"last_name": "masked"}},
        )
    )
    assert record.patient.initials is None
    assert {k: v.value for k, v in record.patient.reason_omitted.items()} == {
        "initials": "privacy",
        "dob": "asked_but_unknown",
    }
    assert record.reporter.reason_omitted["last_name"].value == "masked"


def test_strings_are_stripped() -> None:
    record = Record.model_validate(_minimal(organization="  ORG-A  ", patient={"initials": " JS "}))
    assert record.organization == "ORG-A" and record.patient.initials == "JS"


# -- conveniences --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("study_type", "expected"),
    [("clinical_trial", True), (" Clinical_Trial ", True), ("postmarketing", False), (None, False)],
    ids=["clinical-trial", "case-and-spaces", "postmarketing", "unset"],
)
def test_is_clinical_trial(study_type: str | None, expected: bool) -> None:
    assert Record.model_validate(_minimal(study_type=study_type)).is_clinical_trial is expected


def test_primary_product_and_event_are_rank_one() -> None:
    record = Record.model_validate(
        _minimal(
            products=[{"product": "B", "rank": 2}, {"product": "A", "rank": 1}],
            events=[
                {"event_reported": "second", "rank": 3},
                {"event_reported": "first", "rank": 1},
            ],
        )
    )
    assert record.primary_product is not None and record.primary_product.product == "A"
    assert record.primary_event is not None and record.primary_event.event_reported == "first"
    assert Record.model_validate(_minimal()).primary_product is None


def test_identifiers_all_lists_case_identifiers_first() -> None:
    record = Record.model_validate(
        _minimal(
            identifiers={
                "case_identifiers": ["A-1", "A-2"],
                "external_system_uid": "X-9",
                "wwuid": "US-A-1",
            }
        )
    )
    assert record.identifiers.all() == [
        ("case_identifier", "A-1"),
        ("case_identifier", "A-2"),
        ("wwuid", "US-A-1"),
        ("external_system_uid", "X-9"),
    ]


def test_state_sets_are_consistent_with_the_enums() -> None:
    assert {s.value for s in InboxState} >= CLOSED_INBOX_STATES
    assert {s.value for s in CaseState} >= NOT_IN_FLIGHT_CASE_STATES
    assert (
        "approved" in NOT_IN_FLIGHT_CASE_STATES and "in_progress" not in NOT_IN_FLIGHT_CASE_STATES
    )


def test_module_examples_hold() -> None:
    import doctest

    import indexer.records as module

    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
