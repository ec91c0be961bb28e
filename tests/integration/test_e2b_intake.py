"""E2B(R3) uploads through ``POST /v1/inbox-items`` on the real engine."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.settings import ApiKey, TransmissionProfile
from tests.paths import FDA_EXAMPLES

FDA = FDA_EXAMPLES
XML = {"Content-Type": "application/xml"}

KEYS = {
    "key-a": ApiKey(organizations=["ORG-A"], permissions=["admin", "read_phi"], name="a"),
    "key-ab": ApiKey(organizations=["ORG-A", "ORG-B"], permissions=["admin"], name="ab"),
}


def scenario(name: str) -> bytes:
    return (FDA / f"FAERS2022{name}.xml").read_bytes()


@pytest.fixture
def client(api_client: Callable[..., TestClient]) -> TestClient:
    return api_client(
        api_keys=KEYS,
        transmission_profiles={
            "default": TransmissionProfile(),
            "apharma": TransmissionProfile(organization="ORG-B", e2b_senders=["4567AB89012"]),
        },
    )


def post(client: TestClient, body: bytes, key: str = "key-a", **params: str) -> dict[str, Any]:
    res = client.post(
        "/v1/inbox-items", content=body, headers={**XML, "X-API-Key": key}, params=params
    )
    return {"status": res.status_code, **res.json()}


def test_an_fda_file_becomes_a_stored_e2b_inbox_item(client: TestClient) -> None:
    out = post(client, scenario("Scenario1"))
    assert out["status"] == 201 and out["count"] == 1 and out["errors"] == []
    stored = client.get(f"/v1/inbox-items/{out['ids'][0]}", headers={"X-API-Key": "key-a"}).json()
    assert stored["source"] == "e2b" and stored["organization"] == "ORG-A"
    assert stored["identifiers"]["wwuid"] == "US-APHARMA-8744554B"
    assert stored["patient"]["initials"] == "JD"


def test_a_zip_of_every_fda_example_loads_them_all(client: TestClient) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(FDA.glob("*.xml")):
            archive.write(path, path.name)
    res = client.post(
        "/v1/inbox-items",
        content=buffer.getvalue(),
        headers={"Content-Type": "application/zip", "X-API-Key": "key-a"},
    )
    assert res.status_code == 201
    assert res.json()["count"] == 10


def test_good_messages_load_and_the_bad_one_is_reported(client: TestClient) -> None:
    good = scenario("Scenario1").decode()
    start, end = good.index("<PORR_IN049016UV>"), good.index("</PORR_IN049016UV>") + 18
    message = good[start:end]
    broken = message.replace('root="2.16.840.1.113883.3.989.2.1.3.2"', 'root="1.2.3"')
    other = message.replace("<name>JD</name>", "<name>AB</name>")
    body = (good[:start] + message + broken + other + good[end:]).encode()
    out = post(client, body)
    assert out["status"] == 201 and out["count"] == 2
    [error] = out["errors"]
    assert (error["message_number"], error["element"]) == (2, "C.1.8.1")
    assert error["path"].startswith("/MCCI_IN200100UV01/PORR_IN049016UV[2]/controlActProcess")


def test_malformed_xml_is_422_with_the_line(client: TestClient) -> None:
    out = post(client, scenario("Scenario1")[:4000])
    assert out["status"] == 422
    [detail] = out["detail"]
    assert detail["line"] and "malformed XML" in detail["error"]


def test_a_key_with_two_organizations_names_one_or_uses_the_senders_profile(
    client: TestClient,
) -> None:
    named = post(client, scenario("Scenario1"), key="key-ab", organization="ORG-A")
    assert named["status"] == 201
    routed = post(client, scenario("Scenario2"), key="key-ab")
    assert routed["status"] == 201
    item = client.get(f"/v1/inbox-items/{routed['ids'][0]}", headers={"X-API-Key": "key-ab"})
    assert (item.json()["organization"], item.json()["transmission_profile"]) == (
        "ORG-B",
        "apharma",
    )


def test_an_organization_outside_the_key_is_403(client: TestClient) -> None:
    assert post(client, scenario("Scenario1"), organization="ORG-B")["status"] == 403


def test_uploaded_scenario2_finds_the_uploaded_scenario1_case_by_wwuid(client: TestClient) -> None:
    headers = {**XML, "X-API-Key": "key-a"}
    case = client.post("/v1/cases", content=scenario("Scenario1"), headers=headers)
    item = client.post("/v1/inbox-items", content=scenario("Scenario2"), headers=headers)
    assert (case.status_code, item.status_code) == (201, 201)
    res = client.post(
        f"/v1/inbox-items/{item.json()['ids'][0]}/duplicate-check",
        headers={"X-API-Key": "key-a"},
    )
    assert res.status_code == 200
    [match] = res.json()["sections"]["id_matches"]
    assert (match["record_type"], match["record_id"], match["badge"]) == (
        "case",
        case.json()["ids"][0],
        "WWUID",
    )
    assert match["status"]["patient"] is True
