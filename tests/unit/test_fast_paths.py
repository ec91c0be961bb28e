"""The audit's fast paths equal the plain ones they replace, value for value.

The duplicate audit builds a document, ``Facts`` and retrieval keys for every Case, so
those paths are memoized or written out for speed (``casematch bench audit``). Each test
here runs the fast path and the plain one on the same inputs and asks for equal results.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import numpy as np
import pytest

from benchmarks.generator import Population, generate_queries
from indexer.documents import (
    _KEY_PLAN,
    COUNTRY_SCOPED,
    GENERIC_FIELDS,
    STUDY_PAIRED,
    _walk,
    build_document,
    country_prefix,
    fold_key,
    generic_values,
    key_kind,
    normalized_document,
    retrieval_keys,
    scope_prefix,
    study_pair,
)
from indexer.normalize import normalize_text
from indexer.records import Record
from matcher.audit.common import BLOCK_KINDS, unique_sorted
from matcher.audit.encoding import Encoder
from matcher.facts import facts_from_view, view_facts

TODAY = date(2026, 1, 15)

TEXTS = {
    "none": None,
    "empty": "",
    "no-information": "UNK",
    "placeholder": "placeholder-0001",
    "apostrophe-dots-accent": "J.-P. O'Néil",
    "spaces": "  Smith   Jacob  ",
    "hyphenated": "Müller-Lüdenscheidt",
    "sharp-s": "Straße",
    "greek": "Ωμέγα",
    "cyrillic": "Иванов",
    "cjk": "山田 太郎",
    "product": "Aspirin 100 mg / tablets",
    "tab-newline": "a\tb\nc",
}


@pytest.mark.parametrize("value", list(TEXTS.values()), ids=list(TEXTS))
def test_N1_cached_normalize_text_equals_the_plain_function(value: str | None) -> None:
    plain = normalize_text.__wrapped__(value)
    assert normalize_text(value) == plain
    assert normalize_text(value) == plain  # and again, from the cache


def _recursive_walk(path: str, node: Any) -> Iterator[Any]:
    """The walk as it was first written: a recursive generator."""
    parts = path.split(".")

    def walk(node: Any, at: int = 0) -> Iterator[Any]:
        if isinstance(node, list):
            for item in node:
                yield from walk(item, at)
        elif at == len(parts):
            yield node
        elif isinstance(node, dict):
            yield from walk(node.get(parts[at]), at + 1)

    return walk(node)


WALKS: dict[str, tuple[str, Any]] = {
    "value": ("a.b", {"a": {"b": 1}}),
    "missing-leaf": ("a.b", {"a": {}}),
    "missing-middle": ("a.b", {"c": 1}),
    "scalar-middle": ("a.b", {"a": 3}),
    "none-middle": ("a.b", {"a": None}),
    "list-middle": ("a.b", {"a": [{"b": 1}, {"b": 2}, 5, {"c": 3}]}),
    "list-leaf": ("a.b", {"a": {"b": [1, [2, 3], 4]}}),
    "nested-lists": ("a.b.c", {"a": [[{"b": [{"c": 1}, {"c": [2]}]}], {"b": {"c": 3}}]}),
    "top-list": ("a", [{"a": 1}, [{"a": 2}], {"b": 3}]),
    "dict-leaf": ("a", {"a": {"x": 1}}),
    "empty-list": ("a.b", {"a": []}),
}


@pytest.mark.parametrize(("path", "doc"), list(WALKS.values()), ids=list(WALKS))
def test_walk_lists_what_the_recursive_walk_yields(path: str, doc: Any) -> None:
    assert _walk(path)(doc) == list(_recursive_walk(path, doc))


def _plain_retrieval_keys(doc: dict[str, Any]) -> list[str]:
    """``retrieval_keys`` as it was first written: a set of keys, kinds read back by
    ``key_kind``."""
    if not doc["searchable"]:
        return []
    out: set[str] = set()
    study = fold_key(doc["study_number"]) if doc["study_number"] else None
    for kind, _, produce, hidden in _KEY_PLAN:
        if hidden and doc["blinded"]:
            continue
        for source in _recursive_walk(_source(kind), doc):
            for value in produce(source, study):
                if value:
                    out.add(f"{kind}:{value}")
    for spec, value in zip(GENERIC_FIELDS, generic_values(doc["record"]), strict=True):
        if spec.identifying and spec.keys and isinstance(value, str) and value:
            out.add(f"{spec.keys[0]}:{value}")
    if study:
        out.update([study_pair(key, study) for key in out if key_kind(key) in STUDY_PAIRED])
    scope = scope_prefix(doc["organization"], doc["clinical_trial"])
    in_country = country_prefix(scope, doc["reporter"]["country_key"])
    keys = [scope + key for key in out]
    keys.extend(in_country + key for key in out if key_kind(key) in COUNTRY_SCOPED)
    return sorted(keys)


def _source(kind: str) -> str:
    from indexer.fields import KEY_VALUES, KeyKind

    return KEY_VALUES[KeyKind(kind)].source


def _records() -> list[Record]:
    pop = Population(seed=11, n=600, today=TODAY)
    return [*pop, *(q.source for q in generate_queries(11, pop, 200, today=TODAY))]


def test_retrieval_keys_equal_the_plain_ones_for_generated_records() -> None:
    records = _records()
    assert any(r.study_number for r in records)  # study pairs are made
    for record in records:
        doc = normalized_document(record)
        assert retrieval_keys(doc) == _plain_retrieval_keys(doc), record.id


def test_view_facts_equal_the_facts_read_from_the_match_view() -> None:
    for record in _records():
        doc = build_document(record)
        assert view_facts(normalized_document(record)) == facts_from_view(doc["match_view"])


KIND_SETS = {
    "audit-blocking": BLOCK_KINDS,
    "none": frozenset(),
    "one": frozenset({"patient_last_name"}),
    "study-paired": frozenset({"in_study.reporter_last_name", "product_word"}),
    "country-scoped": frozenset({"study_number", "event_key", "identifier"}),
}


@pytest.mark.parametrize("kinds", list(KIND_SETS.values()), ids=list(KIND_SETS))
def test_retrieval_keys_of_some_kinds_equal_the_filtered_keys(kinds: frozenset[str]) -> None:
    made = 0
    for record in _records():
        doc = normalized_document(record)
        wanted = [k for k in retrieval_keys(doc) if key_kind(k) in kinds]
        assert retrieval_keys(doc, kinds) == wanted, record.id
        made += len(wanted)
    assert made or not kinds  # the table's kinds occur in the generated records


def test_encoding_the_blocking_keys_only_equals_encoding_every_key() -> None:
    records = _records()
    docs = [normalized_document(r) for r in records]
    every = Encoder().encode((view_facts(d), retrieval_keys(d)) for d in docs)
    some = Encoder().encode((view_facts(d), retrieval_keys(d, BLOCK_KINDS)) for d in docs)
    assert len(every.key_rows) > 0
    for name in ("codes", "key_rows", "key_hashes", "key_probe", "id_rows", "id_hashes"):
        assert np.array_equal(getattr(every, name), getattr(some, name)), name


KEYS = {
    "scoped": "ORG-A|pm|patient_first_name:marie",
    "in-country": "ORG-A|pm|@FR|reporter_last_name:dupont",
    "study-pair": "ORG-A|ct|in_study.reporter_last_name:st-1|dupont",
    "colon-in-value": "ORG-A|pm|identifier:urn:x:1",
    "bare": "patient_dob:1980-06-01",
}


@pytest.mark.parametrize("key", list(KEYS.values()), ids=list(KEYS))
def test_a_keys_kind_is_read_from_what_precedes_its_first_colon(key: str) -> None:
    assert key_kind(key) == key_kind(key.partition(":")[0])  # what the encoder caches by


UNIQUE = {
    "empty": [],
    "one": [5],
    "repeats": [3, 1, 3, 3, 2, 1],
    "sorted": [1, 2, 2, 9],
    "negative-and-large": [-(2**40), 2**50, 0, 2**50, -1],
}


@pytest.mark.parametrize("values", list(UNIQUE.values()), ids=list(UNIQUE))
def test_unique_sorted_equals_numpy_unique(values: list[int]) -> None:
    array = np.array(values, dtype=np.int64)
    assert np.array_equal(unique_sorted(array), np.unique(array))
    assert unique_sorted(array).dtype == np.int64
