"""Records for tests: the one place test records are built.

Every builder takes the record id first and ``**fields`` that replace whole
top-level fields of the record JSON (SPEC §7), so a test shows exactly what it
changes:

- :func:`record_data` / :func:`record`: a small valid record (an Inbox Item of
  ORG-A unless told), patient JS/female/1980-06, reporter Jacob Smith (US),
  Aspirin PRD-17, a headache; as JSON (for the API and files) or as a Record.
- :func:`bare`: only id, kind and organization, plus ``fields``: for pure
  functions that look at one or two fields.
- :func:`blank`: a record sharing nothing with :func:`record` unless ``fields``
  say so (a Case by default): for detection scenarios.
- :func:`intake_item` / :func:`in_flight_case`: a complete Intake-API Inbox Item
  and an in-progress Case whose values are unique to their ids, so that two of
  them never match unless a test makes them: for promotion workflows.

    >>> record("II-1", kind="case", state="approved").state
    'approved'
"""

from __future__ import annotations

from typing import Any

from indexer.records import Record


def record_data(
    record_id: str, *, kind: str = "inbox_item", organization: str = "ORG-A", **fields: Any
) -> dict[str, Any]:
    """The JSON of a small valid record; ``fields`` replace top-level fields."""
    data: dict[str, Any] = {
        "id": record_id,
        "kind": kind,
        "organization": organization,
        "receipt_date": "2025-03-01",
        "patient": {"initials": "JS", "sex": "female", "dob": "1980-06"},
        "reporter": {"first_name": "Jacob", "last_name": "Smith", "country": "US"},
        "products": [{"product": "PRD-17", "product_reported": "Aspirin 100 mg", "rank": 1}],
        "events": [{"event_reported": "headache", "meddra_pt_code": "10019211", "rank": 1}],
        "identifiers": {"case_identifiers": [f"CI-{record_id}"]},
    }
    data.update(fields)
    return data


def record(
    record_id: str, *, kind: str = "inbox_item", organization: str = "ORG-A", **fields: Any
) -> Record:
    """:func:`record_data` as a validated Record."""
    return Record.model_validate(
        record_data(record_id, kind=kind, organization=organization, **fields)
    )


def bare(
    record_id: str, *, kind: str = "inbox_item", organization: str = "ORG-A", **fields: Any
) -> Record:
    """A record holding only its id, kind, organization and ``fields``."""
    return Record.model_validate(
        {"id": record_id, "kind": kind, "organization": organization, **fields}
    )


def blank(record_id: str, *, kind: str = "case", **fields: Any) -> Record:
    """A record sharing nothing with :func:`record` unless ``fields`` say so."""
    data: dict[str, Any] = {
        "patient": {},
        "reporter": {"country": "US"},
        "products": [],
        "events": [],
        "identifiers": {"case_identifiers": [f"CI-{record_id}"]},
    }
    data.update(fields)
    return record(record_id, kind=kind, **data)


def intake_item(record_id: str, **fields: Any) -> Record:
    """A complete, valid Inbox Item from the Intake API (its values unique to its id)."""
    data: dict[str, Any] = {
        "id": record_id,
        "kind": "inbox_item",
        "organization": "ORG-A",
        "source": "intake_api",
        "receipt_date": "2025-03-01",
        "identifiers": {"case_identifiers": [f"CI-{record_id}"]},
        "patient": {"initials": "QX", "sex": "female", "dob": "1971-02"},
        "reporter": {"first_name": "Ola", "last_name": f"Nordmann{record_id}", "country": "NO"},
        "products": [{"product": f"PRD-{record_id}", "rank": 1, "drug_role": "suspect"}],
        "events": [{"event_reported": f"event {record_id}", "rank": 1}],
    }
    data.update(fields)
    return Record.model_validate(data)


def in_flight_case(case_id: str, **fields: Any) -> Record:
    """An in-progress Case of ORG-A whose values are unique to its id (reporter in SE)."""
    data: dict[str, Any] = {
        "id": case_id,
        "kind": "case",
        "organization": "ORG-A",
        "state": "in_progress",
        "receipt_date": "2025-01-10",
        "identifiers": {"case_identifiers": [f"CI-{case_id}"]},
        "patient": {"initials": "ZZ", "sex": "male", "dob": "1950"},
        "reporter": {"last_name": f"Reporter{case_id}", "country": "SE"},
        "products": [{"product": f"PRD-{case_id}", "rank": 1}],
        "events": [{"event_reported": f"event {case_id}", "rank": 1}],
    }
    data.update(fields)
    return Record.model_validate(data)
