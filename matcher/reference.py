"""The registry-driven evaluation: every ranked field compared by its declared comparator.

:func:`evaluate_by_registry` reads nothing but the field registry
(``indexer.fields``): for each ranked field of the profile, the comparator its
declaration names, applied to the two records' values (products and events: the
best over every compared pair). It is the definition; ``matcher.evaluate.evaluate``
is the fast hand-written path detection runs, and a property test
(``tests/unit/test_registry.py``) proves the two equal on generated pairs. The
brute-force reference ranking (``matcher.rank.rank_reference``) ranks with this one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from indexer.fields import FIELD_BY_KEY, FIELDS, RANKED_FIELDS, Comparator, FieldSpec
from matcher.compare import (
    NONE,
    best,
    compare_dob,
    compare_exact,
    compare_name_rows,
    compare_onset,
    compare_product_reported,
)
from matcher.evaluate import Evaluation, subject_tier, tag_for
from matcher.facts import EventFacts, Facts, ProductFacts
from matcher.model import Result
from matcher.profiles import Profile


def _event_text(a: Any, b: Any) -> Result:
    """N7: verbatim texts compared unless both events are coded, with different codes."""
    assert isinstance(a, EventFacts) and isinstance(b, EventFacts)
    if a.meddra_pt_code and b.meddra_pt_code and a.meddra_pt_code != b.meddra_pt_code:
        return NONE
    return compare_exact(a.event_reported, b.event_reported)


#: Each comparator of the registry on two values (or, for ``event_text``, two events).
COMPARATORS: dict[Comparator, Callable[[Any, Any], Result]] = {
    "exact": compare_exact,
    "dob": compare_dob,
    "onset": compare_onset,
    "product_text": compare_product_reported,
    "event_text": _event_text,
    "window_date": compare_exact,  # stored days: ``matcher.table`` compares the record's
}

#: Each group's two name fields (first, last), as the registry lists them.
_NAME_FIELDS: dict[str, tuple[FieldSpec, FieldSpec]] = {
    group: (pair[0], pair[1])
    for group in ("patient", "reporter")
    for pair in [[f for f in FIELDS if f.group == group and f.comparator == "name"]]
}


def _items(facts: Facts, what: str, depth: int) -> Sequence[ProductFacts | EventFacts]:
    items: Sequence[ProductFacts | EventFacts] = getattr(facts, what)
    return [x for x in items if x.rank <= depth]


def compare_field(spec: FieldSpec, src: Facts, cand: Facts, depth: int) -> Result:
    """One field's result by its declaration (pure)."""
    if spec.hidden_when_blinded and (src.blinded or cand.blinded):
        return NONE
    if spec.comparator == "name":
        first, last = _NAME_FIELDS[spec.group]
        tokens = getattr(src, f"{spec.group}_name")
        rows = compare_name_rows(
            (getattr(src, first.fact), getattr(src, last.fact)),
            (getattr(cand, first.fact), getattr(cand, last.fact)),
            tokens is not None and tokens == getattr(cand, f"{spec.group}_name"),
        )
        return rows[0] if spec is first else rows[1]
    compare = COMPARATORS[spec.comparator]
    if "." not in spec.fact:
        return compare(getattr(src, spec.fact), getattr(cand, spec.fact))
    what, name = spec.fact.split(".")
    whole = spec.comparator == "event_text"
    result: Result = NONE
    for a in _items(src, what, depth):
        for b in _items(cand, what, depth):
            result = best(
                result, compare(a, b) if whole else compare(getattr(a, name), getattr(b, name))
            )
    return result


def _id_matches(src: Facts, cand: Facts) -> tuple[tuple[str, str, str], ...]:
    """M10: every (source kind, candidate kind, value) whose identifiers are equal."""
    return tuple(
        (s_kind, c_kind, value)
        for s_kind, s_values in src.ids.items()
        for c_kind, c_values in cand.ids.items()
        for value in sorted(s_values & c_values)
    )


def evaluate_by_registry(src: Facts, cand: Facts, profile: Profile) -> Evaluation:
    """What ``cand`` shares with ``src`` under ``profile``, field by declared field."""
    values = tuple(
        compare_field(spec, src, cand, profile.depth) if profile.name in spec.profiles else NONE
        for spec in RANKED_FIELDS
    )
    country = compare_field(FIELD_BY_KEY["reporter.country"], src, cand, profile.depth)
    ev = Evaluation(
        cand,
        values,
        _id_matches(src, cand),
        subject_tier(src, cand, values) if src.clinical_trial else None,
        country,
        src.country,
    )
    if profile.tags:
        ev.tag = tag_for(src, cand, ev, profile)
    return ev
