"""The record JSON of SPEC §7 as pydantic models: Cases and Inbox Items alike.

A record is what callers send and what casematch stores; index documents are
derived from it (``indexer.documents``). Validation is strict: unknown fields,
unknown enum values, malformed or future dates and a missing organization fail
with a message that names the field, the value and what is allowed
(:func:`describe_errors`), with PHI values masked in the message.

    >>> r = Record.model_validate({"id": "II-1", "kind": "inbox_item", "organization": "ORG-A"})
    >>> r.state, r.patient.initials
    ('new', None)
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from indexer.dates import PartialDate
from indexer.fields import PHI_PATHS, masked_excerpt


class ReasonOmitted(StrEnum):
    """Why a value is absent (E2B null flavors and privacy)."""

    masked = "masked"
    unknown = "unknown"
    asked_but_unknown = "asked_but_unknown"
    not_asked = "not_asked"
    no_information = "no_information"
    privacy = "privacy"


class Kind(StrEnum):
    case = "case"
    inbox_item = "inbox_item"


class InboxState(StrEnum):
    new = "new"
    triage = "triage"
    verified = "verified"
    processing = "processing"
    missing_information = "missing_information"
    promotion_failed = "promotion_failed"
    marked_as_follow_up = "marked_as_follow_up"
    promoted = "promoted"
    duplicate = "duplicate"
    rejected = "rejected"
    superseded = "superseded"


class CaseState(StrEnum):
    new = "new"
    in_progress = "in_progress"
    medical_review = "medical_review"
    approved = "approved"
    closed = "closed"
    superseded = "superseded"
    voiding = "voiding"
    void = "void"
    nullifying = "nullifying"
    nullified = "nullified"
    deleted = "deleted"


_INBOX_STATE_NAMES: tuple[str, ...] = tuple(s.value for s in InboxState)
_CASE_STATE_NAMES: tuple[str, ...] = tuple(s.value for s in CaseState)

#: Inbox Item states that leave the search results (I3, M7).
CLOSED_INBOX_STATES: frozenset[str] = frozenset({"promoted", "duplicate", "rejected", "superseded"})
#: Case states that are not in flight (SPEC §1).
NOT_IN_FLIGHT_CASE_STATES: frozenset[str] = frozenset(
    {"approved", "closed", "superseded", "voiding", "void", "nullifying", "nullified", "deleted"}
)
#: States that are never returned by detection (M7): superseded versions, closed items.
UNSEARCHABLE_STATES: frozenset[str] = CLOSED_INBOX_STATES


class Source(StrEnum):
    manual = "manual"
    intake_api = "intake_api"
    e2b = "e2b"
    as2 = "as2"
    edc = "edc"
    structured_import = "structured_import"


class Sex(StrEnum):
    female = "female"
    male = "male"
    unknown = "unknown"
    other = "other"


class Qualification(StrEnum):
    physician = "physician"
    pharmacist = "pharmacist"
    other_health_professional = "other_health_professional"
    lawyer = "lawyer"
    consumer = "consumer"


class DrugRole(StrEnum):
    suspect = "suspect"
    concomitant = "concomitant"
    interacting = "interacting"
    drug_not_administered = "drug_not_administered"


class Seriousness(StrEnum):
    death = "death"
    life_threatening = "life_threatening"
    hospitalization = "hospitalization"
    disability = "disability"
    congenital_anomaly = "congenital_anomaly"
    other_medically_important = "other_medically_important"


#: Fields whose values are PHI/PII (M20): masked in responses and never logged. Declared
#: in the field registry (``indexer.fields``), which every place that masks reads.
PHI_FIELDS: frozenset[str] = PHI_PATHS

#: The record id grammar (docs/api.md "Ids"): a letter or digit, then letters, digits and
#: ``- _ . :``, 128 characters at most. No ``/``, no whitespace, no control or format
#: characters, nothing that a URL path segment would change, so every accepted id can be
#: read back by its URL. Organizations follow the same grammar.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
ID_RULE = (
    "an id is 1-128 characters: a letter or digit first, then letters, digits, "
    "'-', '_', '.' or ':' (no '/', whitespace, control or format characters)"
)
_ID_RE = re.compile(ID_PATTERN, re.ASCII)


def is_valid_id(value: str) -> bool:
    """Whether ``value`` follows the id grammar (:data:`ID_PATTERN`).

    >>> is_valid_id("II-2024:0001.a"), is_valid_id("a/b"), is_valid_id(".."), is_valid_id(" x")
    (True, False, False, False)
    """
    return _ID_RE.fullmatch(value) is not None


#: Between the organization and the record id in every stored document id (docs/api.md
#: "Tenancy"). Neither an id nor an organization can hold it (:data:`ID_PATTERN`), so the
#: pair is recovered unambiguously and two organizations never share a document.
ORG_SEPARATOR = "|"


def doc_key(organization: str, key: str) -> str:
    """The stored document id of ``key`` (a record id, a Case version, a transmission or
    audit entry id) within ``organization``.

    >>> doc_key("ORG-A", "II-1"), doc_key("ORG-A", case_doc_key("C-1", 2))
    ('ORG-A|II-1', 'ORG-A|C-1~v2')
    """
    return f"{organization}{ORG_SEPARATOR}{key}"


def case_doc_key(case_id: str, version: int) -> str:
    """A Case version's key within its organization (``C-1~v2``)."""
    return f"{case_id}~v{version}"


