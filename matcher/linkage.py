"""The Fellegi-Sunter match model: per-field comparison levels, Bayes factors, a probability.

casematch ranks matches by the seeds' rules (M13-M14); this module adds *how likely*
a pair is the same report, learned from an organization's own records without labels
(issue 15). Pure: no I/O; the store, the CLI and detection call it.

**Levels.** Each model field compares to one small int (:data:`NULL` ... :data:`EXACT`):
the result ``matcher.compare``'s comparators give that field (M16-M17, with N1-N7's
normalizations: partial dates, name order and swaps, transliteration), plus ``NULL``
when either record has no value there. ``NULL`` is no evidence (Bayes factor 1);
``NONE`` is "both have a value and they disagree". A field whose comparator never gives
``partial`` (the ``exact`` and ``event_text`` comparators) has no ``PARTIAL`` level. A
name row credited by a cross-field pair (N3: first name against the other's last) is
``PARTIAL``, as in the comparison table. Fields the registry declares with ``typos``
(names, date of birth, MRNs) split the comparator's ``none`` in two: ``CLOSE`` when the
values are a typo apart (:func:`is_close`), ``NONE`` otherwise; a typo is common in a
duplicate and rare between two people, so it is evidence the comparator's three levels
cannot carry. Ranking and the comparison table never see ``CLOSE``.

**Derived fields** (:data:`DERIVED_FIELDS`): the patient's initials are the first letters
of the names, so they count only where no name is compared (:func:`evidence`);
:meth:`MatchModel.levels` gives the vectors as they are scored.

**Fields** (:data:`MODEL_FIELDS`): the registry's ranked fields (``FieldSpec.ranked``:
the ones M13/M14 count), in registry order: patient initials, names, sex, date of
birth and MRNs; study number; reporter names and qualification; products; events.
Not scored:

- identifiers (M10): a shared identifier is an ID Match, decided deterministically;
  training uses shared identifiers as the deterministic links that estimate the prior
  (:func:`estimate_prior`), so scoring them too would count that evidence twice;
- reporter country: M5 already excludes a candidate with another country unless a
  patient field matches, so a country weight would count the same fact again;
- details (report type, dates) and the unranked event fields: they describe a report's
  handling, not who it is about; a follow-up differs there by design.

**Probabilities.** ``m[level]`` = P(level | same report), ``u[level]`` = P(level |
different reports), over the non-NULL levels; the Bayes factor of a level is ``m/u``,
its match weight ``log2(m/u)``; a pair's match weight is ``log2(prior/(1-prior))`` plus
the fields' weights, its probability ``2^w / (1 + 2^w)``.

**Fitting** (as Splink does; the recipe is ``matcher.audit.train``, on the pairs the
audit's blocking gives): ``u`` from random pairs (:func:`estimate_u`: nearly all
different reports); ``m`` by expectation-maximization over blocked pairs with ``u``
fixed (:func:`estimate_m`), one pass per blocking, each estimating the fields it did
not block on; the prior from a pass's share of matches or from deterministic links
(:func:`estimate_prior`).
Fitting reads level vectors with counts (a ``Counter`` of tuples, or an integer array
through :func:`count_levels`), so its cost is in the number of distinct vectors.
**Smoothing**: every estimate adds ``smoothing`` pseudo-pairs (default 1) to each of
the field's levels, so no level has probability 0 and no Bayes factor is 0 or infinite.

    >>> level_name(EXACT), level_name(NULL), [f.key for f in MODEL_FIELDS][:2]
    ('exact', 'null', ['patient.initials', 'patient.first_name'])
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
from rapidfuzz.distance import OSA, JaroWinkler

from indexer.dates import PartialDate
from indexer.fields import FIELD_BY_KEY, FIELDS, RANKED_FIELDS, FieldSpec
from matcher.bind import compare_field
from matcher.compare import EXACT as R_EXACT
from matcher.compare import PARTIAL as R_PARTIAL
from matcher.compare import swapped_day_month
from matcher.facts import Facts

#: Either record lacks a value: no evidence (Bayes factor 1).
NULL = 0
#: Both records have a value and they disagree.
NONE = 1
#: The comparator says ``none``, but the values are a typo apart (fields declared with
#: ``FieldSpec.typos``; :func:`is_close`). The model's own level: ranking never sees it.
CLOSE = 2
#: The comparator's partial result (similar names, contained dates, similar texts).
PARTIAL = 3
#: The comparator's exact result.
EXACT = 4
LEVEL_NAMES: dict[int, str] = {
    NULL: "null",
    NONE: "none",
    CLOSE: "close",
    PARTIAL: "partial",
    EXACT: "exact",
}
LEVEL_BY_NAME: dict[str, int] = {name: level for level, name in LEVEL_NAMES.items()}
#: Bits one level takes in a packed level vector (``matcher.audit.level_counts``).
LEVEL_BITS = 3
#: Jaro-Winkler similarity from which two names the comparator calls different are
#: ``close`` (Splink's middle name level; the comparator's edit distance misses
#: transpositions such as ``davdi`` / ``david``).
CLOSE_NAME_SIMILARITY = 0.88
#: Shortest number (MRN) whose one-character typo is ``close``: shorter ones collide.
CLOSE_MIN_LENGTH = 4

#: The JSON schema of a stored model (:meth:`MatchModel.to_json`).
SCHEMA = "casematch.linkage/1"
#: Products and events compared per record: every one, as the ``enhanced`` profile does.
DEPTH = 1000

#: The fields the model scores, in the order of a level vector (see the module doc).
MODEL_FIELDS: tuple[FieldSpec, ...] = RANKED_FIELDS
#: Comparators that never give a partial result.
_EXACT_ONLY = frozenset({"exact", "event_text"})

#: One field's probabilities by level (non-NULL levels only).
LevelProbabilities = dict[int, float]
#: Level vectors with how many pairs have each (a count, or a summed weight).
LevelCounts = Mapping[tuple[int, ...], float]


def level_name(level: int) -> str:
    return LEVEL_NAMES[level]


def field_levels(spec: FieldSpec) -> tuple[int, ...]:
    """The non-NULL levels a field can have, lowest first: its comparator's, plus
    :data:`CLOSE` for a field declared with ``typos``."""
    close = (CLOSE,) if spec.typos else ()
    if spec.comparator in _EXACT_ONLY:
        return (NONE, *close, EXACT)
    return (NONE, *close, PARTIAL, EXACT)


#: Fields whose value is derived from others when those are present: (derived, sources).
#: Patient initials are the names' first letters: when either record pair's names are
#: compared, the initials add no evidence of their own, and counting them too would count
#: the names twice (Fellegi-Sunter assumes the fields independent given match status).
DERIVED_FIELDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("patient.initials", ("patient.first_name", "patient.last_name")),
)


def derived_columns(fields: Sequence[FieldSpec]) -> list[tuple[int, list[int]]]:
    """:data:`DERIVED_FIELDS` as column numbers of ``fields`` (those present in it)."""
    keys = [f.key for f in fields]
    return [
        (keys.index(derived), [keys.index(k) for k in sources])
        for derived, sources in DERIVED_FIELDS
        if derived in keys and all(k in keys for k in sources)
    ]


def evidence(levels: Sequence[int], fields: Sequence[FieldSpec]) -> tuple[int, ...]:
    """``levels`` as the model scores them: each derived field ``NULL`` (no evidence)
    where any field it derives from is compared (:data:`DERIVED_FIELDS`)."""
    out = list(levels)
    for derived, sources in derived_columns(fields):
        if any(out[col] != NULL for col in sources):
            out[derived] = NULL
    return tuple(out)


# --------------------------------------------------------------------------- levels


def _has_value(spec: FieldSpec, facts: Facts, depth: int) -> bool:
    """Whether ``facts`` holds a value the field's comparator would compare."""
    if spec.normalizer is not None:
        return facts.extra.get(spec.key) not in (None, "")
    if "." not in spec.fact:
        return getattr(facts, spec.fact) not in (None, "")
    what, name = spec.fact.split(".", 1)
    return any(
        getattr(item, name) not in (None, "") for item in getattr(facts, what) if item.rank <= depth
    )


