"""M1 (issue 12 item 3): record ids are unique per organization, not globally.

ORG-A and ORG-B each store, read, check, promote and decide on the same id ``X``
without either noticing the other; a key of both organizations names one with the
``organization`` query parameter, and is told so (422 naming it) when an id it names
exists in both.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

from indexer.records import Record
from indexer.store import RecordStore
from service.settings import ApiKey
from tests.integration.promotion_support import SAME_COUNTRY, case, item

KEYS = {
    "a": ApiKey(organizations=["ORG-A"], permissions=["promote"], name="a"),
    "b": ApiKey(organizations=["ORG-B"], permissions=["promote"], name="b"),
    "ab": ApiKey(organizations=["ORG-A", "ORG-B"], permissions=["promote"], name="ab"),
}
A, B, AB = ({"X-API-Key": k} for k in ("a", "b", "ab"))


@pytest.fixture
def client(api_client: Callable[..., TestClient]) -> TestClient:
    return api_client(api_keys=KEYS)


def _json(r: Record, org: str) -> dict[str, Any]:
    body = r.model_dump(mode="json", exclude_none=True, exclude={"links"})
    return {**body, "organization": org}


def _post(client: TestClient, path: str, records: list[dict[str, Any]], headers: Any) -> None:
    res = client.post(path, json=records, headers=headers)
    assert res.status_code == 201, res.text


def _store_x_in_both(client: TestClient) -> None:
    """Item X and Case C-X in both organizations; ORG-B's first (it used to take the id)."""
    for org, headers in (("ORG-B", B), ("ORG-A", A)):
        shared = {"case_identifiers": [f"SHARED-{org}"]}
        matched = case("C-X", identifiers=shared, reporter=SAME_COUNTRY)
        _post(client, "/v1/cases", [_json(matched, org)], headers)
        _post(client, "/v1/inbox-items", [_json(item("X", identifiers=shared), org)], headers)


def test_M1_two_organizations_store_and_read_the_same_id_independently(
    client: TestClient,
) -> None:
    _store_x_in_both(client)
    for headers, org in ((A, "ORG-A"), (B, "ORG-B")):
        got = client.get("/v1/inbox-items/X", headers=headers)
        assert got.status_code == 200 and got.json()["organization"] == org
        got = client.get("/v1/cases/C-X", headers=headers)
        assert got.status_code == 200 and got.json()["organization"] == org
    # Re-posting the same record is a retry (201); other content is this org's own 409.
    again = _json(item("X", identifiers={"case_identifiers": ["SHARED-ORG-A"]}), "ORG-A")
    assert client.post("/v1/inbox-items", json=again, headers=A).status_code == 201
    changed = {**again, "report_type": "literature"}
    res = client.post("/v1/inbox-items", json=changed, headers=A)
    assert res.status_code == 409 and "ORG-B" not in res.text and "|" not in res.text


def test_M1_check_promote_and_decide_on_the_same_id_in_two_organizations(
    client: TestClient,
) -> None:
    _store_x_in_both(client)
    for headers, org in ((A, "ORG-A"), (B, "ORG-B")):
        check = client.post("/v1/inbox-items/X/duplicate-check", headers=headers)
        assert check.status_code == 200, check.text
        detection = check.json()
        assert detection["organization"] == org and detection["source_id"] == "X"
        ids = [m["record_id"] for s in detection["sections"].values() for m in s]
        assert ids == ["C-X"]  # its own organization's C-X only (M1), by its plain id
    promoted = client.post("/v1/inbox-items/X/promote", headers=A)
    assert promoted.status_code == 200 and promoted.json()["outcome"] == "potential_matches"
    decided = client.post(
        "/v1/inbox-items/X/decision",
        json={"action": "mark_follow_up", "target_id": "C-X"},
        headers=A,
    )
    assert decided.status_code == 200, decided.text
    created = client.post(
        "/v1/inbox-items/X/decision", json={"action": "create_new_case"}, headers=B
    )
    assert created.status_code == 201, created.text
    assert created.json()["case_id"] == "CASE-X"
    # Each organization sees its own outcome only.
    a_item = client.get("/v1/inbox-items/X", headers=A).json()
    b_item = client.get("/v1/inbox-items/X", headers=B).json()
    assert (a_item["state"], b_item["state"]) == ("marked_as_follow_up", "promoted")
    assert client.get("/v1/cases/CASE-X", headers=A).status_code == 404
    assert client.get("/v1/cases/CASE-X", headers=B).json()["organization"] == "ORG-B"
    # Audit trails and transmissions are per organization too.
    a_audit = client.get("/v1/inbox-items/X/audit", headers=A).json()
    b_audit = client.get("/v1/inbox-items/X/audit", headers=B).json()
    assert {e["organization"] for e in a_audit} == {"ORG-A"}
    assert {e["organization"] for e in b_audit} == {"ORG-B"}
    assert a_audit[-1]["to_state"] == "marked_as_follow_up"
    assert b_audit[-1]["to_state"] == "promoted"
    a_it = client.get("/v1/inbound-transmissions/IT-X", headers=A).json()
    b_it = client.get("/v1/inbound-transmissions/IT-X", headers=B).json()
    assert (a_it["organization"], a_it["case_id"]) == ("ORG-A", None)
    assert (b_it["organization"], b_it["case_id"]) == ("ORG-B", "CASE-X")
    # Case state changes stay within the caller's organization.
    moved = client.post("/v1/cases/C-X/state", json={"to": "medical_review"}, headers=B)
    assert moved.status_code == 200, moved.text
    assert client.get("/v1/cases/C-X", headers=A).json()["state"] == "in_progress"


