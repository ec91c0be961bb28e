"""Index documents: golden JSON per representative record, and fit with mappings/records.json.

Regenerate the golden files after an intended change with
``CASEMATCH_UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/test_documents.py`` and
review the diff like code.
"""

from __future__ import annotations

import copy
import os
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest

from benchmarks.generator import Population, generate_queries
from indexer.documents import build_document, is_searchable, load_mapping
from indexer.records import CaseState, InboxState, Record

GOLDEN_DIR = Path(__file__).resolve().parent.parent / "golden" / "documents"
UPDATE = os.environ.get("CASEMATCH_UPDATE_GOLDEN") == "1"

RECORDS: dict[str, dict[str, Any]] = {
    "inbox_item_postmarketing": {
        "id": "II-000123",
        "kind": "inbox_item",
        "organization": "ORG-A",
        "state": "new",
        "source": "intake_api",
        "report_type": "spontaneous",
        "study_type": "postmarketing",
        "receipt_date": "2025-03-01",
        "new_info_date": "2025-03-01",
        "identifiers": {"case_identifiers": [" ACME-2025-0001 "], "wwuid": "US-ACME-0001"},
        "patient": {
            "initials": "J.S.",
            "sex": "female",
            "dob": "1980-06",
            "age": {"value": 44, "unit": "year"},
            "age_group": "adult",
            "mrn": {"hospital": "H-991"},
            "reason_omitted": {"first_name": "privacy"},
        },
        "reporter": {
            "first_name": "Jacob",
            "last_name": "Smith",
            "qualification": "physician",
            "country": "United States",
        },
        "products": [
            {
                "product": "PRD-0001",
                "product_reported": "Aspirin 100 mg tablets",
                "rank": 1,
                "drug_role": "suspect",
            }
        ],
        "events": [
            {
                "event_reported": "severe headache",
                "meddra_pt_code": "10019211",
                "meddra_pt": "Headache",
                "country": "USA",
                "onset": "2025-02-20",
                "seriousness": ["hospitalization"],
                "rank": 1,
            }
        ],
        "narrative": "Patient developed a severe headache.",
    },
    "case_clinical_trial_blinded": {
        "id": "CS-0000042",
        "kind": "case",
        "organization": "ORG-B",
        "state": "medical_review",
        "version": 2,
        "source": "edc",
        "report_type": "study",
        "study_type": "clinical_trial",
        "study": "BOREAL 101 phase III efficacy study",
        "study_number": "BOREAL-101",
        "blinded": True,
        "receipt_date": "2024-11-02",
        "new_info_date": "2025-01-15",
        "localization": "ja",
        "identifiers": {
            "case_identifiers": ["BOREAL-2024-000042", "LEGACY-42"],
            "wwuid": "JP-BOREAL-000042",
            "uid": "UID-BOREAL-0000042",
            "case_vault_global_id": "VV-CASE-00000042",
            "event_vault_global_id": "VV-EVT-00000042",
        },
        "patient": {
            "initials": "YS",
            "first_name": "Yūko",
            "last_name": "Satō",
            "sex": "female",
            "dob": "1961-11-29",
            "mrn": {"investigation": "INV-012-0345"},
            "edc_subject": "BOREAL-101-012-0345",
        },
        "reporter": {
            "first_name": "Kenji",
            "last_name": "Tanaka",
            "organization": "University Medical Center",
            "qualification": "physician",
            "country": "JP",
        },
        "products": [
            {
                "product": "PRD-0017",
                "product_reported": "Pembrolizumab 25 mg/ml concentrate for infusion",
                "study_product": "BOREAL-101-IP",
                "study_product_role": "investigational",
                "rank": 1,
                "drug_role": "suspect",
                "blinded": True,
            },
            {"product_reported": "folic acid 5 mg", "rank": 2, "drug_role": "concomitant"},
        ],
        "events": [
            {
                "event_reported": "ILD",
                "meddra_pt_code": "10022611",
                "meddra_pt": "Interstitial lung disease",
                "onset": "2024-10",
                "seriousness": ["life_threatening"],
                "rank": 1,
            },
            {"event_reported": "Cough", "rank": 2},
        ],
    },
    "case_no_information_values": {
        "id": "CS-0000007",
        "kind": "case",
        "organization": "ORG-C",
        "state": "void",
        "study_type": "postmarketing",
        "receipt_date": "2023",
        "identifiers": {
            "case_identifiers": ["UNK"],
            "wwuid": "  ",
            "external_system_uid": "FR-EMA-E1",
        },
        "patient": {
            "initials": "UNK",
            "first_name": "Privacy",
            "last_name": "Placeholder",
            "sex": "unknown",
            "mrn": {"gp": "N/A"},
            "reason_omitted": {"dob": "asked_but_unknown"},
        },
        "reporter": {
            "first_name": "Jean-Pierre",
            "last_name": "O'Néil",
            "country": "Côte d'Ivoire",
            "reason_omitted": {"qualification": "unknown"},
        },
        "events": [{"event_reported": "UNK", "meddra_pt": "Nausea", "rank": 1}],
    },
    "inbox_item_promoted": {
        "id": "II-000999",
        "kind": "inbox_item",
        "organization": "ORG-A",
        "state": "promoted",
        "receipt_date": "2025-06-01",
        "patient": {"initials": "AB"},
    },
    "case_superseded_version": {
        "id": "CS-0000100",
        "kind": "case",
        "case_id": "CS-0000100",
        "organization": "ORG-A",
        "state": "superseded",
        "version": 1,
        "receipt_date": "2022-05-05",
    },
}