def is_scoped_doc_id(doc_id: str) -> bool:
    """Whether a stored document id is of the per-organization form (:func:`doc_key`);
    stores written before ids were unique per organization hold ids without it.

    >>> is_scoped_doc_id("ORG-A|II-1"), is_scoped_doc_id("II-1"), is_scoped_doc_id("C-1~v1")
    (True, False, False)
    """
    return ORG_SEPARATOR in doc_id


Text = Annotated[str, Field(max_length=2000)]
ShortText = Annotated[str, Field(max_length=200)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, validate_assignment=False)


class Quantity(_Model):
    """A measured value with its unit (age 44 year, weight 70 kg)."""

    value: float | None = None
    unit: ShortText | None = None


class Identifiers(_Model):
    case_identifiers: list[ShortText] = Field(default_factory=list, max_length=100)
    wwuid: ShortText | None = None
    uid: ShortText | None = None
    external_system_uid: ShortText | None = None
    case_vault_global_id: ShortText | None = None
    event_vault_global_id: ShortText | None = None

    def all(self) -> list[tuple[str, str]]:
        """Every identifier as ``(kind, value)``, case identifiers first."""
        out = [("case_identifier", v) for v in self.case_identifiers]
        for kind in (
            "wwuid",
            "uid",
            "external_system_uid",
            "case_vault_global_id",
            "event_vault_global_id",
        ):
            value = getattr(self, kind)
            if value:
                out.append((kind, value))
        return out


class Mrn(_Model):
    gp: ShortText | None = None
    specialist: ShortText | None = None
    hospital: ShortText | None = None
    investigation: ShortText | None = None


class Patient(_Model):
    initials: ShortText | None = None
    first_name: ShortText | None = None
    last_name: ShortText | None = None
    sex: Sex | None = None
    dob: PartialDate | None = None
    age: Quantity | None = None
    age_group: ShortText | None = None
    gestation: Quantity | None = None
    height: Quantity | None = None
    weight: Quantity | None = None
    mrn: Mrn = Field(default_factory=Mrn)
    edc_subject: ShortText | None = None
    reason_omitted: dict[str, ReasonOmitted] = Field(default_factory=dict)

    @field_validator("dob")
    @classmethod
    def _dob_not_in_future(cls, value: PartialDate | None) -> PartialDate | None:
        _reject_future(value)
        return value


class Reporter(_Model):
    first_name: ShortText | None = None
    last_name: ShortText | None = None
    organization: ShortText | None = None
    qualification: Qualification | None = None
    country: ShortText | None = None
    reason_omitted: dict[str, ReasonOmitted] = Field(default_factory=dict)


class Product(_Model):
    product: ShortText | None = None
    product_reported: ShortText | None = None
    study_product: ShortText | None = None
    study_product_role: ShortText | None = None
    rank: int = Field(default=1, ge=1, le=1000)
    drug_role: DrugRole | None = None
    blinded: bool = False


class Event(_Model):
    event_reported: Text | None = None
    meddra_pt_code: Annotated[str, Field(pattern=r"^\d{8}$")] | None = None
    meddra_pt: ShortText | None = None
    country: ShortText | None = None
    onset: PartialDate | None = None
    seriousness: list[Seriousness] = Field(default_factory=list)
    rank: int = Field(default=1, ge=1, le=1000)

    @field_validator("onset")
    @classmethod
    def _onset_not_in_future(cls, value: PartialDate | None) -> PartialDate | None:
        _reject_future(value)
        return value


