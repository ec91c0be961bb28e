"""Bounded retrieval stays exact: full pages are narrowed or grown, never trusted (M14, M26).

A Product tier larger than every page and union: the engine must return the
same first N as the brute-force reference whether the head of the tier
(records matching more values) fits the cap or the tier has to be fetched in
full.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from indexer.engine import Engine
from indexer.records import Record
from indexer.store import RecordStore
from matcher import Detection, detect, rank_reference
from matcher.detect import margin
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


class _Recording:
    """The engine, keeping every search body; ``uncounted`` drops ``hits.total`` from responses
    (as an engine does past ``track_total_hits``) so detection must grow its pages instead."""

    def __init__(self, engine: Engine, *, uncounted: bool = False) -> None:
        self.engine, self.uncounted = engine, uncounted
        self.bodies: list[dict[str, Any]] = []

    def msearch(self, searches: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
        self.bodies.extend(body for _, body in searches)
        responses = self.engine.msearch(searches)
        if self.uncounted:
            for r in responses:
                r["hits"].pop("total", None)
        return responses


@pytest.mark.parametrize("uncounted", [False, True], ids=["counted", "uncounted"])
@pytest.mark.parametrize("cap", [8, 40], ids=["rest-of-level", "page-holds-level"])
def test_M26_a_counted_level_is_read_to_its_end_in_one_more_page(
    store: RecordStore, engine: Engine, cap: int, uncounted: bool
) -> None:
    """The head of the Product tier (product, text and PT: 60 records) is larger than the
    first page for cap 8 and exactly its size for cap 40."""
    cands = _candidates()
    store.put_many(cands)
    src = source(patient={}, reporter={"country": "US"}, products=[PRODUCT], events=[EVENT])
    options = opts(max_possible_matches=cap)
    recording = _Recording(engine, uncounted=uncounted)
    run = detect(recording, store.names, src, options)
    assert _comparable(run.detection) == _comparable(rank_reference(src, cands, options))
    continued = [b["size"] for b in recording.bodies if "search_after" in b]
    first = cap + margin(cap)
    if uncounted:  # unknown: the page grows by three times its size, whatever is left
        assert continued == [3 * first]
    elif cap == 8:  # the rest of the head, and one record more so the page ends short
        assert continued == [60 - first + 1]
    else:  # the first page held the whole head: nothing to continue
        assert continued == []


def _trial(record_id: str, i: int, **fields: Any) -> Record:
    return blank(
        record_id,
        study_type="clinical_trial",
        study_number="STU-9",
        new_info_date=f"2025-{1 + i // 28:02d}-{1 + i % 28:02d}",
        **fields,
    )


@pytest.mark.parametrize("cap", [3, 8, 40], ids=["head", "head-and-level", "whole-study"])
def test_M14_study_tier_head_is_found_from_values_paired_with_the_study_number(
    store: RecordStore, engine: Engine, cap: int
) -> None:
    """60 records of the source's study: 4 share its reporter, product and event, 20 its
    reporter, the rest only the study. The heads come from paired keys (never the study
    number alone), and the result is exactly the reference's."""
    reporter = {"first_name": "Ines", "last_name": "Ortega", "country": "ES"}
    cands = []
    for i in range(60):
        if i < 4:
            extra: dict[str, Any] = {"reporter": reporter, "products": [PRODUCT], "events": [EVENT]}
        elif i < 24:
            extra = {"reporter": reporter}
        else:
            extra = {"reporter": {"country": "ES"}}
        cands.append(_trial(f"C-{i:02d}", i, **extra))
    store.put_many(cands)
    src = source(
        study_type="clinical_trial",
        study_number="STU-9",
        patient={},
        reporter=reporter,
        products=[PRODUCT],
        events=[EVENT],
    )
    options = opts(max_possible_matches=cap)
    recording = _Recording(engine)
    run = detect(recording, store.names, src, options)
    assert _comparable(run.detection) == _comparable(rank_reference(src, cands, options))
    assert len(run.detection.sections.possible_matches) == min(cap, 60)
    heads = [b for b in recording.bodies if "|in_study." in orjson.dumps(b).decode()]
    assert heads, "the study tier's head must be asked of paired keys"
    for body in heads:
        assert b"|study:" not in orjson.dumps(body["query"])
