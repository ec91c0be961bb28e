"""The Fellegi-Sunter match model: per-field comparison levels, Bayes factors, a probability.

casematch ranks matches by the seeds' rules (M13-M14); this module adds *how likely*
a pair is the same report, learned from an organization's own records without labels
(issue 15). Pure: no I/O; the store, the CLI and detection call it.

**Levels.** Each model field compares to one small int (:data:`NULL` ... :data:`EXACT`):
the result ``matcher.compare``'s comparators give that field (M16-M17, with N1-N7's
normalizations: partial dates, name order and swaps, transliteration), plus ``NULL``
when either record has no value there. ``NULL`` is no evidence (Bayes factor 1);
``NONE`` is "both have a value and they disagree". A field whose comparator never gives
``partial`` (the ``exact`` and ``event_text`` comparators) has the levels ``NONE`` and
``EXACT`` only. A name row credited by a cross-field pair (N3: first name against the
other's last) is ``PARTIAL``, as in the comparison table; no extra levels.

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

**Fitting** (as Splink does): ``u`` from random pairs (:func:`estimate_u`: nearly all
different reports); ``m`` by expectation-maximization over blocked pairs with ``u``
fixed (:func:`estimate_m`), one session per blocking that estimates only the fields it
did not block on (:func:`fit_sessions`; :func:`fit` is the one-session form); the prior
from the blocked pairs (:func:`prior_from_blocks`) or from deterministic links
(:func:`estimate_prior`), whichever is higher.
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
from typing import Any

from indexer.fields import FIELD_BY_KEY, RANKED_FIELDS, FieldSpec
from matcher.bind import compare_field
from matcher.compare import EXACT as R_EXACT
from matcher.compare import PARTIAL as R_PARTIAL
from matcher.facts import Facts

#: Either record lacks a value: no evidence (Bayes factor 1).
NULL = 0
#: Both records have a value and they disagree.
NONE = 1
#: The comparator's partial result (similar names, contained dates, similar texts).
PARTIAL = 2
#: The comparator's exact result.
EXACT = 3
LEVEL_NAMES: dict[int, str] = {NULL: "null", NONE: "none", PARTIAL: "partial", EXACT: "exact"}
LEVEL_BY_NAME: dict[str, int] = {name: level for level, name in LEVEL_NAMES.items()}

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
    """The non-NULL levels a field's comparator can give, lowest first."""
    return (NONE, EXACT) if spec.comparator in _EXACT_ONLY else (NONE, PARTIAL, EXACT)


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


def field_level(spec: FieldSpec, a: Facts, b: Facts, depth: int = DEPTH) -> int:
    """One field's level: the comparator's result (``matcher.bind.compare_field``, so the
    same the comparison table and ranking give), ``NULL`` when it is ``none`` for want of
    a value on either side."""
    result = compare_field(spec, a, b, depth)
    if result == R_EXACT:
        return EXACT
    if result == R_PARTIAL:
        return PARTIAL
    if spec.hidden_when_blinded and (a.blinded or b.blinded):  # M8: not compared
        return NULL
    if _has_value(spec, a, depth) and _has_value(spec, b, depth):
        return NONE
    return NULL


def pair_levels(
    a: Facts, b: Facts, fields: Sequence[FieldSpec] = MODEL_FIELDS, depth: int = DEPTH
) -> tuple[int, ...]:
    """The level vector of a pair: one level per field of ``fields`` (symmetric)."""
    return tuple(field_level(spec, a, b, depth) for spec in fields)


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
    #: Each EM session (:class:`Session`): its name, the fields it estimated ``m`` for,
    #: its pairs, iterations, whether it converged and its share of matches.
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
        """The level vector of a pair over this model's fields."""
        return pair_levels(a, b, self.specs, depth)

    def bayes_factors(self, levels: Sequence[int]) -> tuple[float, ...]:
        """Each field's Bayes factor ``m/u`` at its level (1 for ``NULL``)."""
        if len(levels) != len(self.fields):
            raise ValueError(f"expected {len(self.fields)} levels, got {len(levels)}")
        out: list[float] = []
        for key, m, u, level in zip(self.fields, self.m, self.u, levels, strict=True):
            if level == NULL:
                out.append(1.0)
            elif level in m:
                out.append(m[level] / u[level])
            else:
                raise ValueError(f"{key}: level {level} is not one of {sorted(m)}")
        return tuple(out)

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


