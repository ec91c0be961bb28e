"""``casematch serve`` as a real process: listen, answer, stop cleanly, survive ``kill -9``.

Each test starts ``casematch serve --port 0`` (the OS picks a free loopback
port; the command prints the URL it bound) on its own data directory and
stops it; any process left behind (the server, its engine) is killed by pid at
teardown, and a local OpenSearch node it started is stopped.
"""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from indexer.localnode import LocalNode, NodeConfig
from tests.e2e.live import CASEMATCH, KEYS, START_TIMEOUT_S, casematch_env


def _node_pid(data_dir: Path) -> int | None:
    info = LocalNode(NodeConfig(data_dir=data_dir)).info()
    return info.pid if info else None


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serve_answers_health_and_stops_cleanly_on_signal(
    serve: Any, sig: signal.Signals, tmp_path: Path
) -> None:
    """On the default engine (the local node): serve stops; the node it started keeps running
    for the next command, and a second serve reuses it."""
    served = serve()
    health = httpx.get(f"{served.url}/health", timeout=30)
    assert health.status_code == 200
    assert health.json()["engine"]["kind"] == "opensearch"
    assert health.json()["engine"]["mode"] == "local"
    assert health.json()["engine"]["version"].startswith("2.19.")
    node_pid = _node_pid(tmp_path / "data")
    assert node_pid is not None, "serve started the local node"
    assert served.engine_pids == [], "the node is detached: nobody's child"

    served.proc.send_signal(sig)
    assert served.proc.wait(timeout=60) == 0
    assert "casematch stopped" in served.rest_of_output()
    assert not _gone(node_pid), "the node outlives serve"
    serve()
    assert _node_pid(tmp_path / "data") == node_pid, "the second serve reused the running node"


def test_osmem_child_stops_with_serve(serve: Any) -> None:
    served = serve(engine="osmem")
    health = httpx.get(f"{served.url}/health", timeout=30)
    assert health.json()["engine"]["kind"] == "osmem"
    assert served.engine_pids, "osmem runs as a child process"
    served.proc.send_signal(signal.SIGTERM)
    assert served.proc.wait(timeout=60) == 0
    assert all(_gone(pid) for pid in served.engine_pids)


@pytest.mark.parametrize("engine", ["opensearch", "osmem"])
def test_acknowledged_records_survive_kill_9_and_restart(
    serve: Any, tmp_path: Path, engine: str
) -> None:
    """The durability acceptance, end to end through the HTTP API: 2,000 acknowledged records,
    then kill -9 of casematch *and* its engine (the local node's JVM, or osmem), restart."""
    served = serve(engine=engine)
    headers = {"X-API-Key": "k-a"}
    items = [
        {"id": f"II-{i}", "organization": "ORG-A", "patient": {"initials": "AB"}}
        for i in range(2000)
    ]
    case = {
        "id": "C-1",
        "organization": "ORG-A",
        "state": "in_progress",
        "identifiers": {"wwuid": "US-ACME-000777"},
    }
    for start in range(0, len(items), 200):
        batch = items[start : start + 200]
        res = httpx.post(f"{served.url}/v1/inbox-items", json=batch, headers=headers, timeout=120)
        assert res.status_code == 201, res.text
    one = {"id": "II-last", "organization": "ORG-A"}
    assert httpx.post(f"{served.url}/v1/inbox-items", json=one, headers=headers).status_code == 201
    assert httpx.post(f"{served.url}/v1/cases", json=case, headers=headers).status_code == 201

    node_pid = _node_pid(tmp_path / "data") if engine == "opensearch" else None
    served.proc.send_signal(signal.SIGKILL)
    served.proc.wait(timeout=60)
    for pid in [*served.engine_pids, *([node_pid] if node_pid else [])]:
        with contextlib.suppress(psutil.NoSuchProcess):
            psutil.Process(pid).kill()

    again = serve(engine=engine)
    for record_id in ("II-0", "II-1999", "II-last"):
        got = httpx.get(f"{again.url}/v1/inbox-items/{record_id}", headers=headers)
        assert got.status_code == 200, record_id
    assert (
        httpx.get(f"{again.url}/v1/inbox-items/II-0", headers=headers).json()["patient"]["initials"]
        == "AB"
    )
    assert httpx.get(f"{again.url}/v1/cases/C-1", headers=headers).status_code == 200
    indices = httpx.get(f"{again.url}/health", headers=headers).json()["indices"]
    assert indices["inbox_items"]["documents"] == 2001
    assert indices["inbox_items"]["searchable"] == 2001
    assert indices["cases"]["searchable"] == 1
    # Searchable, not just stored: a new item with the Case's WWUID finds it.
    twin = {"id": "II-twin", "organization": "ORG-A", "identifiers": {"wwuid": "US-ACME-000777"}}
    assert httpx.post(f"{again.url}/v1/inbox-items", json=twin, headers=headers).status_code == 201
    check = httpx.post(f"{again.url}/v1/inbox-items/II-twin/duplicate-check", headers=headers)
    assert [m["record_id"] for m in check.json()["sections"]["id_matches"]] == ["C-1"]


