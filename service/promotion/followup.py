"""Follow-up Case versions (pure): P6 reconciliation, P13 smart and override merges, P3 copy.

Every function takes records and returns a new record; nothing is written.

* :func:`reconcile` (P6, the "default merge behaviour" = smart merge): the
  initial Case's data plus what the follow-up adds, with the seed's
  reconciliation rules for masked fields, value+unit fields, age-related
  fields, Receipt Date and New Info Date.
* :func:`override_merge` (P13): the follow-up's data only; the initial
  Case's narrative is appended and document references are combined.
* :func:`copy_patient_info` (P3): a new Case from the item, with the matched
  Case's patient and the chosen optional sections.

Interpretations (where the seeds leave room) are spelled out per rule below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import Any, Literal, TypeVar

from indexer.dates import PartialDate
from indexer.fields import MRN_KINDS
from indexer.normalize import event_key, normalize_code, normalize_product
from indexer.records import Event, Patient, Product, Record, Reporter
from service.promotion.cases import case_payload, new_case_from_item

T = TypeVar("T")
M = TypeVar("M", Product, Event)

#: P6: value+unit fields the follow-up overwrites, nulls included.
VALUE_UNIT_FIELDS: tuple[str, ...] = ("age", "gestation", "height", "weight")
#: P6: age-related fields that take the follow-up's values as one group.
AGE_RELATED_FIELDS: tuple[str, ...] = ("dob", "age", "age_group")
_PATIENT_SCALARS = ("initials", "first_name", "last_name", "sex", "edc_subject")
_MRN_KEYS = MRN_KINDS
_REPORTER_SCALARS = ("first_name", "last_name", "organization", "qualification", "country")
_DETAIL_SCALARS = (
    "report_type",
    "study_type",
    "study",
    "study_number",
    "study_arm",
    "localization",
    "source",
)
_ID_SCALARS = (
    "wwuid",
    "uid",
    "external_system_uid",
    "case_vault_global_id",
    "event_vault_global_id",
)

MergeMethod = Literal["smart", "override"]


# -- reason omitted ----------------------------------------------------------


def _blank_path(data: dict[str, Any], path: str) -> None:
    """Blank the value a reason-omitted key names (``first_name``, ``mrn.gp``, ``mrn``)."""
    head, _, rest = path.partition(".")
    if head == "mrn":
        mrn = data.setdefault("mrn", {})
        for key in (rest,) if rest else _MRN_KEYS:
            if key in mrn:
                mrn[key] = None
    elif head in data and head != "reason_omitted":
        data[head] = None


def _value_at(data: dict[str, Any], path: str) -> Any:
    head, _, rest = path.partition(".")
    value = data.get(head)
    if rest and isinstance(value, dict):
        return value.get(rest)
    if head == "mrn" and isinstance(value, dict):
        return next((v for v in value.values() if v is not None), None)
    return value


def _reconcile_reasons(
    merged: dict[str, Any], initial_reasons: dict[str, Any], follow: dict[str, Any]
) -> None:
    """P6: a field masked (reason omitted) in the follow-up wins: value blanked, reason kept.

    A reason omitted on the initial stays unless the follow-up now supplies the value.
    """
    follow_reasons: dict[str, Any] = follow.get("reason_omitted") or {}
    reasons = {
        field: reason
        for field, reason in initial_reasons.items()
        if field in follow_reasons or _value_at(follow, field) is None
    }
    for field, reason in follow_reasons.items():
        reasons[field] = reason
        _blank_path(merged, field)
    for field in reasons:
        if field not in follow_reasons:
            _blank_path(merged, field)
    merged["reason_omitted"] = reasons


# -- sections ----------------------------------------------------------------


def reconcile_patient(initial: Patient, follow: Patient) -> Patient:
    """P6 for the patient section."""
    a = initial.model_dump(mode="python")
    f = follow.model_dump(mode="python")
    merged = dict(a)
    for field in _PATIENT_SCALARS:
        if f[field] is not None:
            merged[field] = f[field]
    merged["mrn"] = {k: f["mrn"][k] if f["mrn"][k] is not None else a["mrn"][k] for k in _MRN_KEYS}
    for field in VALUE_UNIT_FIELDS:  # overwritten, nulls included
        merged[field] = f[field]
    follow_reasons = f["reason_omitted"]
    follow_has_age_info = any(f[x] is not None or x in follow_reasons for x in AGE_RELATED_FIELDS)
    if follow_has_age_info:  # the follow-up's age-related values win as a group
        for field in AGE_RELATED_FIELDS:
            merged[field] = f[field]
    _reconcile_reasons(merged, a["reason_omitted"], f)
    return Patient.model_validate(merged)


def reconcile_reporter(initial: Reporter, follow: Reporter) -> Reporter:
    """P6 for the primary reporter: the follow-up's values win where given; masks win."""
    a = initial.model_dump(mode="python")
    f = follow.model_dump(mode="python")
    merged = dict(a)
    for field in _REPORTER_SCALARS:
        if f[field] is not None:
            merged[field] = f[field]
    _reconcile_reasons(merged, a["reason_omitted"], f)
    return Reporter.model_validate(merged)


