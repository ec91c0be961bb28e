"""``casematch audit`` over a store: the same pairs, scores and clusters as the audit of the
same records in memory; only the organization's searchable Cases in range; resumable."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from benchmarks.audit_data import ORGANIZATION, PlantedPopulation
from indexer.documents import build_document
from indexer.records import Record
from indexer.store import RecordStore
from matcher import audit as bulk
from matcher.facts import facts_from_view
from matcher.linkage import MatchModel
from service.audit import AuditError, AuditParams, run_audit

POPULATION = PlantedPopulation(seed=5, n=400, planted_fraction=0.15)


def _records() -> list[Record]:
    return list(POPULATION.records())


def _load(store: RecordStore, records: list[Record]) -> None:
    other = records[0].model_copy(
        update={"id": "CS-OTHER-ORG", "case_id": "CS-OTHER-ORG", "organization": "ORG-Z"}
    )
    report = store.put_many([*records, other], chunk_size=200, refresh=True)
    assert not report.failed
    # a follow-up version: the first one is superseded (M7) and never read
    report = store.put_many(
        [records[1].model_copy(update={"version": records[1].version + 1})], refresh=True
    )
    assert not report.failed


def _pairs_csv(out: Path) -> list[dict[str, str]]:
    with (out / "pairs.csv").open() as fh:
        return list(csv.DictReader(fh))


def test_audit_store_equals_in_memory_M1_M7_M21(store: RecordStore, tmp_path: Path) -> None:
    records = _records()
    _load(store, records)
    out = tmp_path / "audit"
    summary = run_audit(
        store, AuditParams(ORGANIZATION, threshold=0.5), out, page_size=97, chunk_pages=2
    )
    # M1 / M7: another organization's Case and a superseded version are never read
    assert summary.records == len(records)
    model = MatchModel.from_json(json.loads((out / "model.json").read_text()))
    docs = [build_document(r) for r in records]
    memory = bulk.audit_in_memory(
        ((facts_from_view(d["match_view"]), d["keys"]) for d in docs), threshold=0.5, model=model
    )
    ids = memory.encoded.ids
    expected = {
        tuple(sorted((ids[i], ids[j])))
        for (i, j), p, forced in zip(
            memory.pairs.tolist(), memory.probability, memory.id_match, strict=True
        )
        if p >= 0.5 or forced
    }
    rows = _pairs_csv(out)
    assert {(r["left_id"], r["right_id"]) for r in rows} == expected
    by_pair = {
        tuple(sorted((ids[i], ids[j]))): p
        for (i, j), p in zip(memory.pairs.tolist(), memory.probability, strict=True)
    }
    for row in rows:
        assert float(row["probability"]) == pytest.approx(
            by_pair[(row["left_id"], row["right_id"])], abs=1e-6
        )
    clusters = [json.loads(line) for line in (out / "clusters.ndjson").read_text().splitlines()]
    assert sorted(c["record_ids"] for c in clusters) == sorted(
        sorted(ids[k] for k in members) for members in memory.clusters.members
    )
    # the planted duplicates are found: most planted pairs are linked
    planted = POPULATION.entities()
    truth = {tuple(sorted((dup, base))) for dup, base in planted.items()}
    assert len(truth & expected) >= 0.6 * len(truth)
    assert (out / "report.md").read_text().startswith(f"# Duplicate audit of {ORGANIZATION}")
    # M21: ids, scores and Bayes factors only; no compared value (PHI) is written
    written = "".join(
        (out / name).read_text()
        for name in ("pairs.csv", "pairs.ndjson", "clusters.csv", "clusters.ndjson", "report.md")
    ).lower()
    names = {r.patient.last_name.lower() for r in records if r.patient.last_name}
    dobs = {str(r.patient.dob) for r in records if r.patient.dob}
    assert names and not any(name in written for name in names if len(name) > 3)
    assert not any(dob in written for dob in dobs if len(dob) == 10)
    assert "left_id" in (out / "pairs.csv").read_text().splitlines()[0]


def test_audit_date_range_and_resume(store: RecordStore, tmp_path: Path) -> None:
    records = _records()
    _load(store, records)
    since, until = date(2024, 1, 1), date(2025, 6, 30)
    in_range = [r for r in records if since.isoformat() <= str(r.receipt_date) <= until.isoformat()]
    params = AuditParams(ORGANIZATION, since=since, until=until, threshold=0.5)
    clean = run_audit(store, params, tmp_path / "clean", page_size=50, chunk_pages=1)
    assert clean.records == len(in_range)

    class StopError(Exception):
        pass

    def stop_at(phase: str, chunk: int) -> None:
        if (phase, chunk) == ("scan", 2):
            raise StopError

    with pytest.raises(StopError):
        run_audit(
            store, params, tmp_path / "again", page_size=50, chunk_pages=1, checkpointed=stop_at
        )
    with pytest.raises(AuditError, match="--resume"):
        run_audit(store, params, tmp_path / "again", page_size=50, chunk_pages=1)
    resumed = run_audit(store, params, tmp_path / "again", page_size=50, chunk_pages=1, resume=True)
    assert resumed.resumed and resumed.records == clean.records
    for name in ("pairs.csv", "clusters.csv"):
        assert (tmp_path / "again" / name).read_text() == (tmp_path / "clean" / name).read_text()
    # the model was trained once, in the same way: identical parameters
    a = json.loads((tmp_path / "clean" / "model.json").read_text())
    b = json.loads((tmp_path / "again" / "model.json").read_text())
    assert np.allclose(
        [lv["m"] for f in a["fields"] for lv in f["levels"]],
        [lv["m"] for f in b["fields"] for lv in f["levels"]],
    )
