"""Binding the registry's comparators to records: one field's result by its declaration.

:func:`compare_field` reads a field's values where its declaration says
(``FieldSpec.fact``: an attribute of :class:`~matcher.facts.Facts`, each product's
or event's, or ``Facts.extra`` for generic fields) and compares them with the
comparator it names (``matcher.compare.COMPARATORS``). The registry-driven
evaluation (``matcher.reference``) uses it for every field; the fast evaluation
(``matcher.evaluate``) for the fields it has no hand-written code for.
"""

from __future__ import annotations

from collections.abc import Sequence

from indexer.fields import FIELDS, FieldSpec
from matcher.compare import COMPARATORS, NONE, best, compare_name_rows
from matcher.facts import EventFacts, Facts, ProductFacts
from matcher.model import Result

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
    if spec.normalizer is not None:
        return compare(src.extra.get(spec.key), cand.extra.get(spec.key))
    if "." not in spec.fact:
        return compare(getattr(src, spec.fact), getattr(cand, spec.fact))
    what = spec.fact.split(".")[0]
    result: Result = NONE
    for a in _items(src, what, depth):
        for b in _items(cand, what, depth):
            result = best(result, compare_items(spec, a, b))
    return result


def compare_items(
    spec: FieldSpec, a: ProductFacts | EventFacts | None, b: ProductFacts | EventFacts | None
) -> Result:
    """A product or event field (``spec.fact``: ``products.x`` / ``events.x``) of two items;
    ``None`` is no item (no value)."""
    if a is None or b is None:
        return NONE
    compare = COMPARATORS[spec.comparator]
    if spec.comparator == "event_text":  # N7 reads the code and the text of each event
        return compare(a, b)
    name = spec.fact.split(".")[1]
    return compare(getattr(a, name), getattr(b, name))