@lru_cache(maxsize=65536)
def close_names(a: str, b: str) -> bool:
    """Two names at least :data:`CLOSE_NAME_SIMILARITY` alike (Jaro-Winkler; cached)."""
    return JaroWinkler.similarity(a, b) >= CLOSE_NAME_SIMILARITY


def close_name_row(
    first_row: bool, a: tuple[str | None, str | None], b: tuple[str | None, str | None]
) -> bool:
    """Whether a name row the comparator calls different is ``close``: its two names are
    (:func:`close_names`); the last-name row also when a name is close to the other
    side's other name (first and last swapped, as N3's single cross pair credits it)."""
    i = 0 if first_row else 1
    if a[i] and b[i] and close_names(a[i], b[i]):
        return True
    if first_row:
        return False
    return bool(
        (a[0] and b[1] and close_names(a[0], b[1])) or (a[1] and b[0] and close_names(a[1], b[0]))
    )


@lru_cache(maxsize=65536)
def close_numbers(a: str, b: str) -> bool:
    """Two numbers one typo apart: a character changed, added, dropped, or two adjacent
    ones swapped (optimal string alignment distance 1), both at least
    :data:`CLOSE_MIN_LENGTH` long."""
    if len(a) < CLOSE_MIN_LENGTH or len(b) < CLOSE_MIN_LENGTH:
        return False
    return OSA.distance(a, b, score_cutoff=1) <= 1


