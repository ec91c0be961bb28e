"""``casematch bench service``: HTTP load on a running ``casematch serve``, on loopback only.

The benchmark starts ``casematch serve --host 127.0.0.1 --port 0`` as a child process
with a throw-away data directory and one API key, loads generated Cases and labelled
Inbox Items through ``POST /v1/cases`` and ``POST /v1/inbox-items``, then drives each
endpoint with ``clients`` concurrent HTTP clients (httpx, keep-alive), each sending
its next request as soon as the previous one is answered, until ``max_requests`` were
sent or ``max_seconds`` passed, whichever is first. Endpoints: ``duplicate-check``
(read-only; items are reused round-robin) and ``promote`` (each item once; only when
the server offers the route). Measured: requests/s, latency percentiles from the
client's side, and status codes. The server is stopped with SIGTERM afterwards.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from benchmarks import plots
from benchmarks.generator import Population, generate_case_dicts, generate_queries
from benchmarks.harness import current_engine, engine_config, progress, stop_local_node
from benchmarks.metrics import summarize
from benchmarks.report import Report

API_KEY = "bench-service-key"
HOST = "127.0.0.1"  # never anything but loopback


@dataclass
class LoadResult:
    """One endpoint under load."""

    endpoint: str
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    wall_s: float = 0.0

    @property
    def requests(self) -> int:
        return len(self.latencies_ms)

    @property
    def rps(self) -> float:
        return self.requests / self.wall_s if self.wall_s else float("nan")


class Server:
    """``casematch serve`` as a child process on a free loopback port."""

    def __init__(self, data_dir: Path, organizations: Sequence[str]) -> None:
        env = dict(os.environ)
        env.update(
            CASEMATCH_DATA_DIR=str(data_dir),
            CASEMATCH_API_KEYS=json.dumps(
                {
                    API_KEY: {
                        "organizations": list(organizations),
                        "permissions": ["promote", "read_matches", "admin"],
                    }
                }
            ),
            CASEMATCH_MASK_PHI="true",
            CASEMATCH_ENGINE=current_engine(),
        )
        self.data_dir = data_dir
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from service.cli import main; main()",
                "serve",
                "--host",
                HOST,
                "--port",
                "0",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.output: list[str] = []
        self.url = self._wait_for_url(timeout_s=120.0)
        threading.Thread(target=self._drain, daemon=True).start()

    def _wait_for_url(self, timeout_s: float) -> str:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.output.append(line.rstrip())
            if "listening on" in line:
                return line.rsplit(" ", 1)[-1].strip()
        self.stop()
        raise RuntimeError("casematch serve did not start:\n" + "\n".join(self.output[-20:]))

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line.rstrip())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def _post_batches(
    client: httpx.Client, path: str, items: list[dict[str, Any]], label: str, batch: int = 500
) -> float:
    started = time.perf_counter()
    with progress() as bar:
        task = bar.add_task(label, total=len(items))
        for i in range(0, len(items), batch):
            chunk = items[i : i + batch]
            resp = client.post(path, json=chunk, timeout=600)
            if resp.status_code >= 300:
                raise RuntimeError(f"POST {path} answered {resp.status_code}: {resp.text[:300]}")
            bar.advance(task, len(chunk))
    return time.perf_counter() - started


async def _drive(
    url: str,
    endpoint: str,
    paths: Sequence[str],
    *,
    clients: int,
    max_requests: int,
    max_seconds: float,
    reuse: bool,
) -> LoadResult:
    result = LoadResult(endpoint)
    budget = max_requests if reuse else min(max_requests, len(paths))
    counter = iter(range(budget))
    deadline = time.monotonic() + max_seconds
    headers = {"X-API-Key": API_KEY}

    async def worker(client: httpx.AsyncClient) -> None:
        for i in counter:
            if time.monotonic() >= deadline:
                return
            path = paths[i % len(paths)]
            t0 = time.perf_counter()
            resp = await client.post(path, headers=headers, timeout=60)
            result.latencies_ms.append((time.perf_counter() - t0) * 1000)
            result.statuses[resp.status_code] += 1

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(clients)))
        result.wall_s = time.perf_counter() - started
    return result


def run_service(
    *,
    seed: int,
    size: int,
    clients: int,
    max_requests: int,
    max_seconds: float,
    out: Path,
    soak_seconds: float = 0.0,
) -> Path:
    today = date.today()
    population = Population(seed=seed, n=size, today=today)
    report = Report(
        "service",
        f"HTTP load on casematch serve ({size:,} Cases, {clients} clients)",
        method=__doc__.split("\n\n", 1)[1] if __doc__ else "",
        params={
            "seed": seed,
            "indexed_cases": size,
            "clients": clients,
            "max_requests_per_endpoint": max_requests,
            "max_seconds_per_endpoint": max_seconds,
            "host": HOST,
            "soak_seconds": soak_seconds,
        },
    )
    n_items = max_requests * 2
    n_soak = int(soak_seconds * 40) if soak_seconds else 0  # more than the soak can store
    queries = list(generate_queries(seed, population, n_items + n_soak, today=today))
    all_items = [
        q.source.model_dump(mode="json", exclude_none=True, exclude={"links"}) for q in queries
    ]
    items, soak_pool = all_items[:n_items], all_items[n_items:]
    soak: SoakResult | None = None
    cases = list(generate_case_dicts(seed, size, today=today))
    data_dir = Path(tempfile.mkdtemp(prefix="casematch-bench-service-"))
    results: list[LoadResult] = []
    try:
        server = Server(data_dir, population.organizations)
        try:
            with httpx.Client(base_url=server.url, headers={"X-API-Key": API_KEY}) as client:
                health = client.get("/health").json()
                engine = health.get("engine")
                report.engine = dict(engine) if isinstance(engine, dict) else {"kind": "?"}
                load_s = _post_batches(client, "/v1/cases", cases, f"POST {size:,} Cases")
                _post_batches(client, "/v1/inbox-items", items, "POST Inbox Items")
                routes = set(client.get("/openapi.json").json().get("paths", {}))
            ids = [item["id"] for item in items]
            check = [f"/v1/inbox-items/{i}/duplicate-check" for i in ids[:max_requests]]
            results.append(
                asyncio.run(
                    _drive(
                        server.url,
                        "duplicate-check",
                        check,
                        clients=clients,
                        max_requests=max_requests,
                        max_seconds=max_seconds,
                        reuse=True,
                    )
                )
            )
            if "/v1/inbox-items/{item_id}/promote" in routes or any(
                r.endswith("/promote") for r in routes
            ):
                promote = [f"/v1/inbox-items/{i}/promote" for i in ids[max_requests:]]
                results.append(
                    asyncio.run(
                        _drive(
                            server.url,
                            "promote",
                            promote,
                            clients=clients,
                            max_requests=max_requests,
                            max_seconds=max_seconds,
                            reuse=False,
                        )
                    )
                )
            else:
                report.findings.append(
                    "promote was not measured: the server offers no promote route yet."
                )
            if soak_seconds:
                untouched = ids[:max_requests]  # checked above, never promoted
                soak = asyncio.run(
                    _soak(
                        server.url,
                        soak_pool,
                        untouched,
                        clients=clients,
                        seconds=soak_seconds,
                        seed=seed,
                    )
                )
        finally:
            server.stop()
    finally:
        stop_local_node(engine_config(data_dir))
        shutil.rmtree(data_dir, ignore_errors=True)

    report.results = {
        "api_load_cases_per_s": size / load_s if load_s else float("nan"),
        "endpoints": {
            r.endpoint: {
                "requests": r.requests,
                "wall_s": r.wall_s,
                "rps": r.rps,
                "latency_ms": summarize(r.latencies_ms),
                "statuses": dict(r.statuses),
            }
            for r in results
        },
    }
    report.add_table(
        "Endpoints under load",
        [
            "endpoint",
            "requests",
            "requests/s",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms",
            "status codes",
        ],
        [
            [
                r.endpoint,
                r.requests,
                r.rps,
                *(summarize(r.latencies_ms)[k] for k in ("p50", "p90", "p99", "max")),
                ", ".join(f"{code}: {n}" for code, n in sorted(r.statuses.items())),
            ]
            for r in results
        ],
        note="promote answers 200 with potential matches (the item stays for a decision) or "
        "201 when it created a Case (P1-P2).",
    )
    report.findings.append(
        f"Bulk load through POST /v1/cases: {report.results['api_load_cases_per_s']:.0f} "
        "Cases/s (batches of 500)."
    )
    broken = soak_table(report, soak, clients) if soak is not None else []
    if results:
        plots.grouped_bars(
            out / "service_latency.png",
            f"HTTP latency with {clients} concurrent clients",
            [r.endpoint for r in results],
            {k: [summarize(r.latencies_ms)[k] for r in results] for k in ("p50", "p90", "p99")},
            ylabel="milliseconds",
        )
        report.add_plot("service_latency.png", "Client-side latency percentiles per endpoint")
    written = report.write(out)
    if broken:  # after writing, so that the figures of a failed soak are kept
        raise AssertionError("soak invariants broken: " + ", ".join(broken))
    return written


# -- mixed soak ----------------------------------------------------------------------------

#: Operation mix of the soak (weights): intake, reads, detection and the promotion workflow.
SOAK_MIX: dict[str, int] = {"store": 3, "check": 3, "promote": 3, "decide": 2, "read": 3}
#: Share of stored items that match nothing (their promotion creates a Case at once).
LONELY_SHARE = 0.5
#: Share of promotions and of decisions sent by several clients at once (the same item).
CONTESTED_SHARE = 0.4


def lonely_item(base: dict[str, Any], n: int, seed: int) -> dict[str, Any]:
    """``base`` (an Inbox Item's JSON) with every identifying value replaced by one that no
    generated Case holds: detection finds nothing, so promoting it creates a Case (P2).

    >>> item = lonely_item({"id": "II-1", "organization": "ORG-A", "reporter": {"country": "US"}}, 7, 1)
    >>> item["id"], item["identifiers"]["case_identifiers"], item["reporter"]["country"]
    ('II-LONE-1-000007', ['LONE-1-000007'], 'US')
    """
    import random

    rng = random.Random(f"{seed}-{n}")

    def word() -> str:
        return "".join(rng.choice("bcdfghjklmnpqrstvwxz") for _ in range(9)).capitalize()

    tag = f"{seed}-{n:06d}"
    reporter = base.get("reporter") or {}
    return {
        **base,
        "id": f"II-LONE-{tag}",
        "identifiers": {"case_identifiers": [f"LONE-{tag}"]},
        "patient": {"first_name": word(), "last_name": word()},
        "reporter": {
            "first_name": word(),
            "last_name": word(),
            "country": reporter.get("country") or "US",
        },
        "products": [{"product": f"PRD-LONE-{tag}", "product_reported": word(), "rank": 1}],
        "events": [{"event_reported": f"{word()} {word()}", "rank": 1}],
    }


@dataclass
class Decided:
    """What the soak was told about one Inbox Item's outcome (acknowledged answers only)."""

    case_ids: set[str] = field(default_factory=set)
    duplicate: bool = False


@dataclass
class SoakResult:
    """A mixed soak: per-operation latencies and statuses, and the invariants it checks."""

    seconds: float = 0.0
    latencies_ms: dict[str, list[float]] = field(default_factory=dict)
    statuses: dict[str, Counter[int]] = field(default_factory=dict)
    #: ids of records a 201 acknowledged (stored items; Cases are in ``outcomes``)
    acknowledged: list[str] = field(default_factory=list)
    #: acknowledged records that did not read back afterwards ("item X" / "case Y")
    lost: list[str] = field(default_factory=list)
    #: per Inbox Item: the Cases and the duplicate marks acknowledged for it
    outcomes: dict[str, Decided] = field(default_factory=dict)
    contested_promotions: int = 0
    contested_decisions: int = 0
    #: Case documents in the store before and after the soak (``/health``)
    cases_before: int = 0
    cases_after: int = 0
    #: read-back mismatches: an item not promoted to the Case it was told, a Case not
    #: linked to its item
    inconsistent: list[str] = field(default_factory=list)

    @property
    def server_errors(self) -> int:
        return sum(n for c in self.statuses.values() for code, n in c.items() if code >= 500)

    @property
    def cases_created(self) -> int:
        return sum(len(d.case_ids) for d in self.outcomes.values())

    @property
    def duplicate_cases(self) -> int:
        """Inbox Items for which more than one distinct Case was acknowledged (P17 forbids
        it; a replayed outcome names the same Case, so it is one)."""
        return sum(1 for d in self.outcomes.values() if len(d.case_ids) > 1)

    @property
    def conflicting_decisions(self) -> int:
        """Items both made a Case and marked a duplicate (two contested decisions both won)."""
        return sum(1 for d in self.outcomes.values() if d.case_ids and d.duplicate)

    @property
    def unexplained_cases(self) -> int:
        """Case documents the store gained beyond the Cases acknowledged (a duplicate Case
        no answer named); the soak creates Cases only by promotion and create_new_case."""
        return self.cases_after - self.cases_before - self.cases_created

    def note(self, op: str, ms: float, status: int) -> None:
        self.latencies_ms.setdefault(op, []).append(ms)
        self.statuses.setdefault(op, Counter())[status] += 1

    def acknowledge(self, item_id: str, body: dict[str, Any]) -> None:
        """Record a 2xx promotion or decision answer for ``item_id``."""
        decided = self.outcomes.setdefault(item_id, Decided())
        if body.get("outcome") == "case_created":
            decided.case_ids.add(str(body["case_id"]))
        elif body.get("outcome") == "marked_duplicate":
            decided.duplicate = True

    def violations(self) -> list[str]:
        """The invariants the soak broke (empty when it held)."""
        broken = []
        if self.server_errors:
            broken.append(f"{self.server_errors} 5xx")
        if self.lost:
            broken.append(f"{len(self.lost)} lost acknowledged writes")
        if self.duplicate_cases:
            broken.append(f"{self.duplicate_cases} items with duplicate Cases")
        if self.conflicting_decisions:
            broken.append(f"{self.conflicting_decisions} items both promoted and duplicate")
        if self.unexplained_cases:
            broken.append(f"{self.unexplained_cases} Case documents no answer acknowledged")
        if self.inconsistent:
            broken.append(f"{len(self.inconsistent)} read-back mismatches")
        return broken


def _first_match(body: dict[str, Any]) -> tuple[str, str] | None:
    """(record_type, record_id) of the first match of a potential-matches answer."""
    sections = (body.get("detection") or {}).get("sections") or {}
    for name in ("id_matches", "subject_matches", "possible_matches"):
        for match in sections.get(name) or []:
            return str(match["record_type"]), str(match["record_id"])
    return None


async def _cases_stored(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    health = (await client.get("/health", headers=headers, timeout=120)).json()
    return int(health["indices"]["cases"]["documents"])


async def _soak(
    url: str,
    pool: list[dict[str, Any]],
    preloaded: list[str],
    *,
    clients: int,
    seconds: float,
    seed: int,
) -> SoakResult:
    """``clients`` workers run :data:`SOAK_MIX` for ``seconds``.

    Half the stored items match nothing (:func:`lonely_item`), so their promotion
    creates a Case; :data:`CONTESTED_SHARE` of promotions are sent by 2 to ``clients``
    clients at once for the same item, and as many decisions are sent at once as a mix
    of ``create_new_case`` and ``mark_duplicate`` (at most one may win). Afterwards every
    acknowledged record is read back and the store's Case count is compared with the
    Cases acknowledged.
    """
    import random

    result = SoakResult()
    rng = random.Random(seed)
    headers = {"X-API-Key": API_KEY}
    matching = iter(pool[::2])
    lonely = iter(lonely_item(b, n, seed) for n, b in enumerate(pool[1::2]))
    stored: list[str] = list(preloaded)
    promotable: list[str] = list(preloaded)
    undecided: list[tuple[str, tuple[str, str] | None]] = []
    ops = list(SOAK_MIX)
    weights = [SOAK_MIX[o] for o in ops]
    deadline = time.monotonic() + seconds

    async def call(client: httpx.AsyncClient, op: str, method: str, path: str, **kw: Any) -> Any:
        t0 = time.perf_counter()
        resp = await client.request(method, path, headers=headers, timeout=120, **kw)
        result.note(op, (time.perf_counter() - t0) * 1000, resp.status_code)
        return resp

    def promoted(item_id: str, resp: Any) -> None:
        if resp.status_code >= 300:
            return
        body = resp.json()
        if body.get("outcome") == "potential_matches":
            if all(i != item_id for i, _ in undecided):
                undecided.append((item_id, _first_match(body)))
        else:
            result.acknowledge(item_id, body)

    async def worker(client: httpx.AsyncClient) -> None:
        while time.monotonic() < deadline:
            op = rng.choices(ops, weights)[0]
            if op == "store":
                item = next(lonely if rng.random() < LONELY_SHARE else matching, None)
                if item is None:
                    op = "read"
                else:
                    resp = await call(client, op, "POST", "/v1/inbox-items", json=item)
                    if resp.status_code == 201:
                        result.acknowledged.append(item["id"])
                        stored.append(item["id"])
                        promotable.append(item["id"])
                    continue
            if op == "check" and stored:
                item_id = rng.choice(stored)
                await call(client, op, "POST", f"/v1/inbox-items/{item_id}/duplicate-check")
            elif op == "promote" and promotable:
                item_id = promotable.pop(rng.randrange(len(promotable)))
                path = f"/v1/inbox-items/{item_id}/promote"
                n = 1
                if rng.random() < CONTESTED_SHARE:
                    result.contested_promotions += 1
                    n = rng.randint(2, max(2, clients))
                answers = await asyncio.gather(*(call(client, op, "POST", path) for _ in range(n)))
                for resp in answers:
                    promoted(item_id, resp)
            elif op == "decide" and undecided:
                item_id, match = undecided.pop(rng.randrange(len(undecided)))
                path = f"/v1/inbox-items/{item_id}/decision"
                new_case: dict[str, Any] = {"action": "create_new_case"}
                choices = [new_case]
                if match is not None:
                    kind, target = match
                    choices.append(
                        {"action": "mark_duplicate", "target_id": target, "target_type": kind}
                    )
                n = 1
                if rng.random() < CONTESTED_SHARE:
                    result.contested_decisions += 1
                    n = rng.randint(2, max(2, clients))
                bodies = [rng.choice(choices) for _ in range(n)]
                answers = await asyncio.gather(
                    *(call(client, op, "POST", path, json=body) for body in bodies)
                )
                for resp in answers:
                    if resp.status_code < 300:
                        result.acknowledge(item_id, resp.json())
            else:
                cases = [(i, c) for i, d in list(result.outcomes.items()) for c in d.case_ids]
                if cases and rng.random() < 0.5:
                    await call(client, "read", "GET", f"/v1/cases/{rng.choice(cases)[1]}")
                elif stored:
                    await call(client, "read", "GET", f"/v1/inbox-items/{rng.choice(stored)}")

    limits = httpx.Limits(max_connections=clients * 4, max_keepalive_connections=clients * 4)
    async with httpx.AsyncClient(base_url=url, limits=limits) as client:
        result.cases_before = await _cases_stored(client, headers)
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(clients)))
        result.seconds = time.perf_counter() - started
        await _read_back(client, headers, result)
        result.cases_after = await _cases_stored(client, headers)
    return result