class _RecordFields(_Model):
    """The fields a caller may send (SPEC §7); the stored :class:`Record` adds workflow state."""

    id: ShortText = Field(min_length=1)
    kind: Kind
    organization: ShortText = Field(min_length=1)
    state: ShortText = "new"
    version: int = Field(default=1, ge=1)
    case_id: ShortText | None = None
    source: Source = Source.intake_api
    report_type: ShortText | None = None
    study_type: ShortText | None = None
    study: ShortText | None = None
    study_number: ShortText | None = None
    study_arm: ShortText | None = None
    blinded: bool = False
    receipt_date: PartialDate | None = None
    new_info_date: PartialDate | None = None
    localization: ShortText = "global"
    identifiers: Identifiers = Field(default_factory=Identifiers)
    patient: Patient = Field(default_factory=Patient)
    reporter: Reporter = Field(default_factory=Reporter)
    products: list[Product] = Field(default_factory=list, max_length=500)
    events: list[Event] = Field(default_factory=list, max_length=500)
    narrative: Annotated[str, Field(max_length=100_000)] | None = None
    documents: list[dict[str, Any] | str] = Field(default_factory=list)
    transmission_profile: ShortText | None = None

    @field_validator("receipt_date", "new_info_date")
    @classmethod
    def _not_in_future(cls, value: PartialDate | None) -> PartialDate | None:
        _reject_future(value)
        return value

    @field_validator("state")
    @classmethod
    def _known_state(cls, value: str, info: ValidationInfo) -> str:
        kind = info.data.get("kind")
        if kind is None:  # the kind itself is invalid and reported on its own
            return value
        names = _INBOX_STATE_NAMES if kind is Kind.inbox_item else _CASE_STATE_NAMES
        if value not in names:
            raise ValueError(f"not a {kind.value} state; allowed: {', '.join(names)}")
        return value

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.kind is Kind.case and self.case_id is None:
            self.case_id = self.id
        return self

    # -- conveniences used by the indexer, matcher and service ---------------

    @property
    def is_clinical_trial(self) -> bool:
        return (self.study_type or "").strip().lower() == "clinical_trial"

    @property
    def primary_product(self) -> Product | None:
        return min(self.products, key=lambda p: p.rank, default=None)

    @property
    def primary_event(self) -> Event | None:
        return min(self.events, key=lambda e: e.rank, default=None)

    @property
    def doc_id(self) -> str:
        """The index document id: one per Case version, one per Inbox Item, within the
        record's organization (``ORG-A|II-1``, ``ORG-A|C-1~v2``; :func:`doc_key`)."""
        if self.kind is Kind.case:
            return doc_key(self.organization, case_doc_key(self.case_id or self.id, self.version))
        return doc_key(self.organization, self.id)


#: States a caller may store a record in; the others are written by the workflows only
#: (promotion outcomes, I2's ``superseded``, the transitional ``voiding``/``nullifying``).
INTAKE_INBOX_STATES: tuple[str, ...] = ("new", "triage", "verified")
INTAKE_CASE_STATES: tuple[str, ...] = tuple(
    s for s in _CASE_STATE_NAMES if s not in {"superseded", "voiding", "nullifying"}
)


class RecordIn(_RecordFields):
    """What a caller may send to ``POST /v1/cases`` and ``/v1/inbox-items`` (the intake model).

    No ``links`` (workflow bookkeeping), only intake states, and ids, Case ids and
    organizations that follow the id grammar (:data:`ID_PATTERN`). Unknown fields
    are refused with a 422 naming them.

        >>> RecordIn.model_validate({"id": "II-1", "kind": "inbox_item",
        ...                          "organization": "ORG-A"}).to_record().links
        {}
    """

    @field_validator("id", "case_id", "organization", mode="before")
    @classmethod
    def _id_grammar(cls, value: Any) -> Any:
        if isinstance(value, str) and not is_valid_id(value):
            raise ValueError(ID_RULE)
        return value

    @field_validator("state")
    @classmethod
    def _intake_state(cls, value: str, info: ValidationInfo) -> str:
        kind = info.data.get("kind")
        if kind is None:
            return value
        names = INTAKE_INBOX_STATES if kind is Kind.inbox_item else INTAKE_CASE_STATES
        if value not in names:
            raise ValueError(
                f"a {kind.value} cannot be stored in this state (the workflows set it); "
                f"allowed: {', '.join(names)}"
            )
        return value

    def to_record(self) -> Record:
        """The record to store: the same fields, no workflow state yet."""
        return Record.model_construct(
            _fields_set=self.model_fields_set,
            **{name: getattr(self, name) for name in type(self).model_fields},
            links={},
        )