def estimate_u(
    random_pair_levels: LevelCounts,
    fields: Sequence[FieldSpec] = MODEL_FIELDS,
    smoothing: float = 1.0,
) -> tuple[LevelProbabilities, ...]:
    """``u`` per field: the share of each level among random pairs with a value on both
    sides (random pairs are nearly all different reports), smoothed."""
    _check(random_pair_levels, fields)
    out: list[LevelProbabilities] = []
    for i, spec in enumerate(fields):
        tally: dict[int, float] = {}
        for vector, n in random_pair_levels.items():
            tally[vector[i]] = tally.get(vector[i], 0.0) + n
        out.append(_distribution(tally, field_levels(spec), smoothing))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class EMResult:
    """The EM's estimate of ``m`` and of the share of matches among the pairs it ran over."""

    m: tuple[LevelProbabilities, ...]
    match_share: float
    iterations: int
    converged: bool


def starting_m(fields: Sequence[FieldSpec] = MODEL_FIELDS) -> tuple[LevelProbabilities, ...]:
    """The EM's starting ``m``: matches mostly agree exactly (as Splink starts)."""
    return tuple(
        {NONE: 0.1, EXACT: 0.9}
        if field_levels(spec) == (NONE, EXACT)
        else {NONE: 0.05, PARTIAL: 0.15, EXACT: 0.8}
        for spec in fields
    )


def estimate_m(
    blocked_pair_levels: LevelCounts,
    u: Sequence[LevelProbabilities],
    prior: float = 0.1,
    fields: Sequence[FieldSpec] = MODEL_FIELDS,
    *,
    m_start: Sequence[LevelProbabilities] | None = None,
    max_iterations: int = 100,
    tolerance: float = 1e-5,
    smoothing: float = 1.0,
) -> EMResult:
    """``m`` by expectation-maximization over blocked pairs, ``u`` held fixed.

    ``prior`` starts the share of matches among the blocked pairs (estimated along).
    Each iteration: the E-step gives each distinct level vector its posterior
    probability of a match; the M-step sets each field's ``m`` to the
    posterior-weighted share of each level among pairs with a value on both sides,
    plus ``smoothing`` pseudo-pairs per level. Stops when no ``m`` and not the share
    moves by more than ``tolerance``.
    """
    _check(blocked_pair_levels, fields)
    if not blocked_pair_levels:
        raise ValueError("no blocked pairs to estimate m from")
    vectors = list(blocked_pair_levels.items())
    total = math.fsum(n for _, n in vectors)
    levels = [field_levels(spec) for spec in fields]
    m = [dict(x) for x in (m_start or starting_m(fields))]
    share = min(max(prior, 1e-6), 1 - 1e-6)
    iterations = 0
    converged = False
    while iterations < max_iterations:
        iterations += 1
        tallies: list[dict[int, float]] = [{} for _ in fields]
        matched = 0.0
        log_odds0 = math.log(share / (1 - share))
        for vector, n in vectors:
            log_odds = log_odds0
            for i, level in enumerate(vector):
                if level != NULL:
                    log_odds += math.log(m[i][level] / u[i][level])
            p = 1.0 / (1.0 + math.exp(-log_odds)) if log_odds > -700 else 0.0
            w = p * n
            matched += w
            for i, level in enumerate(vector):
                if level != NULL:
                    tallies[i][level] = tallies[i].get(level, 0.0) + w
        new_m = [_distribution(t, lv, smoothing) for t, lv in zip(tallies, levels, strict=True)]
        new_share = min(max(matched / total, 1e-9), 1 - 1e-9)
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


