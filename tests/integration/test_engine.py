"""The engine seam: startup errors, typed write errors, and osmem's journal and healing.

Durability tests start their own osmem engines on their own data directories (the session
engine is shared and must not be killed). The local OpenSearch node's own durability,
sharing and healing are in ``test_localnode.py``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.generator import generate_cases
from indexer.documents import load_mapping
from indexer.engine import (
    Engine,
    EngineConfig,
    EngineError,
    EngineStartupError,
    EngineUnavailable,
    VersionConflict,
    open_engine,
)
from indexer.store import IndexNames, RecordStore

pytestmark = pytest.mark.integration


@pytest.fixture
def own_engine(tmp_path: Path) -> Iterator[Engine]:
    """A private osmem engine on its own data directory."""
    engine = open_engine(osmem_config(tmp_path / "data"))
    yield engine
    engine.close()


def osmem_config(data_dir: Path, **kwargs: object) -> EngineConfig:
    return EngineConfig(opensearch_url=None, data_dir=data_dir, engine="osmem", **kwargs)  # type: ignore[arg-type]


def _reopen(data_dir: Path) -> Engine:
    return open_engine(osmem_config(data_dir))


# -- startup errors: one clear message ------------------------------------------------


def test_startup_port_taken_names_the_address(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        addr = f"127.0.0.1:{sock.getsockname()[1]}"
        with pytest.raises(EngineStartupError, match="port is taken") as err:
            open_engine(osmem_config(tmp_path, addr=addr))
    assert addr in str(err.value)
    assert "\n" not in str(err.value)


def test_startup_missing_binary_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(EngineStartupError, match="missing or not executable") as err:
        open_engine(osmem_config(tmp_path, binary=str(tmp_path / "nope")))
    assert "CASEMATCH_OPENSEARCH_URL" in str(err.value)


def test_startup_unreachable_cluster_hides_credentials(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://admin:s3cret@127.0.0.1:{port}"
    with pytest.raises(EngineStartupError, match="unreachable") as err:
        open_engine(EngineConfig(opensearch_url=url, data_dir=tmp_path, timeout_s=2))
    assert f"127.0.0.1:{port}" in str(err.value)
    assert "s3cret" not in str(err.value)


def test_startup_data_dir_in_use_by_another_engine(own_engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(EngineStartupError, match="in use by another casematch process"):
        _reopen(tmp_path / "data")


# -- typed errors ----------------------------------------------------------------------


def test_conditional_write_conflict_is_version_conflict(
    engine: Engine, index_names: IndexNames
) -> None:
    index = engine.ensure_index(index_names.aux("docs"), {"mappings": {"dynamic": False}})
    first = engine.index(index, "d1", {"n": 1})
    engine.index(index, "d1", {"n": 2}, if_seq_no=first["_seq_no"], if_primary_term=1)
    with pytest.raises(VersionConflict):
        engine.index(index, "d1", {"n": 3}, if_seq_no=first["_seq_no"], if_primary_term=1)
    with pytest.raises(VersionConflict):
        engine.index(index, "d1", {"n": 4}, op_type="create")
    doc = engine.get(index, "d1")
    assert doc is not None and doc["_source"] == {"n": 2}


def test_refused_document_error_names_type_not_value(
    engine: Engine, index_names: IndexNames
) -> None:
    index = engine.ensure_index(index_names.aux("strict"), load_mapping())
    with pytest.raises(EngineError) as err:
        engine.index(index, "d1", {"patient": {"first_name": "Jacob"}, "surprise": "Smith"})
    assert "Smith" not in str(err.value) and "Jacob" not in str(err.value)
    result = engine.bulk([{"_index": index, "_id": "d2", "_source": {"surprise": "Smith"}}])
    assert [i.error for i in result.failed] == ["strict_dynamic_mapping_exception"]


def test_killed_osmem_engine_is_unavailable_then_restarted_with_its_data(
    own_engine: Engine,
) -> None:
    index = own_engine.ensure_index("heal-docs", {"mappings": {"dynamic": False}})
    own_engine.index(index, "a", {"n": 1})
    own_engine.kill_process()
    with pytest.raises(EngineUnavailable, match="restarting"):
        own_engine.get(index, "a")
    assert own_engine.wait_healthy(120)
    doc = own_engine.get("heal-docs", "a")
    assert doc is not None and doc["_source"] == {"n": 1}
    assert any("restarted the osmem engine process" in e for e in own_engine.events)


# -- durability of osmem (its journal) ---------------------------------------------------


def test_acknowledged_writes_survive_engine_sigkill(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    names = IndexNames("dur")
    records = list(generate_cases(11, 1000))
    with _reopen(data_dir) as engine:
        store = RecordStore(engine, names)
        store.ensure_indices()
        report = store.put_many(records, chunk_size=250, refresh=False)
        assert report.stored == 1000
        follow_up = records[0].model_copy(update={"version": 2})
        store.put(follow_up)
        refused = engine.bulk(
            [{"_index": names.cases, "_id": "bad", "_source": {"not_in_mapping": 1}}]
        )
        assert len(refused.failed) == 1
        pid = engine.process_pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)

    with _reopen(data_dir) as engine:
        store = RecordStore(engine, names)
        assert engine.count(names.cases) == 1001  # 1000 + the follow-up version
        assert engine.get(names.cases, "bad") is None  # refused writes are not journaled
        searchable = engine.search(
            index=names.cases,
            body={"query": {"term": {"searchable": True}}, "size": 0, "track_total_hits": True},
        )["hits"]["total"]["value"]
        assert searchable == 1000
        versions = store.case_versions(records[0].organization, records[0].case_id or records[0].id)
        assert [(v.record.version, v.record.state) for v in versions] == [
            (1, "superseded"),
            (2, records[0].state),
        ]
        ids = [r.doc_id for r in records[1:]]
        hits = engine.search(
            index=names.cases, body={"query": {"ids": {"values": ids}}, "size": 0}
        )["hits"]["total"]["value"]
        assert hits == len(ids)


_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from benchmarks.generator import generate_cases
    from indexer.engine import EngineConfig, open_engine
    from indexer.store import IndexNames, RecordStore

    engine = open_engine(EngineConfig(opensearch_url=None, data_dir=Path(sys.argv[1]), engine="osmem"))
    store = RecordStore(engine, IndexNames("proc"))
    store.ensure_indices()
    for record in generate_cases(5, 100000):
        store.put(record, refresh=False)
        print(record.doc_id, flush=True)   # acknowledged
    """
)


