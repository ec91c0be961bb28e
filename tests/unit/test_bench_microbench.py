"""``python -m benchmarks.microbench`` runs both candidate sets and lists matches in the related one."""

from __future__ import annotations

import re

import pytest

from benchmarks.microbench import STAGES, main


def test_microbench_reports_related_and_sample_candidates(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--candidates", "40", "--runs", "3", "--population", "2000"]) == 0
    lines = capsys.readouterr().out.splitlines()
    found = [
        re.search(r"(related|sample) +candidates: (\d+) \((\d+) listed", line) for line in lines
    ]
    counts = {m.group(1): (int(m.group(2)), int(m.group(3))) for m in found if m}
    assert counts["related"][0] == counts["sample"][0] == 40
    assert counts["related"][1] > counts["sample"][1]  # related candidates are mostly listed
    assert all("p50" in line for line in lines)


def test_microbench_stages_split_a_run_into_its_parts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["--candidates", "30", "--runs", "3", "--population", "1000", "--case", "related"]
    assert main([*args, "--stages"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    parts = re.findall(r"(\w+) (\d+\.\d\d)", lines[1].split(":", 1)[1])
    assert [name for name, _ in parts] == list(STAGES)
