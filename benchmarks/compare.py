"""``--engine both``: one benchmark on the local OpenSearch node and on osmem, side by side.

Each engine's run writes its own report under ``<out>/<engine>/``; this module reads both
``result.json`` files and writes ``<out>/comparison.md`` (and ``comparison.json``): the
benchmark's headline figures per engine and their ratio (OpenSearch / osmem), so the two
are compared within one run on one machine.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

Headline = dict[str, float]


def _latency(r: dict[str, Any]) -> Headline:
    out: Headline = {}
    for p in r["points"]:
        out[f"check p50 ms at {p['size']:,}"] = p["wall_ms"]["p50"]
        out[f"check p99 ms at {p['size']:,}"] = p["wall_ms"]["p99"]
        out[f"engine p50 ms at {p['size']:,}"] = p["engine_ms"]["p50"]
        out[f"engine RSS MB at {p['size']:,}"] = p.get("engine_rss_mb", math.nan)
    return out


def _index(r: dict[str, Any]) -> Headline:
    out: Headline = {}
    for p in r["points"]:
        out[f"load docs/s at {p['size']:,}"] = p["docs_per_s"]
        out[f"reindex docs/s at {p['size']:,}"] = p.get("reindex_docs_per_s", math.nan)
        out[f"peak engine MB at {p['size']:,}"] = p.get("peak_engine_mb", math.nan)
    return out


def _quality(r: dict[str, Any]) -> Headline:
    out: Headline = {}
    for group, figures in r["groups"].items():
        for key in ("recall", "first_in_section", "false_match_rate"):
            value = figures.get(key)
            if isinstance(value, int | float) and not math.isnan(value):
                out[f"{group}: {key}"] = value
    return out


def _service(r: dict[str, Any]) -> Headline:
    out: Headline = {}
    for name, e in r["endpoints"].items():
        out[f"{name} req/s"] = e["rps"]
        out[f"{name} p50 ms"] = e["latency_ms"]["p50"]
        out[f"{name} p99 ms"] = e["latency_ms"]["p99"]
    return out


HEADLINES: dict[str, Callable[[dict[str, Any]], Headline]] = {
    "latency": _latency,
    "index": _index,
    "quality": _quality,
    "service": _service,
}


def write_comparison(
    name: str, out: Path, engines: tuple[str, str] = ("opensearch", "osmem")
) -> Path:
    """``<out>/comparison.md`` from ``<out>/<engine>/result.json`` of both engines."""
    heads = {
        e: HEADLINES[name](json.loads((out / e / "result.json").read_text())["results"])
        for e in engines
    }
    a, b = engines
    rows: list[dict[str, Any]] = []
    for key in heads[a]:
        x, y = heads[a][key], heads[b].get(key, math.nan)
        ratio = x / y if y and not math.isnan(x) and not math.isnan(y) else math.nan
        rows.append({"figure": key, a: x, b: y, "ratio": ratio})
    lines = [
        f"# {name}: {a} beside {b}",
        "",
        f"One `casematch bench {name} --engine both` run: the same seed and data on each engine, "
        f"one after the other on this machine. Ratio = {a} / {b}.",
        "",
        f"| figure | {a} | {b} | ratio |",
        "|---|---:|---:|---:|",
    ]
    lines += [
        f"| {r['figure']} | {_fmt(r[a])} | {_fmt(r[b])} | {_fmt(r['ratio'], 2)} |" for r in rows
    ]
    path = out / "comparison.md"
    path.write_text("\n".join(lines) + "\n")
    (out / "comparison.json").write_text(json.dumps(rows, indent=2, allow_nan=True))
    return path


def _fmt(value: float, digits: int = 1) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "–"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.{digits if abs(value) >= 1 else 3}f}"
