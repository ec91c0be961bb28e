"""Engine parity: the local OpenSearch node and osmem give identical detections.

The same generated Cases and labelled Inbox Items (every duplicate and near-miss family)
go into a store on each engine; every detection — sections, ranks, badges, tags, statuses,
comparison tables — must be the same on both, for every profile and with a small cap.
The benchmark counterpart is ``casematch bench quality --engine both``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from benchmarks.generator import LabelledQuery, Population, generate_queries
from indexer.engine import Engine
from indexer.records import Record
from indexer.store import IndexNames, RecordStore
from matcher import DetectionOptions, detect
from tests.conftest import engine_params
from tests.integration.test_detection_reference import PROFILE_OPTIONS, TODAY, comparable

pytestmark = pytest.mark.integration

if set(engine_params()) != {"opensearch", "osmem"}:
    pytest.skip(
        "engine parity needs both the local OpenSearch node and osmem in this run "
        "(CASEMATCH_TEST_ENGINES)",
        allow_module_level=True,
    )


@pytest.fixture(scope="module")
def population() -> tuple[list[Record], list[LabelledQuery]]:
    pop = Population(seed=21, n=1500, today=TODAY)
    return list(pop), list(generate_queries(22, pop, 60, today=TODAY))


@pytest.fixture(scope="module")
def stores(
    opensearch_engine: Engine,
    osmem_engine: Engine,
    population: tuple[list[Record], list[LabelledQuery]],
) -> Iterator[dict[str, RecordStore]]:
    cases = population[0]
    names = IndexNames(f"parity{uuid.uuid4().hex[:8]}")
    out = {
        "opensearch": RecordStore(opensearch_engine, names),
        "osmem": RecordStore(osmem_engine, names),
    }
    for store in out.values():
        store.ensure_indices()
        report = store.put_many(cases)
        assert not report.failed
    yield out
    for store in out.values():
        store.drop_indices()


@PROFILE_OPTIONS
def test_detections_are_identical_on_opensearch_and_osmem(
    stores: dict[str, RecordStore],
    population: tuple[list[Record], list[LabelledQuery]],
    options: DetectionOptions,
) -> None:
    _, queries = population
    listed = 0
    for q in queries:
        runs = {
            kind: detect(store.engine, store.names, q.source, options)
            for kind, store in stores.items()
        }
        assert comparable(runs["opensearch"].detection) == comparable(runs["osmem"].detection), (
            q.family
        )
        listed += len(runs["opensearch"].detection.sections.all())
    assert listed > len(queries) // 2  # the data set really exercises ranking
