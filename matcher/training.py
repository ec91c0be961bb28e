"""Training a match model from an organization's records: pairs, levels, fit (pure).

The scan reads the records (``indexer.scan.training_views``); this module
draws the pairs and fits ``matcher.linkage``'s model:

- **random pairs** (``u``): ``sample_pairs`` pairs of distinct records drawn uniformly;
- **blocked pairs** (EM for ``m``): pairs of records sharing a retrieval key
  (``indexer.documents.retrieval_keys``, the keys detection retrieves by; scoped by
  organization and study type, M1/M3), at most ``cap_per_block`` pairs drawn from each
  key's block and ``sample_pairs`` pairs in all (:func:`blocked_pairs`, the one function a
  faster bulk blocking may replace);
- **deterministic links** (the prior): pairs sharing an identifier (M10's ``identifier``
  keys), counted in full.

Every draw comes from one ``random.Random(seed)``: the same records and seed give the
same model.
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from indexer.documents import build_document, key_kind
from indexer.fields import FIELDS, IN_STUDY, KeyKind
from indexer.records import Record
from matcher.facts import Facts, facts_from_document, facts_from_view
from matcher.linkage import (
    MODEL_FIELDS,
    BlockSample,
    MatchModel,
    Session,
    count_levels,
    fit_sessions,
    pair_levels,
)

#: Random pairs for ``u`` and blocked pairs for the EM, each (``--sample-pairs``).
DEFAULT_SAMPLE_PAIRS = 50_000
#: At most this many pairs are drawn from one retrieval key's block.
DEFAULT_CAP_PER_BLOCK = 50

Pair = tuple[int, int]


@dataclass(frozen=True, slots=True)
class TrainingRecord:
    """One record as training reads it: its comparable values and its retrieval keys."""

    facts: Facts
    keys: tuple[str, ...]


def training_record(record: Record) -> TrainingRecord:
    """A record's training view, built as its index document is (for tests and files)."""
    doc = build_document(record)
    return TrainingRecord(facts_from_document(doc), tuple(doc["keys"]))


def training_record_from_view(view: str, keys: Iterable[str]) -> TrainingRecord:
    """A stored record's training view, from its match view and retrieval keys
    (``indexer.scan.training_views``)."""
    return TrainingRecord(facts_from_view(view), tuple(keys))


def blocking_keys(keys: Iterable[str]) -> list[str]:
    """The keys blocks are made of: a record's retrieval keys without the copies narrowed to
    a reporter country (``|@``) or paired with a study number (``in_study.``), whose blocks
    lie within the plain key's."""
    return [k for k in keys if "|@" not in k and not key_kind(k).startswith(IN_STUDY)]


def _blocks(records: Sequence[TrainingRecord]) -> dict[str, list[int]]:
    blocks: dict[str, list[int]] = defaultdict(list)
    for i, rec in enumerate(records):
        for key in blocking_keys(rec.keys):
            blocks[key].append(i)
    return blocks


def _pairs_of(members: list[int], cap: int, rng: random.Random) -> Iterable[Pair]:
    """Every pair of a block, or ``cap`` drawn at random when it has more."""
    n = len(members)
    total = n * (n - 1) // 2
    if total <= cap:
        for x in range(n):
            for y in range(x + 1, n):
                yield members[x], members[y]
        return
    for _ in range(cap):
        x, y = rng.sample(range(n), 2)
        a, b = members[x], members[y]
        yield (a, b) if a < b else (b, a)


def blocked_pairs(
    records: Sequence[TrainingRecord],
    *,
    cap_per_block: int = DEFAULT_CAP_PER_BLOCK,
    max_pairs: int = DEFAULT_SAMPLE_PAIRS,
    rng: random.Random,
) -> tuple[list[Pair], int]:
    """Distinct pairs sharing a blocking key (at most ``cap_per_block`` per block, then at
    most ``max_pairs`` drawn from them), and how many distinct pairs were found before
    the ``max_pairs`` draw."""
    found: set[Pair] = set()
    blocks = _blocks(records)
    for key in sorted(blocks):
        members = blocks[key]
        if len(members) > 1:
            found.update(_pairs_of(members, cap_per_block, rng))
    pairs = sorted(found)
    if len(pairs) > max_pairs:
        pairs = sorted(rng.sample(pairs, max_pairs))
    return pairs, len(found)