def _product_key(p: Product) -> str | None:
    code = normalize_code(p.product)
    return (
        f"id:{code}"
        if code
        else (
            f"txt:{normalize_product(p.product_reported)}"
            if normalize_product(p.product_reported)
            else None
        )
    )


def _event_key(e: Event) -> str | None:
    return event_key(e.meddra_pt_code, e.event_reported, e.meddra_pt)


def _combine(initial: list[M], follow: list[M], key: Callable[[M], str | None]) -> list[M]:
    """Initial entries (updated by the follow-up's entry with the same key) + new entries.

    The initial's ranks stand (its primary stays primary); new entries rank after them.
    """
    by_key = {k: x for x in follow if (k := key(x)) is not None}
    out: list[M] = []
    used: set[str] = set()
    for x in sorted(initial, key=lambda e: e.rank):
        k = key(x)
        if k is not None and k in by_key and k not in used:
            used.add(k)
            updates = {
                name: value
                for name, value in by_key[k].model_dump(exclude={"rank"}).items()
                if value not in ([], None)
            }
            x = type(x).model_validate({**x.model_dump(), **updates})
        out.append(x)
    next_rank = max((x.rank for x in out), default=0) + 1
    for x in sorted(follow, key=lambda e: e.rank):
        k = key(x)
        if k is not None and k in used:
            continue
        if k is not None:
            used.add(k)
        out.append(x.model_copy(update={"rank": next_rank}))
        next_rank += 1
    return out


def _union(a: Iterable[T], b: Iterable[T]) -> list[T]:
    out: list[T] = []
    for x in [*a, *b]:
        if x not in out:
            out.append(x)
    return out


def _join_narratives(first: str | None, second: str | None) -> str | None:
    parts = [p.strip() for p in (first, second) if p and p.strip()]
    if len(parts) == 2 and parts[0] == parts[1]:
        parts = parts[:1]
    return "\n\n".join(parts) or None


def follow_up_dates(
    initial: Record, follow: Record, *, today: date | None = None
) -> tuple[PartialDate | None, PartialDate]:
    """P6: Receipt Date stays the initial's; the follow-up's receipt date is the New Info Date."""
    receipt = initial.receipt_date or follow.receipt_date
    new_info = follow.receipt_date or follow.new_info_date or PartialDate.of(today or date.today())
    return receipt, new_info


def _next_version(initial: Record, body: dict[str, Any]) -> Record:
    case_id = initial.case_id or initial.id
    body.update(id=case_id, kind="case", case_id=case_id, version=initial.version + 1, state="new")
    body["organization"] = initial.organization
    body["links"] = {**body.get("links", {}), "previous_version": initial.version}
    return Record.model_validate(body)


# -- merges ------------------------------------------------------------------


def reconcile(initial: Record, follow: Record, *, today: date | None = None) -> Record:
    """P6 / smart merge: the next Case version from the initial Case and the follow-up item."""
    body = case_payload(initial)
    for field in _DETAIL_SCALARS:
        value = getattr(follow, field)
        if value is not None:
            body[field] = value
    body["blinded"] = initial.blinded or follow.blinded
    body["identifiers"] = _merged_identifiers(initial, follow)
    body["patient"] = reconcile_patient(initial.patient, follow.patient)
    body["reporter"] = reconcile_reporter(initial.reporter, follow.reporter)
    body["products"] = _combine(initial.products, follow.products, _product_key)
    body["events"] = _combine(initial.events, follow.events, _event_key)
    body["narrative"] = _join_narratives(initial.narrative, follow.narrative)
    body["documents"] = _union(initial.documents, follow.documents)
    body["receipt_date"], body["new_info_date"] = follow_up_dates(initial, follow, today=today)
    return _next_version(initial, body)


