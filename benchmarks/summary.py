"""``casematch bench summary``: the headline figures of the latest results, as Markdown.

Reads ``benchmarks/results/<name>/result.json`` of every benchmark that has run and
prints one table (figure, value, target, command), so the README's figures always come
from files the harness wrote. Missing benchmarks are skipped.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.report import fmt

Row = tuple[str, Any, str]


def _load(results: Path, name: str) -> dict[str, Any] | None:
    path = results / name / "result.json"
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _quality(r: dict[str, Any]) -> list[Row]:
    groups = r["results"]["groups"]
    n = r["params"]["indexed_cases"]
    rows: list[Row] = []
    for name, target in (
        ("duplicates, shared identifier", ">= 0.99"),
        ("duplicates, no shared identifier", ">= 0.97"),
    ):
        rows.append(
            (f"recall, {name.split(', ')[1]} ({n:,} Cases)", groups[name]["recall"], target)
        )
    dups = groups["all duplicates"]
    rows += [
        ("true match first in its section", dups["first_in_section"], ">= 0.95"),
        ("recall@1 / MRR (all duplicates)", f"{fmt(dups['recall_at_1'])} / {fmt(dups['mrr'])}", ""),
        ("retrieval-stage recall (all duplicates)", dups["retrieval_recall"], "reported"),
        ("false-match rate on near misses", groups["near misses"]["false_match_rate"], "reported"),
    ]
    for name, g in groups.items():
        if name.startswith("FEBRL"):
            rows.append(
                (f"{name}: recall@1 / recall", f"{fmt(g['recall_at_1'])} / {fmt(g['recall'])}", "")
            )
    return rows


def _latency(r: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for p in r["results"]["points"]:
        w = p["wall_ms"]
        rows.append(
            (
                f"duplicate check at {p['size']:,} Cases: p50 / p90 / p99 ms",
                f"{fmt(w['p50'])} / {fmt(w['p90'])} / {fmt(w['p99'])}",
                "p50 <= 50, p99 <= 200 at 100k",
            )
        )
    cpu = r["results"].get("rank_cpu_ms_200_candidates")
    if cpu:
        rows.append(("matcher CPU ranking 200 candidates, p50 ms", cpu["p50"], "<= 3"))
    return rows


def _index(r: dict[str, Any]) -> list[Row]:
    return [
        (
            f"bulk load to {p['size']:,}: docs/s; reindex s; peak engine MB",
            f"{fmt(p['docs_per_s'])}; {fmt(p['reindex_s'])}; {fmt(p['peak_engine_mb'])}",
            "",
        )
        for p in r["results"]["points"]
    ]


def _service(r: dict[str, Any]) -> list[Row]:
    clients = r["params"]["clients"]
    return [
        (
            f"HTTP {name} ({clients} clients): req/s; p50 / p99 ms",
            f"{fmt(e['rps'])}; {fmt(e['latency_ms']['p50'])} / {fmt(e['latency_ms']['p99'])}",
            "",
        )
        for name, e in r["results"]["endpoints"].items()
    ]


def _peer(r: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    ds = r["results"]["dataset"]
    for name, v in r["results"]["variants"].items():
        cm, sp = v["casematch"], v["splink"]
        label = name.replace("_", " ")
        rows.append(
            (
                f"FEBRL {ds} {label}: F1 casematch / Splink (ratio)",
                f"{fmt(cm['clustered']['f1'])} / {fmt(sp['clustered']['f1'])} "
                f"({fmt(v['ratio_f1'])})",
                "ratio >= 1",
            )
        )
        rows.append(
            (
                f"FEBRL {ds} {label}: wall s casematch / Splink (ratio)",
                f"{fmt(cm['wall_s'])} / {fmt(sp['wall_s'])} ({fmt(v['ratio_wall'])})",
                "ratio <= 1",
            )
        )
    return rows


SECTIONS: dict[str, Callable[[dict[str, Any]], list[Row]]] = {
    "quality": _quality,
    "latency": _latency,
    "latency_100k": _latency,  # the 100k run is kept apart (``--out``): it takes the longest
    "index": _index,
    "service": _service,
    "peer": _peer,
}


def summary_markdown(results: Path) -> str:
    lines = ["| benchmark | figure | value | target | command |", "|---|---|---|---|---|"]
    for name, rows_of in SECTIONS.items():
        data = _load(results, name)
        if data is None:
            continue
        for figure, value, target in rows_of(data):
            shown = value if isinstance(value, str) else fmt(value)
            if isinstance(value, float) and math.isnan(value):
                shown = "–"
            lines.append(f"| {name} | {figure} | {shown} | {target} | `{data['command']}` |")
    return "\n".join(lines) + "\n"