def _canonical(doc: dict[str, Any]) -> bytes:
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


@pytest.mark.parametrize("name", sorted(RECORDS), ids=sorted(RECORDS))
def test_document_matches_golden(name: str) -> None:
    record = Record.model_validate(RECORDS[name])
    actual = _canonical(build_document(record))
    path = GOLDEN_DIR / f"{name}.json"
    if UPDATE:
        GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
        path.write_bytes(actual)
    assert path.exists(), f"missing {path}; create it with CASEMATCH_UPDATE_GOLDEN=1"
    assert orjson.loads(actual) == orjson.loads(path.read_bytes())
    assert actual == path.read_bytes(), "same content, different layout: regenerate the golden file"


def test_build_document_is_pure() -> None:
    record = Record.model_validate(RECORDS["case_clinical_trial_blinded"])
    before = copy.deepcopy(record)
    assert build_document(record) == build_document(record)
    assert record == before


# -- the mapping accepts every document (strict dynamic mapping never rejects) --------


def _check_value(path: str, spec: dict[str, Any], value: Any) -> None:
    if value is None:
        return
    if isinstance(value, list):
        for item in value:
            _check_value(path, spec, item)
        return
    kind = spec.get("type", "object")
    if kind in {"object", "nested"}:
        if spec.get("enabled") is False:
            return
        assert isinstance(value, dict), f"{path}: object expected, got {value!r}"
        _check_object(path, spec["properties"], value)
    elif kind in {"keyword", "text"}:
        assert isinstance(value, str), f"{path}: string expected, got {value!r}"
    elif kind == "boolean":
        assert isinstance(value, bool), f"{path}: boolean expected, got {value!r}"
    elif kind == "integer":
        assert isinstance(value, int) and not isinstance(value, bool), path
    elif kind == "date":
        assert spec.get("format") == "strict_date", path
        date.fromisoformat(value)
        assert len(value) == 10, f"{path}: strict_date needs YYYY-MM-DD, got {value!r}"
    else:  # pragma: no cover - a new mapping type needs a rule here
        raise AssertionError(f"{path}: no check for mapping type {kind}")


