"""Training a model on an audit's pairs (Splink's recipe) and the whole audit in memory."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from indexer.fields import FieldSpec
from matcher import linkage
from matcher.audit.blocking import BlockStats, candidate_pairs, identifier_links, random_pairs
from matcher.audit.common import DEFAULT_THRESHOLD, MAX_BLOCK, FloatArray, IntArray, LevelArray
from matcher.audit.encoding import Encoded, Encoder
from matcher.audit.levels import BulkLevels, independent, level_counts
from matcher.audit.linking import Clusters, Weights, cluster, exclusions, probabilities
from matcher.facts import Facts

# --------------------------------------------------------------------------- in memory


@dataclass
class AuditRun:
    """An audit of records held in memory (the peer benchmark; tests): every stage's output."""

    encoded: Encoded
    pairs: IntArray
    levels: LevelArray
    allowed: npt.NDArray[np.bool_]
    id_match: npt.NDArray[np.bool_]
    model: linkage.MatchModel
    weights: FloatArray
    probability: FloatArray
    clusters: Clusters
    blocking: BlockStats
    excluded: dict[str, int] = field(default_factory=dict)


#: Training passes, as Splink trains: EM over the blocked pairs that agree exactly on the
#: pass's fields, with those fields (and the fields derived from them: initials from names)
#: masked, so the EM is not told the answer by the fields that chose its pairs. Each field's
#: ``m`` is the mean over the passes that did not mask it.
TRAINING_PASSES: tuple[tuple[str, frozenset[str], frozenset[str]], ...] = (
    ("dob", frozenset({"patient.dob"}), frozenset({"patient.dob"})),
    (
        "names",
        frozenset({"patient.first_name", "patient.last_name"}),
        frozenset({"patient.first_name", "patient.last_name", "patient.initials"}),
    ),
)
#: Fewest pairs a training pass needs.
MIN_PASS_PAIRS = 50
#: Random pairs for ``u``.
RANDOM_PAIRS = 20_000


def train(
    encoder: Encoder,
    bulk: BulkLevels,
    enc: Encoded,
    levels: LevelArray,
    id_match: npt.NDArray[np.bool_],
    *,
    organization: str,
    trained_at: str,
    random_pair_count: int = RANDOM_PAIRS,
    seed: int = 0,
    version: int = 1,
) -> linkage.MatchModel:
    """Fit a model on these blocked pairs (``linkage``'s estimators, Splink's recipe): the
    one training recipe, for ``casematch audit`` and ``casematch model train`` alike.

    ``levels``: the blocked pairs' levels after the exclusions and ``independent``.
    ``u``: ``linkage.estimate_u`` over random pairs. ``m``: ``linkage.estimate_m`` per
    training pass (:data:`TRAINING_PASSES`, :func:`_passes`); a field no pass could
    estimate takes the EM over all blocked pairs. The prior: :func:`_prior`.
    """
    fields = encoder.fields
    keys = [f.key for f in fields]
    rand = independent(bulk.levels(enc, random_pairs(len(enc), random_pair_count, seed)), fields)
    u = linkage.estimate_u(level_counts(rand), fields)
    known = linkage.m_from_links(level_counts(levels[id_match]), fields, min_pairs=MIN_PASS_PAIRS)
    sums, passes, sessions = _passes(fields, levels, u, known)
    fallback = None
    if not all(passes[f] or known[f] for f in range(len(fields))) and len(levels):
        fallback = linkage.estimate_m(level_counts(levels), u, 0.1, fields)
        sessions.append(_session("all blocked pairs", fields, len(levels), fallback))
    m = tuple(
        {level: p / passes[f] for level, p in sums[f].items()}
        if passes[f]
        else (known[f] or (fallback.m[f] if fallback else linkage.starting_m(fields)[f]))
        for f in range(len(fields))
    )
    if any(known):
        linked = tuple(k for k, x in zip(keys, known, strict=True) if x)
        links = float(np.count_nonzero(id_match))
        sessions.insert(0, linkage.SessionFacts("identifier links", linked, links, 0, True, 1.0))
    shares = {x.name: x.match_share for x in sessions}
    prior, source = _prior(encoder, enc, keys, m, shares, levels, id_match, fallback)
    return linkage.MatchModel(
        version=version,
        organization=organization,
        trained_at=trained_at,
        prior=prior,
        fields=tuple(keys),
        m=m,
        u=u,
        training=linkage.Training(
            records=len(enc),
            random_pairs=len(rand),
            blocked_pairs=len(levels),
            deterministic_links=int(np.count_nonzero(id_match)),
            em_iterations=sum(x.iterations for x in sessions),
            converged=all(x.converged for x in sessions),
            blocked_match_share=shares.get("dob", fallback.match_share if fallback else 0.0),
            prior_source=source,
            smoothing=1.0,
            seed=seed,
            sessions=tuple(sessions),
        ),
    )