@dataclass(frozen=True, slots=True)
class Session:
    """One EM run over blocked pairs, as Splink trains: pairs blocked on some fields
    agree there whether they match or not, so a session estimates ``m`` only for the
    fields its blocking did not use (``estimated``); the others are treated as ``NULL``.
    """

    name: str
    levels: LevelCounts
    estimated: tuple[bool, ...]


@dataclass(frozen=True, slots=True)
class BlockSample:
    """Pairs drawn from the union of some blocks, for the prior (:func:`prior_from_blocks`):
    each level vector with the summed weights of its pairs, where ``scale`` times a
    weighted sum estimates the sum over every distinct pair of the union."""

    levels: LevelCounts
    scale: float


def prior_from_blocks(
    sample: BlockSample,
    n_records: int,
    m: Sequence[LevelProbabilities],
    u: Sequence[LevelProbabilities],
    *,
    start: float = 1e-4,
    max_iterations: int = 200,
) -> float:
    """The prior at which the expected matches among the blocks' pairs, over all
    ``n(n-1)/2`` pairs, give the prior back (every match assumed to share a block).

    A pair's posterior conditions on all its levels, so it holds however the pair was
    drawn: the fixed point of ``prior = scale * sum(w * P(match | levels; prior)) / pairs``.
    """
    pairs = max(n_records * (n_records - 1) / 2, 1.0)
    factors = []
    for vector, w in sample.levels.items():
        log_bf = math.fsum(
            math.log(m[i][level] / u[i][level]) for i, level in enumerate(vector) if level != NULL
        )
        factors.append((log_bf, w))
    prior = start
    for _ in range(max_iterations):
        log_odds0 = math.log(prior / (1 - prior))
        expected = sample.scale * math.fsum(
            w / (1.0 + math.exp(min(-(log_odds0 + lb), 700.0))) for lb, w in factors
        )
        new = min(max(expected / pairs, 1e-9), 0.5)
        if abs(new - prior) <= 1e-6 * prior:
            return new
        prior = new
    return prior


def masked(counts: LevelCounts, keep: Sequence[bool]) -> dict[tuple[int, ...], float]:
    """Level vectors with the fields not kept set to ``NULL`` (counts summed)."""
    out: dict[tuple[int, ...], float] = {}
    for vector, n in counts.items():
        key = tuple(level if k else NULL for level, k in zip(vector, keep, strict=True))
        out[key] = out.get(key, 0.0) + n
    return out


