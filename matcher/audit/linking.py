"""The seeds' exclusions, scoring under a match model, and clustering without weak chains."""

from __future__ import annotations

import copy
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from indexer.fields import FieldSpec
from matcher import linkage
from matcher.audit.common import _RANKED_KEYS, _RESULT_OF, FloatArray, IntArray, LevelArray
from matcher.audit.encoding import _BLANK, Encoded
from matcher.compare import NONE as R_NONE
from matcher.evaluate import Evaluation
from matcher.facts import Facts
from matcher.rank import country_excluded

# --------------------------------------------------------------------------- exclusions

#: Why a pair was excluded (the seeds' rule IDs).
EXCLUSION_RULES: tuple[str, ...] = ("M1", "M3", "M5", "M7")


def exclusions(
    enc: Encoded, pairs: IntArray, levels: LevelArray, fields: Sequence[FieldSpec]
) -> tuple[npt.NDArray[np.bool_], dict[str, int]]:
    """Which pairs the seeds allow (M1, M3, M5, M7), and how many each rule excluded.

    M1 and M3 are already part of the blocking keys' scope and M7 of the scan (records that
    are not searchable hold no keys); they are checked again here because pairs may come
    from elsewhere (random pairs, another blocking). M5 needs the comparison: for the pairs
    whose reporter countries differ, an :class:`~matcher.evaluate.Evaluation` of their
    levels goes through ``matcher.rank.country_excluded``, the rule detection applies.
    """
    i, j = pairs[:, 0], pairs[:, 1]
    counts: dict[str, int] = {}
    ok = np.ones(len(pairs), dtype=bool)
    for rule, bad in (
        ("M1", enc.organization[i] != enc.organization[j]),
        ("M3", enc.clinical_trial[i] != enc.clinical_trial[j]),
        ("M7", ~(enc.searchable[i] & enc.searchable[j])),
    ):
        counts[rule] = int(np.count_nonzero(bad & ok))
        ok &= ~bad
    ci, cj = enc.country[i], enc.country[j]
    differ = np.flatnonzero(ok & (ci != 0) & (cj != 0) & (ci != cj))
    m5 = 0
    if len(differ):
        # a pair with a matching identifying patient field is never excluded (M5's "unless")
        patient = np.array([f.group == "patient" and f.identifying for f in fields])
        matched = np.zeros(len(differ), dtype=bool)
        for col in np.flatnonzero(patient).tolist():
            matched |= levels[differ, col] >= linkage.PARTIAL
        maybe = differ[~matched]
        keys = [f.key for f in fields]
        for k in maybe.tolist():
            results = dict.fromkeys(_RANKED_KEYS, R_NONE)
            results.update(zip(keys, (_RESULT_OF[int(x)] for x in levels[k]), strict=True))
            ev = Evaluation.of(_with_country(str(cj[k])), results)
            ev.country, ev.src_country = R_NONE, str(ci[k])
            if country_excluded(ev):
                ok[k] = False
                m5 += 1
    counts["M5"] = m5
    return ok, counts


def _with_country(country: str) -> Facts:
    out = copy.copy(_BLANK)
    out.country = country
    return out


# --------------------------------------------------------------------------- scoring


@dataclass(frozen=True)
class Weights:
    """A model as arrays: each field's match weight by level, and the prior's weight."""

    table: FloatArray  # (fields, levels): log2(m/u) per level, 0 for NULL
    prior: float

    @classmethod
    def of(cls, model: linkage.MatchModel) -> Weights:
        table = np.zeros((len(model.fields), len(linkage.LEVEL_NAMES)), dtype=np.float64)
        for f, spec in enumerate(model.specs):
            for level in linkage.field_levels(spec):
                table[f, level] = math.log2(model.bayes_factor(f, level))
        return cls(table, model.prior_weight)

    def weights(self, levels: LevelArray) -> FloatArray:
        """Each pair's match weight (prior included), a field at a time (bounded memory)."""
        total: FloatArray = np.full(len(levels), self.prior, dtype=np.float64)
        for f in range(self.table.shape[0]):
            total += self.table[f][levels[:, f]]
        return total

    def bayes_factors(self, levels: LevelArray) -> FloatArray:
        cols = np.arange(self.table.shape[0])
        out: FloatArray = np.exp2(self.table[cols[None, :], levels.astype(np.int64)])
        return out


def probabilities(weights: FloatArray) -> FloatArray:
    """``2^w / (1 + 2^w)`` per pair (``linkage.probability_of_weight``), without overflow."""
    out: FloatArray = 1.0 / (1.0 + np.exp2(-np.clip(weights, -1000, 1000)))
    return out


# --------------------------------------------------------------------------- clustering


@dataclass
class Clusters:
    """Clusters of rows (two or more members each) and the links that formed them."""

    members: list[list[int]]
    #: Links that were not used because their clusters lacked support (chains broken).
    refused: int = 0
    links: int = 0


def cluster(
    pairs: IntArray,
    probability: FloatArray,
    threshold: float,
    forced: npt.NDArray[np.bool_] | None = None,
    support: float = 0.5,
) -> Clusters:
    """Cluster rows through links (``probability >= threshold``, or ``forced``: ID Matches).

    Links are taken strongest first (forced ones first). Two clusters merge when the links
    between them are more than ``support`` of the ``|A| * |B|`` pairs between them: two
    records always merge on their link, a record joins a pair only when it links to both,
    and a chain of links A-B-C without A-C stays {A, B} and {C}.
    """
    linked = probability >= threshold
    if forced is not None:
        linked = linked | forced
    idx = np.flatnonzero(linked)
    strength = probability[idx] + (2.0 if forced is not None else 0.0) * (
        forced[idx] if forced is not None else 0
    )
    idx = idx[np.argsort(-strength, kind="stable")]
    edges = [(int(a), int(b)) for a, b in pairs[idx].tolist()]
    parent: dict[int, int] = {}
    size: dict[int, int] = {}
    members: dict[int, list[int]] = {}
    between: dict[int, Counter[int]] = {}

    def root(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        for x in (a, b):
            if x not in members:
                parent[x], size[x], members[x], between[x] = x, 1, [x], Counter()
        between[a][b] += 1
        between[b][a] += 1
    refused = 0
    for a, b in edges:
        ra, rb = root(a), root(b)
        if ra == rb:
            continue
        if between[ra][rb] <= support * size[ra] * size[rb]:
            refused += 1
            continue
        if size[ra] < size[rb]:
            ra, rb = rb, ra
        parent[rb] = ra
        size[ra] += size[rb]
        members[ra].extend(members.pop(rb))
        moved = between.pop(rb)
        moved.pop(ra, None)
        between[ra].pop(rb, None)
        for other, count in moved.items():
            between[ra][other] += count
            between[other].pop(rb, None)
            between[other][ra] += count
    groups = sorted((sorted(m) for m in members.values() if len(m) > 1), key=lambda m: m[0])
    return Clusters(groups, refused=refused, links=len(edges))


def clustered_pairs(clusters: Sequence[Sequence[int]]) -> set[tuple[int, int]]:
    """Every pair of rows within a cluster (what pairwise precision/recall score)."""
    out: set[tuple[int, int]] = set()
    for members in clusters:
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                out.add((members[x], members[y]))
    return out
