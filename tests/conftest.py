"""Shared fixtures: one engine per session, a clean set of indices per test.

The ``engine`` fixture is parametrized over the engines the suite can run on:

* ``embedded``: osmem-server started by :func:`indexer.engine.open_engine` on a
  temporary data directory (always available);
* ``opensearch-container``: a real OpenSearch in Docker via testcontainers;
  skipped, with the reason, when Docker is not available;
* ``opensearch-url``: the cluster at ``CASEMATCH_TEST_OPENSEARCH_URL`` (with
  ``CASEMATCH_TEST_OPENSEARCH_USER`` / ``_PASSWORD`` / ``_CA_CERTS``); when that
  variable is set it replaces the two above.

Tests that take ``engine``, ``index_names`` or ``store`` are marked
``integration`` automatically. ``index_names`` gives each test its own prefix and
drops the indices afterwards, so tests never see each other's documents.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from indexer.engine import Engine, EngineConfig, open_engine
from indexer.records import Record
from indexer.store import IndexNames, RecordStore

_URL_ENV = "CASEMATCH_TEST_OPENSEARCH_URL"
_ENGINE_FIXTURES = {"engine", "index_names", "store"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _ENGINE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


@functools.cache
def _docker_unavailable_reason() -> str | None:
    """Why a Docker-backed OpenSearch cannot run here, or ``None`` if it can."""
    host = os.environ.get("DOCKER_HOST")
    if not host and not Path("/var/run/docker.sock").exists():
        return "no Docker engine here (DOCKER_HOST unset, no /var/run/docker.sock); the OpenSearch-container run needs Docker"
    try:
        import docker
    except ImportError:
        return "the docker Python package is not installed; the OpenSearch-container run needs it"
    try:
        client = docker.from_env(timeout=3)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:  # any failure to reach the daemon means "no Docker"
        return f"the Docker engine does not answer ({type(exc).__name__}); the OpenSearch-container run needs Docker"
    return None


def _engine_params() -> list[str]:
    if os.environ.get(_URL_ENV):
        return ["opensearch-url"]
    if _docker_unavailable_reason() is None:
        return ["embedded", "opensearch-container"]
    # Without Docker the container run is one visible skip (test_opensearch_container_run),
    # not a skipped twin of every integration test.
    return ["embedded"]


def pytest_report_header(config: pytest.Config) -> str:
    return f"casematch engines: {', '.join(_engine_params())}"


@pytest.fixture(scope="session")
def embedded_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """The embedded engine (osmem-server child process with its journal), one per session."""
    data_dir = tmp_path_factory.mktemp("engine-data")
    # NORMAL: a commit survives a crash of the process, not of the machine; enough for tests.
    engine = open_engine(
        EngineConfig(opensearch_url=None, data_dir=data_dir, journal_synchronous="NORMAL")
    )
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def opensearch_container_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A real OpenSearch in a container (testcontainers); skips when Docker is unavailable."""
    reason = _docker_unavailable_reason()
    if reason:
        pytest.skip(reason)
    from testcontainers.opensearch import OpenSearchContainer

    with OpenSearchContainer() as container:
        config = container.get_config()
        url = f"http://{config['host']}:{config['port']}"
        engine = open_engine(
            EngineConfig(
                opensearch_url=url,
                user=config.get("username"),
                password=config.get("password"),
                data_dir=tmp_path_factory.mktemp("unused"),
            )
        )
        yield engine
        engine.close()


@pytest.fixture(scope="session")
def url_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """The cluster named by CASEMATCH_TEST_OPENSEARCH_URL."""
    url = os.environ.get(_URL_ENV)
    if not url:
        pytest.skip(f"{_URL_ENV} is not set")
    ca = os.environ.get("CASEMATCH_TEST_OPENSEARCH_CA_CERTS")
    engine = open_engine(
        EngineConfig(
            opensearch_url=url,
            user=os.environ.get("CASEMATCH_TEST_OPENSEARCH_USER"),
            password=os.environ.get("CASEMATCH_TEST_OPENSEARCH_PASSWORD"),
            ca_certs=Path(ca) if ca else None,
            data_dir=tmp_path_factory.mktemp("unused"),
        )
    )
    yield engine
    engine.close()


@pytest.fixture(scope="session", params=_engine_params())
def engine(request: pytest.FixtureRequest) -> Engine:
    """The engine under test for this run of the suite (see the module docstring)."""
    name = {
        "embedded": "embedded_engine",
        "opensearch-container": "opensearch_container_engine",
        "opensearch-url": "url_engine",
    }[request.param]
    found: Engine = request.getfixturevalue(name)
    return found


@pytest.fixture
def index_names(engine: Engine) -> Iterator[IndexNames]:
    """A unique index prefix for one test; every index under it is deleted afterwards."""
    names = IndexNames(f"t{uuid.uuid4().hex[:12]}")
    yield names
    found = engine.client.indices.get(index=f"{names.prefix}-*", ignore_unavailable=True)
    for physical in found:
        engine.delete_index(physical)


@pytest.fixture
def store(engine: Engine, index_names: IndexNames) -> RecordStore:
    """A RecordStore on this test's own cases/inbox-items indices (created)."""
    s = RecordStore(engine, index_names)
    s.ensure_indices()
    return s


def make_record(
    record_id: str,
    *,
    kind: str = "inbox_item",
    organization: str = "ORG-A",
    **fields: object,
) -> Record:
    """A small valid record for tests (fields override the defaults)."""
    data: dict[str, object] = {
        "id": record_id,
        "kind": kind,
        "organization": organization,
        "receipt_date": "2025-03-01",
        "patient": {"initials": "JS", "sex": "female", "dob": "1980-06"},
        "reporter": {"first_name": "Jacob", "last_name": "Smith", "country": "US"},
        "products": [{"product": "PRD-17", "product_reported": "Aspirin 100 mg", "rank": 1}],
        "events": [{"event_reported": "headache", "meddra_pt_code": "10019211", "rank": 1}],
        "identifiers": {"case_identifiers": [f"CI-{record_id}"]},
    }
    data.update(fields)
    return Record.model_validate(data)


@pytest.fixture
def record_factory() -> Callable[..., Record]:
    """``record_factory("II-1", kind="case", version=2, state="approved")``."""
    return make_record
