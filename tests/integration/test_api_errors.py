"""M21 at the HTTP edge: an unexpected error is a bare 500 and its message is never logged."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from indexer.engine import Engine
from indexer.store import IndexNames, RecordStore
from service.app import Services, create_app
from service.settings import Settings

PHI = "Jane Smith born 1980-06-14"


def test_M21_unexpected_exception_is_500_logged_by_type_without_its_message(
    engine: Engine, index_names: IndexNames, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(index_prefix=index_names.prefix, data_dir=tmp_path, api_keys={})
    store = RecordStore(engine, index_names)
    app = create_app(settings, services=Services(settings=settings, engine=engine, store=store))

    def boom() -> None:
        raise ValueError(PHI)

    app.add_api_route("/boom", boom)
    with caplog.at_level(logging.DEBUG), TestClient(app) as client:
        res = client.get("/boom")
    assert res.status_code == 500
    assert res.json() == {"detail": "internal error"}
    assert "ValueError" in caplog.text
    assert PHI not in caplog.text
    assert PHI not in res.text