def deterministic_links(records: Sequence[TrainingRecord]) -> set[Pair]:
    """Pairs of records sharing an identifier (M10), every one."""
    blocks: dict[str, list[int]] = defaultdict(list)
    for i, rec in enumerate(records):
        for key in rec.keys:
            if key_kind(key) == KeyKind.IDENTIFIER.value and "|@" not in key:
                blocks[key].append(i)
    links: set[Pair] = set()
    for members in blocks.values():
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                links.add((members[x], members[y]))
    return links


def random_pairs(n: int, count: int, rng: random.Random) -> list[Pair]:
    """``count`` pairs of distinct indices below ``n``, drawn uniformly (with replacement)."""
    if n < 2:
        return []
    out: list[Pair] = []
    for _ in range(count):
        a, b = rng.sample(range(n), 2)
        out.append((a, b) if a < b else (b, a))
    return out


def levels_of(records: Sequence[TrainingRecord], pairs: Iterable[Pair]) -> Counter[tuple[int, ...]]:
    """The pairs' level vectors over :data:`~matcher.linkage.MODEL_FIELDS`, counted."""
    return count_levels(
        pair_levels(records[a].facts, records[b].facts, MODEL_FIELDS) for a, b in pairs
    )


K = KeyKind
#: Splink-style EM sessions: a name, the key kinds whose blocks it draws pairs from, and
#: the field groups / fields it leaves out (pairs blocked on a field agree on it whether
#: they match or not, and names share letters with initials). A session estimates
#: ``m`` for every other model field; each field is estimated by at least one.
SESSIONS: tuple[tuple[str, frozenset[str], frozenset[str]], ...] = (
    ("patient_dob", frozenset({K.PATIENT_DOB}), frozenset({"patient.dob"})),
    (
        "patient_names",
        frozenset({K.PATIENT_FIRST_NAME, K.PATIENT_LAST_NAME, K.PATIENT_NAME_TOKEN}),
        frozenset({"patient.first_name", "patient.last_name", "patient.initials"}),
    ),
)
#: Key kinds no block of the prior's sample is made of: a study number paired with another
#: value (a subset of a plain key's block).
_UNBLOCKED = frozenset({K.STUDY_INITIALS, K.STUDY_MRN_INVESTIGATION})
#: The blocks the prior's sample is drawn from: every patient key (a report and its
#: duplicate share one unless the patient is unnamed and undated).
PRIOR_KINDS: frozenset[str] = frozenset(
    str(kind)
    for spec in FIELDS
    if spec.group == "patient"
    for kind in spec.keys
    if kind not in _UNBLOCKED
)


def session_blocks(
    records: Sequence[TrainingRecord], kinds: frozenset[str]
) -> tuple[dict[str, list[int]], list[frozenset[str]]]:
    """The blocks of ``kinds`` (key -> record indices) and each record's keys of them."""
    blocks: dict[str, list[int]] = defaultdict(list)
    keys_of: list[frozenset[str]] = []
    for i, rec in enumerate(records):
        mine = frozenset(k for k in blocking_keys(rec.keys) if key_kind(k) in kinds)
        keys_of.append(mine)
        for key in mine:
            blocks[key].append(i)
    return blocks, keys_of