def _passes(
    fields: Sequence[FieldSpec],
    levels: LevelArray,
    u: Sequence[linkage.LevelProbabilities],
    known: Sequence[linkage.LevelProbabilities | None],
) -> tuple[list[dict[int, float]], list[int], list[linkage.SessionFacts]]:
    """The EM of each training pass that has :data:`MIN_PASS_PAIRS` pairs: per field, the
    sum of its ``m`` over the passes that estimated it and their number; each pass's facts.

    Without identifier links every field a pass does not mask is estimated. With them
    (``known``: ``m`` from pairs sharing an identifier), a pass estimates only the fields
    *it alone* can (those the other passes mask: the date of birth in the names pass,
    the names in the date-of-birth pass) and holds every other known field at its links'
    ``m``. That ties the pass's matches to real duplicates: pairs sharing a common name
    are mostly namesakes, and a free EM over them may call them all matches. The links'
    own ``m`` of the estimated fields is not used there: duplicates that share an
    identifier (follow-ups) are cleaner than the rest.
    """
    keys = [f.key for f in fields]
    sums: list[dict[int, float]] = [{} for _ in fields]
    passes = [0 for _ in fields]
    sessions: list[linkage.SessionFacts] = []
    start = linkage.starting_m(fields)
    for name, rule, masked in TRAINING_PASSES:
        idx = [keys.index(k) for k in rule if k in keys]
        if len(idx) != len(rule):
            continue
        chosen = (levels[:, idx] == linkage.EXACT).all(axis=1)
        if int(np.count_nonzero(chosen)) < MIN_PASS_PAIRS:
            continue
        hide = {keys.index(k) for k in masked if k in keys}
        others = {
            keys.index(k) for n, _, mk in TRAINING_PASSES if n != name for k in mk if k in keys
        }
        held = [
            known[f] is not None and f not in hide and f not in others for f in range(len(fields))
        ]
        pass_levels = levels[chosen].copy()
        pass_levels[:, sorted(hide)] = linkage.NULL
        em = linkage.estimate_m(
            level_counts(pass_levels),
            u,
            0.1,
            fields,
            m_start=[known[f] or start[f] if held[f] else start[f] for f in range(len(fields))],
            fixed=held,
        )
        estimated = [f for f in range(len(fields)) if f not in hide and not held[f]]
        sessions.append(_session(name, [fields[f] for f in estimated], len(pass_levels), em))
        for f in estimated:
            passes[f] += 1
            for level, p in em.m[f].items():
                sums[f][level] = sums[f].get(level, 0.0) + p
    return sums, passes, sessions


def _session(
    name: str, fields: Sequence[FieldSpec], pairs: int, em: linkage.EMResult
) -> linkage.SessionFacts:
    return linkage.SessionFacts(
        name,
        tuple(f.key for f in fields),
        float(pairs),
        em.iterations,
        em.converged,
        em.match_share,
    )