def _check_object(path: str, properties: dict[str, Any], doc: dict[str, Any]) -> None:
    for key, value in doc.items():
        where = f"{path}.{key}" if path else key
        assert key in properties, f"{where} is not in mappings/records.json"
        _check_value(where, properties[key], value)


def _generated_records() -> list[Record]:
    today = date(2026, 6, 30)
    population = Population(seed=11, n=400, today=today)
    records = list(population)
    records += [q.source for q in generate_queries(11, population, 64)]
    return records


@pytest.mark.parametrize(
    "record",
    [Record.model_validate(r) for r in RECORDS.values()] + _generated_records(),
    ids=lambda r: r.id,
)
def test_every_document_fits_the_strict_mapping(record: Record) -> None:
    mapping = load_mapping("records")["mappings"]
    assert mapping["dynamic"] == "strict"
    _check_object("", mapping["properties"], build_document(record))


def test_every_mapped_field_is_built() -> None:
    """The mapping carries no dead fields: each property appears in some document."""
    seen: set[str] = set()

    def collect(prefix: str, value: Any) -> None:
        if prefix:
            seen.add(prefix)
        if isinstance(value, list):
            for item in value:
                collect(prefix, item)
        elif isinstance(value, dict) and prefix != "record":
            for key, inner in value.items():
                collect(f"{prefix}.{key}" if prefix else key, inner)

    for record in [Record.model_validate(r) for r in RECORDS.values()]:
        collect("", build_document(record))

    def mapped(prefix: str, properties: dict[str, Any]) -> set[str]:
        out: set[str] = set()
        for key, spec in properties.items():
            where = f"{prefix}.{key}" if prefix else key
            out.add(where)
            if "properties" in spec:
                out |= mapped(where, spec["properties"])
        return out

    missing = mapped("", load_mapping("records")["mappings"]["properties"]) - seen
    assert not missing, f"mapped but never built: {sorted(missing)}"


# -- searchability (I2, I3, M7) ------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "state", "searchable"),
    [("case", s.value, s.value != "superseded") for s in CaseState]
    + [
        ("inbox_item", s.value, s.value not in {"promoted", "duplicate", "rejected", "superseded"})
        for s in InboxState
    ],
    ids=lambda v: str(v),
)
def test_I3_M7_searchable_states(kind: str, state: str, searchable: bool) -> None:
    assert is_searchable(kind, state) is searchable


@pytest.mark.parametrize(
    ("new_info", "receipt", "indexed"),
    [
        ("2023", None, "2023-12-31"),
        ("2023-02", None, "2023-02-28"),
        ("2023-02-10", None, "2023-02-10"),
        (None, "2023-06", "2023-06-30"),
        (None, None, None),
    ],
    ids=["year", "month", "day", "receipt-fallback", "none"],
)
def test_M6_partial_new_info_date_is_indexed_as_its_latest_day(
    new_info: str | None, receipt: str | None, indexed: str | None
) -> None:
    record = Record.model_validate(
        {
            "id": "C-1",
            "kind": "case",
            "organization": "ORG-A",
            "new_info_date": new_info,
            "receipt_date": receipt,
        }
    )
    assert build_document(record)["new_info_date"] == indexed


def test_record_view_is_the_stored_record_without_narrative_documents_and_links() -> None:
    base = next(iter(Population(seed=3, n=1, today=date(2026, 1, 15))))
    record = base.model_copy(
        update={
            "narrative": "A long narrative. " * 200,
            "documents": [{"name": "source.pdf"}],
            "links": {"e2b": "urn:x"},
        }
    )
    doc = build_document(record)
    shown = orjson.loads(doc["record_view"])
    assert shown == {
        k: v for k, v in doc["record"].items() if k not in {"narrative", "documents", "links"}
    }
    assert {"narrative", "documents", "links"} <= doc["record"].keys()
    assert len(doc["record_view"]) * 2 < len(orjson.dumps(doc["record"]))
