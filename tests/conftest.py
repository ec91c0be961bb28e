"""Shared fixtures: one engine per session and engine kind, a clean set of indices per test.

The ``engine`` fixture is parametrized over the engines the suite runs on:

* ``opensearch``: casematch's local OpenSearch 2.19 node (:mod:`indexer.localnode`), built by
  Maven and started on a temporary data directory for the session, stopped at its end. The
  reference: every integration test runs on it.
* ``osmem``: the in-memory stand-in (``osmem-server`` with its journal), the fallback where
  no Java is found; the whole suite runs on it too, so the fallback stays honest.
* ``opensearch-url``: the cluster at ``CASEMATCH_TEST_OPENSEARCH_URL`` (with
  ``CASEMATCH_TEST_OPENSEARCH_USER`` / ``_PASSWORD`` / ``_CA_CERTS``); when that variable is
  set it replaces the local node.

``CASEMATCH_TEST_ENGINES`` (comma-separated, default ``opensearch,osmem``) narrows the run,
e.g. ``CASEMATCH_TEST_ENGINES=opensearch`` while iterating. Under CI (``CI=true``) an engine
that cannot start fails the run; it is never skipped.

Tests that take ``engine``, ``index_names`` or ``store`` are marked ``integration``
automatically. ``index_names`` gives each test its own prefix and drops the indices
afterwards, so tests never see each other's documents.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from indexer.engine import Engine, EngineConfig, open_engine
from indexer.localnode import LocalNode, NodeConfig, java_missing_reason, nodes_under
from indexer.records import Record
from indexer.store import IndexNames, RecordStore
from tests.factories import record

#: Kept for tests that import it from here; records are built in :mod:`tests.factories`.
make_record = record

_URL_ENV = "CASEMATCH_TEST_OPENSEARCH_URL"
_ENGINES_ENV = "CASEMATCH_TEST_ENGINES"
_ENGINE_FIXTURES = {"engine", "index_names", "store"}
_KNOWN_ENGINES = ("opensearch", "osmem")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _ENGINE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


def engine_params() -> list[str]:
    """The engines this run of the suite uses (see the module docstring)."""
    wanted = [e.strip() for e in os.environ.get(_ENGINES_ENV, ",".join(_KNOWN_ENGINES)).split(",")]
    unknown = sorted(set(wanted) - set(_KNOWN_ENGINES) - {""})
    if unknown:
        raise pytest.UsageError(
            f"{_ENGINES_ENV}: unknown engine(s) {unknown}; use opensearch, osmem"
        )
    params = [e for e in _KNOWN_ENGINES if e in wanted]
    if (
        "opensearch" in params
        and java_missing_reason() is not None
        and not os.environ.get(_URL_ENV)
        and os.environ.get("CI") != "true"
    ):
        params.remove("opensearch")  # said in the report header; under CI the run fails instead
    if os.environ.get(_URL_ENV):
        params = ["opensearch-url" if e == "opensearch" else e for e in params]
    return params


def pytest_report_header(config: pytest.Config) -> str:
    header = f"casematch engines: {', '.join(engine_params())}"
    missing = java_missing_reason()
    if missing and "opensearch-url" not in engine_params():
        header += f" (not the local OpenSearch node: {missing})"
    return header


#: Where CLI tests' subprocesses keep their data (one shared local node; see ``cli_env``).
CLI_DATA_ENV = "CASEMATCH_TEST_CLI_DATA_DIR"


@pytest.fixture(scope="session", autouse=True)
def _no_node_left_behind(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every local node a test started under this session's temporary directory (by the API,
    the CLI or ``serve``) is stopped when the session ends: nodes outlive commands by design."""
    base = tmp_path_factory.getbasetemp()
    os.environ[CLI_DATA_ENV] = str(base / "cli-node")
    yield
    for home in nodes_under(base):
        LocalNode(NodeConfig(data_dir=home.parent)).stop()


def cli_env(data_dir: Path) -> dict[str, str]:
    """The environment of a ``casematch`` subprocess whose data lives in ``data_dir``.

    On the local node, every such subprocess shares one node (started by the first) and
    ``data_dir`` becomes an index prefix of its own, so a test's data directory still holds
    only its own records, without a node start per test.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEMATCH_")}
    env["CASEMATCH_CONFIG"] = str(data_dir / "absent.toml")
    env["COLUMNS"] = "200"
    shared = os.environ.get(CLI_DATA_ENV)
    if shared and java_missing_reason() is None:
        env["CASEMATCH_DATA_DIR"] = shared
        env["CASEMATCH_INDEX_PREFIX"] = "t" + hashlib.sha1(str(data_dir).encode()).hexdigest()[:12]
    else:
        env["CASEMATCH_DATA_DIR"] = str(data_dir)
    return env


@pytest.fixture(scope="session")
def opensearch_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """casematch's local OpenSearch node on a fresh data directory, one per session."""
    config = EngineConfig(
        opensearch_url=None, data_dir=tmp_path_factory.mktemp("node-data"), engine="opensearch"
    )
    try:
        engine = open_engine(config)
    finally:
        node = LocalNode(config.node_config())
    try:
        yield engine
    finally:
        engine.close()
        node.stop()


@pytest.fixture(scope="session")
def osmem_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """The osmem stand-in (child process with its journal), one per session."""
    data_dir = tmp_path_factory.mktemp("osmem-data")
    # NORMAL: a commit survives a crash of the process, not of the machine; enough for tests.
    engine = open_engine(
        EngineConfig(
            opensearch_url=None, data_dir=data_dir, engine="osmem", journal_synchronous="NORMAL"
        )
    )
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def url_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """The cluster named by CASEMATCH_TEST_OPENSEARCH_URL."""
    url = os.environ[_URL_ENV]
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


@pytest.fixture(scope="session", params=engine_params())
def engine(request: pytest.FixtureRequest) -> Engine:
    """The engine under test for this run of the suite (see the module docstring)."""
    name = {
        "opensearch": "opensearch_engine",
        "osmem": "osmem_engine",
        "opensearch-url": "url_engine",
    }[request.param]
    found: Engine = request.getfixturevalue(name)
    return found


@pytest.fixture(params=engine_params())
def private_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, object]]:
    """Settings fields for an app that opens (and may kill) an engine of its own, of each kind:
    ``Settings(**private_engine, api_keys=...)``. A local node it started is stopped after."""
    kind = "opensearch" if request.param.startswith("opensearch") else "osmem"
    data_dir = tmp_path / "engine"
    yield {"data_dir": data_dir, "opensearch_url": None, "engine": kind}
    if kind == "opensearch":
        LocalNode(EngineConfig(opensearch_url=None, data_dir=data_dir).node_config()).stop()


@pytest.fixture
def index_names(engine: Engine) -> Iterator[IndexNames]:
    """A unique index prefix for one test; every index under it is deleted afterwards."""
    names = IndexNames(f"t{uuid.uuid4().hex[:12]}")
    yield names
    RecordStore(engine, names).drop_indices()


@pytest.fixture
def store(engine: Engine, index_names: IndexNames) -> RecordStore:
    """A RecordStore on this test's own cases/inbox-items indices (created)."""
    s = RecordStore(engine, index_names)
    s.ensure_indices()
    return s


@pytest.fixture
def record_factory() -> Callable[..., Record]:
    """``record_factory("II-1", kind="case", version=2, state="approved")``."""
    return record
