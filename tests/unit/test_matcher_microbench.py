"""``python -m matcher.microbench`` runs both candidate sets and lists matches in the related one."""

from __future__ import annotations

import re

import pytest

from matcher.microbench import main


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