def test_sample_without_keys_prints_a_demo_key_that_works(serve: Any) -> None:
    served = serve("--sample", keys=None)
    printed = "".join(served.lines) + served.rest_of_output()
    key = re.search(r"demo API key \([^)]*\): (\S+)", printed)
    assert key, printed
    counts = httpx.get(f"{served.url}/health", headers={"X-API-Key": key.group(1)}).json()[
        "indices"
    ]
    assert counts["cases"]["documents"] > 0 and counts["inbox_items"]["documents"] > 0
    item = re.search(r"/v1/inbox-items/(\S+)", printed)
    assert item
    got = httpx.get(
        f"{served.url}/v1/inbox-items/{item.group(1)}", headers={"X-API-Key": key.group(1)}
    )
    assert got.status_code == 200
    assert got.json()["patient"]["dob"] in ("***", None)  # the demo key does not read PHI


def test_sample_demo_key_survives_a_restart_until_its_file_is_deleted(
    serve: Any, tmp_path: Path
) -> None:
    def printed(served: Any) -> str:
        return "".join(served.lines) + served.rest_of_output()

    def printed_key(text: str) -> str:
        found = re.search(r"demo API key \([^)]*\): (\S+)", text)
        assert found, text
        return found.group(1)

    data_dir = tmp_path / "data"
    first = serve("--sample", keys=None, data_dir=data_dir)
    key = printed_key(printed(first))
    assert (data_dir / "demo-api-key").read_text().strip() == key
    first.proc.send_signal(signal.SIGTERM)
    first.proc.wait(timeout=START_TIMEOUT_S)
    again = serve("--sample", keys=None, data_dir=data_dir)
    text = printed(again)
    assert printed_key(text) == key
    assert "demo-api-key" in text  # says where the key is kept, and how to reset it
    health = httpx.get(f"{again.url}/v1/inbox-items/none-such", headers={"X-API-Key": key})
    assert health.status_code == 404  # the kept key is accepted (401 otherwise)
    again.proc.send_signal(signal.SIGTERM)
    again.proc.wait(timeout=START_TIMEOUT_S)
    (data_dir / "demo-api-key").unlink()
    fresh = serve("--sample", keys=None, data_dir=data_dir)
    assert printed_key(printed(fresh)) != key


def test_without_keys_and_without_sample_every_call_is_refused(serve: Any) -> None:
    served = serve(keys=None)
    printed = "".join(served.lines)
    assert "no API keys configured" in printed
    res = httpx.get(f"{served.url}/v1/inbox-items/II-1", headers={"X-API-Key": "anything"})
    assert res.status_code == 401
    assert "CASEMATCH_API_KEYS" in res.json()["detail"]


def test_engine_startup_error_is_one_line_and_exit_code_2(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    proc = subprocess.run(
        [CASEMATCH, "serve", "--port", "0"],
        capture_output=True,
        text=True,
        env=casematch_env(blocker / "data", KEYS, "auto"),
        timeout=120,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "CASEMATCH_DATA_DIR" in lines[0]
