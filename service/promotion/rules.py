"""Pure promotion rules: P1 prerequisites, P10 validation, P13 seriousness.

Each rule is a named check in a table, so the itemized error a caller sees is
the list of names whose check failed, in the table's order:

    >>> from indexer.records import Record
    >>> item = Record.model_validate({"id": "II-1", "kind": "inbox_item", "organization": "ORG-A"})
    >>> missing_prerequisites(item, minimum_case_criteria=True)
    ['identifiable patient', 'identifiable reporter', 'country (primary reporter or adverse event)', 'adverse event', 'study or company product']
    >>> classify_seriousness(item)
    'non_serious'
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Literal

from indexer.normalize import normalize_code, normalize_country, normalize_text
from indexer.records import Event, ReasonOmitted, Record

Check = Callable[[Record], bool]
Seriousness = Literal["serious", "non_serious"]

#: A reason omitted that still identifies a person (the value exists, it is withheld).
_IDENTIFYING_REASONS = frozenset({ReasonOmitted.masked, ReasonOmitted.privacy})


def _has_text(value: str | None) -> bool:
    return normalize_text(value) is not None


def _withheld(reasons: dict[str, ReasonOmitted]) -> bool:
    return any(r in _IDENTIFYING_REASONS for r in reasons.values())


def identifiable_patient(record: Record) -> bool:
    """Any patient identifier (initials, names, DOB, age, age group, sex, an MRN) or one withheld."""
    p = record.patient
    mrn = p.mrn
    return (
        any(
            _has_text(v)
            for v in (
                p.initials,
                p.first_name,
                p.last_name,
                p.age_group,
                p.edc_subject,
                mrn.gp,
                mrn.specialist,
                mrn.hospital,
                mrn.investigation,
            )
        )
        or p.dob is not None
        or (p.age is not None and p.age.value is not None)
        or (p.sex is not None and p.sex.value != "unknown")
        or _withheld(p.reason_omitted)
    )


def identifiable_reporter(record: Record) -> bool:
    """The primary reporter has a name, an organization or a qualification, or one is withheld."""
    r = record.reporter
    return (
        any(_has_text(v) for v in (r.first_name, r.last_name, r.organization))
        or r.qualification is not None
        or _withheld(r.reason_omitted)
    )


def has_country(record: Record) -> bool:
    """A country on the primary reporter or on any adverse event."""
    return normalize_country(record.reporter.country) is not None or any(
        normalize_country(e.country) is not None for e in record.events
    )


def _event_described(event: Event) -> bool:
    return (
        _has_text(event.event_reported) or _has_text(event.meddra_pt) or bool(event.meddra_pt_code)
    )


def has_adverse_event(record: Record) -> bool:
    return any(_event_described(e) for e in record.events)


def has_study_or_company_product(record: Record) -> bool:
    return (
        normalize_code(record.study) is not None
        or normalize_code(record.study_number) is not None
        or any(normalize_code(p.product) is not None for p in record.products)
    )


#: P1's optional minimum case criteria, in the order an error lists them.
MINIMUM_CASE_CRITERIA: tuple[tuple[str, Check], ...] = (
    ("identifiable patient", identifiable_patient),
    ("identifiable reporter", identifiable_reporter),
    ("country (primary reporter or adverse event)", has_country),
    ("adverse event", has_adverse_event),
    ("study or company product", has_study_or_company_product),
)


def missing_prerequisites(record: Record, *, minimum_case_criteria: bool) -> list[str]:
    """P1: what keeps ``record`` from being promoted, as names (empty list = ready)."""
    missing: list[str] = []
    if not (record.organization or "").strip():
        missing.append("organization")
    if minimum_case_criteria:
        missing.extend(name for name, check in MINIMUM_CASE_CRITERIA if not check(record))
    return missing


# -- P10: validation before automated promotion ------------------------------


def _future_dates(record: Record, today: date) -> list[str]:
    out = []
    candidates = [
        ("receipt_date", record.receipt_date),
        ("new_info_date", record.new_info_date),
        ("patient.dob", record.patient.dob),
    ] + [(f"events[{i}].onset", e.onset) for i, e in enumerate(record.events)]
    for field, value in candidates:
        if value is not None and value.first_day > today:
            out.append(f"{field}: date is in the future")
    return out


def primary_company_product(record: Record) -> bool:
    """A company product (coded ``product``) with rank 1."""
    return any(p.rank == 1 and normalize_code(p.product) is not None for p in record.products)


def validation_errors(record: Record, *, today: date | None = None) -> list[str]:
    """P10: reasons an item cannot be promoted automatically (empty list = valid).

    Validation errors are a future date or a missing required value (organization,
    receipt date, an adverse event); an item without a primary company product
    with rank 1 is invalid too. Messages name fields, never values (M21).
    """
    today = today or date.today()
    errors: list[str] = []
    if not (record.organization or "").strip():
        errors.append("organization: a value is required")
    if record.receipt_date is None:
        errors.append("receipt_date: a value is required")
    if not has_adverse_event(record):
        errors.append("events: at least one adverse event (reported or MedDRA) is required")
    errors.extend(_future_dates(record, today))
    if (
        record.receipt_date is not None
        and record.new_info_date is not None
        and record.new_info_date.last_day < record.receipt_date.first_day
    ):
        errors.append("new_info_date: before receipt_date")
    if not primary_company_product(record):
        errors.append("products: no primary company product with rank 1")
    return errors


# -- P13: seriousness --------------------------------------------------------


def classify_seriousness(record: Record) -> Seriousness:
    """P13: serious when the primary adverse event carries a seriousness value."""
    primary = record.primary_event
    return "serious" if primary is not None and primary.seriousness else "non_serious"