async def _read_back(
    client: httpx.AsyncClient, headers: dict[str, str], result: SoakResult
) -> None:
    """Zero lost acknowledged writes: every 201 reads back, and says what it was told."""
    for item_id in result.acknowledged:
        resp = await client.get(f"/v1/inbox-items/{item_id}", headers=headers, timeout=120)
        if resp.status_code != 200:
            result.lost.append(f"item {item_id}")
    for item_id, decided in result.outcomes.items():
        for case_id in decided.case_ids:
            resp = await client.get(f"/v1/cases/{case_id}", headers=headers, timeout=120)
            if resp.status_code != 200:
                result.lost.append(f"case {case_id}")
                continue
            if (resp.json().get("links") or {}).get("inbox_item_id") != item_id:
                result.inconsistent.append(f"case {case_id} is not linked to item {item_id}")
        item = (await client.get(f"/v1/inbox-items/{item_id}", headers=headers, timeout=120)).json()
        links = item.get("links") or {}
        if decided.case_ids and (
            item.get("state") != "promoted" or links.get("case_id") not in decided.case_ids
        ):
            result.inconsistent.append(f"item {item_id} is not promoted to its Case")


def soak_table(report: Report, soak: SoakResult, clients: int) -> list[str]:
    """The soak's figures and invariants in ``report``; returns the invariants it broke."""
    rows = []
    per_op: dict[str, Any] = {}
    for op in SOAK_MIX:
        lat = soak.latencies_ms.get(op, [])
        if not lat:
            continue
        stats = summarize(lat)
        rate = len(lat) / soak.seconds if soak.seconds else float("nan")
        codes = soak.statuses.get(op, Counter())
        per_op[op] = {
            "requests": len(lat),
            "rps": rate,
            "latency_ms": stats,
            "statuses": dict(codes),
        }
        rows.append(
            [
                op,
                len(lat),
                rate,
                stats["p50"],
                stats["p99"],
                stats["max"],
                ", ".join(f"{c}: {n}" for c, n in sorted(codes.items())),
            ]
        )
    total = sum(len(v) for v in soak.latencies_ms.values())
    report.results["soak"] = {
        "seconds": soak.seconds,
        "clients": clients,
        "requests": total,
        "rps": total / soak.seconds if soak.seconds else float("nan"),
        "operations": per_op,
        "server_errors": soak.server_errors,
        "acknowledged_writes": len(soak.acknowledged) + soak.cases_created,
        "lost_writes": len(soak.lost),
        "cases_created": soak.cases_created,
        "contested_promotions": soak.contested_promotions,
        "contested_decisions": soak.contested_decisions,
        "duplicate_cases": soak.duplicate_cases,
        "conflicting_decisions": soak.conflicting_decisions,
        "cases_before": soak.cases_before,
        "cases_after": soak.cases_after,
        "unexplained_cases": soak.unexplained_cases,
        "inconsistent": soak.inconsistent[:20],
    }
    report.add_table(
        f"Mixed soak: {clients} clients, {soak.seconds:.0f} s",
        ["operation", "requests", "requests/s", "p50 ms", "p99 ms", "max ms", "status codes"],
        rows,
        note="store = POST /v1/inbox-items (one new item; half of them match nothing, so "
        "promoting them creates a Case); check = duplicate-check; promote; decide = "
        "create_new_case or mark_duplicate on a potential-matches item; "
        f"{CONTESTED_SHARE:.0%} of promotions and decisions are sent by 2 to {max(2, clients)} "
        "clients at once for the same item (contested); read = GET an item or a created Case. "
        "A 409 is the loser of a contested request, or a request on an item already decided.",
    )
    acknowledged = len(soak.acknowledged) + soak.cases_created
    report.findings.append(
        f"Soak: {total} requests in {soak.seconds:.0f} s ({total / soak.seconds:.1f}/s), "
        f"{soak.server_errors} 5xx, {len(soak.lost)} of {acknowledged} acknowledged writes "
        f"lost, {soak.cases_created} Cases created, {soak.duplicate_cases} duplicate Cases "
        f"and {soak.conflicting_decisions} conflicting decisions from "
        f"{soak.contested_promotions} contested promotions and {soak.contested_decisions} "
        f"contested decisions; the store gained {soak.cases_after - soak.cases_before} Case "
        "documents."
    )
    return soak.violations()
