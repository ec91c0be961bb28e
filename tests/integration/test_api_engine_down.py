"""When the engine is down the API answers 503 with Retry-After, and says nothing else.

The app here opens its own embedded engine through its lifespan (not the
session's shared one), so the test can really kill the engine's process.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import ApiKey, Settings

pytestmark = pytest.mark.integration

KEY = {"k": ApiKey(organizations=["ORG-A"], permissions=["promote"], name="k")}
ITEM = {
    "id": "II-1",
    "organization": "ORG-A",
    "patient": {"initials": "JS", "dob": "1980-06"},
}


def test_killed_engine_gives_503_with_retry_after_on_every_route(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, api_keys=KEY, opensearch_url=None)
    with TestClient(create_app(settings)) as client:
        headers = {"X-API-Key": "k"}
        assert client.post("/v1/inbox-items", json=ITEM, headers=headers).status_code == 201
        assert client.get("/health").status_code == 200

        client.app.state.engine.kill_embedded()  # type: ignore[attr-defined]

        for res in (
            client.get("/health"),
            client.get("/v1/inbox-items/II-1", headers=headers),
            client.get("/v1/cases/C-1", headers=headers),
            client.post("/v1/inbox-items", json={**ITEM, "id": "II-2"}, headers=headers),
        ):
            assert res.status_code == 503, res.text
            assert int(res.headers["Retry-After"]) > 0
            assert "unavailable" in res.json()["detail"]
            assert "JS" not in res.text


def test_auth_and_validation_still_answer_while_the_engine_is_down(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, api_keys=KEY, opensearch_url=None)
    with TestClient(create_app(settings)) as client:
        client.app.state.engine.kill_embedded()  # type: ignore[attr-defined]
        assert client.get("/v1/inbox-items/II-1").status_code == 401
        bad = client.post("/v1/inbox-items", json={"id": "II-3"}, headers={"X-API-Key": "k"})
        assert bad.status_code == 422
