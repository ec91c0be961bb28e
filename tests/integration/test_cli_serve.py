"""``casematch serve`` as a real process: listen, answer, stop cleanly, survive ``kill -9``.

Each test starts ``casematch serve --port 0`` (the OS picks a free loopback
port; the command prints the URL it bound) on its own data directory and
stops it; any process left behind (the server, its engine) is killed by pid at
teardown, and a local OpenSearch node it started is stopped.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from queue import Empty, Queue
from typing import Any

import httpx
import psutil
import pytest

from indexer.localnode import LocalNode, NodeConfig

pytestmark = pytest.mark.integration

CASEMATCH = str(Path(sys.executable).with_name("casematch"))
KEYS = {"k-a": {"organizations": ["ORG-A"], "permissions": ["promote", "read_phi"]}}
#: Startup guard only (not an assertion about speed): loading a cold engine on a busy machine.
START_TIMEOUT_S = 120


class Served:
    """A running ``casematch serve`` and the lines it printed."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._queue: Queue[str | None] = Queue()
        self._pump_thread = threading.Thread(target=self._pump, daemon=True)
        self._pump_thread.start()
        self.url = self._wait_for_url()
        self.engine_pids = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def _wait_for_url(self) -> str:
        while True:
            try:
                line = self._queue.get(timeout=START_TIMEOUT_S)
            except Empty:
                raise AssertionError(f"serve printed no URL; output so far: {self.lines}") from None
            if line is None:
                raise AssertionError(f"serve exited before listening: {self.lines}")
            self.lines.append(line)
            found = re.search(r"casematch listening on (http://\S+)", line)
            if found:
                return found.group(1)

    def rest_of_output(self) -> str:
        out = []
        while True:
            try:
                line = self._queue.get(timeout=5)
            except Empty:
                break
            if line is None:
                break
            out.append(line)
        return "".join(out)

    def kill_all(self) -> None:
        for pid in [self.proc.pid, *self.engine_pids]:
            with contextlib.suppress(psutil.NoSuchProcess):
                psutil.Process(pid).kill()
        self.proc.wait()
        self._pump_thread.join(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def _env(data_dir: Path, keys: dict[str, Any] | None, engine: str = "auto") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEMATCH_")}
    env["CASEMATCH_DATA_DIR"] = str(data_dir)
    env["CASEMATCH_ENGINE"] = engine
    env["CASEMATCH_CONFIG"] = str(data_dir / "absent.toml")
    if keys is not None:
        env["CASEMATCH_API_KEYS"] = json.dumps(keys)
    return env


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    started: list[Served] = []
    data_dirs: set[Path] = set()

    def start(
        *args: str, data_dir: Path | None = None, keys: Any = KEYS, engine: str = "auto"
    ) -> Served:
        data = data_dir or tmp_path / "data"
        data_dirs.add(data)
        proc = subprocess.Popen(
            [CASEMATCH, "serve", "--host", "127.0.0.1", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=_env(data, keys, engine),
        )
        try:
            served = Served(proc)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        started.append(served)
        return served

    yield start
    for served in started:
        served.kill_all()
    for data in data_dirs:
        LocalNode(NodeConfig(data_dir=data)).stop()


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
        env=_env(blocker / "data", KEYS),
        timeout=120,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "CASEMATCH_DATA_DIR" in lines[0]
