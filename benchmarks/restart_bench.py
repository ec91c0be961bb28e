"""``casematch bench restart``: from a stopped server to its first answered duplicate check.

Run on a kept benchmark store (``CASEMATCH_BENCH_DATA_DIR``, filled by ``casematch bench
latency`` with the same seed on the same day). Two restarts are timed, each from the moment
``casematch serve`` is started as a process:

* **cold**: the local node is stopped first, so ``serve`` starts the node, which reopens its
  indices from disk (translog replay included);
* **warm**: the node keeps running and only ``serve`` restarts.

For each: seconds until ``serve`` listens, and until the first duplicate check of a new
Inbox Item (stored, then checked) is answered.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from benchmarks.generator import Population, generate_queries
from benchmarks.harness import KEEP_ENV, engine_config
from benchmarks.report import Report
from indexer.localnode import LocalNode

API_KEY = "bench-restart-key"


def _serve(data_dir: Path, prefix: str, organizations: list[str]) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEMATCH_")}
    env.update(
        CASEMATCH_DATA_DIR=str(data_dir),
        CASEMATCH_INDEX_PREFIX=prefix,
        CASEMATCH_ENGINE="opensearch",
        CASEMATCH_CONFIG=str(data_dir / "absent.toml"),
        CASEMATCH_NODE_HEAP=os.environ.get("CASEMATCH_NODE_HEAP", "1g"),
        CASEMATCH_API_KEYS=json.dumps(
            {API_KEY: {"organizations": organizations, "permissions": ["promote"]}}
        ),
    )
    return subprocess.Popen(
        [sys.executable, "-c", "from service.cli import main; main()", "serve", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _one(data_dir: Path, prefix: str, item: dict[str, Any], orgs: list[str]) -> dict[str, float]:
    started = time.perf_counter()
    proc = _serve(data_dir, prefix, orgs)
    try:
        assert proc.stdout is not None
        url = ""
        for line in proc.stdout:
            if "casematch listening on " in line:
                url = line.rsplit(" ", 1)[-1].strip()
                break
        if not url:
            raise RuntimeError("casematch serve exited before listening")
        listening = time.perf_counter() - started
        headers = {"X-API-Key": API_KEY}
        with httpx.Client(base_url=url, headers=headers, timeout=300) as client:
            stored = client.post("/v1/inbox-items", json=item)
            stored.raise_for_status()
            res = client.post(f"/v1/inbox-items/{item['id']}/duplicate-check")
            res.raise_for_status()
            answered = time.perf_counter() - started
            cases = client.get("/health").json()["indices"]["cases"]["documents"]
        return {"listening_s": listening, "first_check_s": answered, "indexed_cases": cases}
    finally:
        proc.terminate()
        proc.wait(timeout=120)
        if proc.stdout is not None:
            proc.stdout.close()


def run_restart(*, seed: int, size: int, out: Path) -> Path:
    keep = os.environ.get(KEEP_ENV)
    if not keep:
        raise RuntimeError(f"set {KEEP_ENV} to the data directory of a kept latency run")
    data_dir = Path(keep)
    today = date.today()
    prefix = f"bench-{seed}-{today.isoformat()}"
    population = Population(seed=seed, n=size, today=today)
    queries = list(generate_queries(seed + 7, population, 2, today=today))
    report = Report(
        "restart",
        "Restart of serve to the first answered duplicate check",
        method=__doc__.split("\n\n", 1)[1] if __doc__ else "",
        params={"seed": seed, "size": size, "data_dir": str(data_dir)},
    )
    results: dict[str, dict[str, float]] = {}
    for label, query in zip(("cold", "warm"), queries, strict=True):
        if label == "cold":
            LocalNode(engine_config(data_dir).node_config()).stop()
        item = query.source.model_dump(mode="json", exclude_none=True)
        item["id"] = f"{item['id']}-restart-{label}-{int(time.time())}"
        results[label] = _one(data_dir, prefix, item, list(population.organizations))
    report.results = results
    report.add_table(
        "Restart to the first answered duplicate check",
        ["restart", "indexed Cases", "serve listening s", "first check answered s"],
        [
            [k, v["indexed_cases"], round(v["listening_s"], 1), round(v["first_check_s"], 1)]
            for k, v in results.items()
        ],
        note="cold: the local node was stopped and is started by serve; warm: only serve restarts.",
    )
    return report.write(out)
