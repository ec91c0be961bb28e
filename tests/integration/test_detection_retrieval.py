"""Bounded retrieval stays exact: full pages are narrowed or grown, never trusted (M14, M26).

A Product tier larger than every page and union: the engine must return the
same first N as the brute-force reference whether the head of the tier
(records matching more values) fits the cap or the tier has to be fetched in
full.
"""

from __future__ import annotations

import pytest

from indexer.engine import Engine
from indexer.records import Record
from indexer.store import RecordStore
from matcher import Detection, detect, rank_reference
from tests.matcher_scenarios import blank, ids, opts, source

pytestmark = pytest.mark.integration

PRODUCT = {"product": "PRD-17", "product_reported": "Aspirin 100 mg", "rank": 1}
EVENT = {"event_reported": "headache", "meddra_pt_code": "10019211", "rank": 1}


def _candidates() -> list[Record]:
    out = []
    for i in range(80):
        if i < 5:  # every product and event value: the head of the tier
            products, events = [PRODUCT], [EVENT]
        elif i < 60:  # product and the event's PT only
            products, events = [PRODUCT], [{"meddra_pt_code": "10019211", "rank": 1}]
        else:  # the product code only
            products, events = [{"product": "PRD-17", "rank": 1}], []
        out.append(
            blank(
                f"C-{i:02d}",
                products=products,
                events=events,
                new_info_date=f"2025-{1 + i // 28:02d}-{1 + i % 28:02d}",
            )
        )
    return out


def _comparable(d: Detection) -> dict[str, object]:
    out = d.model_dump(mode="json")
    out.pop("took_ms")
    return out


@pytest.mark.parametrize("cap", [2, 8, 70], ids=["head-fits", "grow-level", "full-tier"])
def test_M26_product_tier_larger_than_a_page_gives_the_exact_head(
    store: RecordStore, engine: Engine, cap: int
) -> None:
    cands = _candidates()
    store.put_many(cands)
    src = source(patient={}, reporter={"country": "US"}, products=[PRODUCT], events=[EVENT])
    options = opts(max_possible_matches=cap)
    run = detect(engine, store.names, src, options)
    expected = rank_reference(src, cands, options)
    assert _comparable(run.detection) == _comparable(expected)
    assert len(run.detection.sections.possible_matches) == cap
    if cap == 2:
        # the head of the tier (all four values) settles it, whatever else was fetched
        assert ids(run.detection.sections.possible_matches) == ["C-04", "C-03"]
