"""Issue 12 at the HTTP edge: intake model, id grammar, content types, error shape,
idempotency and tenancy refusals. Each test names the defect it pins."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexer.records import (
    ID_PATTERN,
    ID_RULE,
    INTAKE_CASE_STATES,
    INTAKE_INBOX_STATES,
    STORED_ONLY_FIELDS,
    CaseState,
    InboxState,
)
from service.app import create_app
from service.limits import MAX_BODY_BYTES
from service.settings import Settings
from tests.integration.api_support import auth
from tests.integration.test_api_records import inbox_item

pytestmark = pytest.mark.integration

W = auth("a-writer")


@pytest.fixture
def client(api_client: Callable[..., TestClient]) -> TestClient:
    return api_client()


def _fields(res: Any) -> list[str]:
    detail = res.json()["detail"]
    assert isinstance(detail, list), detail
    return [d["field"] for d in detail]


# -- 1. models by direction ------------------------------------------------------------

FORGED: dict[str, Any] = {
    "links": {
        "pending": {"operation_id": "op-x", "action": "follow_up", "target_case_id": "C-1"},
        "prior_state": "new",
    }
}


def test_stored_only_fields_are_known() -> None:
    assert set(STORED_ONLY_FIELDS) == set(FORGED)


@pytest.mark.parametrize("field", STORED_ONLY_FIELDS)
@pytest.mark.parametrize("path", ["/v1/inbox-items", "/v1/cases"], ids=["items", "cases"])
def test_stored_only_field_is_refused_with_422_naming_it(
    client: TestClient, field: str, path: str
) -> None:
    kind = "case" if path.endswith("cases") else "inbox_item"
    res = client.post(
        path, json={**inbox_item("II-1"), "kind": kind, field: FORGED[field]}, headers=W
    )
    assert res.status_code == 422
    assert field in _fields(res)
    assert client.get(f"{path}/II-1", headers=W).status_code == 404


WORKFLOW_STATES = [
    ("inbox_item", s.value) for s in InboxState if s.value not in INTAKE_INBOX_STATES
]
WORKFLOW_STATES += [("case", s.value) for s in CaseState if s.value not in INTAKE_CASE_STATES]


@pytest.mark.parametrize(
    ("kind", "state"), WORKFLOW_STATES, ids=[f"{k}-{s}" for k, s in WORKFLOW_STATES]
)
def test_workflow_states_cannot_be_posted(client: TestClient, kind: str, state: str) -> None:
    path = "/v1/cases" if kind == "case" else "/v1/inbox-items"
    res = client.post(path, json={**inbox_item("X-1"), "kind": kind, "state": state}, headers=W)
    assert res.status_code == 422 and _fields(res) == ["state"]


def test_forged_pending_plan_cannot_create_a_version_of_a_void_case(client: TestClient) -> None:
    """The attack of the issue: a forged plan in links, then a promotion action."""
    void = {**inbox_item("C-1"), "kind": "case", "state": "void"}
    assert client.post("/v1/cases", json=void, headers=W).status_code == 201
    forged = {**inbox_item("II-1"), **FORGED}
    assert client.post("/v1/inbox-items", json=forged, headers=W).status_code == 422
    assert client.post("/v1/inbox-items/II-1/promote", headers=W).status_code == 404
    assert client.get("/v1/cases/C-1", headers=W).json()["version"] == 1


# -- 2. ids ------------------------------------------------------------------------------

BAD_IDS = [
    "a/b",
    "..",
    ".",
    "../x",
    "a\x00b",
    "a\u200bb",
    " II-1",
    "II-1 ",
    "a b",
    "x" * 129,
    "é",
    "",
]
BAD_IDS_NAMES = [
    "slash",
    "dotdot",
    "dot",
    "traversal",
    "nul",
    "zero-width",
    "leading-space",
    "trailing-space",
    "inner-space",
    "too-long",
    "non-ascii",
    "empty",
]


@pytest.mark.parametrize("bad", BAD_IDS, ids=BAD_IDS_NAMES)
@pytest.mark.parametrize("field", ["id", "organization", "case_id"])
def test_id_grammar_is_enforced_with_422_naming_the_rule(
    client: TestClient, bad: str, field: str
) -> None:
    body = {**inbox_item("II-1"), "kind": "case", field: bad}
    res = client.post("/v1/cases", json=body, headers=W)
    assert res.status_code == 422, res.text
    assert {"field": field, "error": ID_RULE} in [
        {"field": e["field"], "error": e["error"]} for e in res.json()["detail"]
    ]
    assert "Value error" not in res.text


def test_id_grammar_is_enforced_in_ndjson_loads(tmp_path: Any) -> None:
    from indexer.load import _record

    assert not isinstance(
        _record(1, {"id": "II-1", "kind": "inbox_item", "organization": "O"}, None), Exception
    )
    error = _record(2, {"id": "a/b", "kind": "inbox_item", "organization": "O"}, None)
    assert getattr(error, "reason", "").endswith(ID_RULE)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    record_id=st.one_of(
        st.from_regex(ID_PATTERN, fullmatch=True),
        st.text(min_size=1, max_size=40),
        st.sampled_from([".a", "a.", "a..b", "a:b", "a%2Fb", "a?b", "a#b", "-", "_x", "0"]),
    )
)
def test_every_accepted_id_can_be_read_back_by_its_url(client: TestClient, record_id: str) -> None:
    res = client.post("/v1/inbox-items", json=inbox_item(record_id), headers=W)
    assert res.status_code in (201, 422), res.text
    if res.status_code == 201:
        assert res.json()["ids"] == [record_id]
        got = client.get(f"/v1/inbox-items/{quote(record_id, safe='')}", headers=W)
        assert got.status_code == 200 and got.json()["id"] == record_id
        check = client.post(
            f"/v1/inbox-items/{quote(record_id, safe='')}/duplicate-check", headers=W
        )
        assert check.status_code == 200


# -- 4 (last sentence). error bodies never echo a long value ------------------------------


def test_422_never_echoes_a_long_value(client: TestClient) -> None:
    narrative = "Patient Jane Smith " * 60_000  # > 1 MB, over the 100,000-character limit
    res = client.post(
        "/v1/inbox-items", json={**inbox_item("II-1"), "narrative": narrative}, headers=W
    )
    assert res.status_code == 422
    assert len(res.content) < 1000
    assert "Jane Smith Patient Jane Smith" not in res.text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"patient": {"age": 5}}, "patient.age"),
        ({"products": [{"rank": {"x": 1}}]}, "products.0.rank"),
        ({"receipt_date": "2999-01-01"}, "receipt_date"),
        ({"id": "a/b"}, "id"),
    ],
    ids=["model-type", "int-type", "value-error", "id-rule"],
)
def test_error_messages_carry_no_library_internals(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    res = client.post("/v1/inbox-items", json={**inbox_item("II-1"), **body}, headers=W)
    assert res.status_code == 422
    assert field in _fields(res)
    for marker in ("Value error", "instance of", "pydantic", "Quantity", "type="):
        assert marker not in res.text


# -- 5. content types ---------------------------------------------------------------------

WRONG_TYPES = [
    None,
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/octet-stream",
    "application/xml",
    "application/zip",
    "text/html; charset=utf-8",
]
WRONG_NAMES = ["none", "text", "form", "multipart", "octet", "xml", "zip", "html"]


def _post_routes() -> list[str]:
    """Every POST route of the app, from its OpenAPI (no engine needed)."""
    app = create_app(Settings(data_dir=Path("unused"), api_keys={}))
    paths = app.openapi()["paths"]
    return sorted(p for p, ops in paths.items() if "post" in ops)


POST_ROUTES = _post_routes()
CONTENT_CASES = [
    (route, ctype)
    for route in POST_ROUTES
    for ctype in WRONG_TYPES
    # E2B(R3) uploads are accepted on the record stores
    if not (
        route in ("/v1/inbox-items", "/v1/cases")
        and ctype in ("application/xml", "application/zip")
    )
]


def test_every_post_route_is_covered() -> None:
    assert len(POST_ROUTES) >= 12


@pytest.mark.parametrize(
    ("route", "ctype"),
    CONTENT_CASES,
    ids=[f"{r}-{WRONG_NAMES[WRONG_TYPES.index(c)]}" for r, c in CONTENT_CASES],
)
def test_wrong_content_type_is_415_never_500(
    client: TestClient, route: str, ctype: str | None
) -> None:
    path = route.replace("{item_id}", "II-1").replace("{case_id}", "C-1")
    headers = {**W, **({"Content-Type": ctype} if ctype else {})}
    res = client.post(path, content=b'{"to": "closed", "count": 1, "action": "x"}', headers=headers)
    assert res.status_code == 415, res.text
    assert isinstance(res.json()["detail"], str)


def test_readme_decision_example_without_content_type_is_415(client: TestClient) -> None:
    client.post("/v1/inbox-items", json=inbox_item("II-1"), headers=W)
    res = client.post(
        "/v1/inbox-items/II-1/decision", content=b'{"action": "create_new_case"}', headers=W
    )
    assert res.status_code == 415 and "application/json" in res.json()["detail"]


def test_body_that_is_not_json_is_422_not_400(client: TestClient) -> None:
    for raw in (b"\xff\xfe{", b"{", b"[1,"):
        res = client.post(
            "/v1/inbox-items", content=raw, headers={**W, "Content-Type": "application/json"}
        )
        assert res.status_code == 422 and _fields(res) == ["body"], res.text


def test_oversized_body_is_413(client: TestClient) -> None:
    res = client.post(
        "/v1/inbox-items",
        content=b" " * (MAX_BODY_BYTES + 1),
        headers={**W, "Content-Type": "application/json"},
    )
    assert res.status_code == 413 and isinstance(res.json()["detail"], str)


# -- 6. idempotency -----------------------------------------------------------------------


def test_a_404_is_not_cached_under_an_idempotency_key(client: TestClient) -> None:
    headers = {**W, "Idempotency-Key": "k-404"}
    assert client.post("/v1/inbox-items/II-1/promote", headers=headers).status_code == 404
    client.post("/v1/inbox-items", json=inbox_item("II-1"), headers=W)
    first = client.post("/v1/inbox-items/II-1/promote", headers=headers)
    assert first.status_code == 201, first.text
    again = client.post("/v1/inbox-items/II-1/promote", headers=headers)
    assert (again.status_code, again.json()) == (201, first.json())


def test_record_store_honours_idempotency_key(client: TestClient) -> None:
    headers = {**W, "Idempotency-Key": "k-store"}
    first = client.post("/v1/inbox-items", json=inbox_item("II-1"), headers=headers)
    again = client.post("/v1/inbox-items", json=inbox_item("II-1"), headers=headers)
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    other = client.post("/v1/inbox-items", json=inbox_item("II-2"), headers=headers)
    assert other.status_code == 422 and "Idempotency-Key" in other.text
    assert client.get("/v1/inbox-items/II-2", headers=W).status_code == 404


def test_a_validation_error_releases_the_key_for_the_fixed_body(client: TestClient) -> None:
    headers = {**W, "Idempotency-Key": "k-fix"}
    bad = client.post(
        "/v1/cases", json={**inbox_item("C-1"), "kind": "case", "links": {}}, headers=headers
    )
    assert bad.status_code == 422
    good = client.post("/v1/cases", json={**inbox_item("C-1"), "kind": "case"}, headers=headers)
    assert good.status_code == 201, good.text


def test_a_409_is_not_cached(client: TestClient) -> None:
    client.post("/v1/inbox-items", json=inbox_item("II-1", state="verified"), headers=W)
    headers = {**W, "Idempotency-Key": "k-409"}
    refused = client.post("/v1/inbox-items/II-1/state", json={"to": "new"}, headers=headers)
    assert refused.status_code == 409, refused.text  # verified -> new is not a transition
    moved = client.post("/v1/inbox-items/II-1/state", json={"to": "triage"}, headers=W)
    assert moved.status_code == 200
    retried = client.post("/v1/inbox-items/II-1/state", json={"to": "new"}, headers=headers)
    assert retried.status_code == 200, retried.text


# -- 3. tenancy refusals -------------------------------------------------------------------


def test_auto_promote_naming_an_organization_the_key_lacks_is_403(client: TestClient) -> None:
    res = client.post(
        "/v1/auto-promote", json={"organizations": ["ORG-A"]}, headers=auth("b-writer")
    )
    assert res.status_code == 403
    res = client.post(
        "/v1/auto-promote", json={"organizations": ["ORG-B"]}, headers=auth("b-writer")
    )
    assert res.status_code == 200


def test_e2b_organization_the_key_lacks_is_403(client: TestClient) -> None:
    res = client.post(
        "/v1/inbox-items?organization=ORG-A",
        content=b"<x/>",
        headers={**auth("b-writer"), "Content-Type": "application/xml"},
    )
    assert res.status_code == 403
