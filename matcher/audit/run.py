"""Training a model on an audit's pairs (Splink's recipe) and the whole audit in memory."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

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
) -> linkage.MatchModel:
    """Fit a model on this audit's blocked pairs (``linkage``'s estimators, Splink's recipe).

    ``u``: ``linkage.estimate_u`` over random pairs. ``m``: ``linkage.estimate_m`` per
    training pass (:data:`TRAINING_PASSES`); a field no pass could estimate takes the
    EM over all blocked pairs. The prior: the dob pass's share of matches among the pairs
    with the same date of birth, times how many pairs share one (counted exactly from the
    codes), divided by ``m(dob exact)`` (the share of matches that share it) and by the
    pairs with a date of birth on both sides; without dates of birth, ``linkage.fit``'s
    rule (pairs sharing an identifier, else the EM's share among the blocked pairs).
    """
    fields = encoder.fields
    keys = [f.key for f in fields]
    rand = independent(bulk.levels(enc, random_pairs(len(enc), random_pair_count, seed)), fields)
    u = linkage.estimate_u(level_counts(rand), fields)
    sums: list[dict[int, float]] = [{} for _ in fields]
    passes: list[int] = [0 for _ in fields]
    shares: dict[str, float] = {}
    iterations = 0
    converged = True
    for name, rule, masked in TRAINING_PASSES:
        idx = [keys.index(k) for k in rule if k in keys]
        if len(idx) != len(rule):
            continue
        chosen = (levels[:, idx] == linkage.EXACT).all(axis=1)
        if int(np.count_nonzero(chosen)) < MIN_PASS_PAIRS:
            continue
        hide = [keys.index(k) for k in masked if k in keys]
        pass_levels = levels[chosen].copy()
        pass_levels[:, hide] = linkage.NULL
        em = linkage.estimate_m(level_counts(pass_levels), u, 0.1, fields)
        iterations += em.iterations
        converged = converged and em.converged
        shares[name] = em.match_share
        for f in range(len(fields)):
            if f in hide:
                continue
            passes[f] += 1
            for level, p in em.m[f].items():
                sums[f][level] = sums[f].get(level, 0.0) + p
    fallback = None
    if not all(passes) and len(levels):
        fallback = linkage.estimate_m(level_counts(levels), u, 0.1, fields)
        iterations += fallback.iterations
    m = tuple(
        {level: p / passes[f] for level, p in sums[f].items()}
        if passes[f]
        else (fallback.m[f] if fallback is not None else linkage.starting_m(fields)[f])
        for f in range(len(fields))
    )
    prior, source = _prior(encoder, enc, keys, m, shares, levels, id_match, fallback)
    return linkage.MatchModel(
        version=1,
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
            em_iterations=iterations,
            converged=converged,
            blocked_match_share=shares.get("dob", fallback.match_share if fallback else 0.0),
            prior_source=source,
            smoothing=1.0,
            seed=seed,
        ),
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
    """Encode, block, compare, exclude, train (unless ``model`` is given), score and cluster."""
    fields = model.specs if model is not None else linkage.MODEL_FIELDS
    encoder = Encoder(fields)
    enc = encoder.encode(records)
    pairs, stats = candidate_pairs(enc, max_block)
    bulk = BulkLevels(encoder)
    levels = bulk.levels(enc, pairs)
    allowed, excluded = exclusions(enc, pairs, levels, encoder.fields)
    pairs, levels = pairs[allowed], independent(levels[allowed], encoder.fields)
    id_match = identifier_links(enc, pairs)
    if model is None:
        model = train(
            encoder,
            bulk,
            enc,
            levels,
            id_match,
            organization=organization,
            trained_at=trained_at,
            seed=seed,
        )
    w = Weights.of(model)
    weights = w.weights(levels)
    prob = probabilities(weights)
    clusters = cluster(pairs, prob, threshold, forced=id_match)
    return AuditRun(
        encoded=enc,
        pairs=pairs,
        levels=levels,
        allowed=allowed,
        id_match=id_match,
        model=model,
        weights=weights,
        probability=prob,
        clusters=clusters,
        blocking=stats,
        excluded=excluded,
    )
