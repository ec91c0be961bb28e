"""Fuzzy name lookups expanded through the name vocabulary (pure parts).

``matcher.queries.expansions`` must match a fuzzy lookup exactly as the engine
would (or more): the same fixed prefix, the same edit distance, no transpositions.
``expand_fuzzy`` swaps each expanded lookup for a lookup of its keys and leaves
the rest of the request untouched.
"""

from __future__ import annotations

import pytest

from indexer.documents import build_document, key_kind
from indexer.names import name_keys
from indexer.records import Record
from matcher.queries import expand_fuzzy, expansions, fuzzy_lookups, lookup_id

SCOPE = "ORG-A|pm|patient_first_name:"


def spec(value: str, fuzziness: int = 1, prefix: str = SCOPE) -> dict[str, object]:
    return {
        "value": prefix + value,
        "fuzziness": fuzziness,
        "prefix_length": len(prefix),
        "transpositions": False,
    }


@pytest.mark.parametrize(
    ("lookup", "key", "expected"),
    [
        (spec("maria"), SCOPE + "maria", True),
        (spec("maria"), SCOPE + "marya", True),  # one substitution
        (spec("maria"), SCOPE + "daria", True),  # the first letter may differ
        (spec("maria"), SCOPE + "mari", True),  # one deletion
        (spec("maria"), SCOPE + "amria", False),  # a transposition is two edits here
        (spec("maria"), SCOPE + "mario", True),
        (spec("maria"), SCOPE + "marion", False),  # two edits with fuzziness 1
        (spec("maria", 2), SCOPE + "marion", True),
        (spec("maria"), "ORG-A|pm|patient_last_name:maria", False),  # another field
        (spec("maria"), "ORG-B|pm|patient_first_name:maria", False),  # another organization
    ],
    ids=[
        "equal",
        "substitution",
        "first-letter",
        "deletion",
        "transposition",
        "last-letter",
        "two-edits",
        "two-edits-allowed",
        "other-field",
        "other-organization",
    ],
)
def test_M17_expansions_follow_the_engines_fuzzy_rule(
    lookup: dict[str, object], key: str, expected: bool
) -> None:
    found = expansions([lookup], [key])
    assert found == {lookup_id(lookup): [key] if expected else []}


def test_expand_fuzzy_replaces_only_expanded_lookups() -> None:
    near, far = spec("maria"), spec("jonas")
    body = {
        "query": {
            "bool": {
                "filter": [
                    {
                        "bool": {
                            "should": [
                                {"term": {"keys": SCOPE + "maria"}},
                                {"fuzzy": {"keys": near}},
                                {"fuzzy": {"keys": far}},
                            ]
                        }
                    }
                ]
            }
        }
    }
    assert fuzzy_lookups(body) == [near, far]
    out = expand_fuzzy(body, {lookup_id(near): [SCOPE + "marya"], lookup_id(far): None})
    should = out["query"]["bool"]["filter"][0]["bool"]["should"]
    assert should == [
        {"term": {"keys": SCOPE + "maria"}},
        {"terms": {"keys": [SCOPE + "marya"]}},
        {"fuzzy": {"keys": far}},  # left to the engine
    ]
    assert fuzzy_lookups(body) == [near, far], "the input is not changed"


def test_name_keys_are_the_scoped_name_keys_of_a_searchable_document() -> None:
    record = Record.model_validate(
        {
            "id": "CS-1",
            "kind": "case",
            "organization": "ORG-A",
            "state": "new",
            "receipt_date": "2026-01-02",
            "patient": {"first_name": "Maria", "last_name": "Lopez", "initials": "ML"},
            "reporter": {"first_name": "Ana", "last_name": "Diaz", "country": "ES"},
        }
    )
    doc = build_document(record)
    assert sorted(name_keys(doc)) == [
        "ORG-A|pm|@ES|reporter_first_name:ana",
        "ORG-A|pm|@ES|reporter_last_name:diaz",
        "ORG-A|pm|patient_first_name:maria",
        "ORG-A|pm|patient_last_name:lopez",
        "ORG-A|pm|reporter_first_name:ana",
        "ORG-A|pm|reporter_last_name:diaz",
    ]
    assert {key_kind(k) for k in doc["keys"]} >= {
        "patient_initials",
        "patient_first_name",
        "reporter_last_name",
    }
    superseded = build_document(record.model_copy(update={"state": "superseded"}))
    assert name_keys(superseded) == []