def fit_sessions(
    random_pair_levels: LevelCounts,
    sessions: Sequence[Session],
    *,
    organization: str,
    version: int,
    trained_at: str,
    n_records: int,
    block_sample: BlockSample | None = None,
    deterministic_links: int = 0,
    recall: float = 1.0,
    prior: float | None = None,
    fields: Sequence[FieldSpec] = MODEL_FIELDS,
    smoothing: float = 1.0,
    max_iterations: int = 100,
    seed: int | None = None,
) -> MatchModel:
    """A model from random pairs (``u``) and EM sessions over blocked pairs (``m``).

    Each field's ``m`` is the mean of the sessions that estimate it (a field no session
    estimates keeps the EM's starting ``m``). The prior is ``prior`` when given; else
    :func:`prior_from_blocks` of ``block_sample``, raised to the deterministic links'
    estimate (:func:`estimate_prior`) when that is higher: pairs sharing an identifier
    are matches; else the deterministic links' estimate.
    """
    u = estimate_u(random_pair_levels, fields, smoothing)
    sums: list[dict[int, float]] = [{} for _ in fields]
    counted = [0] * len(fields)
    facts: list[SessionFacts] = []
    blocked = 0.0
    for session in sessions:
        if len(session.estimated) != len(fields):
            raise ValueError(f"session {session.name}: one flag per field expected")
        em = estimate_m(
            masked(session.levels, session.estimated),
            u,
            0.1,
            fields,
            max_iterations=max_iterations,
            smoothing=smoothing,
        )
        pairs = math.fsum(session.levels.values())
        blocked += pairs
        for i, on in enumerate(session.estimated):
            if on:
                counted[i] += 1
                for level, p in em.m[i].items():
                    sums[i][level] = sums[i].get(level, 0.0) + p
        facts.append(
            SessionFacts(
                session.name,
                tuple(spec.key for spec, on in zip(fields, session.estimated, strict=True) if on),
                pairs,
                em.iterations,
                em.converged,
                em.match_share,
            )
        )
    start = starting_m(fields)
    m = tuple(
        {level: total / counted[i] for level, total in sums[i].items()} if counted[i] else start[i]
        for i in range(len(fields))
    )
    links = estimate_prior(deterministic_links, n_records, recall) if n_records > 1 else 1e-9
    from_blocks = None if block_sample is None else prior_from_blocks(block_sample, n_records, m, u)
    if prior is not None:
        chosen, source = prior, "given"
    elif from_blocks is not None and from_blocks >= links:
        chosen, source = from_blocks, "blocked_pairs"
    else:
        chosen, source = links, "deterministic_links"
    return MatchModel(
        version=version,
        organization=organization,
        trained_at=trained_at,
        prior=chosen,
        fields=tuple(spec.key for spec in fields),
        m=m,
        u=u,
        training=Training(
            records=n_records,
            random_pairs=int(math.fsum(random_pair_levels.values())),
            blocked_pairs=int(blocked),
            deterministic_links=deterministic_links,
            em_iterations=sum(x.iterations for x in facts),
            converged=all(x.converged for x in facts),
            blocked_match_share=facts[0].match_share if facts else 0.0,
            prior_source=source,
            smoothing=smoothing,
            seed=seed,
            sessions=tuple(facts),
        ),
    )


def fit(
    random_pair_levels: LevelCounts,
    blocked_pair_levels: LevelCounts,
    *,
    organization: str,
    version: int,
    trained_at: str,
    n_records: int,
    deterministic_links: int = 0,
    blocked_pairs_total: int | None = None,
    recall: float = 1.0,
    prior: float | None = None,
    fields: Sequence[FieldSpec] = MODEL_FIELDS,
    smoothing: float = 1.0,
    max_iterations: int = 100,
    seed: int | None = None,
) -> MatchModel:
    """A fitted model: ``u`` from random pairs, ``m`` by EM on blocked pairs, a prior.

    The prior is ``prior`` when given; else from ``deterministic_links`` when there are
    any (:func:`estimate_prior`); else the EM's share of matches among the blocked pairs
    times the blocked pairs over all pairs (every match assumed to share a block).
    ``blocked_pairs_total`` is how many blocked pairs there were before any cap or
    sample (default: those counted in ``blocked_pair_levels``).
    """
    u = estimate_u(random_pair_levels, fields, smoothing)
    em = estimate_m(
        blocked_pair_levels, u, 0.1, fields, max_iterations=max_iterations, smoothing=smoothing
    )
    blocked = int(math.fsum(blocked_pair_levels.values()))
    if prior is not None:
        chosen, source = prior, "given"
    elif deterministic_links > 0:
        chosen, source = (
            estimate_prior(deterministic_links, n_records, recall),
            "deterministic_links",
        )
    else:
        pairs = max(n_records * (n_records - 1) / 2, 1.0)
        found = em.match_share * float(blocked_pairs_total or blocked) / pairs
        chosen, source = min(max(found, 1e-9), 0.5), "blocked_em"
    return MatchModel(
        version=version,
        organization=organization,
        trained_at=trained_at,
        prior=chosen,
        fields=tuple(spec.key for spec in fields),
        m=em.m,
        u=u,
        training=Training(
            records=n_records,
            random_pairs=int(math.fsum(random_pair_levels.values())),
            blocked_pairs=blocked,
            deterministic_links=deterministic_links,
            em_iterations=em.iterations,
            converged=em.converged,
            blocked_match_share=em.match_share,
            prior_source=source,
            smoothing=smoothing,
            seed=seed,
        ),
    )
