"""One E2B(R3) ICSR message (``PORR_IN049016UV``) as a Record (SPEC §2, §7).

Every value is found by its ICH OID or code (``id/@root``, ``code/@code`` with
its ``codeSystem``), never by position. HL7 null flavors become
``reason_omitted`` entries and never values (N5). A message that cannot become
a record raises :class:`MessageError` naming the ICH data element, its path and
the reason, and never a value of the message (no PHI). Containers (batches,
ZIPs), limits and options live in :mod:`indexer.e2b`.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date
from functools import lru_cache
from typing import Any, Literal

from lxml import etree
from pydantic import ValidationError

from indexer.dates import PartialDate
from indexer.e2b_codes import (
    AGE_GROUPS,
    CS_INVESTIGATION_CHARACTERISTIC,
    CS_MEDDRA,
    CS_OBSERVATION,
    CS_ORGANIZER,
    CS_REPORT_RELATION,
    DRUG_ROLES,
    MRN_KINDS,
    NULL_FLAVORS,
    OBS_AGE,
    OBS_AGE_GROUP,
    OBS_BLINDED,
    OBS_DRUG_ROLE,
    OBS_GESTATION,
    OBS_HEIGHT,
    OBS_REACTION,
    OBS_REACTION_TRANSLATION,
    OBS_WEIGHT,
    QUALIFICATIONS,
    REPORT_TYPES,
    ROOT_OTHER_CASE_ID,
    ROOT_SENDER_REPORT_ID,
    ROOT_STUDY_NUMBER,
    ROOT_WWUID,
    SERIOUSNESS,
    SEXES,
    STUDY_TYPES,
    quantity_unit,
)
from indexer.normalize import normalize_country
from indexer.records import Record, RecordIn, describe_errors

HL7 = "urn:hl7-org:v3"
NS = {"h": HL7}


class MessageError(Exception):
    """One message cannot be loaded: which ICH element, where, and why (never a value)."""

    def __init__(self, element: str, path: str, reason: str) -> None:
        super().__init__(reason)
        self.element, self.path, self.reason = element, path, reason


# -- one message ----------------------------------------------------------------------

_INV = "h:controlActProcess/h:subject/h:investigationEvent"
_ROLE = "h:component/h:adverseEventAssessment/h:subject1/h:primaryRole"


def message_to_record(
    msg: etree._Element,
    *,
    organization: str,
    kind: Literal["case", "inbox_item"] = "inbox_item",
    transmission_profile: str | None = None,
    id_prefix: str = "E2B-",
    today: date | None = None,
) -> Record:
    """The Record of one ICSR message; :class:`MessageError` when it cannot be one.

    Required: C.1.1, C.1.4, C.1.5, C.1.8.1, the patient (D), at least one
    reaction (E.i) and one drug (G.k). A date after ``today`` refuses the
    message, as an E2B gateway's negative acknowledgement would: an ICSR
    cannot report the future, and dropping the field silently would hide it.
    """
    today = today or date.today()
    inv = _first(msg, _INV)
    if inv is None:
        raise MessageError("C", hl7_path(msg, _INV), "required element is missing")
    report_id = _required_id(inv, ROOT_SENDER_REPORT_ID, "C.1.1")
    wwuid = _required_id(inv, ROOT_WWUID, "C.1.8.1")
    receipt = _required_ts(inv, "h:effectiveTime/h:low", "C.1.4", today)
    new_info = _required_ts(inv, "h:availabilityTime", "C.1.5", today)
    role = _first(inv, _ROLE)
    if role is None:
        raise MessageError("D", hl7_path(inv, _ROLE), "required element (the patient) is missing")
    products, blinded = _products(role, inv)
    events = _events(role, today)
    if not events:
        raise MessageError(
            "E.i", hl7_path(role, "h:subjectOf2/h:observation"), "no reaction / event"
        )
    if not products:
        raise MessageError("G.k", hl7_path(role, "h:subjectOf2/h:organizer"), "no drug information")
    other_ids = _strings(
        inv, f"h:subjectOf1/h:controlActEvent/h:id[@root='{ROOT_OTHER_CASE_ID}']/@extension"
    )
    record: dict[str, Any] = {
        "id": id_prefix + _digest(msg, organization, kind),
        "kind": kind,
        "organization": organization,
        "source": "e2b",
        "transmission_profile": transmission_profile,
        "report_type": _report_type(inv),
        "receipt_date": receipt,
        "new_info_date": new_info,
        "identifiers": {"case_identifiers": _unique([report_id, *other_ids]), "wwuid": wwuid},
        "patient": _patient(role, today),
        "reporter": _reporter(inv),
        "products": products,
        "events": events,
        "blinded": blinded,
        "narrative": _text(_first(inv, "h:text")),
        "documents": _documents(inv),
        **_study(role),
    }
    try:
        # The intake model: E2B-derived ids and organizations follow the id grammar too.
        return RecordIn.model_validate(record).to_record()
    except ValidationError as exc:
        first = describe_errors(exc)[0]
        element, where = _FIELD_ELEMENTS.get(first["field"].split(".")[0], ("", ""))
        path = hl7_path(msg, where) if where else hl7_path(msg)
        raise MessageError(element, path, f"{first['field']}: {first['error']}") from None


def sender_id(msg: etree._Element) -> str | None:
    """N.2.r.2 Message sender identifier (the partner a transmission profile names)."""
    return _ext(msg, "h:sender/h:device/h:id")


#: Record field -> (ICH element, path under the message) for errors found by validation.
_FIELD_ELEMENTS: dict[str, tuple[str, str]] = {
    "patient": ("D", f"{_INV}/{_ROLE}"),
    "reporter": ("C.2.r", f"{_INV}/h:outboundRelationship"),
    "products": ("G.k", f"{_INV}/{_ROLE}/h:subjectOf2/h:organizer"),
    "events": ("E.i", f"{_INV}/{_ROLE}/h:subjectOf2/h:observation"),
    "study": ("C.5.2", f"{_INV}/{_ROLE}/h:subjectOf1/h:researchStudy/h:title"),
    "study_number": ("C.5.3", f"{_INV}/{_ROLE}/h:subjectOf1/h:researchStudy/h:id"),
    "narrative": ("H.1", f"{_INV}/h:text"),
    "identifiers": ("C.1", f"{_INV}/h:id"),
    "documents": ("C.1.6.1.r", f"{_INV}/h:reference/h:document"),
}


def _digest(msg: etree._Element, organization: str, kind: str) -> str:
    h = hashlib.sha256(f"{organization}\x1f{kind}\x1f".encode())
    h.update(etree.tostring(msg, method="c14n"))
    return h.hexdigest()[:20].upper()


def _required_id(inv: etree._Element, root: str, element: str) -> str:
    expr = f"h:id[@root='{root}']"
    node = _first(inv, expr)
    value = (node.get("extension") or "").strip() if node is not None else ""
    if not value:
        state = "is missing" if node is None else "has no value"
        raise MessageError(element, hl7_path(inv, expr), f"required element {state}")
    return value


def _required_ts(inv: etree._Element, expr: str, element: str, today: date) -> PartialDate:
    node = _first(inv, expr)
    value = _ts(node, inv, expr, element, today)
    if value is None:
        raise MessageError(element, hl7_path(inv, expr), "required date is missing")
    return value


def _report_type(inv: etree._Element) -> str | None:
    code = _code(
        inv,
        f"h:subjectOf2/h:investigationCharacteristic[h:code/@code='1']"
        f"[h:code/@codeSystem='{CS_INVESTIGATION_CHARACTERISTIC}']/h:value",
    )
    return REPORT_TYPES.get(code or "")


def _study(role: etree._Element) -> dict[str, Any]:
    study = _first(role, "h:subjectOf1/h:researchStudy")
    if study is None:
        return {}
    code_el = _first(study, "h:code")
    study_type = STUDY_TYPES.get(code_el.get("code", "")) if code_el is not None else None
    return {
        "study": _clip(_text(_first(study, "h:title"))),
        "study_number": _ext(study, f"h:id[@root='{ROOT_STUDY_NUMBER}']"),
        "study_type": study_type,
    }


def _patient(role: etree._Element, today: date) -> dict[str, Any]:
    player = _first(role, "h:player1")
    patient: dict[str, Any] = {}
    reasons: dict[str, str] = {}
    if player is None:
        return patient
    name_el = _first(player, "h:name")
    name, reason = _value(name_el)
    if reason:
        reasons["initials"] = reason
    elif name:
        patient.update(_split_patient_name(name))
    sex_el = _first(player, "h:administrativeGenderCode")
    sex, reason = _value(sex_el, attr="code")
    if reason:
        reasons["sex"] = reason
    elif sex:
        patient["sex"] = SEXES.get(sex)
    birth = _first(player, "h:birthTime")
    _, reason = _value(birth, attr="value")
    if reason:
        reasons["dob"] = reason
    else:
        patient["dob"] = _ts(birth, role, "h:player1/h:birthTime", "D.2.1", today)
    mrn: dict[str, str] = {}
    for ident in _nodes(player, "h:asIdentifiedEntity"):
        kind = MRN_KINDS.get(_code(ident, "h:code") or "")
        if kind is None:
            continue
        value, reason = _value(_first(ident, "h:id"), attr="extension")
        if reason:
            reasons[f"mrn.{kind}"] = reason
        elif value:
            mrn[kind] = value
    patient["mrn"] = mrn
    observations = {
        code: obs for obs in _nodes(role, "h:subjectOf2/h:observation") if (code := _obs_code(obs))
    }
    for code, key in (
        (OBS_AGE, "age"),
        (OBS_GESTATION, "gestation"),
        (OBS_WEIGHT, "weight"),
        (OBS_HEIGHT, "height"),
    ):
        if code in observations:
            patient[key] = _quantity(_first(observations[code], "h:value"))
    if OBS_AGE_GROUP in observations:
        value, reason = _value(_first(observations[OBS_AGE_GROUP], "h:value"), attr="code")
        if reason:
            reasons["age_group"] = reason
        elif value:
            patient["age_group"] = AGE_GROUPS.get(value)
    patient["reason_omitted"] = reasons
    return {k: v for k, v in patient.items() if v is not None}


def _split_patient_name(name: str) -> dict[str, str]:
    """D.1 holds "name or initials": several multi-letter words are a name, else initials."""
    words = name.split()
    if len(words) >= 2 and all(len(w.strip(".")) > 1 for w in words):
        return {"first_name": " ".join(words[:-1]), "last_name": words[-1]}
    return {"initials": name}


def _reporter(inv: etree._Element) -> dict[str, Any]:
    sources = _nodes(
        inv,
        f"h:outboundRelationship[h:relatedInvestigation/h:code/@code='2']"
        f"[h:relatedInvestigation/h:code/@codeSystem='{CS_REPORT_RELATION}']",
    )
    if not sources:
        return {}
    # C.2.r.5 marks the primary source for regulatory purposes; else the first source.
    primary = next((s for s in sources if _attr(s, "h:priorityNumber", "value") == "1"), sources[0])
    entity = _first(
        primary, "h:relatedInvestigation/h:subjectOf2/h:controlActEvent/h:author/h:assignedEntity"
    )
    if entity is None:
        return {}
    reporter: dict[str, Any] = {}
    reasons: dict[str, str] = {}
    person = _first(entity, "h:assignedPerson")
    pairs = (
        ("first_name", person, "h:name/h:given", None),
        ("last_name", person, "h:name/h:family", None),
        ("qualification", person, "h:asQualifiedEntity/h:code", "code"),
        ("country", person, "h:asLocatedEntity/h:location/h:code", "code"),
        ("organization", entity, "h:representedOrganization/h:name", None),
    )
    for key, base, expr, attr in pairs:
        if base is None:
            continue
        value, reason = _value(_first(base, expr), attr=attr)
        if reason:
            reasons[key] = reason
        elif value:
            reporter[key] = value
    if "qualification" in reporter:
        reporter["qualification"] = QUALIFICATIONS.get(reporter["qualification"])
    if "country" in reporter:
        reporter["country"] = normalize_country(reporter["country"])
    reporter["reason_omitted"] = reasons
    return {k: v for k, v in reporter.items() if v is not None}


def _products(role: etree._Element, inv: etree._Element) -> tuple[list[dict[str, Any]], bool]:
    roles: dict[str, str] = {}
    assessments = _nodes(
        inv,
        f"h:component/h:adverseEventAssessment/h:component/h:causalityAssessment"
        f"[h:code/@code='{OBS_DRUG_ROLE}'][h:code/@codeSystem='{CS_OBSERVATION}']",
    )
    for assessment in assessments:
        ref = _attr(assessment, "h:subject2/h:productUseReference/h:id", "root")
        role_name = DRUG_ROLES.get(_code(assessment, "h:value") or "")
        if ref and role_name:
            roles[ref] = role_name
    drugs = _nodes(
        role,
        f"h:subjectOf2/h:organizer[h:code/@code='4'][h:code/@codeSystem='{CS_ORGANIZER}']"
        "/h:component/h:substanceAdministration",
    )
    products: list[dict[str, Any]] = []
    for drug in drugs:
        blinded = _strings(
            drug,
            f"h:outboundRelationship2/h:observation[h:code/@code='{OBS_BLINDED}']"
            f"[h:code/@codeSystem='{CS_OBSERVATION}']/h:value/@value",
        )
        products.append(
            {
                "product_reported": _clip(
                    _text(_first(drug, "h:consumable/h:instanceOfKind/h:kindOfProduct/h:name"))
                ),
                "drug_role": roles.get(_attr(drug, "h:id", "root") or ""),
                "blinded": "true" in blinded,
            }
        )
    # The primary product (rank 1) is the first suspect or interacting drug (G.k.1).
    products.sort(key=lambda p: p["drug_role"] not in ("suspect", "interacting"))
    for rank, product in enumerate(products, start=1):
        product["rank"] = rank
    return products, any(p["blinded"] for p in products)


def _events(role: etree._Element, today: date) -> list[dict[str, Any]]:
    reactions = _nodes(
        role,
        f"h:subjectOf2/h:observation[h:code/@code='{OBS_REACTION}'][h:code/@codeSystem='{CS_OBSERVATION}']",
    )
    events: list[dict[str, Any]] = []
    for rank, obs in enumerate(reactions, start=1):
        value = _first(obs, "h:value")
        # E.i.2.1b is a MedDRA *LLT* code in E2B(R3). Without a MedDRA dictionary it
        # cannot be rolled up to its PT, so the coded term is kept as the event's code:
        # two reports coded to the same LLT compare equal (N7); an LLT that is its own
        # PT (most are) compares equal to a PT-coded record too.
        code = None
        if value is not None and value.get("codeSystem") == CS_MEDDRA:
            code = value.get("code")
        verbatim = _text(_first(value, "h:originalText")) if value is not None else None
        if not verbatim:
            verbatim = _text(
                _first(
                    obs,
                    f"h:outboundRelationship2/h:observation[h:code/@code='{OBS_REACTION_TRANSLATION}']/h:value",
                )
            )
        seriousness = [
            name
            for obs_code, name in SERIOUSNESS.items()
            if _nodes(
                obs,
                f"h:outboundRelationship2/h:observation[h:code/@code='{obs_code}']"
                f"[h:code/@codeSystem='{CS_OBSERVATION}']/h:value[@value='true']",
            )
        ]
        country = _attr(obs, "h:location/h:locatedEntity/h:locatedPlace/h:code", "code")
        onset = _ts(
            _first(obs, "h:effectiveTime/h:low"), obs, "h:effectiveTime/h:low", "E.i.4", today
        )
        events.append(
            {
                "event_reported": verbatim,
                "meddra_pt_code": code if code and re.fullmatch(r"\d{8}", code) else None,
                "country": normalize_country(country),
                "onset": onset,
                "seriousness": seriousness,
                "rank": rank,
            }
        )
    return events


def _documents(inv: etree._Element) -> list[dict[str, Any]]:
    """Titles and file names of the documents (C.1.6.1.r, C.4.r), never their content."""
    docs: list[dict[str, Any]] = []
    for doc in _nodes(inv, "h:reference/h:document"):
        title = _text(_first(doc, "h:title")) or _text(
            _first(doc, "h:bibliographicDesignationText")
        )
        filename = _attr(doc, "h:text/h:reference", "value")
        kind = "literature" if _code(doc, "h:code") == "2" else "document"
        entry = {"kind": kind, "title": title, "file": filename}
        docs.append({k: v[:500] if isinstance(v, str) else v for k, v in entry.items() if v})
    return docs


# -- HL7 value helpers ----------------------------------------------------------------

_TS = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(?:\d{2,}(?:\.\d+)?)?(?:[+-]\d{2,4})?$")


def _ts(
    node: etree._Element | None, base: etree._Element, expr: str, element: str, today: date
) -> PartialDate | None:
    """An HL7 TS (``20010615``, ``200106``, ``2001``, with time and zone) as a PartialDate."""
    if node is None or node.get("nullFlavor"):
        return None
    raw = (node.get("value") or "").strip()
    if not raw:
        return None
    m = _TS.match(raw)
    if not m:
        raise MessageError(
            element, hl7_path(base, expr), "not an HL7 date (expected YYYY[MM[DD[hhmmss]]][+zzzz])"
        )
    year, month, day = (int(g) if g else None for g in m.groups())
    assert year is not None
    try:
        value = PartialDate(year, month, day)
    except ValueError:
        raise MessageError(element, hl7_path(base, expr), "not a calendar date") from None
    if value.first_day > today:
        raise MessageError(element, hl7_path(base, expr), "date is in the future")
    return value


def _value(node: etree._Element | None, attr: str | None = None) -> tuple[str | None, str | None]:
    """``(value, reason_omitted)``: a null flavor gives a reason and never a value."""
    if node is None:
        return None, None
    flavor = node.get("nullFlavor")
    if flavor:
        return None, NULL_FLAVORS.get(flavor)
    raw = node.get(attr) if attr else _text(node)
    return (raw.strip() or None) if raw else None, None


def _quantity(node: etree._Element | None) -> dict[str, Any] | None:
    if node is None or node.get("nullFlavor") or not node.get("value"):
        return None
    try:
        number = float(node.get("value", ""))
    except ValueError:
        return None
    unit = node.get("unit")
    return {"value": number, "unit": quantity_unit(unit) if unit else None}


def _obs_code(obs: etree._Element) -> str | None:
    code = _first(obs, "h:code")
    if code is None or code.get("codeSystem") != CS_OBSERVATION:
        return None
    return code.get("code")


@lru_cache(maxsize=512)
def _xpath(expr: str) -> etree.XPath:
    """A compiled XPath (``h:`` = the HL7 namespace); the expressions are few and reused."""
    return etree.XPath(expr, namespaces=NS)


def _nodes(node: etree._Element, expr: str) -> list[etree._Element]:
    """The elements an XPath selects under ``node``."""
    found = _xpath(expr)(node)
    assert isinstance(found, list)
    return [n for n in found if isinstance(n, etree._Element)]


def _strings(node: etree._Element, expr: str) -> list[str]:
    """The attribute values an XPath ending in ``/@name`` selects under ``node``."""
    found = _xpath(expr)(node)
    assert isinstance(found, list)
    return [str(v) for v in found if isinstance(v, str)]


def _first(node: etree._Element | None, expr: str) -> etree._Element | None:
    if node is None:
        return None
    found = _nodes(node, expr)
    return found[0] if found else None


def _attr(node: etree._Element, expr: str, attr: str) -> str | None:
    el = _first(node, expr)
    value = el.get(attr) if el is not None else None
    return value.strip() or None if value else None


def _ext(node: etree._Element, expr: str) -> str | None:
    return _attr(node, expr, "extension")


def _code(node: etree._Element, expr: str) -> str | None:
    return _attr(node, expr, "code")


def _text(node: etree._Element | None) -> str | None:
    if node is None or node.get("nullFlavor"):
        return None
    text = " ".join("".join(str(t) for t in node.itertext()).split())
    return text or None


#: The record's limit for short text (``indexer.records.ShortText``).
_SHORT = 200


def _clip(text: str | None) -> str | None:
    """ICH allows longer study names (C.5.2, 2,000) and product names (G.k.2.2, 250)
    than a record's short text; a valid ICSR is never refused for that, the
    matchable head of the value is kept (the XML stays the system of record)."""
    return text[:_SHORT].rstrip() if text else text


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(v.strip() for v in values if v.strip()))


def hl7_path(node: etree._Element, expr: str = "") -> str:
    """A readable element path (local names, ``[n]`` only where siblings repeat)."""
    steps: list[str] = []
    el: etree._Element | None = node
    while el is not None:
        name = etree.QName(el).localname
        parent = el.getparent()
        if parent is not None:
            same = [s for s in parent if s.tag == el.tag]
            if len(same) > 1:
                name += f"[{same.index(el) + 1}]"
        steps.append(name)
        el = parent
    path = "/" + "/".join(reversed(steps))
    if expr:
        path += "/" + expr.replace("h:", "")
    return path
