"""Status bars, comparison tables and masking (M18-M20): golden detections and shared rows.

Every M-rule scenario (``tests/matcher_scenarios.py``) is ranked by the reference
with its own options and with PHI masking toggled; the whole Detection JSON must
equal ``tests/golden/detections/scenarios.json``, so a faster table or ranking
cannot change a single output. ``CASEMATCH_UPDATE_GOLDEN=1`` rewrites the file:
review the diff.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from matcher import ComparisonRow, Detection, rank_reference
from matcher.evaluate import evaluate
from matcher.facts import ProductFacts, facts_from_record
from matcher.profiles import get_profile
from matcher.table import (
    TableBuilder,
    _pairs,
    _product_score,
    comparison_rows,
    header,
    status_bars,
)
from tests.matcher_scenarios import SCENARIOS, Scenario, opts, source

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "detections" / "scenarios.json"
UPDATE = os.environ.get("CASEMATCH_UPDATE_GOLDEN") == "1"


def detections(s: Scenario) -> dict[str, Any]:
    toggled = replace(s.options, mask_phi=not s.options.mask_phi)
    out: dict[str, Any] = {}
    for options in (s.options, toggled):
        key = f"{options.profile}/{'masked' if options.mask_phi else 'clear'}"
        out[key] = rank_reference(s.source, s.candidates, options).model_dump(mode="json")
    return out


def pretty(value: Any, indent: str = "") -> str:
    """Indented JSON with each comparison row on one line (reviewable diffs, a smaller file)."""
    inner = indent + " "
    if isinstance(value, dict) and value and "result" not in value:
        items = [f"{inner}{json.dumps(k)}: {pretty(v, inner)}" for k, v in sorted(value.items())]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(value, list) and value:
        items = [inner + pretty(v, inner) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + indent + "]"
    return json.dumps(value, sort_keys=True)


def test_M18_M19_M20_detections_equal_the_golden_ones() -> None:
    actual = {name: detections(make()) for name, make in SCENARIOS.items()}
    if UPDATE:
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(pretty(actual) + "\n", encoding="utf-8")
    assert GOLDEN.exists(), f"missing {GOLDEN}; create it with CASEMATCH_UPDATE_GOLDEN=1"
    expected = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert sorted(actual) == sorted(expected)
    for name in SCENARIOS:
        assert actual[name] == expected[name], name


def _listed(name: str) -> tuple[Scenario, Detection]:
    s = SCENARIOS[name]()
    return s, rank_reference(s.source, s.candidates, replace(s.options, mask_phi=True))


def test_M20_equal_rows_of_one_detection_are_one_immutable_object() -> None:
    _, d = _listed("M19")
    rows = [r for m in d.sections.all() for r in m.comparison]
    masked = [r for r in rows if r.source == "***" and r.section == "patient"]
    assert masked, "the scenario lists masked patient rows"
    by_value: dict[tuple[Any, ...], ComparisonRow] = {}
    for r in rows:
        key = (r.section, r.field, r.source, r.match, r.result, r.badge)
        assert by_value.setdefault(key, r) is r  # equal rows are shared ...
    with pytest.raises(ValidationError):
        masked[0].source = "JS"  # type: ignore[misc]  # ... so none can be changed


def test_one_match_helpers_equal_the_builder() -> None:
    s = SCENARIOS["M17"]()
    src = facts_from_record(s.source)
    profile = get_profile(s.options.profile)
    evs = [evaluate(src, facts_from_record(c), profile) for c in s.candidates]
    for mask in (True, False):
        table = TableBuilder(src, mask=mask)
        for ev in evs:
            assert comparison_rows(src, ev, mask=mask) == table.rows(ev)
            assert status_bars(ev, subject=True) == table.status(ev, subject=True)
            assert header(src, ev.facts) == table.header(ev.facts)


def test_M20_source_values_are_masked_once_per_detection() -> None:
    s = source(patient={"initials": "JS", "first_name": "Jacob", "last_name": "Smith"})
    src = facts_from_record(s)
    clear, masked = TableBuilder(src, mask=False), TableBuilder(src, mask=True)
    ev = evaluate(src, src, get_profile(opts().profile))
    shown = {(r.section, r.field): r.source for r in clear.rows(ev)}
    hidden = {(r.section, r.field): r.source for r in masked.rows(ev)}
    assert shown[("patient", "first_name")] == "Jacob"
    assert hidden[("patient", "first_name")] == hidden[("patient", "initials")] == "***"
    assert hidden[("details", "receipt_date")] == shown[("details", "receipt_date")]


_products = st.lists(
    st.builds(
        ProductFacts,
        st.sampled_from([None, "", "prd-1", "prd-2"]),
        st.sampled_from([None, "aspirin 100 mg", "aspirin 100mg", "warfarin 5 mg"]),
        st.sampled_from([None, "ip-1", "ip-2"]),
        st.just(1),
    ),
    max_size=5,
).map(tuple)


@given(_products, _products, st.integers(1, 3))
def test_M19_products_pair_with_their_best_scoring_match_first(
    src: tuple[ProductFacts, ...], cand: tuple[ProductFacts, ...], limit: int
) -> None:
    """Each source product takes the unpaired match product it scores best with (the later
    one on a tie), up to ``limit`` pairs; with no scoring pair, primary faces primary."""
    expected: list[tuple[ProductFacts | None, ProductFacts | None]] = []
    used: set[int] = set()
    for a in src:
        scored = [(_product_score(a, b), i) for i, b in enumerate(cand) if i not in used]
        top, i = max(scored, default=(0, -1))
        if top > 0 and len(expected) < limit:
            used.add(i)
            expected.append((a, cand[i]))
    if not expected and (src or cand):
        expected.append((src[0] if src else None, cand[0] if cand else None))
    assert _pairs(src, cand, _product_score, limit) == expected


@pytest.mark.parametrize(
    ("a", "b", "score"),
    [
        (("prd-1", "aspirin 100 mg", "ip-1"), ("prd-1", "aspirin 100mg", "ip-1"), 4),
        (("prd-1", None, None), ("prd-1", None, None), 2),
        (("", "", ""), ("", "", ""), 0),
        ((None, "aspirin 100 mg", None), (None, "warfarin 5 mg", "ip-1"), 0),
    ],
    ids=["all", "product-only", "empty-never-matches", "different"],
)
def test_M19_product_pair_score(
    a: tuple[str | None, str | None, str | None],
    b: tuple[str | None, str | None, str | None],
    score: int,
) -> None:
    assert _product_score(ProductFacts(*a, rank=1), ProductFacts(*b, rank=1)) == score
