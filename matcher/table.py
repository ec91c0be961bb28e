"""Status bars (M18), the comparison table (M19) and PHI masking (M20) for one listed match.

Built only for the matches a detection returns. Values shown are the stored
record's own values (not the normalized ones); the result of each row comes
from the same comparators that ranked the match, so a masked value (``***``)
still says exact / partial / none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from matcher.compare import (
    NONE,
    compare_exact,
    compare_onset,
    compare_product_reported,
    compare_window_date,
)
from matcher.evaluate import Evaluation
from matcher.facts import EventFacts, Facts, ProductFacts
from matcher.model import MASK, Badge, ComparisonRow, Header, RecordRef, Result, Status

#: M19 limits.
MAX_IDENTIFIER_ROWS = 10
MAX_PRODUCT_PAIRS = 3
MAX_EVENT_PAIRS = 3

#: (table section, field) pairs whose values are PHI (M20; SPEC PHI_FIELDS).
PHI_ROWS: frozenset[tuple[str, str]] = frozenset(
    {
        ("patient", "initials"),
        ("patient", "first_name"),
        ("patient", "last_name"),
        ("patient", "dob"),
        ("patient", "sex"),
        ("patient", "mrn_gp"),
        ("patient", "mrn_specialist"),
        ("patient", "mrn_hospital"),
        ("patient", "mrn_investigation"),
        ("patient", "edc_subject"),
        ("reporter", "first_name"),
        ("reporter", "last_name"),
        ("reporter", "country"),
        ("events", "onset"),
    }
)

_PATIENT_BAR = (
    "patient.initials",
    "patient.first_name",
    "patient.last_name",
    "patient.dob",
    "patient.mrn_gp",
    "patient.mrn_specialist",
    "patient.mrn_hospital",
    "patient.mrn_investigation",
)


def status_bars(ev: Evaluation, *, subject: bool = False) -> Status:
    """M18: which categories of this match have a matching value."""
    r = ev.results
    patient = any(r[k] != NONE for k in _PATIENT_BAR) or (subject and ev.subject_tier == 1)
    return Status.model_construct(
        patient=patient,
        country=ev.country != NONE,
        reporter=any(
            r[k] != NONE
            for k in ("reporter.first_name", "reporter.last_name", "reporter.qualification")
        ),
        products=r["product.product_reported"] != NONE or r["product.product"] != NONE,
        events=r["event.event_reported"] != NONE or r["event.meddra_pt"] != NONE,
    )


def header(src: Facts, cand: Facts) -> Header:
    def ref(f: Facts) -> RecordRef:
        ids = f.record.get("identifiers") or {}
        return RecordRef.model_construct(wwuid=ids.get("wwuid"), uid=ids.get("uid"))

    return Header.model_construct(source=ref(src), match=ref(cand), state=cand.state)


def _get(record: dict[str, Any], *path: str) -> Any:
    value: Any = record
    for part in path:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _show(value: Any) -> str | None:
    if value is None or value == "" or value == []:
        return None
    return str(value)


Row = tuple[str, str, str | None, str | None, Result]
T = TypeVar("T", ProductFacts, EventFacts)


def comparison_rows(src: Facts, ev: Evaluation, *, mask: bool) -> list[ComparisonRow]:
    """M19: every compared field side by side; rows with no value on either side are omitted."""
    rows: list[ComparisonRow] = []
    for section, fld, a, b, result in _rows(src, ev):
        if a is None and b is None:
            continue
        badge: Badge | None = None
        if section == "identifiers":
            badge = "WWUID" if fld == "wwuid" else "ID"
        if mask and (section, fld) in PHI_ROWS:
            a = MASK if a is not None else None
            b = MASK if b is not None else None
        rows.append(
            ComparisonRow.model_construct(
                section=section, field=fld, source=a, match=b, result=result, badge=badge
            )
        )
    return rows


def _rows(src: Facts, ev: Evaluation) -> Iterator[Row]:
    cand = ev.facts
    s, c, r = src.record, cand.record, ev.results
    yield (
        "details",
        "report_type",
        _show(s.get("report_type")),
        _show(c.get("report_type")),
        compare_exact(src.report_type, cand.report_type),
    )
    yield (
        "details",
        "receipt_date",
        _show(s.get("receipt_date")),
        _show(c.get("receipt_date")),
        compare_window_date(src.receipt_date, cand.receipt_date),
    )
    yield (
        "details",
        "new_info_date",
        _show(s.get("new_info_date")),
        _show(c.get("new_info_date")),
        compare_window_date(src.new_info, cand.new_info),
    )
    yield from _identifier_rows(src, ev)
    for fld in ("initials", "first_name", "last_name", "sex", "dob"):
        yield (
            "patient",
            fld,
            _show(_get(s, "patient", fld)),
            _show(_get(c, "patient", fld)),
            r[f"patient.{fld}"],
        )
    for kind in ("gp", "specialist", "hospital", "investigation"):
        yield (
            "patient",
            f"mrn_{kind}",
            _show(_get(s, "patient", "mrn", kind)),
            _show(_get(c, "patient", "mrn", kind)),
            r[f"patient.mrn_{kind}"],
        )
    yield (
        "patient",
        "edc_subject",
        _show(_get(s, "patient", "edc_subject")),
        _show(_get(c, "patient", "edc_subject")),
        compare_exact(src.edc_subject, cand.edc_subject),
    )
    yield (
        "study",
        "study_number",
        _show(s.get("study_number")),
        _show(c.get("study_number")),
        r["study.study_number"],
    )
    for fld in ("first_name", "last_name", "qualification"):
        yield (
            "reporter",
            fld,
            _show(_get(s, "reporter", fld)),
            _show(_get(c, "reporter", fld)),
            r[f"reporter.{fld}"],
        )
    yield (
        "reporter",
        "country",
        _show(_get(s, "reporter", "country")),
        _show(_get(c, "reporter", "country")),
        ev.country,
    )
    blinded = src.blinded or cand.blinded
    for sp, cp in _pairs(src.products, cand.products, _product_score, MAX_PRODUCT_PAIRS):
        yield from _product_rows(
            sp, cp, _shown(src, "products", sp), _shown(cand, "products", cp), blinded
        )
    for se, ce in _pairs(src.events, cand.events, _event_score, MAX_EVENT_PAIRS):
        yield from _event_rows(se, ce, _shown(src, "events", se), _shown(cand, "events", ce))


def _shown(f: Facts, what: str, item: ProductFacts | EventFacts | None) -> dict[str, Any]:
    return f.display(what, item.rank) if item is not None else {}


def _identifier_rows(src: Facts, ev: Evaluation) -> Iterator[Row]:
    for s_kind, c_kind, _value in ev.id_matches[:MAX_IDENTIFIER_ROWS]:
        fld = s_kind if s_kind == c_kind else f"{s_kind}~{c_kind}"
        yield (
            "identifiers",
            fld,
            _raw_id(src, s_kind, _value),
            _raw_id(ev.facts, c_kind, _value),
            "exact",
        )


def _raw_id(f: Facts, kind: str, normalized: str) -> str:
    ids = f.record.get("identifiers") or {}
    raw = ids.get("case_identifiers") if kind == "case_identifier" else [ids.get(kind)]
    for value in raw or ():
        if isinstance(value, str) and value.strip().casefold() == normalized:
            return value
    return normalized


def _product_score(a: ProductFacts, b: ProductFacts) -> int:
    return (
        2 * (compare_exact(a.product, b.product) != NONE)
        + (compare_product_reported(a.product_reported, b.product_reported) != NONE)
        + (compare_exact(a.study_product, b.study_product) != NONE)
    )


def _event_score(a: EventFacts, b: EventFacts) -> int:
    return 2 * (compare_exact(a.meddra_pt_code, b.meddra_pt_code) != NONE) + (
        compare_exact(a.event_reported, b.event_reported) != NONE
    )


def _pairs(
    src: tuple[T, ...], cand: tuple[T, ...], score: Callable[[T, T], int], limit: int
) -> list[tuple[T | None, T | None]]:
    """Up to ``limit`` (source, match) pairs, matching pairs first, then primary with primary."""
    pairs: list[tuple[T | None, T | None]] = []
    used: set[int] = set()
    for a in src:
        scored = [(score(a, b), i) for i, b in enumerate(cand) if i not in used]
        top = max(scored, default=(0, -1))
        if top[0] > 0:
            used.add(top[1])
            pairs.append((a, cand[top[1]]))
        if len(pairs) == limit:
            return pairs
    if not pairs and (src or cand):
        pairs.append((src[0] if src else None, cand[0] if cand else None))
    return pairs


def _product_rows(
    a: ProductFacts | None,
    b: ProductFacts | None,
    da: dict[str, Any],
    db: dict[str, Any],
    blinded: bool,
) -> Iterator[Row]:
    yield (
        "products",
        "product_reported",
        _show(da.get("product_reported")),
        _show(db.get("product_reported")),
        compare_product_reported(
            a.product_reported if a else None, b.product_reported if b else None
        ),
    )
    yield (
        "products",
        "product",
        _show(da.get("product")),
        _show(db.get("product")),
        compare_exact(a.product if a else None, b.product if b else None),
    )
    if not blinded:  # M8: study products of blinded study cases are never compared
        yield (
            "products",
            "study_product",
            _show(da.get("study_product")),
            _show(db.get("study_product")),
            compare_exact(a.study_product if a else None, b.study_product if b else None),
        )


def _event_rows(
    a: EventFacts | None, b: EventFacts | None, da: dict[str, Any], db: dict[str, Any]
) -> Iterator[Row]:
    both_coded = bool(a and b and a.meddra_pt_code and b.meddra_pt_code)
    codes_equal = compare_exact(a.meddra_pt_code if a else None, b.meddra_pt_code if b else None)
    verbatim = compare_exact(a.event_reported if a else None, b.event_reported if b else None)
    if both_coded and codes_equal == NONE:
        verbatim = NONE  # N7: coded on both sides -> compared by PT code
    yield (
        "events",
        "event_reported",
        _show(da.get("event_reported")),
        _show(db.get("event_reported")),
        verbatim,
    )
    meddra_a = _meddra(da)
    meddra_b = _meddra(db)
    yield ("events", "meddra_pt", meddra_a, meddra_b, codes_equal)
    yield (
        "events",
        "country",
        _show(da.get("country")),
        _show(db.get("country")),
        compare_exact(a.country if a else None, b.country if b else None),
    )
    yield (
        "events",
        "onset",
        _show(da.get("onset")),
        _show(db.get("onset")),
        compare_onset(a.onset if a else None, b.onset if b else None),
    )


def _meddra(display: dict[str, Any]) -> str | None:
    code, term = display.get("meddra_pt_code"), display.get("meddra_pt")
    if code and term:
        return f"{term} ({code})"
    return _show(code or term)
