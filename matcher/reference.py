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

from indexer.fields import FIELD_BY_KEY, RANKED_FIELDS
from matcher.bind import compare_field
from matcher.compare import NONE
from matcher.evaluate import Evaluation, subject_tier, tag_for
from matcher.facts import Facts
from matcher.profiles import Profile


def _id_matches(src: Facts, cand: Facts) -> tuple[tuple[str, str, str], ...]:
    """M10: every (source kind, candidate kind, value) whose identifiers are equal."""
    return tuple(
        (s_kind, c_kind, value)
        for s_kind, s_values in src.ids.items()
        for c_kind, c_values in cand.ids.items()
        for value in sorted(s_values & c_values)
    )


def evaluate_by_registry(src: Facts, cand: Facts, profile: Profile) -> Evaluation:
    """What ``cand`` shares with ``src`` under ``profile``, field by declared field (no
    result for the fields the profile does not compare)."""
    values = tuple(
        compare_field(spec, src, cand, profile.depth) if profile.compares(spec.key) else NONE
        for spec in RANKED_FIELDS
    )
    country = compare_field(FIELD_BY_KEY["reporter.country"], src, cand, profile.depth)
    ev = Evaluation(
        cand,
        values,
        _id_matches(src, cand) if profile.compares("identifiers.any") else (),
        subject_tier(src, cand, values, edc=profile.compares("patient.edc_subject"))
        if src.clinical_trial
        else None,
        country,
        src.country,
    )
    if profile.tags:
        ev.tag = tag_for(src, cand, ev, profile)
    return ev