def weighted_block_sample(
    records: Sequence[TrainingRecord], kinds: frozenset[str], count: int, rng: random.Random
) -> tuple[list[tuple[Pair, float]], float]:
    """``count`` pairs drawn from the union of the blocks of ``kinds``, each with its weight,
    and the estimated number of distinct pairs in that union.

    A block is drawn in proportion to its pairs, then a pair within it; a pair in ``c``
    blocks is weighted ``1/c``, so weighted sums over the sample estimate sums over the
    union's distinct pairs (``T`` pairs counted per block, times the mean weight).
    """
    blocks, keys_of = session_blocks(records, kinds)
    sized = [(key, len(m) * (len(m) - 1) // 2) for key, m in sorted(blocks.items())]
    sized = [(key, n) for key, n in sized if n > 0]
    total = sum(n for _, n in sized)
    if not total:
        return [], 0.0
    chosen = rng.choices([key for key, _ in sized], weights=[n for _, n in sized], k=count)
    out: list[tuple[Pair, float]] = []
    for key in chosen:
        a, b = rng.sample(blocks[key], 2)
        shared = len(keys_of[a] & keys_of[b])
        out.append(((a, b) if a < b else (b, a), 1.0 / shared))
    mean_weight = sum(w for _, w in out) / len(out)
    return out, total * mean_weight


def capped_block_pairs(
    records: Sequence[TrainingRecord],
    kinds: frozenset[str],
    *,
    cap_per_block: int,
    max_pairs: int,
    rng: random.Random,
) -> list[Pair]:
    """Distinct pairs sharing a key of ``kinds``: at most ``cap_per_block`` per block, then
    at most ``max_pairs`` of them drawn."""
    blocks, _ = session_blocks(records, kinds)
    found: set[Pair] = set()
    for key in sorted(blocks):
        if len(blocks[key]) > 1:
            found.update(_pairs_of(blocks[key], cap_per_block, rng))
    pairs = sorted(found)
    return sorted(rng.sample(pairs, max_pairs)) if len(pairs) > max_pairs else pairs


def training_sessions(
    records: Sequence[TrainingRecord],
    *,
    sample_pairs: int = DEFAULT_SAMPLE_PAIRS,
    cap_per_block: int = DEFAULT_CAP_PER_BLOCK,
    rng: random.Random,
) -> list[Session]:
    """The EM sessions of :data:`SESSIONS` over ``records``, each from capped blocks
    (:func:`capped_block_pairs`). The one function a faster bulk blocking replaces
    (``train(..., sessions=...)``)."""
    out: list[Session] = []
    for name, kinds, left_out in SESSIONS:
        estimated = tuple(spec.key not in left_out for spec in MODEL_FIELDS)
        pairs = capped_block_pairs(
            records, kinds, cap_per_block=cap_per_block, max_pairs=sample_pairs, rng=rng
        )
        if pairs:
            out.append(Session(name, levels_of(records, pairs), estimated))
    return out


def prior_sample(
    records: Sequence[TrainingRecord], count: int, rng: random.Random
) -> BlockSample | None:
    """A weighted sample of the pairs sharing a patient key (:data:`PRIOR_KINDS`)."""
    sample, total = weighted_block_sample(records, PRIOR_KINDS, count, rng)
    if not sample:
        return None
    counts: dict[tuple[int, ...], float] = {}
    for (a, b), w in sample:
        vector = pair_levels(records[a].facts, records[b].facts, MODEL_FIELDS)
        counts[vector] = counts.get(vector, 0.0) + w
    weight = math.fsum(counts.values())
    return BlockSample(counts, total / weight)


#: Makes the EM sessions of some records (:func:`training_sessions`'s signature).
SessionMaker = Callable[..., list[Session]]


def train(
    records: Sequence[TrainingRecord],
    *,
    organization: str,
    version: int,
    trained_at: str,
    sample_pairs: int = DEFAULT_SAMPLE_PAIRS,
    cap_per_block: int = DEFAULT_CAP_PER_BLOCK,
    seed: int = 0,
    recall: float = 1.0,
    sessions: SessionMaker = training_sessions,
) -> MatchModel:
    """A model fitted on ``records`` (see the module docstring)."""
    if len(records) < 2:
        raise ValueError(f"{organization} has {len(records)} records: a model needs at least 2")
    rng = random.Random(seed)
    random_levels = levels_of(records, random_pairs(len(records), sample_pairs, rng))
    made = sessions(records, sample_pairs=sample_pairs, cap_per_block=cap_per_block, rng=rng)
    if not made:
        raise ValueError(f"{organization}: no two records share a patient name or birth date")
    return fit_sessions(
        random_levels,
        made,
        organization=organization,
        version=version,
        trained_at=trained_at,
        n_records=len(records),
        block_sample=prior_sample(records, sample_pairs, rng),
        deterministic_links=len(deterministic_links(records)),
        recall=recall,
        seed=seed,
    )
