"""The review page benchmark: server time to render an item page with 100 Possible Matches.

One Inbox Item (postmarketing, so M26 caps its Possible Matches at 100) is stored with
``matches`` Cases that share its primary product and event and its reporter's country
but no patient value, so each is a Possible Match, and ``background`` generated Cases
that are not; the detection therefore lists exactly 100 Possible Matches (checked).
The app (:func:`service.app.create_app`, with the ``/ui`` router) is driven in process
through Starlette's ``TestClient`` after signing in through the form, so a timing is
the server's whole work for one page: session check, loading the item, the duplicate
detection on the engine, the audit and transmission reads, and the Jinja2 rendering;
no network and no browser. Two pages are timed, ``repetitions`` times each after
``warmup`` untimed requests: the item page, and the same page with the comparison of
the top match open (``?match=``). Reported: median, p90 and max milliseconds, and the
HTML size.

``casematch bench ui`` runs it and writes ``result.json`` + ``report.md``.
"""

from __future__ import annotations

import re
import statistics
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from benchmarks.generator import Population
from benchmarks.harness import bench_store, engine_facts, load
from benchmarks.report import Report
from indexer.records import Record
from service.app import Services, create_app
from service.settings import ApiKey, Settings

ORG = "ORG-A"
KEY = "bench-ui-key"
ITEM_ID = "II-BENCH-UI"


def _record(record_id: str, kind: str, n: int, today: date) -> Record:
    """A record sharing the product, event and reporter country; patient unique per ``n``."""
    letters = "ABCDEFGHJKLMNPRSTUVWXZ"
    initials = letters[n % len(letters)] + letters[(n // len(letters)) % len(letters)] + "Q"
    data: dict[str, Any] = {
        "id": record_id,
        "kind": kind,
        "organization": ORG,
        "source": "intake_api",
        "report_type": "spontaneous",
        "study_type": "postmarketing",
        "receipt_date": (today - timedelta(days=30 + n % 300)).isoformat(),
        "patient": {
            "initials": initials,
            "sex": "female" if n % 2 else "male",
            "dob": f"{1930 + n % 70}-{1 + n % 12:02d}",
        },
        "reporter": {"last_name": f"Reporter{n}", "qualification": "physician", "country": "DE"},
        "products": [
            {"product": "PRD-UIBENCH", "product_reported": "Benchmarkol 50 mg", "rank": 1}
        ],
        "events": [
            {
                "event_reported": "dizziness",
                "meddra_pt_code": "10013573",
                "meddra_pt": "Dizziness",
                "rank": 1,
            }
        ],
    }
    if kind == "case":
        data["case_id"] = record_id
        data["version"] = 1
        data["state"] = "in_progress"
    return Record.model_validate(data)


def _stats(values_ms: list[float]) -> dict[str, float]:
    ordered = sorted(values_ms)
    return {
        "median": statistics.median(ordered),
        "p90": ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))],
        "max": ordered[-1],
    }


def _time_page(client: TestClient, url: str, *, warmup: int, repetitions: int) -> dict[str, Any]:
    for _ in range(warmup):
        client.get(url).raise_for_status()
    times: list[float] = []
    detection: list[float] = []
    size = 0
    for _ in range(repetitions):
        started = time.perf_counter()
        res = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        res.raise_for_status()
        size = len(res.content)
        took = re.search(r"found in (\d+) ms", res.text)  # the Detection's own time, as shown
        if took:
            detection.append(float(took.group(1)))
    return {
        **_stats(times),
        "detection_median": statistics.median(detection) if detection else float("nan"),
        "html_kb": size / 1024,
        "samples_ms": times,
    }


def measure_item_page(
    services: Services, *, warmup: int, repetitions: int
) -> dict[str, dict[str, Any]]:
    """Sign in through the form, check the page lists 100 Possible Matches, time both pages."""
    app = create_app(services.settings, services=services)
    with TestClient(app) as client:
        form = client.get("/ui/sign-in").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert token is not None
        signed = client.post(
            "/ui/sign-in",
            data={"csrf_token": token.group(1), "api_key": KEY},
            follow_redirects=False,
        )
        assert signed.status_code == 303, signed.text
        page = client.get(f"/ui/items/{ITEM_ID}").text
        section = page.split('data-section="possible_matches"', 1)[1].split("</section>", 1)[0]
        listed = section.count("?match=")
        if listed != 100:
            raise AssertionError(f"the item page lists {listed} Possible Matches, not 100")
        top = re.search(r"\?match=(case:[^\"#]+)", section)
        assert top is not None
        return {
            "item_page": _time_page(
                client, f"/ui/items/{ITEM_ID}", warmup=warmup, repetitions=repetitions
            ),
            "item_page_with_comparison": _time_page(
                client,
                f"/ui/items/{ITEM_ID}?match={top.group(1)}",
                warmup=warmup,
                repetitions=repetitions,
            ),
        }


def run_ui_bench(
    *,
    seed: int = 42,
    quick: bool = False,
    out: Path = Path("benchmarks/results/ui"),
    matches: int = 150,
    background: int | None = None,
    repetitions: int | None = None,
) -> Path:
    """Load the data, time the pages, write the report; returns its path."""
    n_background = background if background is not None else (500 if quick else 10_000)
    reps = repetitions or (10 if quick else 50)
    warmup = 3
    today = date.today()
    report = Report(
        name="ui",
        title="Review page: server time to render an item page with 100 Possible Matches",
        method=__doc__ or "",
        params={
            "seed": seed,
            "matching_cases": matches,
            "background_cases": n_background,
            "repetitions": reps,
            "warmup": warmup,
        },
    )
    settings = Settings(
        api_keys={KEY: ApiKey(organizations=[ORG], permissions=["promote"], name="bench-ui")}
    )
    with bench_store("ui") as (engine, store):
        report.engine = engine_facts(engine)
        pop = Population(seed=seed, n=n_background)
        load(store, pop, total=n_background, label=f"index {n_background:,} background Cases")
        planted = [_record(f"CS-UIB-{n:04d}", "case", n, today) for n in range(matches)]
        store.put_many(planted, refresh=True)
        store.put(_record(ITEM_ID, "inbox_item", matches + 1, today))
        services = Services(settings=settings, engine=engine, store=store)
        pages = measure_item_page(services, warmup=warmup, repetitions=reps)
    report.results = pages
    report.add_table(
        f"Server time per page (in-process, {reps} requests each after {warmup} warm-up)",
        ["page", "median ms", "p90 ms", "max ms", "of which detection, median ms", "HTML KB"],
        [
            [name, v["median"], v["p90"], v["max"], v["detection_median"], v["html_kb"]]
            for name, v in pages.items()
        ],
    )
    item = pages["item_page"]
    report.findings.append(
        f"An item page with 100 Possible Matches renders in {item['median']:.0f} ms (median; "
        f"{pages['item_page_with_comparison']['median']:.0f} ms with the comparison open), of "
        f"which the duplicate detection takes {item['detection_median']:.0f} ms."
    )
    return report.write(out)
