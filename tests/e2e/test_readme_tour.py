"""The README's tour, run as written: its commands and curl lines are read from README.md.

The ``sh`` blocks of the README's "A tour" section run in order in a fresh
directory that looks like a clone (``examples/`` and ``tests/`` linked in), with
no ``CASEMATCH_*`` variable set, so the default data directory ``./.casematch``
is used as a reader's would be. Three things differ from a reader's terminal,
and only these: ``make ...`` and ``. .venv/bin/activate`` are skipped (this
test already runs inside the virtualenv); ``casematch serve`` gets ``--port 0``
(the machine is shared) and the curl lines' ``localhost:8000`` becomes the port
it bound; before the first block without a curl line after the server started,
the server is stopped, as the README says to. Every command must exit 0 and
every curl must get a 2xx; the assertions below check what the tour promises.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.e2e.live import (
    COMMAND_TIMEOUT_S,
    DATA_DIRS,
    START_TIMEOUT_S,
    Served,
    casematch_env,
    start_server,
)

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DEFAULT_ADDRESS = "localhost:8000"
SKIPPED = (re.compile(r"^make\b"), re.compile(r"^\. \.venv/bin/activate$"))
ASSIGNMENT = re.compile(r"^([A-Z_][A-Z0-9_]*)=(.*)$")


def strip_comment(line: str) -> str:
    """``line`` without a shell comment (a ``#`` after white space, outside quotes)."""
    quote: str | None = None
    for i, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def tour_blocks(markdown: str) -> list[list[str]]:
    """The commands of each ``sh`` block of "A tour" (up to the next heading), lines joined."""
    section = re.split(r"\n#{1,6} ", markdown.split("\n## A tour\n", 1)[1], maxsplit=1)[0]
    blocks: list[list[str]] = []
    for body in re.findall(r"```sh\n(.*?)```", section, flags=re.S):
        commands: list[str] = []
        pending = ""
        for raw in body.splitlines():
            line = strip_comment(raw)
            if line.endswith("\\"):
                pending += line[:-1].strip() + " "
                continue
            command = (pending + line.strip()).strip()
            pending = ""
            if command:
                commands.append(command)
        blocks.append(commands)
    return blocks


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("casematch demo   # generate, detect", "casematch demo"),
        ('curl -d \'{"a": "#1"}\' x  # posts', 'curl -d \'{"a": "#1"}\' x'),
        ("KEY=$(cat .casematch/demo-api-key)", "KEY=$(cat .casematch/demo-api-key)"),
        ("# a whole-line comment", ""),
    ],
    ids=["trailing-comment", "hash-inside-quotes", "no-comment", "comment-line"],
)
def test_strip_comment(line: str, expected: str) -> None:
    assert strip_comment(line) == expected


def test_the_tour_has_commands_curl_lines_and_a_server() -> None:
    commands = [c for block in tour_blocks(README.read_text(encoding="utf-8")) for c in block]
    assert any(c.startswith("casematch serve") for c in commands)
    assert sum(c.startswith("curl ") for c in commands) >= 5
    assert any(c.startswith("casematch load") for c in commands)


@dataclass
class Tour:
    """Runs tour commands in ``cwd`` and keeps what they printed."""

    cwd: Path
    env: dict[str, str]
    server: Served | None = None
    outputs: dict[str, str] = field(default_factory=dict)

    def shell(self, command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-c", command],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
        )

    def run(self, command: str) -> None:
        if any(p.match(command) for p in SKIPPED):
            return
        if command.startswith("casematch serve"):
            args = command.split()[2:]
            self.server = start_server(args, self.env, cwd=self.cwd)
            return
        if assignment := ASSIGNMENT.match(command):
            name = assignment.group(1)
            done = self.shell(f'{command}; printf "%s" "${name}"')
            assert done.returncode == 0 and done.stdout, (command, done.stderr)
            self.env[name] = done.stdout
            return
        if command.startswith("curl "):
            assert self.server is not None, f"{command}: the tour runs curl before serve"
            address = self.server.url.removeprefix("http://")
            done = self.shell(command.replace(DEFAULT_ADDRESS, address) + " -w '\\n%{http_code}'")
            assert done.returncode == 0, (command, done.stderr)
            body, _, status = done.stdout.rpartition("\n")
            assert status.startswith("2"), (command, status, body)
            self.outputs[command] = body
            return
        done = self.shell(command)
        assert done.returncode == 0, (command, done.stdout, done.stderr)
        self.outputs[command] = done.stdout

    def stop_server(self) -> None:
        if self.server is None:
            return
        self.server.proc.send_signal(signal.SIGTERM)
        self.server.proc.wait(timeout=START_TIMEOUT_S)
        self.server.kill_all()  # anything left of it (engine children)
        self.server = None

    def output(self, *parts: str) -> str:
        """What the one command containing every part printed."""
        found = [out for cmd, out in self.outputs.items() if all(p in cmd for p in parts)]
        assert len(found) == 1, f"the README tour has {len(found)} commands with {parts}"
        return found[0]


@pytest.fixture
def tour(tmp_path: Path) -> Tour:
    clone = tmp_path / "clone"
    clone.mkdir()
    for name in ("examples", "tests"):
        (clone / name).symlink_to(ROOT / name, target_is_directory=True)
    env = casematch_env(None)
    DATA_DIRS.add(clone / ".casematch")  # the default data directory: its node is stopped after
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    started = Tour(cwd=clone, env=env)
    yield started
    if started.server is not None:
        started.server.kill_all()


def test_readme_tour_runs_as_written(tour: Tour) -> None:
    for block in tour_blocks(README.read_text(encoding="utf-8")):
        if tour.server is not None and not any(c.startswith("curl ") for c in block):
            tour.stop_server()
        for command in block:
            tour.run(command)
    tour.stop_server()

    assert tour.output("--version").startswith("casematch ")
    assert "planted duplicates" in tour.output("casematch demo")
    assert json.loads(tour.output("/health"))["status"] == "ok"

    promoted = json.loads(tour.output("/II-0000010/promote"))
    assert promoted["outcome"] == "potential_matches"
    listed = [m["record_id"] for s in promoted["detection"]["sections"].values() for m in s]
    assert "CS-0000042" in listed
    decided = json.loads(tour.output("/II-0000010/decision"))
    assert decided["state"] == "duplicate"

    example = json.loads(tour.output("/II-EXAMPLE-1/duplicate-check"))
    first = example["sections"]["id_matches"][0]
    assert (first["record_id"], first["badge"]) == ("CS-0000042", "WWUID")

    table = tour.output("casematch check examples/item.json")
    assert "CS-0000042" in table and "CASE-EX-1" in table
    detection = json.loads(tour.output("check --json examples/item.json"))
    assert {m["record_id"] for m in detection["sections"]["id_matches"]} >= {
        "CS-0000042",
        "CASE-EX-1",
    }
    assert "CASE-EX-3" not in tour.output("casematch check examples/item.json")  # M5
