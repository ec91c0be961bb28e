"""Match models on the engine: the training scan, stored versions, the cache, scores in
Detections through the API, and the follow_up_probability gate of automated promotion."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from fastapi.testclient import TestClient

from indexer.documents import build_document
from indexer.engine import Engine
from indexer.scan import training_views
from indexer.store import IndexNames, RecordStore
from matcher.facts import facts_from_record
from matcher.linkage import EXACT, MODEL_FIELDS, NONE, PARTIAL, MatchModel, field_levels
from service.models import ModelCache, ModelStore, train_organization, training_records
from service.sample import Population, generate_queries
from service.settings import TransmissionProfile
from tests.factories import record
from tests.integration.promotion_support import WRITER, case, item, service
from tests.keys import auth

pytestmark = pytest.mark.integration


def _model(version: int, organization: str = "ORG-A", prior: float = 1e-3) -> MatchModel:
    """A hand-set model: exact agreement is strong evidence, disagreement against."""
    ms, us = [], []
    for spec in MODEL_FIELDS:
        levels = field_levels(spec)
        if levels == (NONE, EXACT):
            ms.append({NONE: 0.05, EXACT: 0.95})
            us.append({NONE: 0.95, EXACT: 0.05})
        else:
            ms.append({NONE: 0.05, PARTIAL: 0.15, EXACT: 0.8})
            us.append({NONE: 0.9, PARTIAL: 0.07, EXACT: 0.03})
    return MatchModel(
        version,
        organization,
        "2026-01-01T00:00:00+00:00",
        prior,
        tuple(f.key for f in MODEL_FIELDS),
        tuple(ms),
        tuple(us),
    )


def test_training_views_read_what_detection_compares(store: RecordStore) -> None:
    kept = [
        record("C-1", kind="case"),
        record("C-2", kind="case", version=2),
        record("II-1"),
        record("II-2", organization="ORG-A", patient={"initials": "AB"}),
    ]
    for r in [record("C-2", kind="case"), *kept]:
        store.put(r)
    store.put(record("II-3", state="promoted"))  # I3: not searchable, not compared
    store.put(record("II-9", organization="ORG-B"))
    views = list(training_views(store, "ORG-A", page_size=2))
    got = sorted((v, tuple(sorted(k))) for v, k in views)
    docs = [build_document(r) for r in kept]
    assert got == sorted((d["match_view"], tuple(sorted(d["keys"]))) for d in docs)
    records = training_records(store, "ORG-A")
    assert sorted(r.facts.record_id for r in records) == ["C-1", "C-2", "II-1", "II-2"]


def test_model_versions_are_kept_and_cached(engine: Engine, index_names: IndexNames) -> None:
    models = ModelStore(engine, index_names, keep=2)
    models.ensure_index()
    assert models.get("ORG-A") is None and models.next_version("ORG-A") == 1
    now = [0.0]
    cache = ModelCache(models, check_interval_s=10.0, clock=lambda: now[0])
    assert cache.latest("ORG-A") is None
    for v in (1, 2, 3):
        models.put(_model(v))
    models.put(_model(1, organization="ORG-B"))
    assert models.versions("ORG-A") == [2, 3]  # the latest two kept
    assert models.get("ORG-A") == _model(3)
    assert models.get("ORG-A", 2) == _model(2) and models.get("ORG-A", 1) is None
    assert models.get_json("ORG-B", 1) == _model(1, organization="ORG-B").to_json()
    assert cache.latest("ORG-A") is None  # checked less than 10 s ago
    now[0] = 11.0
    assert cache.latest("ORG-A") == _model(3)
    models.put(_model(4))
    assert cache.latest("ORG-A") == _model(3)
    cache.forget("ORG-A")
    assert cache.latest("ORG-A") == _model(4)


def test_train_organization_on_stored_records(store: RecordStore, engine: Engine) -> None:
    population = Population(seed=4, n=400, organizations=("ORG-A",), today=date(2026, 1, 15))
    queries = list(generate_queries(4, population, 80))
    store.put_many([*population, *(q.source for q in queries)])
    models = ModelStore(engine, store.names)
    models.ensure_index()
    first = train_organization(store, models, "ORG-A", seed=1)
    second = train_organization(store, models, "ORG-A", seed=1)
    assert (first.version, second.version) == (1, 2)
    assert first.training.records == 400 + sum(
        1 for q in queries if q.source.organization == "ORG-A"
    )
    assert second.m == first.m and second.u == first.u and second.prior == first.prior
    assert models.get("ORG-A") == second
    with pytest.raises(ValueError, match="at least 2"):
        train_organization(store, models, "ORG-Z")


def _ids(detection: dict[str, object]) -> list[tuple[str, int]]:
    sections = detection["sections"]
    assert isinstance(sections, dict)
    return [
        (m["record_id"], m["rank"])
        for name in ("id_matches", "subject_matches", "possible_matches")
        for m in sections[name]
    ]


def test_duplicate_check_carries_probabilities_once_a_model_is_stored(
    api_client: Callable[..., TestClient], engine: Engine, index_names: IndexNames
) -> None:
    client = api_client(model_check_interval_s=0.0)
    store = RecordStore(engine, index_names)
    store.put(record("C-1", kind="case"))
    store.put(record("C-2", kind="case", patient={"initials": "XY", "dob": "1955"}))
    store.put(record("II-1"))
    url = "/v1/inbox-items/II-1/duplicate-check"
    before = client.post(url, headers=auth("a-reader")).json()
    assert all(
        m["probability"] is None and m["bayes_factors"] == []
        for s in before["sections"].values()
        for m in s
    )
    ModelStore(engine, index_names).put(_model(1))
    after = client.post(url, headers=auth("a-reader")).json()
    assert _ids(after) == _ids(before) and len(_ids(after)) == 2
    matches = {m["record_id"]: m for s in after["sections"].values() for m in s}
    assert matches["C-1"]["probability"] > matches["C-2"]["probability"]
    row = matches["C-1"]["bayes_factors"][0]
    assert row == {
        "section": "patient",
        "field": "initials",
        "level": "exact",
        "bayes_factor": pytest.approx(19.0),
        "match_weight": pytest.approx(4.2479, abs=1e-3),
    }
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    assert {"probability", "match_weight", "bayes_factors"} <= set(schema["Match"]["properties"])
    assert set(schema["FieldScore"]["properties"]) == {
        "section",
        "field",
        "level",
        "bayes_factor",
        "match_weight",
    }


@pytest.mark.parametrize(
    ("threshold", "shares", "state"),
    [
        (None, False, "marked_as_follow_up"),
        (0.5, True, "marked_as_follow_up"),
        (0.5, False, "promotion_failed"),
    ],
    ids=["off", "above", "below"],
)
def test_P12_follow_up_probability_gate_on_the_engine(
    store: RecordStore, threshold: float | None, shares: bool, state: str
) -> None:
    svc = service(
        store,
        transmission_profiles={"default": TransmissionProfile(follow_up_probability=threshold)},
    )
    svc.promotion.model_store.put(_model(1))
    # The item's own patient, reporter, product and event: the same report, or a Case
    # that shares nothing with it but the identifier.
    source = item("II-1")
    same = (
        {
            "patient": source.patient.model_dump(exclude_none=True),
            "reporter": source.reporter.model_dump(exclude_none=True),
            "products": [p.model_dump(exclude_none=True) for p in source.products],
            "events": [e.model_dump(exclude_none=True) for e in source.events],
        }
        if shares
        else {}
    )
    store.put(case("C-1", identifiers={"case_identifiers": ["ACME-1"]}, **same))
    store.put(item("II-1", identifiers={"case_identifiers": ["acme-1"]}))
    out = svc.auto_promote("II-1", WRITER, "op-1")
    assert out["state"] == state
    entries = svc.audit_trail("inbox_item", "II-1", WRITER)
    details = entries[-1]["details"]
    if threshold is None:
        assert "match_probability" not in details
    else:
        expected = _model(1)
        p = expected.probability(
            expected.levels(
                facts_from_record(item("II-1", identifiers={"case_identifiers": ["acme-1"]})),
                facts_from_record(
                    case("C-1", identifiers={"case_identifiers": ["ACME-1"]}, **same)
                ),
            )
        )
        assert details["match_probability"] == pytest.approx(p)
        assert details["follow_up_probability"] == threshold
        assert (p >= threshold) == shares
