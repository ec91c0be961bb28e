"""``casematch load / check / reindex / demo`` as real processes on a fresh data directory."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from tests.e2e.live import run
from tests.factories import record_data


def inbox_item(item_id: str, wwuid: str) -> dict[str, object]:
    return case(item_id, kind="inbox_item", state="new", identifiers={"wwuid": wwuid})


def case(case_id: str, **fields: object) -> dict[str, object]:
    """A Case of ORG-A with its own WWUID; every one shares patient, product and event."""
    data: dict[str, object] = {
        "kind": "case",
        "state": "in_progress",
        "identifiers": {"wwuid": f"US-ACME-{case_id}"},
        "patient": {"initials": "QX", "sex": "female", "dob": "1971-04"},
        "reporter": {},
        **fields,
    }
    return record_data(case_id, **data)


@pytest.fixture
def loaded(tmp_path: Path) -> Path:
    """A data directory holding C-1..C-3 from a file whose lines 2 and 4 are bad."""
    data_dir = tmp_path / "data"
    lines = [
        orjson.dumps(case("C-1")).decode(),
        '{"id": "C-x", "kind": "case", ',  # truncated JSON
        orjson.dumps(case("C-2")).decode(),
        orjson.dumps(case("C-bad", patient={"dob": "1971-02-31"})).decode(),
        orjson.dumps(case("C-3")).decode(),
    ]
    source = tmp_path / "cases.ndjson"
    source.write_text("\n".join(lines) + "\n")
    result = run(data_dir, "load", str(source))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "loaded 3 records" in result.stdout
    assert "failed: 2" in result.stdout
    assert "cases.ndjson:2:" in result.stdout
    assert "cases.ndjson:4:" in result.stdout
    assert "patient.dob" in result.stdout
    assert "1971-02-31" not in result.stdout + result.stderr  # M21: no PHI in the report
    return data_dir


def test_load_reports_bad_lines_and_keeps_the_good_ones(loaded: Path, tmp_path: Path) -> None:
    item = tmp_path / "item.json"
    item.write_text(json.dumps(inbox_item("II-9", "US-ACME-C-2")))
    result = run(loaded, "check", "--json", str(item))
    assert result.returncode == 0, result.stderr
    detection = json.loads(result.stdout)
    ids = [m["record_id"] for s in detection["sections"].values() for m in s]
    assert "C-2" in ids
    assert ids[0] == "C-2"  # the WWUID match ranks first (an ID match)
    assert "1971-04" not in result.stdout  # masked by default


def test_check_prints_the_sections_as_tables(loaded: Path, tmp_path: Path) -> None:
    item = tmp_path / "item.json"
    item.write_text(json.dumps(inbox_item("II-9", "US-ACME-C-3")))
    result = run(loaded, "check", str(item))
    assert result.returncode == 0, result.stderr
    assert "ID matches" in result.stdout
    assert "case C-3" in result.stdout
    assert "WWUID" in result.stdout


def test_check_refuses_an_invalid_record_naming_the_field(tmp_path: Path) -> None:
    item = tmp_path / "item.json"
    item.write_text(json.dumps({"id": "II-1", "organization": "ORG-A", "patient": {"sex": "x"}}))
    result = run(tmp_path / "data", "check", str(item))
    assert result.returncode == 1
    assert "patient.sex" in result.stderr


def test_reindex_copies_every_document_and_keeps_them_readable(loaded: Path) -> None:
    result = run(loaded, "reindex")
    assert result.returncode == 0, result.stderr
    assert "3 documents copied" in result.stdout


def test_load_of_a_missing_file_is_exit_2(tmp_path: Path) -> None:
    result = run(tmp_path / "data", "load", str(tmp_path / "nope.ndjson"))
    assert result.returncode == 2
    assert "no such file" in result.stderr


def test_demo_generates_loads_and_detects(tmp_path: Path) -> None:
    result = run(tmp_path / "unused", "demo", "--data-dir", str(tmp_path / "demo"))
    shown = result.stdout[-3000:] + result.stderr[-3000:]
    assert result.returncode == 0, shown
    for expected in (
        "loaded 330 records",
        "Inbox Items have potential matches",
        "ID matches",
        "promotion of the sample Inbox Items",
        "marked_as_follow_up",
    ):
        assert expected in result.stdout, f"{expected!r} missing from:\n{shown}"


def test_audit_writes_pairs_and_clusters_and_refuses_to_overwrite(
    loaded: Path, tmp_path: Path
) -> None:
    out = tmp_path / "audit"
    result = run(
        loaded, "audit", "--organization", "ORG-A", "--out", str(out), "--threshold", "0.5"
    )
    assert result.returncode == 0, result.stderr
    assert "3 Cases" in result.stdout
    for name in ("pairs.csv", "clusters.csv", "model.json", "report.md", "summary.json"):
        assert (out / name).exists(), name
    assert json.loads((out / "summary.json").read_text())["records"] == 3
    again = run(loaded, "audit", "--organization", "ORG-A", "--out", str(out))
    assert again.returncode == 1 and "--resume" in again.stderr
    bad = run(loaded, "audit", "--organization", "ORG-A", "--out", str(out), "--from", "2025-13-01")
    assert bad.returncode == 2 and "--from" in bad.stderr
    (tmp_path / "model.json").write_text('{"schema": "other/9"}')
    other = tmp_path / "audit-b"
    refused = run(
        loaded,
        "audit",
        "--organization",
        "ORG-A",
        "--out",
        str(other),
        "--model",
        str(tmp_path / "model.json"),
    )
    assert refused.returncode == 1 and "--model" in refused.stderr and "schema" in refused.stderr
