"""The matcher's shared types: options in, the Detection of SPEC §7 out.

    >>> opts = DetectionOptions(profile="deep_22r3", mask_phi=False)
    >>> opts.cap(clinical_trial=True)
    20

``Detection`` serialises exactly to the Detection JSON of SPEC §7 (plus a few
additive fields: ``header``, ``top_category``, ``matching_fields``); the
service returns ``detection.model_dump(mode="json")`` as is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from indexer.fields import Category as Category

ProfileName = Literal["enhanced", "deep_22r1", "deep_22r3"]
Result = Literal["exact", "partial", "none"]
SectionName = Literal["id_matches", "subject_matches", "possible_matches"]
Badge = Literal["WWUID", "ID"]
Tag = Literal["likely", "possible"]
RecordType = Literal["case", "inbox_item"]

#: M14's category order, highest first.
CATEGORIES: tuple[Category, ...] = ("patient", "study", "reporter", "product", "event")
#: M26 defaults.
DEFAULT_CAP_POSTMARKETING = 100
DEFAULT_CAP_CLINICAL_TRIAL = 20
MASK = "***"


@dataclass(frozen=True)
class DetectionOptions:
    """How one detection runs; built by the service from Settings (the matcher never reads Settings).

    ``max_possible_matches=None`` means M26's default for the source (100
    postmarketing, 20 clinical trial); ``today=None`` means ``date.today()``
    (M6); ``known_studies=None`` means no study registry, so M3 uses the
    source's study type (M4).
    """

    profile: ProfileName = "enhanced"
    match_inbox_items: bool = True
    max_possible_matches: int | None = None
    mask_phi: bool = True
    today: date | None = None
    known_studies: frozenset[str] | None = None

    def cap(self, *, clinical_trial: bool) -> int:
        """M26: how many Possible Matches one detection returns at most."""
        if self.max_possible_matches is not None:
            return self.max_possible_matches
        return DEFAULT_CAP_CLINICAL_TRIAL if clinical_trial else DEFAULT_CAP_POSTMARKETING

    def on(self) -> date:
        return self.today or date.today()


class ComparisonRow(BaseModel):
    """One row of the comparison table (M19): source and match values side by side.

    Immutable: the matches of one detection share rows that are equal in every value.
    """

    model_config = ConfigDict(frozen=True)

    section: str
    field: str
    source: str | None
    match: str | None
    result: Result
    badge: Badge | None = None


class Status(BaseModel):
    """M18's status bars: which categories have a matching value (immutable, shared)."""

    model_config = ConfigDict(frozen=True)

    patient: bool = False
    country: bool = False
    reporter: bool = False
    products: bool = False
    events: bool = False


class RecordRef(BaseModel):
    """A record's WWUID and UID (immutable: the source's is shared by every header)."""

    model_config = ConfigDict(frozen=True)

    wwuid: str | None = None
    uid: str | None = None


class Header(BaseModel):
    """M19's header: both records' WWUID and UID and the match's lifecycle state."""

    source: RecordRef
    match: RecordRef
    state: str


class Match(BaseModel):
    record_type: RecordType
    record_id: str
    rank: int
    badge: Badge | None = None
    tag: Tag | None = None
    status: Status
    comparison: list[ComparisonRow]
    state: str
    header: Header
    top_category: Category | None = None
    matching_fields: int = 0


class Sections(BaseModel):
    id_matches: list[Match] = Field(default_factory=list)
    subject_matches: list[Match] = Field(default_factory=list)
    possible_matches: list[Match] = Field(default_factory=list)

    def all(self) -> list[Match]:
        return [*self.id_matches, *self.subject_matches, *self.possible_matches]


class Detection(BaseModel):
    """The Detection JSON of SPEC §7."""

    source_id: str
    organization: str
    profile: ProfileName
    sections: Sections
    took_ms: float = 0.0

    @property
    def has_matches(self) -> bool:
        return bool(self.sections.all())


@dataclass
class DetectionRun:
    """A detection plus what it cost: for the service, the benchmarks and the logs.

    ``retrieved_ids`` are the record ids the engine returned (the retrieval
    stage, before ranking), so that a benchmark can tell a retrieval loss from
    a ranking loss.
    """

    detection: Detection
    retrieved_ids: list[str] = field(default_factory=list)
    round_trips: int = 0
    searches: int = 0
    matcher_cpu_ms: float = 0.0
    engine_ms: float = 0.0
