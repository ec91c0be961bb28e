"""The matcher's shared types: options in, the Detection of SPEC §7 out.

    >>> opts = DetectionOptions(profile="deep_22r3", mask_phi=False)
    >>> opts.cap(clinical_trial=True)
    20

``Detection`` serialises exactly to the Detection JSON of SPEC §7 (plus a few
additive fields: ``header``, ``top_category``, ``matching_fields``, and the match model's
``probability``, ``match_weight`` and ``bayes_factors``); the
service returns ``detection.model_dump(mode="json")`` as is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from indexer.fields import Category as Category

if TYPE_CHECKING:
    from matcher.linkage import MatchModel

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
    #: The organization's match model (``matcher.linkage``): each listed match then carries
    #: its probability and Bayes factors. Scores never change the ranking.
    match_model: MatchModel | None = field(default=None, compare=False)

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


Level = Literal["null", "none", "close", "partial", "exact"]


class FieldScore(BaseModel):
    """One model field's part in a match's probability (``matcher.linkage``).

    ``section`` and ``field`` name the comparison-table row (M19); no value is ever
    shown, so nothing here is masked (M20): the level is the row's result, which the
    table shows for PHI rows too, plus ``null`` when either record has no value and
    ``close`` for a typo the comparator does not credit (the model's own level).
    """

    model_config = ConfigDict(frozen=True)

    section: str
    field: str
    level: Level
    bayes_factor: float
    match_weight: float


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
    #: The probability that the match is the same report as the source, from the
    #: organization's match model; ``null`` when it has none (``docs/model.md``).
    probability: float | None = Field(default=None, ge=0.0, le=1.0)
    #: The match weight (log2 odds) the probability comes from; ``null`` without a model.
    match_weight: float | None = None
    #: Each model field's level and Bayes factor; empty without a model.
    bayes_factors: list[FieldScore] = Field(default_factory=list)


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