def test_M1_a_key_of_both_organizations_names_one_when_an_id_is_in_both(
    client: TestClient,
) -> None:
    _store_x_in_both(client)
    _post(client, "/v1/inbox-items", [_json(item("ONLY-A"), "ORG-A")], A)
    for url in (
        "/v1/inbox-items/X",
        "/v1/cases/C-X",
        "/v1/inbox-items/X/audit",
    ):
        res = client.get(url, headers=AB)
        assert res.status_code == 422, (url, res.text)
        (detail,) = res.json()["detail"]
        assert detail["field"] == "organization" and "?organization=" in detail["error"]
        for org in ("ORG-A", "ORG-B"):
            named = client.get(url, params={"organization": org}, headers=AB)
            assert named.status_code == 200, (url, named.text)
    res = client.post("/v1/inbox-items/X/duplicate-check", headers=AB)
    assert res.status_code == 422
    res = client.post("/v1/inbox-items/X/promote", params={"organization": "ORG-C"}, headers=AB)
    assert res.status_code == 403
    # An id in one of the key's organizations needs no parameter.
    only = client.get("/v1/inbox-items/ONLY-A", headers=AB)
    assert only.status_code == 200 and only.json()["organization"] == "ORG-A"
    assert client.get("/v1/inbox-items/NOWHERE", headers=AB).status_code == 404
    # Named, an action acts within that organization only.
    promoted = client.post(
        "/v1/inbox-items/X/decision",
        params={"organization": "ORG-B"},
        json={"action": "create_new_case"},
        headers=AB,
    )
    assert promoted.status_code == 201, promoted.text
    assert client.get("/v1/inbox-items/X", headers=A).json()["state"] == "new"
    assert client.get("/v1/inbox-items/X", headers=B).json()["state"] == "promoted"


def test_M1_P17_one_idempotency_key_in_two_organizations_is_two_requests(
    client: TestClient,
) -> None:
    """The same key and path, acting within another organization, is another request:
    422 (a reused key), never the first organization's replayed outcome."""
    _store_x_in_both(client)
    headers = {**AB, "Idempotency-Key": "k-1"}
    body = {"action": "create_new_case"}
    first = client.post(
        "/v1/inbox-items/X/decision", params={"organization": "ORG-A"}, json=body, headers=headers
    )
    assert first.status_code == 201, first.text
    replay = client.post(
        "/v1/inbox-items/X/decision", params={"organization": "ORG-A"}, json=body, headers=headers
    )
    assert replay.json() == first.json()
    other = client.post(
        "/v1/inbox-items/X/decision", params={"organization": "ORG-B"}, json=body, headers=headers
    )
    assert other.status_code == 422, other.text
    assert client.get("/v1/inbox-items/X", headers=B).json()["state"] == "new"


def test_M1_P17_concurrent_promotions_of_x_in_two_organizations_make_one_case_each(
    client: TestClient,
) -> None:
    for org, headers in (("ORG-A", A), ("ORG-B", B)):
        _post(client, "/v1/inbox-items", [_json(item("X"), org)], headers)

    def promote(n: int) -> tuple[str, int, Any]:
        headers = A if n % 2 else B
        res = client.post("/v1/inbox-items/X/promote", headers=headers)
        return ("ORG-A" if n % 2 else "ORG-B"), res.status_code, res.json()

    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(promote, range(12)))
    assert {s for _, s, _ in results} <= {201, 409}, results
    store: RecordStore = client.app.state.store  # type: ignore[attr-defined]
    store.engine.refresh(store.names.cases)
    for org in ("ORG-A", "ORG-B"):
        assert store.engine.count(store.names.cases, {"term": {"organization": org}}) == 1
        assert {b["case_id"] for o, s, b in results if o == org and s == 201} <= {"CASE-X"}
