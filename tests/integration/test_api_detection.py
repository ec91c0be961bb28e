"""``POST /v1/inbox-items/{id}/duplicate-check`` through the API on the real engine.

The ranking rules themselves are the matcher's tests; these check the wiring:
permissions, organizations, masking per key (M20), and that nothing changes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from indexer.documents import build_document
from indexer.engine import Engine
from indexer.records import Record
from indexer.reindex import reindex
from indexer.store import IndexNames
from tests.factories import record_data
from tests.keys import auth


def record(record_id: str, organization: str = "ORG-A", **fields: Any) -> dict[str, Any]:
    """A record for either endpoint (no ``kind``: the route sets it), all sharing a WWUID."""
    data = record_data(
        record_id, organization=organization, identifiers={"wwuid": "US-ACME-0001"}, **fields
    )
    del data["kind"]
    return data


@pytest.fixture
def client(api_client: Callable[..., TestClient]) -> TestClient:
    c = api_client()
    c.post("/v1/cases", json=record("C-A"), headers=auth("a-writer"))
    c.post("/v1/cases", json=record("C-B", "ORG-B"), headers=auth("b-writer"))
    c.post("/v1/inbox-items", json=record("II-1"), headers=auth("a-writer"))
    return c


def _check(client: TestClient, key: str, item: str = "II-1") -> Any:
    return client.post(f"/v1/inbox-items/{item}/duplicate-check", headers=auth(key))


def test_duplicate_check_finds_the_case_of_the_same_organization_only(client: TestClient) -> None:
    res = _check(client, "a-writer")
    assert res.status_code == 200, res.text
    detection = res.json()
    assert detection["source_id"] == "II-1"
    assert detection["organization"] == "ORG-A"
    found = [m["record_id"] for section in detection["sections"].values() for m in section]
    assert "C-A" in found
    assert "C-B" not in found  # another organization's record is invisible


def test_M20_comparison_values_are_masked_without_read_phi(client: TestClient) -> None:
    masked = _check(client, "a-writer").json()
    rows = [row for s in masked["sections"].values() for m in s for row in m["comparison"]]
    dob_rows = [r for r in rows if "dob" in r["field"].lower() or "birth" in r["field"].lower()]
    assert dob_rows and all(r["source"] == "***" for r in dob_rows)
    assert all(r["result"] in ("exact", "partial", "none") for r in dob_rows)
    assert "1980-06" not in _check(client, "a-writer").text

    shown = _check(client, "a-phi").text
    assert "1980" in shown


def test_duplicate_check_changes_nothing(client: TestClient) -> None:
    before = client.get("/v1/inbox-items/II-1", headers=auth("a-writer")).json()
    _check(client, "a-writer")
    after = client.get("/v1/inbox-items/II-1", headers=auth("a-writer")).json()
    assert before == after


@pytest.mark.parametrize(
    ("key", "item", "status"),
    [("b-writer", "II-1", 404), ("a-nothing", "II-1", 403), ("a-writer", "II-404", 404)],
    ids=["other-organization", "no-read-permission", "missing"],
)
def test_duplicate_check_refusals(client: TestClient, key: str, item: str, status: int) -> None:
    assert _check(client, key, item).status_code == status


@pytest.mark.parametrize("stale", ["no match_view", "no record_view", "match_view of layout 4"])
def test_documents_of_an_older_version_ask_for_a_reindex(
    client: TestClient, engine: Engine, index_names: IndexNames, stale: str
) -> None:
    """A Case indexed before its views existed, or with the view layout before it was
    derived from the field registry: a clear 503, and ``reindex`` repairs it."""
    old = build_document(Record.model_validate({**record("C-OLD"), "kind": "case"}))
    if stale.startswith("no "):
        del old[stale.removeprefix("no ")]
    else:
        values = json.loads(old["match_view"])
        values[0] = 4
        old["match_view"] = json.dumps(values)
    engine.index(index_names.cases, "C-OLD~v1", old)
    res = _check(client, "a-writer")
    assert res.status_code == 503
    assert "casematch reindex" in res.json()["detail"]
    assert "Jacob" not in res.text and "Smith" not in res.text  # M21

    reindex(engine, index_names, drop_grace_s=0.0)
    res = _check(client, "a-writer")
    assert res.status_code == 200, res.text
    found = {m["record_id"] for m in res.json()["sections"]["id_matches"]}
    assert found == {"C-A", "C-OLD"}