def close_dates(a: PartialDate, b: PartialDate) -> bool:
    """Two full dates a typo apart: one digit of ``YYYYMMDD`` changed or two adjacent
    ones swapped, or day and month swapped (``2024-03-05`` / ``2024-05-03``)."""
    if a.day is None or b.day is None:
        return False
    return close_numbers(_digits(a), _digits(b)) or swapped_day_month(a) == b


def _digits(value: PartialDate) -> str:
    return f"{value.year:04d}{value.month:02d}{value.day:02d}"


def name_pair(spec: FieldSpec, facts: Facts) -> tuple[str | None, str | None]:
    """The (first, last) names of the person a name field belongs to."""
    if spec.group == "patient":
        return facts.first_name, facts.last_name
    return facts.reporter_first, facts.reporter_last


def is_close(spec: FieldSpec, a: Facts, b: Facts) -> bool:
    """Whether two values the comparator calls different are a typo apart (``CLOSE``)."""
    if spec.comparator == "name":
        return close_name_row(
            spec.key.endswith("first_name"), name_pair(spec, a), name_pair(spec, b)
        )
    x, y = getattr(a, spec.fact), getattr(b, spec.fact)
    if spec.comparator == "dob":
        return close_dates(x, y)
    return close_numbers(str(x), str(y))


def field_level(spec: FieldSpec, a: Facts, b: Facts, depth: int = DEPTH) -> int:
    """One field's level: the comparator's result (``matcher.bind.compare_field``, so the
    same the comparison table and ranking give), ``CLOSE`` for a typo the comparator
    does not credit (fields declared with ``typos``), ``NULL`` when it is ``none`` for
    want of a value on either side."""
    result = compare_field(spec, a, b, depth)
    if result == R_EXACT:
        return EXACT
    if result == R_PARTIAL:
        return PARTIAL
    if spec.hidden_when_blinded and (a.blinded or b.blinded):  # M8: not compared
        return NULL
    if _has_value(spec, a, depth) and _has_value(spec, b, depth):
        return CLOSE if spec.typos and is_close(spec, a, b) else NONE
    return NULL


def pair_levels(
    a: Facts, b: Facts, fields: Sequence[FieldSpec] = MODEL_FIELDS, depth: int = DEPTH
) -> tuple[int, ...]:
    """The level vector of a pair: one level per field of ``fields`` (symmetric)."""
    return tuple(field_level(spec, a, b, depth) for spec in fields)


_TYPO_COMPARATORS = frozenset({"name", "dob", "exact"})
for _spec in FIELDS:  # the registry may only ask for the close rules :func:`is_close` has
    if _spec.typos and _spec.comparator not in _TYPO_COMPARATORS:
        raise ValueError(f"{_spec.key}: no close rule for the {_spec.comparator!r} comparator")


def count_levels(rows: Iterable[Sequence[int]]) -> Counter[tuple[int, ...]]:
    """Level vectors (tuples, lists, rows of an integer array) counted by vector."""
    return Counter(tuple(int(x) for x in row) for row in rows)


# --------------------------------------------------------------------------- the model


