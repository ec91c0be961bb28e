"""The promotion API end to end (TestClient -> router -> promotion components -> the engine):
HTTP statuses, permissions and organization isolation, idempotency keys, 20 concurrent
promotions of one item, and an engine killed in the middle of a promotion (P17).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from indexer.engine import Engine
from indexer.store import IndexNames, RecordStore
from service.app import Services, create_app
from service.promotion.transmissions import TransmissionStore
from service.settings import ApiKey, Settings
from tests.integration.promotion_support import case, item

KEYS = {
    "w": ApiKey(organizations=["ORG-A"], permissions=["promote"], name="writer"),
    "r": ApiKey(organizations=["ORG-A"], permissions=["read_matches"], name="reader"),
    "phi": ApiKey(organizations=["ORG-A"], permissions=["promote", "read_phi"], name="phi"),
    "b": ApiKey(organizations=["ORG-B"], permissions=["promote"], name="b-writer"),
}
W = {"X-API-Key": "w"}


def _post_records(client: TestClient, kind: str, records: list[Any]) -> None:
    path = "/v1/cases" if kind == "case" else "/v1/inbox-items"
    body = [r.model_dump(mode="json", exclude_none=True, exclude={"links"}) for r in records]
    res = client.post(path, json=body, headers=W)
    assert res.status_code == 201, res.text


@pytest.fixture
def client(api_client: Callable[..., TestClient]) -> TestClient:
    return api_client(api_keys=KEYS)


def test_P2_promote_answers_201_with_case_and_transmission(client: TestClient) -> None:
    _post_records(client, "inbox_item", [item("II-1")])
    res = client.post("/v1/inbox-items/II-1/promote", headers=W)
    assert res.status_code == 201, res.text
    assert res.json()["case_id"] == "CASE-II-1"
    t = client.get("/v1/inbound-transmissions/IT-II-1", headers={"X-API-Key": "r"})
    assert t.status_code == 200 and t.json()["case_id"] == "CASE-II-1"
    assert client.get("/v1/inbox-items/II-1/audit", headers=W).json()[-1]["to_state"] == "promoted"


def test_M20_potential_matches_masked_without_read_phi(client: TestClient) -> None:
    _post_records(
        client,
        "case",
        [case("C-1", identifiers={"case_identifiers": ["S-1"]}, patient={"initials": "QX"})],
    )
    _post_records(client, "inbox_item", [item("II-1", identifiers={"case_identifiers": ["S-1"]})])
    masked = client.post("/v1/inbox-items/II-1/promote", headers=W).json()
    assert masked["outcome"] == "potential_matches"
    assert "QX" not in str(masked["detection"]) and "***" in str(masked["detection"])
    shown = client.post("/v1/inbox-items/II-1/promote", headers={"X-API-Key": "phi"}).json()
    assert "QX" in str(shown["detection"])


def test_refused_transition_is_409_naming_the_current_state(client: TestClient) -> None:
    _post_records(client, "inbox_item", [item("II-1")])
    client.post("/v1/inbox-items/II-1/promote", headers=W)
    res = client.post("/v1/inbox-items/II-1/unmark-follow-up", headers=W)
    assert res.status_code == 409
    assert "in state 'promoted'" in res.json()["detail"]
    res = client.post(
        "/v1/inbox-items/II-1/decision", json={"action": "create_new_case"}, headers=W
    )
    assert res.status_code == 409


def test_P1_unmet_prerequisites_are_422_item_by_item(
    engine: Engine, index_names: IndexNames, tmp_path: Path
) -> None:
    settings = Settings(
        index_prefix=index_names.prefix,
        data_dir=tmp_path,
        api_keys=KEYS,
        require_minimum_case_criteria=True,
    )
    store = RecordStore(engine, index_names)
    store.ensure_indices()
    app = create_app(settings, services=Services(settings=settings, engine=engine, store=store))
    with TestClient(app) as c:
        _post_records(c, "inbox_item", [item("II-1", events=[], products=[])])
        res = c.post("/v1/inbox-items/II-1/promote", headers=W)
        assert res.status_code == 422
        assert [d["field"] for d in res.json()["detail"]] == [
            "adverse event",
            "study or company product",
        ]


def test_invalid_bodies_are_422(client: TestClient) -> None:
    _post_records(client, "inbox_item", [item("II-1")])
    for path, body in (
        ("/v1/inbox-items/II-1/promote-multiple", {"count": 0}),
        ("/v1/inbox-items/II-1/promote-multiple", {"count": 101}),
        ("/v1/inbox-items/II-1/decision", {"action": "promote_everything"}),
        ("/v1/inbox-items/II-1/decision", {"action": "mark_duplicate"}),
    ):
        res = client.post(path, json=body, headers=W)
        assert res.status_code == 422, (path, body, res.text)


def test_permissions_and_organization_isolation(client: TestClient) -> None:
    _post_records(client, "inbox_item", [item("II-1")])
    assert client.post("/v1/inbox-items/II-1/promote").status_code == 401
    assert (
        client.post("/v1/inbox-items/II-1/promote", headers={"X-API-Key": "r"}).status_code == 403
    )
    assert (
        client.post("/v1/inbox-items/II-1/promote", headers={"X-API-Key": "b"}).status_code == 404
    )
    assert client.post("/v1/inbox-items/NOPE/promote", headers=W).status_code == 404
    client.post("/v1/inbox-items/II-1/promote", headers=W)
    assert (
        client.get("/v1/inbound-transmissions/IT-II-1", headers={"X-API-Key": "b"}).status_code
        == 404
    )
    assert client.get("/v1/inbox-items/II-1/audit", headers={"X-API-Key": "b"}).status_code == 404


def test_P17_same_idempotency_key_returns_first_outcome(client: TestClient) -> None:
    _post_records(client, "inbox_item", [item("II-1")])
    headers = {**W, "Idempotency-Key": "k-1"}
    first = client.post("/v1/inbox-items/II-1/promote-multiple", json={"count": 2}, headers=headers)
    again = client.post("/v1/inbox-items/II-1/promote-multiple", json={"count": 2}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    other = client.post("/v1/inbox-items/II-1/promote-multiple", json={"count": 3}, headers=headers)
    assert other.status_code == 422 and "different request" in str(other.json()["detail"])
    without = client.post("/v1/inbox-items/II-1/promote-multiple", json={"count": 2}, headers=W)
    assert without.status_code == 409  # a new request: the item is already promoted


def test_P17_idempotency_key_replays_a_refusal_too(client: TestClient) -> None:
    _post_records(client, "inbox_item", [item("II-1", source="e2b")])
    headers = {**W, "Idempotency-Key": "k-2"}
    first = client.post("/v1/inbox-items/II-1/promote-multiple", json={"count": 2}, headers=headers)
    again = client.post("/v1/inbox-items/II-1/promote-multiple", json={"count": 2}, headers=headers)
    assert first.status_code == again.status_code == 409
    assert first.json() == again.json()


def test_P17_twenty_concurrent_promotions_create_one_case(client: TestClient) -> None:
    _post_records(client, "inbox_item", [item("II-1")])

    def promote(_: int) -> tuple[int, dict[str, Any]]:
        res = client.post("/v1/inbox-items/II-1/promote", headers=W)
        return res.status_code, res.json()

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(promote, range(20)))
    statuses = [s for s, _ in results]
    assert set(statuses) <= {201, 409}, results
    assert statuses.count(201) >= 1
    assert {body["case_id"] for s, body in results if s == 201} == {"CASE-II-1"}
    for s, body in results:
        if s == 409:
            assert "in state" in body["detail"]
    store: RecordStore = client.app.state.store  # type: ignore[attr-defined]
    store.engine.refresh(store.names.cases)
    hits = store.engine.count(store.names.cases, {"term": {"organization": "ORG-A"}})
    assert hits == 1
    claims = [
        e
        for e in client.get("/v1/inbox-items/II-1/audit", headers=W).json()
        if e["to_state"] == "processing"
    ]
    assert len(claims) == 1


def test_P17_concurrent_promotions_with_one_idempotency_key_agree(client: TestClient) -> None:
    _post_records(client, "inbox_item", [item("II-1")])
    headers = {**W, "Idempotency-Key": "same"}
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(
            pool.map(
                lambda _: client.post("/v1/inbox-items/II-1/promote", headers=headers), range(8)
            )
        )
    assert {r.status_code for r in results} == {201}
    assert len({r.text for r in results}) == 1


def test_P17_engine_killed_mid_promotion_then_retry_completes(
    private_engine: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Case is written, then the engine dies before the transmission: 503; after a
    restart (the journal restores every acknowledged write) the retry with the same
    Idempotency-Key completes the same promotion: one Case, its transmission, item promoted."""
    settings = Settings(api_keys=KEYS, index_prefix="crash", **private_engine)
    original = TransmissionStore.link_case

    def die_first(self: TransmissionStore, *args: Any, **kwargs: Any) -> Any:
        self.engine.kill_process()
        return original(self, *args, **kwargs)

    headers = {**W, "Idempotency-Key": "crash-1"}
    with TestClient(create_app(settings)) as c:
        _post_records(c, "inbox_item", [item("II-1")])
        monkeypatch.setattr(TransmissionStore, "link_case", die_first)
        res = c.post("/v1/inbox-items/II-1/promote", headers=headers)
        assert res.status_code == 503, res.text
        assert int(res.headers["Retry-After"]) > 0
    monkeypatch.setattr(TransmissionStore, "link_case", original)

    with TestClient(create_app(settings)) as c:  # restart: a fresh engine from the journal
        half = c.get("/v1/inbox-items/II-1", headers=W).json()
        assert half["state"] == "processing"  # the claim and the Case were acknowledged
        retry = c.post("/v1/inbox-items/II-1/promote", headers=headers)
        assert retry.status_code == 201, retry.text
        assert retry.json()["case_id"] == "CASE-II-1"
        assert c.get("/v1/inbox-items/II-1", headers=W).json()["state"] == "promoted"
        t = c.get("/v1/inbound-transmissions/IT-II-1", headers=W).json()
        assert (t["state"], t["case_id"]) == ("completed", "CASE-II-1")
        store: RecordStore = c.app.state.store  # type: ignore[attr-defined]
        store.engine.refresh(store.names.cases)
        assert store.engine.count(store.names.cases) == 1
        again = c.post("/v1/inbox-items/II-1/promote", headers=headers)
        assert again.json() == retry.json()