class Record(_RecordFields):
    """A Case (one version) or an Inbox Item as stored: the intake fields plus ``links``,
    the workflows' bookkeeping (pending plan, prior state, outcome)."""

    links: dict[str, Any] = Field(default_factory=dict)


#: Fields of the stored record that a caller may never send.
STORED_ONLY_FIELDS: tuple[str, ...] = tuple(
    sorted(set(Record.model_fields) - set(RecordIn.model_fields))
)


def id_grammar_errors(record: _RecordFields) -> list[ErrorDetail]:
    """Error details for the id, Case id and organization of ``record`` that break the
    id grammar (bulk loads validate the stored shape, then this)."""
    out: list[ErrorDetail] = []
    for name in ("id", "case_id", "organization"):
        value = getattr(record, name)
        if value is not None and not is_valid_id(value):
            out.append({"field": name, "value": shown_value(name, value), "error": ID_RULE})
    return out


def _reject_future(value: PartialDate | None) -> None:
    # The field is named by the error's location; the value is never repeated (M21).
    if value is not None and value.first_day > date.today():
        raise ValueError("the date is in the future; a reported date cannot be after today")


ErrorDetail = dict[str, Any]


def describe_errors(exc: ValidationError) -> list[ErrorDetail]:
    """Field-by-field errors for a 422 or a load report, with PHI values masked and other
    values cut to a short excerpt (``indexer.fields.masked_excerpt``).

    Each item is ``{"field": "patient.dob", "value": "***", "error": "..."}``. The
    value of an unknown (refused) field is masked too: nobody knows whether it is PHI.
    """
    out: list[ErrorDetail] = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"] if not isinstance(p, int))
        path = ".".join(str(p) for p in err["loc"])
        value = err.get("input")
        shown = shown_value(loc, value, refused=err["type"] == "extra_forbidden")
        out.append(
            {"field": safe_text(path) or "record", "value": shown, "error": clean_message(err)}
        )
    return out


#: pydantic message prefixes that say nothing to an API caller.
_PREFIXES = ("Value error, ", "Assertion failed, ")


def clean_message(err: Any) -> str:
    """A pydantic error message without library internals.

    ``Value error, ...`` loses its prefix, and a model-type error (``Input should be
    a valid dictionary or instance of Quantity``) says what JSON was expected.

        >>> clean_message({"type": "model_type", "msg": "... instance of Quantity"})
        'expected a JSON object'
    """
    kind = err.get("type", "")
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "expected a JSON object"
    if kind == "extra_forbidden":
        return "unknown field; not accepted here"
    msg = str(err.get("msg", ""))
    for prefix in _PREFIXES:
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    return msg


def shown_value(field: str, value: Any, *, refused: bool = False) -> Any:
    """What an error body may repeat of a value: ``"***"`` for PHI or a refused field,
    nothing for objects and lists, a short excerpt of a long string (the field
    registry's :func:`indexer.fields.masked_excerpt`, so every error body cuts alike).

        >>> shown_value("patient.dob", "1980-01-02"), shown_value("study", "x" * 99)[-3:]
        ('***', 'xx…')
    """
    if _is_phi_path(field) or refused:
        return "***"
    if isinstance(value, tuple | bytes):
        return None
    if isinstance(value, str):
        value = safe_text(value)
    return masked_excerpt(field, value)


def safe_text(text: str) -> str:
    """``text`` as valid Unicode: lone surrogates (legal JSON escapes) become ``\\udXXX``.

    >>> safe_text("a" + chr(0xD800))
    'a\\\\ud800'
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _is_phi_path(loc: str) -> bool:
    return any(loc == f or loc.startswith(f + ".") for f in PHI_FIELDS) or loc.startswith(
        "patient.reason_omitted"
    )


def parse_record(data: Any, *, kind: Literal["case", "inbox_item"] | None = None) -> Record:
    """Validate one stored-shape record (loads, reindex); ``kind`` fills in the kind."""
    if kind is not None and isinstance(data, dict) and "kind" not in data:
        data = {**data, "kind": kind}
    return Record.model_validate(data)


def parse_intake(data: Any, *, kind: Literal["case", "inbox_item"] | None = None) -> Record:
    """Validate one record a caller sent (:class:`RecordIn`) and return it ready to store."""
    if kind is not None and isinstance(data, dict) and "kind" not in data:
        data = {**data, "kind": kind}
    return RecordIn.model_validate(data).to_record()
