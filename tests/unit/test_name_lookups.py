"""Name lookups: a fuzzy search with the first letter fixed plus tail keys finds every similar name.

``matcher.queries.typo_lookups`` turns a source name into term and fuzzy lookups
(first letter fixed); ``indexer.documents.name_tails`` keys every indexed name
also without its first one or two letters. Together they must retrieve every
name ``matcher.compare.similar_name`` accepts (M17), or a partial name match
would never reach the comparators.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz.distance import Levenshtein

from indexer.documents import name_tails
from matcher.compare import max_edits, similar_name
from matcher.queries import typo_lookups

KIND = "pfn"


def indexed(name: str) -> set[tuple[str, str]]:
    """The name keys of one indexed name, as ``(kind, value)`` pairs."""
    keys = {(KIND, name)}
    keys.update((f"{KIND}.t{cut}", name[cut:]) for cut in name_tails(name))
    return keys


def retrieves(source: str, name: str) -> bool:
    """Whether the source's lookups hit one of the name's keys (the engine's semantics)."""
    keys = indexed(name)
    for kind, value, fuzziness in typo_lookups(KIND, source, max_edits(len(source))):
        for key_kind, key_value in keys:
            if key_kind != kind:
                continue
            if fuzziness == 0 and key_value == value:
                return True
            if (
                fuzziness
                and key_value[:1] == value[:1]
                and Levenshtein.distance(key_value, value) <= fuzziness
            ):
                return True
    return False


NAMES = st.text(alphabet="abcde", min_size=1, max_size=11)


@settings(max_examples=3000, deadline=None)
@given(NAMES, NAMES)
def test_M17_similar_names_are_always_retrieved(a: str, b: str) -> None:
    if similar_name(a, b):
        assert retrieves(a, b)


@pytest.mark.parametrize(
    ("source", "name"),
    [
        ("maria", "maria"),
        ("maria", "daria"),  # first letter substituted
        ("maria", "aria"),  # first letter missing
        ("aria", "maria"),  # first letter added (source shorter: one typo allowed from 3)
        ("kristina", "christina"),  # two edits at the start of a long name
        ("christina", "xristina"),
        ("alexandra", "lexandru"),  # first letter dropped and one more typo
        ("bartholomew", "artholomeu"),
    ],
    ids=lambda value: value,
)
def test_M17_typos_in_the_first_letters_are_found(source: str, name: str) -> None:
    assert similar_name(source, name)
    assert retrieves(source, name)


@pytest.mark.parametrize(
    ("name", "cuts"),
    [("", []), ("al", []), ("ali", [1]), ("roberta", [1]), ("robertas", [1, 2])],
    ids=["empty", "two-letters", "three-letters", "seven-letters", "eight-letters"],
)
def test_name_tails_follow_the_typos_a_name_may_hold(name: str, cuts: list[int]) -> None:
    assert name_tails(name) == cuts
    assert len(cuts) == max_edits(len(name))
