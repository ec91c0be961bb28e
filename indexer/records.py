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

from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal

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


class Record(_Model):
    """A Case (one version) or an Inbox Item, in the Intake-API shape of SPEC §7."""

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
    links: dict[str, Any] = Field(default_factory=dict)

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
    def _check(self) -> Record:
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
        """The index document id: one per Case version, one per Inbox Item."""
        if self.kind is Kind.case:
            return f"{self.case_id or self.id}~v{self.version}"
        return self.id


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
        forbidden = err["type"] == "extra_forbidden"
        shown: Any = "***" if forbidden else masked_excerpt(loc, value)
        out.append({"field": path or "record", "value": shown, "error": err["msg"]})
    return out


def parse_record(data: Any, *, kind: Literal["case", "inbox_item"] | None = None) -> Record:
    """Validate one record; ``kind`` fills in the kind when the caller's route implies it."""
    if kind is not None and isinstance(data, dict) and "kind" not in data:
        data = {**data, "kind": kind}
    return Record.model_validate(data)