def test_acknowledged_writes_survive_sigkill_of_the_whole_process(tmp_path: Path) -> None:
    """kill -9 of casematch itself: its osmem child exits too; every ack is restored."""
    data_dir = tmp_path / "data"
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(data_dir)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.stdout is not None
    acked = [proc.stdout.readline().strip() for _ in range(150)]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    acked += [line.strip() for line in proc.stdout if line.strip()]
    proc.stdout.close()

    with _reopen(data_dir) as engine:
        found = engine.mget("proc-cases", acked)
        assert len(found) == len(acked)
        engine.refresh("proc-cases")
        assert engine.count("proc-cases") >= len(acked)


def test_restore_keeps_aliases_and_deletes(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with _reopen(data_dir) as engine:
        first = engine.ensure_index("keep-docs", {"mappings": {"dynamic": False}})
        engine.create_index("keep-docs-000002", {"mappings": {"dynamic": False}})
        engine.index(first, "a", {"n": 1})
        engine.index("keep-docs-000002", "b", {"n": 2})
        engine.index("keep-docs-000002", "c", {"n": 3})
        engine.delete("keep-docs-000002", "c")
        engine.update_aliases(
            [
                {"remove": {"index": first, "alias": "keep-docs"}},
                {"add": {"index": "keep-docs-000002", "alias": "keep-docs"}},
            ]
        )
        engine.delete_index(first)
    with _reopen(data_dir) as engine:
        assert engine.alias_targets("keep-docs") == ["keep-docs-000002"]
        assert not engine.index_exists(first)
        assert engine.get("keep-docs", "b") is not None
        assert engine.get("keep-docs", "c") is None


def test_bulk_refuses_partial_updates_it_could_not_journal(
    engine: Engine, index_names: IndexNames
) -> None:
    index = engine.ensure_index(index_names.aux("docs"), {"mappings": {"dynamic": False}})
    with pytest.raises(ValueError, match="not \\['update'\\]"):
        engine.bulk([{"_op_type": "update", "_index": index, "_id": "a", "doc": {"n": 1}}])