@dataclass(frozen=True, slots=True)
class Training:
    """What a model was fitted on and how the fit went."""

    #: Records of the organization the pairs were drawn from.
    records: int = 0
    #: Random pairs ``u`` was estimated from.
    random_pairs: int = 0
    #: Blocked pairs the EM ran over (pairs sharing a retrieval key).
    blocked_pairs: int = 0
    #: Pairs sharing an identifier (M10), the prior's deterministic links.
    deterministic_links: int = 0
    em_iterations: int = 0
    converged: bool = False
    #: The EM's share of matches among the blocked pairs.
    blocked_match_share: float = 0.0
    #: Where the prior came from: ``deterministic_links``, ``blocked_em`` or ``given``.
    prior_source: str = "given"
    smoothing: float = 1.0
    seed: int | None = None
    #: Each training step (``matcher.audit.train``: the identifier links, then each EM
    #: pass): its name, the fields it estimated ``m`` for, its pairs, iterations, whether
    #: it converged and its share of matches.
    sessions: tuple[SessionFacts, ...] = ()


@dataclass(frozen=True, slots=True)
class SessionFacts:
    """How one EM session went (:class:`Training`)."""

    name: str
    fields: tuple[str, ...]
    pairs: float
    iterations: int
    converged: bool
    match_share: float


