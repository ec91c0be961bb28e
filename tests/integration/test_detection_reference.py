"""The engine-backed ranking equals the brute-force reference ranking on generated data.

A seeded population of Cases (benchmarks.generator) with labelled Inbox Items
in every duplicate / near-miss family: for each item, ``detect`` on the engine
must list exactly the records, sections, order, badges, tags and comparison
tables that ``rank_reference`` computes over the whole population in Python,
for every profile and with a small cap (M26: the cap never changes the head).
"""

from __future__ import annotations

from datetime import date

import pytest

from benchmarks.generator import LabelledQuery, Population, generate_queries
from indexer.engine import Engine
from indexer.records import Record
from indexer.store import RecordStore
from matcher import Detection, DetectionOptions, detect, rank_reference

pytestmark = pytest.mark.integration

TODAY = date(2026, 1, 15)


@pytest.fixture
def population() -> tuple[list[Record], list[LabelledQuery]]:
    pop = Population(seed=11, n=400, today=TODAY)
    return list(pop), list(generate_queries(12, pop, 16))


def comparable(d: Detection) -> dict[str, object]:
    """A Detection as JSON without its timing: what two runs must agree on."""
    out = d.model_dump(mode="json")
    out.pop("took_ms")
    return out


#: Every profile, and a small cap (M26), as the engine-backed tests run them.
PROFILE_OPTIONS = pytest.mark.parametrize(
    "options",
    [
        DetectionOptions(today=TODAY),
        DetectionOptions(today=TODAY, max_possible_matches=3, mask_phi=False),
        DetectionOptions(today=TODAY, profile="deep_22r1"),
        DetectionOptions(today=TODAY, profile="deep_22r3", match_inbox_items=False),
    ],
    ids=["enhanced", "enhanced-cap3", "deep_22r1", "deep_22r3"],
)


@PROFILE_OPTIONS
def test_M14_M26_engine_ranking_equals_reference_on_generated_data(
    store: RecordStore,
    engine: Engine,
    population: tuple[list[Record], list[LabelledQuery]],
    options: DetectionOptions,
) -> None:
    cases, queries = population
    store.put_many(cases)
    listed = 0
    for q in queries:
        run = detect(engine, store.names, q.source, options)
        expected = rank_reference(q.source, cases, options)
        assert comparable(run.detection) == comparable(expected), q.family
        listed += len(run.detection.sections.all())
        assert run.round_trips >= 1
    assert listed > len(queries) // 2  # the data set really exercises ranking
