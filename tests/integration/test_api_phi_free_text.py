"""M20 / issue 12: free text that carries patient data is masked for keys without ``read_phi``.

``narrative``, ``patient.edc_subject`` and ``reporter.organization`` came back in
clear; one registry (``indexer.fields``) now drives record reads, comparison
tables and 422 bodies alike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.integration.api_support import auth
from tests.integration.test_api_records import inbox_item

FREE_TEXT = {
    "narrative": "Jane Roe, seen at St Olaf, developed a headache.",
    "patient": {"initials": "JR", "edc_subject": "SITE-04-0117"},
    "reporter": {"first_name": "Ada", "organization": "St Olaf Clinic", "country": "US"},
}
PLANTED = ("Jane Roe", "SITE-04-0117", "St Olaf")


@pytest.fixture
def client(api_client: Callable[..., TestClient]) -> TestClient:
    return api_client()


def _store(client: TestClient, record_id: str) -> None:
    res = client.post(
        "/v1/inbox-items", json=inbox_item(record_id, **FREE_TEXT), headers=auth("a-writer")
    )
    assert res.status_code == 201, res.text


@pytest.mark.parametrize(
    ("path", "clear"),
    [
        (("narrative",), FREE_TEXT["narrative"]),
        (("patient", "edc_subject"), "SITE-04-0117"),
        (("reporter", "organization"), "St Olaf Clinic"),
    ],
    ids=["narrative", "edc-subject", "reporter-organization"],
)
def test_M20_free_text_is_masked_without_read_phi(
    client: TestClient, path: tuple[str, ...], clear: str
) -> None:
    _store(client, "II-60")
    masked: Any = client.get("/v1/inbox-items/II-60", headers=auth("a-reader")).json()
    shown: Any = client.get("/v1/inbox-items/II-60", headers=auth("a-phi")).json()
    for part in path:
        masked, shown = masked[part], shown[part]
    assert (masked, shown) == ("***", clear)


def test_M20_no_planted_free_text_in_a_masked_read(client: TestClient) -> None:
    _store(client, "II-61")
    raw = client.get("/v1/inbox-items/II-61", headers=auth("a-reader")).text
    assert not [value for value in PLANTED if value in raw]


def test_M20_detection_tables_mask_the_edc_subject(client: TestClient) -> None:
    trial = {"study_type": "clinical_trial", "study_number": "STU-1", **FREE_TEXT}
    case = {**inbox_item("C-70", **trial), "kind": "case"}
    res = client.post("/v1/cases", json=case, headers=auth("a-writer"))
    assert res.status_code == 201, res.text
    res = client.post(
        "/v1/inbox-items", json=inbox_item("II-70", **trial), headers=auth("a-writer")
    )
    assert res.status_code == 201, res.text
    raw = client.post("/v1/inbox-items/II-70/duplicate-check", headers=auth("a-reader"))
    assert raw.status_code == 200, raw.text
    assert not [value for value in PLANTED if value in raw.text]
    rows = [
        row
        for section in raw.json()["sections"].values()
        for match in section
        for row in match["comparison"]
        if row["field"] == "edc_subject"
    ]
    assert rows and all(row["source"] == "***" and row["match"] == "***" for row in rows)
    assert all(row["result"] == "exact" for row in rows)


def test_M21_a_refused_narrative_is_not_echoed(client: TestClient) -> None:
    long = "Jane Roe " * 12_000  # over the narrative's 100,000 characters
    res = client.post(
        "/v1/inbox-items", json=inbox_item("II-80", narrative=long), headers=auth("a-writer")
    )
    assert res.status_code == 422
    assert "Jane Roe" not in res.text