@dataclass(frozen=True, slots=True)
class MatchModel:
    """A fitted Fellegi-Sunter model of one organization (one stored version)."""

    version: int
    organization: str
    #: ISO 8601 UTC time of the fit.
    trained_at: str
    #: The probability that two random records of the organization are the same report.
    prior: float
    #: The scored fields' registry keys, in level-vector order.
    fields: tuple[str, ...]
    #: Per field, P(level | match) and P(level | non-match) over its non-NULL levels.
    m: tuple[LevelProbabilities, ...]
    u: tuple[LevelProbabilities, ...]
    training: Training = field(default_factory=Training)

    def __post_init__(self) -> None:
        if not 0.0 < self.prior < 1.0:
            raise ValueError(f"prior must lie strictly between 0 and 1, got {self.prior}")
        if not len(self.fields) == len(self.m) == len(self.u):
            raise ValueError("fields, m and u must have one entry per field")
        for key, m, u in zip(self.fields, self.m, self.u, strict=True):
            if key not in FIELD_BY_KEY:
                raise ValueError(f"unknown model field {key!r}")
            if set(m) != set(u) or NULL in m:
                raise ValueError(f"{key}: m and u must cover the same non-null levels")
            if any(not 0.0 < p <= 1.0 for p in (*m.values(), *u.values())):
                raise ValueError(f"{key}: every probability must lie in (0, 1]")

    @property
    def specs(self) -> tuple[FieldSpec, ...]:
        """The scored fields' registry declarations (for :func:`pair_levels`)."""
        return tuple(FIELD_BY_KEY[key] for key in self.fields)

    def levels(self, a: Facts, b: Facts, depth: int = DEPTH) -> tuple[int, ...]:
        """The level vector of a pair over this model's fields, as it is scored (derived
        fields ``NULL`` where their sources are compared: :func:`evidence`)."""
        specs = self.specs
        return evidence(pair_levels(a, b, specs, depth), specs)

    def bayes_factor(self, f: int, level: int) -> float:
        """Field ``f``'s Bayes factor ``m/u`` at ``level`` (1 for ``NULL``). A model
        fitted before the field had the ``close`` level scores ``close`` as ``none``."""
        if level == NULL:
            return 1.0
        m, u = self.m[f], self.u[f]
        if level == CLOSE and CLOSE not in m:
            level = NONE
        if level not in m:
            raise ValueError(f"{self.fields[f]}: level {level} is not one of {sorted(m)}")
        return m[level] / u[level]

    def bayes_factors(self, levels: Sequence[int]) -> tuple[float, ...]:
        """Each field's Bayes factor ``m/u`` at its level (1 for ``NULL``)."""
        if len(levels) != len(self.fields):
            raise ValueError(f"expected {len(self.fields)} levels, got {len(levels)}")
        return tuple(self.bayes_factor(f, level) for f, level in enumerate(levels))

    def field_weights(self, levels: Sequence[int]) -> tuple[float, ...]:
        """Each field's match weight ``log2(m/u)`` at its level (0 for ``NULL``)."""
        return tuple(math.log2(f) for f in self.bayes_factors(levels))

    @property
    def prior_weight(self) -> float:
        """The prior as a match weight: ``log2(prior / (1 - prior))``."""
        return math.log2(self.prior / (1.0 - self.prior))

    def match_weight(self, levels: Sequence[int]) -> float:
        """The pair's match weight: the prior's plus every field's (log2)."""
        return self.prior_weight + math.fsum(self.field_weights(levels))

    def probability(self, levels: Sequence[int]) -> float:
        """The posterior probability that the pair is the same report."""
        return probability_of_weight(self.match_weight(levels))

    def to_json(self) -> dict[str, Any]:
        """The model as human-readable JSON (schema :data:`SCHEMA`)."""
        return {
            "schema": SCHEMA,
            "version": self.version,
            "organization": self.organization,
            "trained_at": self.trained_at,
            "prior": self.prior,
            "fields": [
                {
                    "field": key,
                    "levels": [
                        {
                            "level": LEVEL_NAMES[level],
                            "m": m[level],
                            "u": u[level],
                            "bayes_factor": m[level] / u[level],
                            "match_weight": math.log2(m[level] / u[level]),
                        }
                        for level in sorted(m)
                    ],
                }
                for key, m, u in zip(self.fields, self.m, self.u, strict=True)
            ],
            "training": {
                "records": self.training.records,
                "random_pairs": self.training.random_pairs,
                "blocked_pairs": self.training.blocked_pairs,
                "deterministic_links": self.training.deterministic_links,
                "em_iterations": self.training.em_iterations,
                "converged": self.training.converged,
                "blocked_match_share": self.training.blocked_match_share,
                "prior_source": self.training.prior_source,
                "smoothing": self.training.smoothing,
                "seed": self.training.seed,
                "sessions": [
                    {
                        "name": x.name,
                        "fields": list(x.fields),
                        "pairs": x.pairs,
                        "iterations": x.iterations,
                        "converged": x.converged,
                        "match_share": x.match_share,
                    }
                    for x in self.training.sessions
                ],
            },
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MatchModel:
        """A model from :meth:`to_json`'s JSON; refuses another schema (``ValueError``).

        ``bayes_factor`` and ``match_weight`` in the JSON are for readers; ``m`` and
        ``u`` are the model.
        """
        schema = data.get("schema") if isinstance(data, Mapping) else None
        if schema != SCHEMA:
            raise ValueError(
                f"unknown match model schema {schema!r}; this casematch reads {SCHEMA!r} only"
            )
        try:
            ms: list[LevelProbabilities] = []
            us: list[LevelProbabilities] = []
            keys: list[str] = []
            for entry in data["fields"]:
                keys.append(str(entry["field"]))
                ms.append({LEVEL_BY_NAME[x["level"]]: float(x["m"]) for x in entry["levels"]})
                us.append({LEVEL_BY_NAME[x["level"]]: float(x["u"]) for x in entry["levels"]})
            training = data.get("training") or {}
            return cls(
                version=int(data["version"]),
                organization=str(data["organization"]),
                trained_at=str(data["trained_at"]),
                prior=float(data["prior"]),
                fields=tuple(keys),
                m=tuple(ms),
                u=tuple(us),
                training=Training(
                    records=int(training.get("records", 0)),
                    random_pairs=int(training.get("random_pairs", 0)),
                    blocked_pairs=int(training.get("blocked_pairs", 0)),
                    deterministic_links=int(training.get("deterministic_links", 0)),
                    em_iterations=int(training.get("em_iterations", 0)),
                    converged=bool(training.get("converged", False)),
                    blocked_match_share=float(training.get("blocked_match_share", 0.0)),
                    prior_source=str(training.get("prior_source", "given")),
                    smoothing=float(training.get("smoothing", 1.0)),
                    seed=None if training.get("seed") is None else int(training["seed"]),
                    sessions=tuple(
                        SessionFacts(
                            str(x["name"]),
                            tuple(str(f) for f in x["fields"]),
                            float(x["pairs"]),
                            int(x["iterations"]),
                            bool(x["converged"]),
                            float(x["match_share"]),
                        )
                        for x in training.get("sessions") or ()
                    ),
                ),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed {SCHEMA} model: missing or wrong {exc}") from None


def probability_of_weight(weight: float) -> float:
    """``2^w / (1 + 2^w)`` without overflow."""
    if weight >= 0:
        return 1.0 / (1.0 + math.pow(2.0, -weight))
    odds = math.pow(2.0, weight)
    return odds / (1.0 + odds)


# --------------------------------------------------------------------------- fitting


def _distribution(
    weights: Mapping[int, float], levels: Sequence[int], smoothing: float
) -> LevelProbabilities:
    """Weighted counts per level, each plus ``smoothing``, normalized."""
    total = math.fsum(weights.get(level, 0.0) for level in levels) + smoothing * len(levels)
    return {level: (weights.get(level, 0.0) + smoothing) / total for level in levels}


def _check(counts: LevelCounts, fields: Sequence[FieldSpec]) -> None:
    for vector in counts:
        if len(vector) != len(fields):
            raise ValueError(f"level vector of {len(vector)} levels, expected {len(fields)}")


def level_shares(
    counts: LevelCounts, fields: Sequence[FieldSpec] = MODEL_FIELDS, smoothing: float = 1.0
) -> tuple[LevelProbabilities, ...]:
    """Per field, the share of each level among the pairs with a value on both sides,
    plus ``smoothing`` pseudo-pairs per level."""
    _check(counts, fields)
    out: list[LevelProbabilities] = []
    for i, spec in enumerate(fields):
        tally: dict[int, float] = {}
        for vector, n in counts.items():
            tally[vector[i]] = tally.get(vector[i], 0.0) + n
        out.append(_distribution(tally, field_levels(spec), smoothing))
    return tuple(out)


def compared_pairs(counts: LevelCounts, n_fields: int) -> list[float]:
    """Per field, how many of the counted pairs have a value on both sides (not ``NULL``)."""
    out = [0.0] * n_fields
    for vector, n in counts.items():
        for i, level in enumerate(vector):
            if level != NULL:
                out[i] += n
    return out


def estimate_u(
    random_pair_levels: LevelCounts,
    fields: Sequence[FieldSpec] = MODEL_FIELDS,
    smoothing: float = 1.0,
) -> tuple[LevelProbabilities, ...]:
    """``u`` per field: :func:`level_shares` of random pairs (nearly all different
    reports)."""
    return level_shares(random_pair_levels, fields, smoothing)


def m_from_links(
    link_levels: LevelCounts,
    fields: Sequence[FieldSpec] = MODEL_FIELDS,
    *,
    min_pairs: float = 50,
    smoothing: float = 1.0,
) -> tuple[LevelProbabilities | None, ...]:
    """``m`` per field from pairs known to be the same report (pairs sharing an
    identifier, M10): :func:`level_shares` of those pairs, for each field at least
    ``min_pairs`` of them compare; ``None`` for the other fields."""
    shares = level_shares(link_levels, fields, smoothing)
    compared = compared_pairs(link_levels, len(fields))
    return tuple(m if n >= min_pairs else None for m, n in zip(shares, compared, strict=True))


def _log_table(
    probabilities: Sequence[LevelProbabilities], levels: Sequence[tuple[int, ...]]
) -> npt.NDArray[np.float64]:
    """``log(p)`` per field and level as a (fields, levels) array; 0 where a field has no
    such level (``NULL`` among them)."""
    table = np.zeros((len(levels), len(LEVEL_NAMES)), dtype=np.float64)
    for i, lv in enumerate(levels):
        for level in lv:
            table[i, level] = math.log(probabilities[i][level])
    return table


@dataclass(frozen=True, slots=True)
class EMResult:
    """The EM's estimate of ``m`` and of the share of matches among the pairs it ran over."""

    m: tuple[LevelProbabilities, ...]
    match_share: float
    iterations: int
    converged: bool


def starting_m(fields: Sequence[FieldSpec] = MODEL_FIELDS) -> tuple[LevelProbabilities, ...]:
    """The EM's starting ``m``: matches mostly agree exactly (as Splink starts)."""
    start = {
        (NONE, EXACT): {NONE: 0.1, EXACT: 0.9},
        (NONE, CLOSE, EXACT): {NONE: 0.05, CLOSE: 0.1, EXACT: 0.85},
        (NONE, PARTIAL, EXACT): {NONE: 0.05, PARTIAL: 0.15, EXACT: 0.8},
        (NONE, CLOSE, PARTIAL, EXACT): {NONE: 0.05, CLOSE: 0.05, PARTIAL: 0.1, EXACT: 0.8},
    }
    return tuple(dict(start[field_levels(spec)]) for spec in fields)


def estimate_m(
    blocked_pair_levels: LevelCounts,
    u: Sequence[LevelProbabilities],
    prior: float = 0.1,
    fields: Sequence[FieldSpec] = MODEL_FIELDS,
    *,
    m_start: Sequence[LevelProbabilities] | None = None,
    fixed: Sequence[bool] | None = None,
    max_iterations: int = 100,
    tolerance: float = 1e-5,
    smoothing: float = 1.0,
) -> EMResult:
    """``m`` by expectation-maximization over blocked pairs, ``u`` held fixed.

    ``prior`` starts the share of matches among the blocked pairs (estimated along).
    Each iteration: the E-step gives each distinct level vector its posterior
    probability of a match; the M-step sets each field's ``m`` to the
    posterior-weighted share of each level among pairs with a value on both sides,
    plus ``smoothing`` pseudo-pairs per level; a field ``fixed`` keeps its starting ``m``
    (known from labelled pairs: :func:`m_from_links`). Stops when no ``m`` and not the
    share moves by more than ``tolerance``.
    """
    _check(blocked_pair_levels, fields)
    if not blocked_pair_levels:
        raise ValueError("no blocked pairs to estimate m from")
    vectors = np.array(list(blocked_pair_levels), dtype=np.intp).reshape(-1, len(fields))
    counts = np.fromiter(blocked_pair_levels.values(), dtype=np.float64, count=len(vectors))
    total = math.fsum(counts.tolist())
    levels = [field_levels(spec) for spec in fields]
    log_u = _log_table(u, levels)
    cols = np.arange(len(fields))[None, :]
    m = [dict(x) for x in (m_start or starting_m(fields))]
    share = min(max(prior, 1e-6), 1 - 1e-6)
    iterations = 0
    converged = False
    while iterations < max_iterations:
        iterations += 1
        factors = _log_table(m, levels) - log_u  # log Bayes factors; 0 for NULL
        log_odds = math.log(share / (1 - share)) + factors[cols, vectors].sum(axis=1)
        p = np.where(log_odds > -700, 1.0 / (1.0 + np.exp(-np.maximum(log_odds, -700))), 0.0)
        w = p * counts
        new_m: list[LevelProbabilities] = []
        for i, (lv, old) in enumerate(zip(levels, m, strict=True)):
            if fixed is not None and fixed[i]:
                new_m.append(dict(old))
                continue
            tally = np.bincount(vectors[:, i], weights=w, minlength=len(LEVEL_NAMES))
            new_m.append(_distribution({level: float(tally[level]) for level in lv}, lv, smoothing))
        new_share = min(max(float(w.sum()) / total, 1e-9), 1 - 1e-9)
        delta = max(
            abs(new_share - share),
            *(abs(a[k] - b[k]) for a, b in zip(new_m, m, strict=True) for k in a),
        )
        m, share = new_m, new_share
        if delta < tolerance:
            converged = True
            break
    return EMResult(tuple(m), share, iterations, converged)


def estimate_prior(deterministic_links: int, n_records: int, recall: float = 1.0) -> float:
    """The probability two random records match, from pairs linked deterministically.

    ``deterministic_links`` pairs (sharing an identifier) are taken to be matches, found
    with ``recall`` (the share of all matching pairs they are); divided by all
    ``n(n-1)/2`` pairs. Clamped to ``[1e-9, 0.5]``.
    """
    if n_records < 2:
        raise ValueError("the prior needs at least two records")
    if not 0.0 < recall <= 1.0:
        raise ValueError(f"recall must lie in (0, 1], got {recall}")
    if deterministic_links < 0:
        raise ValueError("deterministic_links must not be negative")
    pairs = n_records * (n_records - 1) / 2
    return min(max(deterministic_links / recall / pairs, 1e-9), 0.5)
