"""``casematch load`` and ``casematch check`` on the FDA E2B(R3) examples, as real processes."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.live import run
from tests.paths import FDA_EXAMPLES

FDA = FDA_EXAMPLES


def test_load_scenario1_as_a_case_then_check_scenario2_finds_it_by_wwuid(tmp_path: Path) -> None:
    data = tmp_path / "data"
    loaded = run(
        data,
        "load",
        "--organization",
        "ORG-A",
        "--kind",
        "case",
        str(FDA / "FAERS2022Scenario1.xml"),
    )
    assert loaded.returncode == 0, loaded.stderr
    assert "loaded 1 records" in loaded.stdout
    checked = run(
        data, "check", "--organization", "ORG-A", "--json", str(FDA / "FAERS2022Scenario2.xml")
    )
    assert checked.returncode == 0, checked.stderr
    detection = json.loads(checked.stdout)
    [match] = detection["sections"]["id_matches"]
    assert (match["record_type"], match["badge"]) == ("case", "WWUID")


def test_load_reports_the_bad_message_and_stores_the_good_ones(tmp_path: Path) -> None:
    text = (FDA / "FAERS2022Scenario1.xml").read_text()
    start, end = text.index("<PORR_IN049016UV>"), text.index("</PORR_IN049016UV>") + 18
    message = text[start:end]
    c11 = 'root="2.16.840.1.113883.3.989.2.1.3.1"/>\n\t\t\t\t\t<!--  C.1.1'
    broken = message.replace(c11, c11.replace("2.16.840.1.113883.3.989.2.1.3.1", "9.9"))
    assert broken != message
    other = message.replace("<name>JD</name>", "<name>AB</name>")
    batch = tmp_path / "batch.xml"
    batch.write_text(text[:start] + message + broken + other + text[end:])
    result = run(tmp_path / "data", "load", "--organization", "ORG-A", str(batch))
    assert result.returncode == 1
    assert "loaded 2 records" in result.stdout
    assert "message 2: C.1.1" in result.stdout
    assert "JD" not in result.stdout and "AB" not in result.stdout