def test_P17_half_done_promotion_is_completed_by_any_later_call(
    private_engine: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without an Idempotency-Key the retry still finds the half-done work and completes it;
    the new request itself is then refused (the item is promoted) with 409."""
    settings = Settings(api_keys=KEYS, index_prefix="crash", **private_engine)
    original = TransmissionStore.link_case

    def die(self: TransmissionStore, *args: Any, **kwargs: Any) -> Any:
        self.engine.kill_process()
        return original(self, *args, **kwargs)

    with TestClient(create_app(settings)) as c:
        _post_records(c, "inbox_item", [item("II-1")])
        monkeypatch.setattr(TransmissionStore, "link_case", die)
        assert c.post("/v1/inbox-items/II-1/promote", headers=W).status_code == 503
    monkeypatch.setattr(TransmissionStore, "link_case", original)
    with TestClient(create_app(settings)) as c:
        res = c.post("/v1/inbox-items/II-1/promote", headers=W)
        assert res.status_code == 409 and "in state 'promoted'" in res.json()["detail"]
        assert (
            c.get("/v1/inbound-transmissions/IT-II-1", headers=W).json()["case_id"] == "CASE-II-1"
        )


def test_P3_decision_body_with_copy_sections(client: TestClient) -> None:
    _post_records(client, "case", [case("C-1", narrative="Old narrative.")])
    _post_records(client, "inbox_item", [item("II-1")])
    body = {"action": "copy_patient_info", "target_id": "C-1", "copy": ["narrative"]}
    res = client.post("/v1/inbox-items/II-1/decision", json=body, headers=W)
    assert res.status_code == 201, res.text
    path = f"/v1/cases/{res.json()['case_id']}"
    assert client.get(path, headers={"X-API-Key": "phi"}).json()["narrative"] == "Old narrative."
    assert client.get(path, headers=W).json()["narrative"] == "***"  # M20: free text is PHI
    bad = client.post(
        "/v1/inbox-items/II-1/decision", json={**body, "copy": ["medical_history"]}, headers=W
    )
    assert bad.status_code == 409  # the item is promoted now: the state is checked first


def test_P17_blank_idempotency_key_is_422(client: TestClient) -> None:
    _post_records(client, "inbox_item", [item("II-1")])
    res = client.post("/v1/inbox-items/II-1/promote", headers={**W, "Idempotency-Key": " "})
    assert res.status_code == 422
