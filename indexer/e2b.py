"""E2B(R3) ICSR intake: HL7 v3 XML messages become Records (SPEC §2, §7, I5).

An ICH E2B(R3) transmission is an HL7 v3 batch (``MCCI_IN200100UV01``) holding
one or more ICSR messages (``PORR_IN049016UV``). Each message becomes one
:class:`~indexer.records.Record` with ``source="e2b"``. Elements are found by
their ICH codes and OIDs (``id/@root``, ``code/@code`` + ``codeSystem``),
never by position, so the optional elements a sender leaves out do not shift
anything.

What this module guarantees:

- **Hardened parsing.** lxml with no network access, no DTD loading, no entity
  expansion and lxml's default tree limits; a document with a ``DOCTYPE`` is
  refused (ICH messages never carry one). ZIP input is read member by member
  with caps on the number of messages and on the uncompressed size.
- **Null flavors are reasons, never text.** ``MSK``, ``ASKU``, ``NASK``, ``UNK``
  and ``NI`` on a patient or reporter value become ``reason_omitted`` entries
  and the value stays empty, so it can never match (N5).
- **Per-message errors.** Malformed XML is one error naming the input and the
  line; a message missing a required element, or carrying an invalid or future
  date, is one error naming the message number, the ICH data element and its
  path, and the other messages of the same input still load. Errors never
  carry a value from the message (no PHI).
- **Deterministic ids.** A record id is a digest of the organization, the kind
  and the canonical XML of the message, so loading the same file twice gives
  the same ids (an idempotent re-load) and different messages never collide.

    >>> result = parse_e2b_file(Path("FAERS2022Scenario1.xml"), E2BOptions(organization="ORG-A"))
    ... # doctest: +SKIP
    >>> [r.identifiers.wwuid for r in result.records], result.errors  # doctest: +SKIP
    (['US-APHARMA-8744554B'], [])
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
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
from indexer.records import Record, describe_errors

HL7 = "urn:hl7-org:v3"
NS = {"h": HL7}
BATCH = f"{{{HL7}}}MCCI_IN200100UV01"
MESSAGE = f"{{{HL7}}}PORR_IN049016UV"

#: At most this many ICSR messages per input (a file, a request or a ZIP).
MAX_MESSAGES = 1000
#: Uncompressed bytes accepted from one input, ZIP members included.
MAX_INPUT_BYTES = 512 * 1024 * 1024

_ZIP_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True, slots=True)
class E2BError:
    """Why one message (or a whole input) was not loaded. Never carries message values."""

    source: str
    reason: str
    message_number: int | None = None
    element: str = ""
    path: str = ""
    line: int | None = None

    def __str__(self) -> str:
        parts = [self.source]
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.message_number is not None:
            parts.append(f"message {self.message_number}")
        if self.element:
            parts.append(self.element)
        if self.path:
            parts.append(self.path)
        return ": ".join(parts) + f": {self.reason}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "message_number": self.message_number,
            "element": self.element,
            "path": self.path,
            "line": self.line,
            "reason": self.reason,
        }


@dataclass(slots=True)
class E2BResult:
    """The records of the good messages and one error per rejected message."""

    records: list[Record] = field(default_factory=list)
    errors: list[E2BError] = field(default_factory=list)
    messages: int = 0

    def extend(self, other: E2BResult) -> None:
        self.records.extend(other.records)
        self.errors.extend(other.errors)
        self.messages += other.messages


@dataclass(frozen=True, slots=True)
class E2BOptions:
    """How messages become records.

    ``organization`` is the caller's choice; when it is ``None`` the message
    sender identifier (N.2.r.2, else the batch sender N.1.3) is looked up in
    ``sender_organizations`` (a transmission profile's partner id). A message
    whose organization resolves neither way is rejected.
    """

    organization: str | None = None
    sender_organizations: Mapping[str, str] = field(default_factory=dict)
    kind: Literal["case", "inbox_item"] = "inbox_item"
    id_prefix: str = "E2B-"
    max_messages: int = MAX_MESSAGES
    max_bytes: int = MAX_INPUT_BYTES
    today: date | None = None


class _MessageError(Exception):
    """One message cannot be loaded: which element, where, and why."""

    def __init__(self, element: str, path: str, reason: str) -> None:
        super().__init__(reason)
        self.element, self.path, self.reason = element, path, reason


# -- public entry points -----------------------------------------------------------


def parse_e2b(data: bytes, options: E2BOptions, *, source: str = "<input>") -> E2BResult:
    """Parse E2B(R3) XML bytes (a batch or a single message), or a ZIP of such files."""
    if data.startswith(_ZIP_MAGIC):
        return _parse_zip(data, options, source)
    if len(data) > options.max_bytes:
        return _fail(source, f"input is larger than {options.max_bytes} bytes")
    return _parse_xml(data, options, source, budget=options.max_messages)


def parse_e2b_file(path: Path, options: E2BOptions) -> E2BResult:
    """Parse one ``.xml`` or ``.zip`` file; errors name the file, never its content."""
    size = path.stat().st_size
    if size > options.max_bytes:
        return _fail(path.name, f"file is larger than {options.max_bytes} bytes")
    return parse_e2b(path.read_bytes(), options, source=path.name)


def iter_e2b_file(path: Path, options: E2BOptions) -> Iterator[Record | E2BError]:
    """Records and errors of one file, in message order (errors of the input first)."""
    result = parse_e2b_file(path, options)
    yield from result.errors
    yield from result.records


def is_e2b_xml(head: bytes) -> bool:
    """True when the first bytes of a document look like an HL7 v3 ICSR."""
    return b"urn:hl7-org:v3" in head and (
        b"MCCI_IN200100UV01" in head or b"PORR_IN049016UV" in head
    )


# -- containers --------------------------------------------------------------------


def _fail(source: str, reason: str, line: int | None = None) -> E2BResult:
    return E2BResult(errors=[E2BError(source=source, reason=reason, line=line)])


def _parse_zip(data: bytes, options: E2BOptions, source: str) -> E2BResult:
    result = E2BResult()
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        return _fail(source, "not a readable ZIP archive")
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) > options.max_messages:
            return _fail(source, f"ZIP holds more than {options.max_messages} files")
        declared = sum(m.file_size for m in members)
        if declared > options.max_bytes:
            return _fail(source, f"ZIP expands to more than {options.max_bytes} bytes")
        budget, spent = options.max_messages, 0
        for member in sorted(members, key=lambda m: m.filename):
            name = f"{source}/{member.filename}"
            if not member.filename.lower().endswith(".xml"):
                result.errors.append(E2BError(name, "not an .xml file; skipped"))
                continue
            with archive.open(member) as fh:
                # Read at most one byte past the remaining allowance: a member whose
                # header under-declares its size cannot expand past the cap.
                content = fh.read(options.max_bytes - spent + 1)
            spent += len(content)
            if spent > options.max_bytes:
                return _fail(source, f"ZIP expands to more than {options.max_bytes} bytes")
            part = _parse_xml(content, options, name, budget=budget)
            if part.messages > budget:
                return _fail(source, f"ZIP holds more than {options.max_messages} messages")
            budget -= part.messages
            result.extend(part)
    return result


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def _parse_xml(data: bytes, options: E2BOptions, source: str, *, budget: int) -> E2BResult:
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        line = exc.position[0] if exc.position else None
        return _fail(source, f"malformed XML: {_syntax_reason(exc)}", line)
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None:
        return _fail(source, "DOCTYPE declarations are not accepted in E2B(R3) messages", 1)
    if root.tag == MESSAGE:
        messages = [root]
    elif root.tag == BATCH:
        messages = root.findall(MESSAGE)
    else:
        local = etree.QName(root).localname
        hint = " (E2B(R2) is not supported)" if local == "ichicsr" else ""
        return _fail(
            source,
            f"root element {local!r} is not an E2B(R3) batch (MCCI_IN200100UV01) or "
            f"ICSR message (PORR_IN049016UV) in namespace {HL7}{hint}",
            1,
        )
    result = E2BResult(messages=len(messages))
    if len(messages) > budget:
        result.errors.append(
            E2BError(source, f"more than {options.max_messages} messages in one input")
        )
        return result
    if not messages:
        result.errors.append(E2BError(source, "the batch holds no PORR_IN049016UV message"))
    batch_sender = _ext(root, "h:sender/h:device/h:id") if root.tag == BATCH else None
    for number, message in enumerate(messages, start=1):
        try:
            result.records.append(_to_record(message, options, batch_sender))
        except _MessageError as rej:
            result.errors.append(E2BError(source, rej.reason, number, rej.element, rej.path))
    return result


def _syntax_reason(exc: etree.XMLSyntaxError) -> str:
    # libxml2 messages quote names, never element content; keep only the first line.
    return str(exc.msg or exc).splitlines()[0][:200]


# -- one message ----------------------------------------------------------------------

_INV = "h:controlActProcess/h:subject/h:investigationEvent"
_ROLE = "h:component/h:adverseEventAssessment/h:subject1/h:primaryRole"


def _to_record(msg: etree._Element, options: E2BOptions, batch_sender: str | None) -> Record:
    today = options.today or date.today()
    inv = _first(msg, _INV)
    if inv is None:
        raise _MessageError("C", _path(msg, _INV), "required element is missing")
    report_id = _required_id(inv, ROOT_SENDER_REPORT_ID, "C.1.1")
    wwuid = _required_id(inv, ROOT_WWUID, "C.1.8.1")
    organization, profile = _organization(msg, options, batch_sender)
    role = _first(inv, _ROLE)
    if role is None:
        raise _MessageError("D", _path(inv, _ROLE), "required element (the patient) is missing")

    products, blinded = _products(role, inv)
    events = _events(role, today)
    if not events:
        raise _MessageError("E.i", _path(role, "h:subjectOf2/h:observation"), "no reaction / event")
    if not products:
        raise _MessageError("G.k", _path(role, "h:subjectOf2/h:organizer"), "no drug information")

    other_ids = [
        v
        for v in _strings(
            inv, f"h:subjectOf1/h:controlActEvent/h:id[@root='{ROOT_OTHER_CASE_ID}']/@extension"
        )
        if v.strip()
    ]
    record: dict[str, Any] = {
        "kind": options.kind,
        "organization": organization,
        "source": "e2b",
        "transmission_profile": profile,
        "report_type": _report_type(inv),
        "receipt_date": _required_ts(inv, "h:effectiveTime/h:low", "C.1.4", today),
        "new_info_date": _required_ts(inv, "h:availabilityTime", "C.1.5", today),
        "identifiers": {
            "case_identifiers": _unique([report_id, *other_ids]),
            "wwuid": wwuid,
        },
        "patient": _patient(role, today),
        "reporter": _reporter(inv),
        "products": products,
        "events": events,
        "blinded": blinded,
        "narrative": _text(_first(inv, "h:text")),
        "documents": _documents(inv),
        **_study(role),
    }
    record["id"] = options.id_prefix + _digest(msg, organization, options.kind)
    try:
        return Record.model_validate(record)
    except ValidationError as exc:
        first = describe_errors(exc)[0]
        element, where = _FIELD_ELEMENTS.get(first["field"].split(".")[0], ("", ""))
        raise _MessageError(element, where, f"{first['field']}: {first['error']}") from None


#: Record field -> (ICH element, path) for errors found by Record validation.
_FIELD_ELEMENTS: dict[str, tuple[str, str]] = {
    "organization": ("", "organization"),
    "patient": ("D", f"{_INV}/{_ROLE}"),
    "reporter": ("C.2.r", f"{_INV}/h:outboundRelationship"),
    "products": ("G.k", f"{_INV}/{_ROLE}/h:subjectOf2/h:organizer"),
    "events": ("E.i", f"{_INV}/{_ROLE}/h:subjectOf2/h:observation"),
    "study": ("C.5", f"{_INV}/{_ROLE}/h:subjectOf1/h:researchStudy"),
    "study_number": ("C.5.3", f"{_INV}/{_ROLE}/h:subjectOf1/h:researchStudy/h:id"),
    "narrative": ("H.1", f"{_INV}/h:text"),
}


def _digest(msg: etree._Element, organization: str, kind: str) -> str:
    h = hashlib.sha256(f"{organization}\x1f{kind}\x1f".encode())
    h.update(etree.tostring(msg, method="c14n"))
    return h.hexdigest()[:20].upper()


def _organization(
    msg: etree._Element, options: E2BOptions, batch_sender: str | None
) -> tuple[str, str | None]:
    if options.organization:
        return options.organization, None
    sender = _ext(msg, "h:sender/h:device/h:id") or batch_sender
    if sender and sender in options.sender_organizations:
        return options.sender_organizations[sender], sender
    raise _MessageError(
        "N.2.r.2",
        _path(msg, "h:sender/h:device/h:id"),
        "no organization: pass one, or configure a transmission profile for this message sender",
    )


def _required_id(inv: etree._Element, root: str, element: str) -> str:
    expr = f"h:id[@root='{root}']"
    node = _first(inv, expr)
    value = (node.get("extension") or "").strip() if node is not None else ""
    if not value:
        state = "is missing" if node is None else "has no value"
        raise _MessageError(element, _path(inv, expr), f"required element {state}")
    return value


def _required_ts(inv: etree._Element, expr: str, element: str, today: date) -> PartialDate:
    node = _first(inv, expr)
    value = _ts(node, inv, expr, element, today)
    if value is None:
        raise _MessageError(element, _path(inv, expr), "required date is missing")
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
        "study": _text(_first(study, "h:title")),
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
                "product_reported": _text(
                    _first(drug, "h:consumable/h:instanceOfKind/h:kindOfProduct/h:name")
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
        raise _MessageError(
            element, _path(base, expr), "not an HL7 date (expected YYYY[MM[DD[hhmmss]]][+zzzz])"
        )
    year, month, day = (int(g) if g else None for g in m.groups())
    assert year is not None
    try:
        value = PartialDate(year, month, day)
    except ValueError:
        raise _MessageError(element, _path(base, expr), "not a calendar date") from None
    if value.first_day > today:
        raise _MessageError(element, _path(base, expr), "date is in the future")
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


def _nodes(node: etree._Element, expr: str) -> list[etree._Element]:
    """The elements an XPath (``h:`` = the HL7 namespace) selects under ``node``."""
    found = node.xpath(expr, namespaces=NS)
    assert isinstance(found, list)
    return [n for n in found if isinstance(n, etree._Element)]


def _strings(node: etree._Element, expr: str) -> list[str]:
    """The attribute values an XPath ending in ``/@name`` selects under ``node``."""
    found = node.xpath(expr, namespaces=NS)
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


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(v.strip() for v in values if v.strip()))


def _path(node: etree._Element, expr: str = "") -> str:
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
