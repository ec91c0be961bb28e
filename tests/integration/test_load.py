"""I5 (JSON part): NDJSON and JSON arrays stream in; bad lines are named and skipped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from benchmarks.generator import generate_case_dicts
from indexer.engine import Engine
from indexer.load import LoadError, iter_records, load_files
from indexer.store import IndexNames, RecordStore

BAD_JSON = b'{"id": "X-1", "kind": "case", "organization": '
NOT_AN_OBJECT = b'["X-2", "case"]'


def _bad_record() -> dict[str, Any]:
    """Invalid twice over, with PHI in it that must not reach the message."""
    return {
        "id": "X-3",
        "kind": "case",
        "organization": "ORG-A",
        "state": "no-such-state",
        "patient": {"first_name": "Zebulon", "dob": "2999-01-01"},
    }


def _inbox(i: int) -> dict[str, Any]:
    return {"id": f"II-{i}", "kind": "inbox_item", "organization": "ORG-A"}


def test_I5_ndjson_with_three_bad_lines_loads_the_rest(
    engine: Engine, store: RecordStore, index_names: IndexNames, tmp_path: Path
) -> None:
    good = iter(generate_case_dicts(21, 997))
    bad_at = {101: BAD_JSON, 502: NOT_AN_OBJECT, 1000: orjson.dumps(_bad_record())}
    path = tmp_path / "cases.ndjson"
    with path.open("wb") as fh:
        for line in range(1, 1001):
            fh.write((bad_at.get(line) or orjson.dumps(next(good))) + b"\n")
    seen: list[tuple[int, int, int]] = []

    report = load_files(store, [path], progress=lambda *a: seen.append(a), chunk_size=100)

    assert report.loaded == 997
    assert [(e.file, e.line) for e in report.failed] == [
        ("cases.ndjson", 101),
        ("cases.ndjson", 502),
        ("cases.ndjson", 1000),
    ]
    assert report.failed[0].reason.startswith("invalid JSON")
    assert report.failed[1].reason == "expected a JSON object, got list"
    assert "state" in report.failed[2].reason and "patient.dob" in report.failed[2].reason
    assert all("Zebulon" not in str(e) and "2999" not in str(e) for e in report.failed)
    assert engine.count(index_names.cases) == 997
    assert seen and seen[-1] == (997, path.stat().st_size, path.stat().st_size)


def test_I5_json_array_elements_stream_with_their_line_numbers(
    store: RecordStore, index_names: IndexNames, engine: Engine, tmp_path: Path
) -> None:
    tricky = {**_inbox(3), "narrative": 'quotes \\" and brackets ]} [{ , in "text"'}
    elements = [
        orjson.dumps(_inbox(1), option=orjson.OPT_INDENT_2),  # lines 2-6
        orjson.dumps(_bad_record(), option=orjson.OPT_INDENT_2),
        orjson.dumps(tricky),
        b"42",
    ]
    path = tmp_path / "items.json"
    path.write_bytes(b"[\n" + b",\n".join(elements) + b"\n]\n")

    items = list(iter_records(path))

    assert [(i[0], i[1].id) for i in items if not isinstance(i, LoadError)] == [
        (2, "II-1"),
        (17, "II-3"),
    ]
    errors = [i for i in items if isinstance(i, LoadError)]
    assert [(e.line, e.reason.split(":")[0]) for e in errors] == [
        (7, "invalid record"),
        (18, "expected a JSON object, got int"),
    ]
    report = load_files(store, [path])
    assert report.loaded == 2 and len(report.failed) == 2
    doc = engine.get(index_names.inbox_items, "ORG-A|II-3")
    assert doc is not None and doc["_source"]["record"]["narrative"] == tricky["narrative"]


@pytest.mark.parametrize(
    ("content", "loaded", "errors"),
    [
        (b"", 0, []),
        (b"[]", 0, []),
        (b"\n\n" + orjson.dumps(_inbox(1)) + b"\n\n", 1, []),
        (orjson.dumps(_inbox(1), option=orjson.OPT_INDENT_2), 1, []),
        (
            b"[" + orjson.dumps(_inbox(1)) + b",",
            1,
            [(1, "invalid JSON array: not closed with ']'")],
        ),
        (b"[" + orjson.dumps(_inbox(1)) + b",,", 1, [(1, "invalid JSON array: empty element")]),
    ],
    ids=["empty", "empty-array", "blank-lines", "one-object", "unclosed-array", "empty-element"],
)
def test_I5_file_shapes(
    store: RecordStore,
    tmp_path: Path,
    content: bytes,
    loaded: int,
    errors: list[tuple[int, str]],
) -> None:
    path = tmp_path / "input.json"
    path.write_bytes(content)
    report = load_files(store, [path])
    assert report.loaded == loaded
    assert [(e.line, e.reason) for e in report.failed][: len(errors)] == errors


def test_I5_several_files_and_kind_default(
    store: RecordStore, engine: Engine, index_names: IndexNames, tmp_path: Path
) -> None:
    a = tmp_path / "a.ndjson"
    b = tmp_path / "b.ndjson"
    a.write_bytes(orjson.dumps({"id": "II-1", "organization": "ORG-A"}) + b"\n")
    b.write_bytes(orjson.dumps({"id": "II-2", "organization": "ORG-B"}) + b"\n")
    report = load_files(store, [a, b], kind="inbox_item")
    assert (report.loaded, report.failed, report.files) == (2, [], 2)
    assert engine.count(index_names.inbox_items) == 2