def _merged_identifiers(primary: Record, other: Record) -> dict[str, Any]:
    """``primary``'s identifiers, its case identifiers joined by ``other``'s and its gaps filled."""
    ids = primary.identifiers.model_dump()
    ids["case_identifiers"] = _union(
        primary.identifiers.case_identifiers, other.identifiers.case_identifiers
    )
    for field in _ID_SCALARS:
        if ids[field] is None:
            ids[field] = getattr(other.identifiers, field)
    return ids


def override_merge(initial: Record, follow: Record, *, today: date | None = None) -> Record:
    """P13 override: the follow-up item's data only, plus the initial's narrative and documents.

    The item's localization is carried over (a global item makes a global
    follow-up even over a domestic Case). The initial Case's identifiers that
    the item lacks are kept so that the Case stays findable by them.
    """
    body = case_payload(follow)
    body["identifiers"] = _merged_identifiers(follow, initial)
    body["narrative"] = _join_narratives(follow.narrative, initial.narrative)
    body["documents"] = _union(follow.documents, initial.documents)
    body["receipt_date"], body["new_info_date"] = follow_up_dates(initial, follow, today=today)
    return _next_version(initial, body)


def merge(method: MergeMethod, initial: Record, follow: Record) -> Record:
    return reconcile(initial, follow) if method == "smart" else override_merge(initial, follow)


# -- P3 copy patient information ----------------------------------------------

#: Optional sections of "create new case copying patient information" that
#: casematch records carry. The seed's other sections (medical history, drug
#: history, case contacts beyond the primary reporter, test results) have no
#: field in the record model, so asking for them is refused with a clear error.
COPY_SECTIONS: tuple[str, ...] = (
    "suspect_interacting_products",
    "concomitant_products",
    "narrative",
)
UNSUPPORTED_COPY_SECTIONS: tuple[str, ...] = (
    "medical_history",
    "drug_history",
    "case_contacts",
    "test_results",
    "adverse_events_to_medical_history",
    "concomitant_products_to_drug_history",
)


def _patient_fields_with_values(patient: Patient) -> list[str]:
    data = patient.model_dump(exclude_none=True, exclude={"reason_omitted", "mrn"})
    fields = sorted(data)
    fields += [f"mrn.{k}" for k in _MRN_KEYS if getattr(patient.mrn, k) is not None]
    return fields


def copy_patient_info(
    item: Record, matched: Record, case_id: str, sections: Iterable[str]
) -> tuple[Record, dict[str, list[str]]]:
    """P3: a new Case from ``item`` with ``matched``'s patient and the chosen sections.

    The matched Case's patient is the base and the item's own patient values
    are reconciled onto it (P6), so nothing the item reports is lost. Returns
    the Case and what was copied (for the audit trail, P18); the new Case is
    not linked to the matched one (seed), the audit trail says where from.
    """
    chosen = list(dict.fromkeys(sections))
    case = new_case_from_item(item, case_id)
    patient = reconcile_patient(matched.patient, item.patient)
    copied: dict[str, list[str]] = {"patient": _patient_fields_with_values(matched.patient)}
    products = list(case.products)
    roles = {
        "suspect_interacting_products": {"suspect", "interacting"},
        "concomitant_products": {"concomitant"},
    }
    for section, wanted in roles.items():
        if section not in chosen:
            continue
        picked = [
            p for p in matched.products if p.drug_role is not None and p.drug_role.value in wanted
        ]
        products = _combine(products, picked, _product_key)
        copied[section] = [f"rank {p.rank}" for p in picked]
    narrative = case.narrative
    if "narrative" in chosen and matched.narrative:
        narrative = _join_narratives(case.narrative, matched.narrative)
        copied["narrative"] = ["narrative"]
    case = case.model_copy(
        update={"patient": patient, "products": products, "narrative": narrative}
    )
    return Record.model_validate(case.model_dump(mode="python")), copied
