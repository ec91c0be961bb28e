"""Benchmark output: one JSON result and one Markdown report (with PNG plots) per run.

Every report says what was measured and how (a method paragraph), on which machine
(cores, memory, Python, engine kind and version, a note that the machine is shared),
with which command line and seed, at which git commit; then tables of figures and the
plots. The JSON result carries the same facts and every number, so a README table can
be regenerated from it.

    >>> r = Report("demo", "A demo", method="Counts to three.", params={"seed": 1})
    >>> r.add_table("Counts", ["n"], [[1], [2], [3]])
    >>> "| 3 |" in r.markdown()
    True
"""

from __future__ import annotations

import json
import math
import os
import platform
import shlex
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

#: Said in every report: figures were taken on a machine shared with other work.
SHARED_MACHINE_NOTE = (
    "Figures were taken on a shared 2-core machine with other processes running, so "
    "absolute times are pessimistic and vary between runs; ratios measured in one run "
    "are the more stable figures."
)


def machine_facts(engine: dict[str, Any] | None = None) -> dict[str, Any]:
    """Cores, memory, OS, Python, the package versions that matter, and the engine."""
    vm = psutil.virtual_memory()
    facts: dict[str, Any] = {
        "cpu_count_logical": os.cpu_count(),
        "cpu_count_physical": psutil.cpu_count(logical=False),
        "cpu_model": _cpu_model(),
        "memory_total_gb": round(vm.total / 2**30, 1),
        "memory_available_gb": round(vm.available / 2**30, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "packages": _versions(["osmem-server", "opensearch-py", "rapidfuzz", "splink", "duckdb"]),
        "shared_machine": SHARED_MACHINE_NOTE,
    }
    if engine:
        facts["engine"] = engine
    return facts


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _versions(names: Sequence[str]) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str] = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=5,
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        return out.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def command_line() -> str:
    """The command that produced this run, as a user would type it."""
    argv = list(sys.argv)
    if argv and Path(argv[0]).name == "casematch":
        argv[0] = "casematch"
    elif argv and argv[0] == "-c":  # python -c "from benchmarks.cli import app; app()" ...
        argv[0] = "casematch bench"
        return " ".join([argv[0], shlex.join(argv[1:])])
    return shlex.join(argv)


def fmt(value: Any, digits: int = 3) -> str:
    """Numbers for tables: fixed significant places, NaN as an en dash, ints as ints."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        if value != 0 and abs(value) < 10**-(digits):
            return f"{value:.1e}"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        text = f"{value:.{digits}f}"
        return text.rstrip("0").rstrip(".") if "." in text else text
    return str(value)


@dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list[Any]]
    note: str = ""

    def markdown(self) -> str:
        lines = [f"### {self.title}", ""]
        if self.note:
            lines += [self.note, ""]
        lines.append("| " + " | ".join(self.headers) + " |")
        lines.append("|" + "|".join("---" for _ in self.headers) + "|")
        lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in self.rows]
        return "\n".join(lines) + "\n"


@dataclass
class Report:
    """One benchmark run's report; fill it, then :meth:`write` it to a directory."""

    name: str
    title: str
    method: str
    params: dict[str, Any]
    results: dict[str, Any] = field(default_factory=dict)
    tables: list[Table] = field(default_factory=list)
    plots: list[tuple[str, str]] = field(default_factory=list)  # (file name, caption)
    findings: list[str] = field(default_factory=list)
    engine: dict[str, Any] | None = None
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    command: str = field(default_factory=command_line)

    def add_table(
        self, title: str, headers: list[str], rows: list[list[Any]], note: str = ""
    ) -> None:
        self.tables.append(Table(title, headers, rows, note))

    def add_plot(self, file_name: str, caption: str) -> None:
        self.plots.append((file_name, caption))

    def facts(self) -> dict[str, Any]:
        return {
            "benchmark": self.name,
            "started_at": self.started_at,
            "command": self.command,
            "git_commit": git_commit(),
            "params": self.params,
            "machine": machine_facts(self.engine),
        }

    def markdown(self) -> str:
        facts = self.facts()
        m = facts["machine"]
        engine = m.get("engine") or {}
        lines = [
            f"# {self.title}",
            "",
            f"Produced by `{self.command}` at {self.started_at} (git {facts['git_commit']}).",
            "",
            "## What was measured and how",
            "",
            self.method.strip(),
            "",
            "## Machine",
            "",
            f"- {m['cpu_count_logical']} logical cores ({m['cpu_model']}), "
            f"{m['memory_total_gb']} GB memory ({m['memory_available_gb']} GB available at start)",
            f"- {m['os']}, Python {m['python']}",
            "- " + ", ".join(f"{k} {v}" for k, v in m["packages"].items()),
        ]
        if engine:
            lines.append("- engine: " + ", ".join(f"{k} {v}" for k, v in engine.items()))
        lines += [f"- {SHARED_MACHINE_NOTE}", "", "## Parameters", ""]
        lines += [f"- `{k}` = `{v}`" for k, v in self.params.items()]
        if self.findings:
            lines += ["", "## Findings", ""] + [f"- {f}" for f in self.findings]
        lines += ["", "## Figures", ""]
        lines += [t.markdown() for t in self.tables]
        for file_name, caption in self.plots:
            lines += [f"![{caption}]({file_name})", "", f"*{caption}*", ""]
        return "\n".join(lines).rstrip() + "\n"

    def write(self, out_dir: Path) -> Path:
        """Write ``result.json`` and ``report.md`` into ``out_dir`` (plots are already there)."""
        out_dir.mkdir(parents=True, exist_ok=True)
        payload = {
            **self.facts(),
            "findings": self.findings,
            "results": self.results,
            "tables": [
                {"title": t.title, "headers": t.headers, "rows": t.rows} for t in self.tables
            ],
            "plots": [f for f, _ in self.plots],
        }
        (out_dir / "result.json").write_text(
            json.dumps(payload, indent=2, default=_json_default, allow_nan=True) + "\n"
        )
        report = out_dir / "report.md"
        report.write_text(self.markdown())
        return report


def _json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "as_dict"):
        return value.as_dict()
    raise TypeError(f"cannot serialise {type(value).__name__} in a benchmark result")