def _prior(
    encoder: Encoder,
    enc: Encoded,
    keys: list[str],
    m: Sequence[linkage.LevelProbabilities],
    shares: dict[str, float],
    levels: LevelArray,
    id_match: npt.NDArray[np.bool_],
    fallback: linkage.EMResult | None,
) -> tuple[float, str]:
    n = len(enc)
    if "dob" in shares and "patient.dob" in keys:
        f = keys.index("patient.dob")
        sigs = encoder.signatures[f]
        counts = np.bincount(enc.codes[:, f], minlength=len(sigs)).astype(np.float64)
        has = np.array([isinstance(sig, tuple) and sig[0] is not None for sig in sigs])
        with_dob = float(counts[has].sum())
        same = float((counts[has] * (counts[has] - 1) / 2).sum())
        if with_dob >= 2 and same > 0:
            both = with_dob * (with_dob - 1) / 2
            prior = shares["dob"] * same / m[f][linkage.EXACT] / both
            return min(max(prior, 1e-9), 0.5), "dob_pass"
    pairs = max(n * (n - 1) / 2, 1.0)
    links = int(np.count_nonzero(id_match))
    if links:
        return linkage.estimate_prior(links, max(n, 2)), "deterministic_links"
    share = fallback.match_share if fallback is not None else 0.1
    return min(max(share * len(levels) / pairs, 1e-9), 0.5), "blocked_em"


@dataclass
class Compared:
    """Records compared in bulk: what training and scoring read (:func:`compare_records`)."""

    encoder: Encoder
    encoded: Encoded
    bulk: BulkLevels
    #: The candidate pairs the exclusions kept, their levels (as scored: ``independent``)
    #: and which of them share an identifier (M10).
    pairs: IntArray
    levels: LevelArray
    id_match: npt.NDArray[np.bool_]
    #: Which candidate pairs the exclusions kept, and how many each rule dropped.
    allowed: npt.NDArray[np.bool_]
    excluded: dict[str, int]
    blocking: BlockStats


def compare_records(
    records: Iterable[tuple[Facts, Sequence[str]]],
    fields: Sequence[FieldSpec] = linkage.MODEL_FIELDS,
    *,
    max_block: int = MAX_BLOCK,
) -> Compared:
    """Encode, block, compare and exclude: every candidate pair's levels."""
    encoder = Encoder(fields)
    enc = encoder.encode(records)
    pairs, stats = candidate_pairs(enc, max_block)
    bulk = BulkLevels(encoder)
    levels = bulk.levels(enc, pairs)
    allowed, excluded = exclusions(enc, pairs, levels, encoder.fields)
    pairs, levels = pairs[allowed], independent(levels[allowed], encoder.fields)
    id_match = identifier_links(enc, pairs)
    return Compared(encoder, enc, bulk, pairs, levels, id_match, allowed, excluded, stats)


def train_compared(
    c: Compared, *, organization: str, trained_at: str, seed: int = 0, version: int = 1
) -> linkage.MatchModel:
    """:func:`train` on compared records."""
    return train(
        c.encoder,
        c.bulk,
        c.encoded,
        c.levels,
        c.id_match,
        organization=organization,
        trained_at=trained_at,
        seed=seed,
        version=version,
    )


def audit_in_memory(
    records: Iterable[tuple[Facts, Sequence[str]]],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    model: linkage.MatchModel | None = None,
    organization: str = "",
    trained_at: str = "",
    max_block: int = MAX_BLOCK,
    seed: int = 0,
) -> AuditRun:
    """Compare (:func:`compare_records`), train (unless ``model`` is given), score and
    cluster."""
    c = compare_records(
        records, model.specs if model is not None else linkage.MODEL_FIELDS, max_block=max_block
    )
    if model is None:
        model = train_compared(c, organization=organization, trained_at=trained_at, seed=seed)
    weights = Weights.of(model).weights(c.levels)
    prob = probabilities(weights)
    return AuditRun(
        encoded=c.encoded,
        pairs=c.pairs,
        levels=c.levels,
        allowed=c.allowed,
        id_match=c.id_match,
        model=model,
        weights=weights,
        probability=prob,
        clusters=cluster(c.pairs, prob, threshold, forced=c.id_match),
        blocking=c.blocking,
        excluded=c.excluded,
    )
