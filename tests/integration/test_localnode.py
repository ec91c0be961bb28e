"""The local OpenSearch node: built and started once, shared by every command, healed.

These tests start nodes of their own on their own data directories (the session's node is
shared and must not be killed); each stops what it started.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from indexer.engine import EngineConfig, EngineUnavailable, open_engine
from indexer.localnode import LocalNode, NodeConfig, is_built, opensearch_version

pytestmark = pytest.mark.integration

CASEMATCH = str(Path(sys.executable).with_name("casematch"))
EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "e2b-r3-fda-examples"
KEYS = {"k-a": {"organizations": ["ORG-A"], "permissions": ["promote", "read_phi"]}}


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    """A data directory whose local node (if any) is stopped afterwards."""
    yield tmp_path
    LocalNode(NodeConfig(data_dir=tmp_path)).stop()


def _config(data_dir: Path) -> EngineConfig:
    return EngineConfig(opensearch_url=None, data_dir=data_dir, engine="opensearch")


def test_a_second_engine_reuses_the_running_node_and_closing_leaves_it_running(
    data_dir: Path,
) -> None:
    first = open_engine(_config(data_dir))
    pid = first.process_pid
    assert first.kind == "opensearch" and first.mode == "local"
    assert first.version == opensearch_version()
    first.close()
    assert LocalNode(NodeConfig(data_dir=data_dir)).alive(), "close() leaves the node running"
    with open_engine(_config(data_dir)) as second:
        assert second.process_pid == pid
        assert is_built()


def test_killed_node_is_unavailable_then_restarted_with_its_data(data_dir: Path) -> None:
    with open_engine(_config(data_dir)) as engine:
        index = engine.ensure_index("heal-docs", {"mappings": {"dynamic": False}})
        engine.index(index, "a", {"n": 1}, refresh=False)  # durable by the translog alone
        engine.kill_process()
        with pytest.raises(EngineUnavailable, match="restarting"):
            engine.get(index, "a")
        assert engine.wait_healthy(180)
        doc = engine.get("heal-docs", "a")
        assert doc is not None and doc["_source"] == {"n": 1}
        assert any("restarted the local OpenSearch node" in e for e in engine.events)


def test_watchdog_restarts_a_dead_node_without_any_request(data_dir: Path) -> None:
    with open_engine(_config(data_dir)) as engine:
        engine.start_watchdog(interval_s=0.2)
        old = engine.process_pid
        engine.kill_process()
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not engine.events:
            time.sleep(0.1)
        assert engine.wait_healthy(180)
        assert engine.process_pid not in (None, old)


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEMATCH_")}
    env.update(
        CASEMATCH_DATA_DIR=str(data_dir),
        CASEMATCH_CONFIG=str(data_dir / "absent.toml"),
        CASEMATCH_ENGINE="opensearch",
        CASEMATCH_API_KEYS=json.dumps(KEYS),
    )
    return env


def _run(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CASEMATCH, *args], capture_output=True, text=True, env=_env(data_dir), timeout=300
    )


def test_engine_commands_and_load_check_beside_a_running_serve(data_dir: Path) -> None:
    """`engine start|status|stop`, and `load` and `check` while `serve` serves the same data."""
    started = _run(data_dir, "engine", "start")
    assert started.returncode == 0, started.stderr
    assert f"OpenSearch {opensearch_version()} running at http://127.0.0.1:" in started.stdout

    serve = subprocess.Popen(
        [CASEMATCH, "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_env(data_dir),
    )
    try:
        assert serve.stdout is not None
        url = ""
        for line in serve.stdout:
            if "casematch listening on " in line:
                url = line.split("casematch listening on ")[1].strip()
                break
        assert url, "serve did not start"

        loaded = _run(
            data_dir,
            "load",
            "--organization",
            "ORG-A",
            "--kind",
            "case",
            str(EXAMPLES / "FAERS2022Scenario1.xml"),
        )
        assert loaded.returncode == 0, loaded.stdout + loaded.stderr
        assert "loaded 1 records" in loaded.stdout

        checked = _run(
            data_dir,
            "check",
            "--json",
            "--organization",
            "ORG-A",
            str(EXAMPLES / "FAERS2022Scenario1.xml"),
        )
        assert checked.returncode == 0, checked.stderr
        detection = json.loads(checked.stdout)
        listed = [m for section in detection["sections"].values() for m in section]
        assert listed, "check found the Case that load stored"

        # Document counts are shown to a key, over its organizations (issue 12).
        health = httpx.get(f"{url}/health", headers={"X-API-Key": "k-a"}, timeout=30).json()
        assert health["indices"]["cases"]["documents"] == 1, "serve sees what load stored"

        status = _run(data_dir, "engine", "status", "--json")
        facts = json.loads(status.stdout)
        assert facts["running"] and facts["version"] == opensearch_version()
        assert facts["heap_max_bytes"] > 0 and facts["disk_bytes"] > 0
        assert facts["documents"]["cases"] == 1
    finally:
        serve.terminate()
        serve.wait(timeout=60)
        if serve.stdout is not None:
            serve.stdout.close()

    stopped = _run(data_dir, "engine", "stop")
    assert "stopped the local OpenSearch node" in stopped.stdout
    assert not LocalNode(NodeConfig(data_dir=data_dir)).alive()
    assert "not running" in _run(data_dir, "engine", "status").stdout


def test_engine_commands_refuse_when_the_engine_is_not_the_local_node(tmp_path: Path) -> None:
    env = {**_env(tmp_path), "CASEMATCH_ENGINE": "osmem"}
    res = subprocess.run(
        [CASEMATCH, "engine", "status"], capture_output=True, text=True, env=env, timeout=60
    )
    assert res.returncode == 2
    assert "no local OpenSearch node to manage" in res.stderr
