"""``matcher.audit.names``: name levels in numpy equal ``linkage.field_level``'s."""

from __future__ import annotations

import copy
import itertools
import random

import numpy as np
import pytest

from indexer.fields import FIELD_BY_KEY, FieldSpec
from indexer.normalize import name_tokens
from matcher import linkage
from matcher.audit.encoding import _BLANK
from matcher.audit.names import NameSignature, NameTable, name_levels
from matcher.facts import Facts

NAMES: dict[str, tuple[str | None, str | None]] = {
    "none": (None, None),
    "full": ("jacob", "smith"),
    "same-again": ("jacob", "smith"),
    "swapped": ("smith", "jacob"),
    "first-typo": ("jakob", "smith"),
    "last-typo": ("jacob", "smyth"),
    "close-not-similar": ("jacobus", "smith"),
    "first-only": ("jacob", None),
    "last-only": (None, "smith"),
    "one-field-both-tokens": ("jacob smith", None),
    "other-person": ("mary", "jones"),
    "one-cross": ("smith", "john"),
    "cross-typo": ("smyth", "jakob"),
    "namesake-first": ("jacob", "brown"),
    "short": ("al", "li"),
    "short-swapped": ("li", "al"),
    "empty": ("", "smith"),
}


def _signature(first: str | None, last: str | None) -> NameSignature:
    return first, last, " ".join(name_tokens(first, last)) or None


def _facts(spec: FieldSpec, sig: NameSignature) -> Facts:
    out = copy.copy(_BLANK)
    if spec.group == "patient":
        out.first_name, out.last_name, out.patient_name = sig
    else:
        out.reporter_first, out.reporter_last, out.reporter_name = sig
    return out


def _check(sigs: list[NameSignature], group: str, typos: bool = True) -> None:
    """Against ``field_level`` with the registry's specs (``compare_field`` tells the
    first-name row by identity); without typos, ``CLOSE`` is ``NONE``."""
    first, last = FIELD_BY_KEY[f"{group}.first_name"], FIELD_BY_KEY[f"{group}.last_name"]
    assert first.typos and last.typos
    pairs = np.array(list(itertools.product(range(len(sigs)), repeat=2)), dtype=np.int64)
    got = name_levels(NameTable.of(sigs), pairs[:, 0], pairs[:, 1], typos=(typos, typos))
    for k, (i, j) in enumerate(pairs.tolist()):
        for spec, levels in ((first, got[0]), (last, got[1])):
            want = linkage.field_level(spec, _facts(spec, sigs[i]), _facts(spec, sigs[j]))
            if not typos and want == linkage.CLOSE:
                want = linkage.NONE
            assert levels[k] == want, (spec.key, sigs[i], sigs[j])


@pytest.mark.parametrize(
    ("group", "typos"),
    [("patient", True), ("reporter", True), ("patient", False)],
    ids=["patient", "reporter", "patient-without-typos"],
)
def test_name_levels_of_every_pair_of_the_table_equal_field_level(group: str, typos: bool) -> None:
    _check([_signature(*names) for names in NAMES.values()], group, typos)


def test_name_levels_of_random_similar_names_equal_field_level() -> None:
    rng = random.Random(3)
    words = ["anna", "ana", "anne", "jan", "jane", "jana", "mueller", "muller", "miller", "li"]
    sigs: list[NameSignature] = []
    for _ in range(60):
        first = rng.choice([None, *words])
        last = rng.choice([None, *words, "van der berg"])
        sigs.append(_signature(first, last))
    _check(sigs, "patient")
