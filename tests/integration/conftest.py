"""Integration scaffolding: API clients on this test's own indices.

The engine fixtures (``engine``, ``index_names``, ``store``) are in
``tests/conftest.py``; keys in :mod:`tests.keys`; records in :mod:`tests.factories`.

    def test_x(api_client):
        client = api_client(mask_phi=False)          # Settings overrides, keys = KEYS
        client.post("/v1/inbox-items", json=..., headers=auth("a-writer"))
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from indexer.engine import Engine
from indexer.store import IndexNames, RecordStore
from service.app import Services, create_app
from service.settings import Settings
from tests.keys import KEYS


@pytest.fixture
def api_client(
    engine: Engine, index_names: IndexNames, tmp_path: Path
) -> Iterator[Callable[..., TestClient]]:
    """``api_client(**settings)``: a started TestClient of the app on this test's indices.

    Settings default to this test's index prefix and data directory and the API keys
    of :data:`tests.keys.KEYS`; keyword arguments override any of them. Every client
    is closed (its lifespan ended) at teardown.
    """
    with contextlib.ExitStack() as stack:

        def make(**overrides: Any) -> TestClient:
            fields: dict[str, Any] = {
                "index_prefix": index_names.prefix,
                "data_dir": tmp_path,
                "api_keys": KEYS,
                **overrides,
            }
            settings = Settings(**fields)
            store = RecordStore(engine, index_names)
            store.ensure_indices()
            services = Services(settings=settings, engine=engine, store=store)
            return stack.enter_context(TestClient(create_app(settings, services=services)))

        yield make
