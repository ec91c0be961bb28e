"""Running casematch as real processes: the command, its environment, a live server.

End-to-end tests start ``casematch`` exactly as a user does (the console script
of this virtualenv) on their own data directory, with no ``CASEMATCH_*``
variable inherited from the caller's shell.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from queue import Empty, Queue
from typing import Any

import psutil

from indexer.localnode import LocalNode, NodeConfig
from tests.conftest import cli_env

#: The API key most end-to-end tests configure (one organization, PHI readable).
KEYS = {"k-a": {"organizations": ["ORG-A"], "permissions": ["promote", "read_phi"]}}

CASEMATCH = str(Path(sys.executable).with_name("casematch"))
#: Startup guard only (not an assertion about speed): loading a cold engine on a busy machine.
START_TIMEOUT_S = 120
#: A guard against a hung command, not a speed assertion.
COMMAND_TIMEOUT_S = 300


def run(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``casematch ARGS`` on ``data_dir``, its output captured.

    The environment is :func:`tests.conftest.cli_env`: on the local node, every such
    command of a test session shares one node, and ``data_dir`` names an index prefix.
    """
    return subprocess.run(
        [CASEMATCH, *args],
        capture_output=True,
        text=True,
        env=cli_env(data_dir),
        timeout=COMMAND_TIMEOUT_S,
    )


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


def casematch_env(
    data_dir: Path | None, keys: dict[str, Any] | None = None, engine: str | None = None
) -> dict[str, str]:
    """The caller's environment without ``CASEMATCH_*``, plus data directory, keys, engine.

    Every data directory named here is remembered, so that :func:`stop_local_nodes`
    can stop the local OpenSearch node a command left running in it.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEMATCH_")}
    env["COLUMNS"] = "200"
    if data_dir is not None:
        env["CASEMATCH_DATA_DIR"] = str(data_dir)
        env["CASEMATCH_CONFIG"] = str(data_dir / "absent.toml")
        DATA_DIRS.add(data_dir)
    if keys is not None:
        env["CASEMATCH_API_KEYS"] = json.dumps(keys)
    if engine is not None:
        env["CASEMATCH_ENGINE"] = engine
    return env


#: Data directories casematch processes of this test run were given.
DATA_DIRS: set[Path] = set()


def stop_local_nodes() -> None:
    """Stop the local OpenSearch node of every remembered data directory (it outlives commands)."""
    while DATA_DIRS:
        data_dir = DATA_DIRS.pop()
        if data_dir.is_dir():  # a test may hand out a path that cannot be a directory
            LocalNode(NodeConfig(data_dir=data_dir)).stop()


def start_server(args: list[str], env: dict[str, str], cwd: Path | None = None) -> Served:
    """``casematch serve --port 0 ARGS`` (a free loopback port), once it listens."""
    proc = subprocess.Popen(
        [CASEMATCH, "serve", "--host", "127.0.0.1", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=cwd,
    )
    try:
        return Served(proc)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
