"""When the engine is down the API answers 503 with Retry-After, says nothing else, and heals.

The app here opens its own engine (of each kind) through its lifespan, not the session's
shared one, so the test can really kill the engine's process.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient

from indexer.engine import Engine
from service.app import create_app
from service.settings import ApiKey, Settings

pytestmark = pytest.mark.integration

KEY = {"k": ApiKey(organizations=["ORG-A"], permissions=["promote"], name="k")}
ITEM = {
    "id": "II-1",
    "organization": "ORG-A",
    "patient": {"initials": "JS", "dob": "1980-06"},
}


@pytest.fixture
def settings(private_engine: dict[str, Any]) -> Settings:
    """Settings with an engine of its own (of each kind)."""
    return Settings(api_keys=KEY, **private_engine)


def test_killed_engine_gives_503_with_retry_after_then_heals(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with TestClient(create_app(settings)) as client:
        headers = {"X-API-Key": "k"}
        assert client.post("/v1/inbox-items", json=ITEM, headers=headers).status_code == 201
        assert client.get("/health").status_code == 200
        engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
        # Hold the restart until the test has seen the outage (osmem restarts in under a second).
        gate = threading.Event()
        process = engine._process
        assert process is not None
        restart = process.restart

        def gated_restart() -> tuple[str, str]:
            gate.wait(120)
            return restart()

        monkeypatch.setattr(process, "restart", gated_restart)

        engine.kill_process()

        for res in (
            client.get("/v1/inbox-items/II-1", headers=headers),
            client.get("/v1/cases/C-1", headers=headers),
            client.post("/v1/inbox-items", json={**ITEM, "id": "II-2"}, headers=headers),
            client.get("/health"),
        ):
            assert res.status_code == 503, res.text
            assert int(res.headers["Retry-After"]) > 0
            assert "JS" not in res.text
        health = client.get("/health")
        assert health.json()["status"] == "degraded"
        assert "stopped" in health.json()["reason"]

        gate.set()
        assert engine.wait_healthy(180)
        after = client.get("/health", headers=headers)  # counts need a key (issue 12)
        assert after.status_code == 200 and after.json()["status"] == "ok"
        assert any("restarted" in e for e in after.json()["engine"]["events"])
        assert after.json()["indices"]["inbox_items"]["documents"] == 1
        assert client.get("/v1/inbox-items/II-1", headers=headers).status_code == 200


def test_auth_and_validation_still_answer_while_the_engine_is_down(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        client.app.state.engine.kill_process()  # type: ignore[attr-defined]
        assert client.get("/v1/inbox-items/II-1").status_code == 401
        bad = client.post("/v1/inbox-items", json={"id": "II-3"}, headers={"X-API-Key": "k"})
        assert bad.status_code == 422
