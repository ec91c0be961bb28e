"""The records API end to end: TestClient -> FastAPI -> RecordStore -> the engine.

Each test gets its own index prefix (``index_names``) on the session's engine,
and an app whose settings hold API keys for two organizations.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.keys import auth


def inbox_item(record_id: str, organization: str = "ORG-A", **fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": record_id,
        "organization": organization,
        "receipt_date": "2025-03-01",
        "identifiers": {"case_identifiers": [f"CI-{record_id}"], "wwuid": f"US-ACME-{record_id}"},
        "patient": {
            "initials": "JS",
            "first_name": "Jane",
            "sex": "female",
            "dob": "1980-06",
            "mrn": {"hospital": "H-991"},
        },
        "reporter": {"first_name": "Jacob", "last_name": "Smith", "country": "US"},
        "products": [{"product": "PRD-17", "product_reported": "Aspirin 100 mg", "rank": 1}],
        "events": [{"event_reported": "headache", "onset": "2025-02-20", "rank": 1}],
    }
    data.update(fields)
    return data


@pytest.fixture
def client(api_client: Callable[..., TestClient]) -> TestClient:
    return api_client()


# -- storing -------------------------------------------------------------------------


def test_post_one_inbox_item_answers_201_with_its_id(client: TestClient) -> None:
    res = client.post("/v1/inbox-items", json=inbox_item("II-1"), headers=auth("a-writer"))
    assert res.status_code == 201, res.text
    assert (res.json()["count"], res.json()["ids"]) == (1, ["II-1"])
    got = client.get("/v1/inbox-items/II-1", headers=auth("a-reader"))
    assert got.status_code == 200
    assert got.json()["state"] == "new"
    assert got.json()["kind"] == "inbox_item"


def test_post_a_list_of_cases_stores_every_one(client: TestClient) -> None:
    body = [{**inbox_item(f"C-{i}"), "kind": "case", "state": "in_progress"} for i in range(1, 4)]
    res = client.post("/v1/cases", json=body, headers=auth("a-writer"))
    assert res.status_code == 201, res.text
    assert res.json()["ids"] == ["C-1", "C-2", "C-3"]
    for i in range(1, 4):
        assert client.get(f"/v1/cases/C-{i}", headers=auth("a-reader")).status_code == 200


def test_get_case_answers_the_latest_version(client: TestClient) -> None:
    v1 = {**inbox_item("C-7"), "kind": "case", "version": 1, "state": "approved"}
    v2 = {**inbox_item("C-7"), "kind": "case", "version": 2, "state": "in_progress"}
    assert client.post("/v1/cases", json=v1, headers=auth("a-writer")).status_code == 201
    assert client.post("/v1/cases", json=v2, headers=auth("a-writer")).status_code == 201
    got = client.get("/v1/cases/C-7", headers=auth("a-reader")).json()
    assert (got["version"], got["state"]) == (2, "in_progress")


def test_posting_the_same_record_again_is_accepted_and_changes_nothing(client: TestClient) -> None:
    body = inbox_item("II-2")
    assert client.post("/v1/inbox-items", json=body, headers=auth("a-writer")).status_code == 201
    again = client.post("/v1/inbox-items", json=body, headers=auth("a-writer"))
    assert again.status_code == 201
    assert again.json()["ids"] == ["II-2"]


def test_posting_other_content_under_a_stored_id_is_409(client: TestClient) -> None:
    assert (
        client.post("/v1/inbox-items", json=inbox_item("II-3"), headers=auth("a-writer"))
    ).status_code == 201
    changed = inbox_item("II-3", state="triage")
    res = client.post("/v1/inbox-items", json=changed, headers=auth("a-writer"))
    assert res.status_code == 409
    assert "II-3" in res.json()["detail"]
    assert client.get("/v1/inbox-items/II-3", headers=auth("a-reader")).json()["state"] == "new"


# -- validation ----------------------------------------------------------------------


def test_invalid_record_is_422_field_by_field_with_phi_masked(client: TestClient) -> None:
    body = inbox_item("II-4", patient={"dob": "1980-13-45", "sex": "robot"})
    res = client.post("/v1/inbox-items", json=body, headers=auth("a-writer"))
    assert res.status_code == 422
    detail = res.json()["detail"]
    fields = {d["field"]: d for d in detail}
    assert set(fields) == {"patient.dob", "patient.sex"}
    assert fields["patient.dob"]["value"] == "***"
    assert fields["patient.sex"]["value"] == "***"
    assert "1980-13-45" not in res.text and "robot" not in res.text


def test_a_list_is_all_or_nothing_and_errors_name_the_item(client: TestClient) -> None:
    body = [
        inbox_item("II-10"),
        inbox_item("II-11", receipt_date="not a date"),
        inbox_item("II-12", bogus=1),
    ]
    res = client.post("/v1/inbox-items", json=body, headers=auth("a-writer"))
    assert res.status_code == 422
    fields = [d["field"] for d in res.json()["detail"]]
    assert fields == ["[1].receipt_date", "[2].bogus"]
    assert client.get("/v1/inbox-items/II-10", headers=auth("a-reader")).status_code == 404


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/cases", {"id": "X-1", "organization": "ORG-A", "kind": "inbox_item"}, "kind"),
        ("/v1/inbox-items", {"organization": "ORG-A"}, "id"),
        ("/v1/inbox-items", {"id": "X-2"}, "organization"),
        ("/v1/inbox-items", [], "body"),
        ("/v1/inbox-items", [{"id": "X-3", "organization": "ORG-A"}, 7], "[1]"),
        (
            "/v1/inbox-items",
            [{"id": "X-4", "organization": "ORG-A"}, {"id": "X-4", "organization": "ORG-A"}],
            "[1].id",
        ),
    ],
    ids=["kind-of-other-endpoint", "missing-id", "missing-org", "empty-list", "not-object", "dup"],
)
def test_malformed_bodies_are_422_naming_the_field(
    client: TestClient, path: str, body: Any, field: str
) -> None:
    res = client.post(path, json=body, headers=auth("a-writer"))
    assert res.status_code == 422
    assert field in [d["field"] for d in res.json()["detail"]]


def test_body_that_is_not_json_is_422(client: TestClient) -> None:
    res = client.post(
        "/v1/inbox-items",
        content=b"{not json",
        headers={**auth("a-writer"), "Content-Type": "application/json"},
    )
    assert res.status_code == 422
    (detail,) = res.json()["detail"]
    assert detail["field"] == "body"
    assert "not valid JSON at character 1" in detail["error"]


# -- authentication and organizations ------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "nope"}], ids=["no-key", "wrong-key"])
def test_calls_without_a_valid_key_are_401(client: TestClient, headers: dict[str, str]) -> None:
    assert client.get("/v1/inbox-items/II-1", headers=headers).status_code == 401
    res = client.post("/v1/inbox-items", json=inbox_item("II-1"), headers=headers)
    assert res.status_code == 401
    assert "X-API-Key" in res.json()["detail"]


def test_without_any_configured_key_every_call_is_401_saying_so(
    api_client: Callable[..., TestClient],
) -> None:
    client = api_client(api_keys={})
    res = client.get("/v1/inbox-items/II-1", headers=auth("a-writer"))
    assert res.status_code == 401
    assert "CASEMATCH_API_KEYS" in res.json()["detail"]


def test_record_of_another_organization_reads_as_missing(client: TestClient) -> None:
    client.post("/v1/inbox-items", json=inbox_item("II-20"), headers=auth("a-writer"))
    res = client.get("/v1/inbox-items/II-20", headers=auth("b-writer"))
    missing = client.get("/v1/inbox-items/II-29", headers=auth("b-writer"))
    assert res.status_code == missing.status_code == 404
    assert res.json()["detail"].replace("II-20", "?") == missing.json()["detail"].replace(
        "II-29", "?"
    )
    assert "ORG-A" not in res.text


def test_posting_a_record_of_another_organization_is_403_and_stores_nothing(
    client: TestClient,
) -> None:
    body = [inbox_item("II-21", "ORG-A"), inbox_item("II-22", "ORG-B")]
    res = client.post("/v1/inbox-items", json=body, headers=auth("a-writer"))
    assert res.status_code == 403
    assert client.get("/v1/inbox-items/II-21", headers=auth("a-reader")).status_code == 404


@pytest.mark.parametrize(
    ("key", "method", "expected"),
    [
        ("a-reader", "post", 403),
        ("a-nothing", "post", 403),
        ("a-nothing", "get", 403),
        ("a-writer", "get", 200),
        ("a-phi", "get", 200),
    ],
    ids=["reader-cannot-write", "bare-cannot-write", "bare-cannot-read", "writer-reads", "phi"],
)
def test_permissions(client: TestClient, key: str, method: str, expected: int) -> None:
    client.post("/v1/inbox-items", json=inbox_item("II-30"), headers=auth("a-writer"))
    if method == "post":
        res = client.post("/v1/inbox-items", json=inbox_item("II-31"), headers=auth(key))
    else:
        res = client.get("/v1/inbox-items/II-30", headers=auth(key))
    assert res.status_code == expected


def test_M1_a_case_version_of_the_same_id_elsewhere_is_another_organizations_case(
    client: TestClient,
) -> None:
    v1 = {**inbox_item("C-80"), "kind": "case", "state": "in_progress"}
    assert client.post("/v1/cases", json=v1, headers=auth("a-writer")).status_code == 201
    # Ids are unique per organization: ORG-B's version 2 of C-80 is ORG-B's Case C-80.
    other = {**inbox_item("C-80", "ORG-B"), "kind": "case", "version": 2}
    res = client.post("/v1/cases", json=other, headers=auth("b-writer"))
    assert res.status_code == 201 and "ORG-A" not in res.text
    got = client.get("/v1/cases/C-80", headers=auth("a-reader")).json()
    assert (got["version"], got["state"], got["organization"]) == (1, "in_progress", "ORG-A")


def test_missing_record_is_404(client: TestClient) -> None:
    res = client.get("/v1/cases/C-404", headers=auth("a-reader"))
    assert res.status_code == 404
    assert "C-404" in res.json()["detail"]


# -- masking (M20) ---------------------------------------------------------------------

PHI_VALUES = ["JS", "Jane", "1980-06", "H-991", "Jacob", "Smith", "2025-02-20"]


def test_M20_get_masks_phi_without_read_phi(client: TestClient) -> None:
    client.post("/v1/inbox-items", json=inbox_item("II-40"), headers=auth("a-writer"))
    got = client.get("/v1/inbox-items/II-40", headers=auth("a-reader")).json()
    assert got["patient"]["initials"] == "***"
    assert got["patient"]["dob"] == "***"
    assert got["patient"]["sex"] == "***"
    assert got["patient"]["mrn"]["hospital"] == "***"
    assert got["reporter"]["country"] == "***"
    assert got["events"][0]["onset"] == "***"
    assert got["patient"]["last_name"] is None  # absent stays absent
    assert got["products"][0]["product_reported"] == "Aspirin 100 mg"  # not PHI
    raw = client.get("/v1/inbox-items/II-40", headers=auth("a-reader")).text
    assert not [v for v in PHI_VALUES if v in raw]


def test_M20_read_phi_unmasks(client: TestClient) -> None:
    client.post("/v1/inbox-items", json=inbox_item("II-41"), headers=auth("a-writer"))
    got = client.get("/v1/inbox-items/II-41", headers=auth("a-phi")).json()
    assert got["patient"]["initials"] == "JS"
    assert got["patient"]["dob"] == "1980-06"
    assert got["events"][0]["onset"] == "2025-02-20"


def test_M20_masking_off_shows_phi_to_every_reader(api_client: Callable[..., TestClient]) -> None:
    client = api_client(mask_phi=False)
    client.post("/v1/inbox-items", json=inbox_item("II-42"), headers=auth("a-writer"))
    got = client.get("/v1/inbox-items/II-42", headers=auth("a-reader")).json()
    assert got["patient"]["initials"] == "JS"


# -- health ----------------------------------------------------------------------------


def test_health_shows_counts_of_the_key_organizations_only(client: TestClient) -> None:
    client.post(
        "/v1/inbox-items",
        json=[inbox_item("II-50"), inbox_item("II-51")],
        headers=auth("a-writer"),
    )
    client.post("/v1/inbox-items/II-51/state", json={"to": "rejected"}, headers=auth("a-writer"))
    client.post("/v1/cases", json={**inbox_item("C-50"), "kind": "case"}, headers=auth("a-writer"))
    client.post("/v1/inbox-items", json=inbox_item("II-B1", "ORG-B"), headers=auth("b-writer"))
    res = client.get("/health", headers=auth("a-reader"))
    assert res.status_code == 200
    body = res.json()
    assert body["status"] == "ok"
    assert body["engine"]["kind"] in ("opensearch", "osmem")
    assert body["engine"]["version"]
    assert body["indices"]["inbox_items"]["documents"] == 2  # ORG-B's item is not counted
    assert body["indices"]["inbox_items"]["searchable"] == 1  # I3: rejected leaves search
    assert body["indices"]["cases"]["documents"] == 1
    assert body["indices"]["cases"]["name"].endswith("-cases")
    anonymous = client.get("/health").json()["indices"]
    assert (
        anonymous["inbox_items"]["documents"] is None and anonymous["cases"]["searchable"] is None
    )
    assert client.get("/health", headers=auth("nope")).status_code == 401
