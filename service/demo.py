"""What ``casematch demo`` and ``casematch serve --sample`` do with the sample data.

The CLI hands the data in: usually :func:`service.sample.sample_queries`
(300 Cases over three organizations and 30 Inbox Items with planted
duplicates, follow-ups and near misses), the same for the same seed; this
module only loads, detects, promotes and reports. ``serve --sample`` loads it into an
empty store only, so a restart on the same data directory keeps what the API
wrote. ``demo`` loads it into a fresh store, prints the counts, runs duplicate
detection on every sample Inbox Item (compared with the planted truth), then
promotes each one as a processor would and prints what happened.
"""

from __future__ import annotations

import os
import secrets
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rich.console import Console
from rich.table import Table

from indexer.records import Kind, Record
from indexer.store import RecordStore
from matcher import Detection
from service import render
from service.app import Services
from service.auth import Principal
from service.detection import run_detection
from service.errors import ServiceError
from service.promotion.decisions import DecisionAction, DecisionRequest
from service.promotion.outcomes import outcome_json
from service.sample import SampleData
from service.settings import ApiKey, Permission, Settings

#: Permissions of the local demo key ``serve --sample`` creates (PHI stays masked).
DEMO_KEY_PERMISSIONS: list[Permission] = ["promote", "read_matches", "admin"]


#: The file in the data directory that keeps the demo key across restarts.
DEMO_KEY_FILE = "demo-api-key"


def demo_key_path(settings: Settings) -> Path:
    return settings.data_dir / DEMO_KEY_FILE


def with_demo_key(settings: Settings, records: Sequence[Record]) -> tuple[Settings, str]:
    """``settings`` plus the local demo key for the sample organizations, and the key.

    Only ``serve --sample`` calls this, and only when no key is configured. The
    key is made once, at random, and kept (owner-readable only) in the data
    directory, so a key saved by a user keeps working after a restart; delete
    the file for a new one.
    """
    key = _read_or_create_key(demo_key_path(settings))
    demo = ApiKey(
        organizations=sorted({r.organization for r in records}),
        permissions=DEMO_KEY_PERMISSIONS,
        name="sample-demo",
    )
    return settings.model_copy(update={"api_keys": {key: demo}}), key


def _read_or_create_key(path: Path) -> str:
    try:
        kept = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        kept = ""
    if kept:
        return kept
    key = secrets.token_urlsafe(24)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key + "\n")
    return key


def load_if_empty(store: RecordStore, records: Sequence[Record]) -> int:
    """Load ``records`` unless the store already holds any; how many were loaded."""
    counts = store.counts()
    if counts["cases"] or counts["inbox_items"]:
        return 0
    return load(store, records)


def load(store: RecordStore, records: Sequence[Record]) -> int:
    """Store ``records``; raises if the engine refused any (sample data must load whole)."""
    report = store.put_many(records)
    if report.failed:
        first = report.failed[0]
        raise RuntimeError(
            f"the engine refused {len(report.failed)} sample records "
            f"(first: {first.kind} {first.record_id}: {first.error})"
        )
    return report.stored


def counts_table(store: RecordStore) -> Table:
    counts = store.counts()
    table = Table(title="indexed records")
    table.add_column("index")
    table.add_column("documents", justify="right")
    table.add_column("searchable", justify="right")
    for key, name in (("cases", store.names.cases), ("inbox_items", store.names.inbox_items)):
        table.add_row(name, str(counts[key]), str(counts[f"{key}_searchable"]))
    return table


def run_demo(services: Services, data: SampleData, *, console: Console) -> None:
    """Load, count; then detect on every sample Inbox Item, promote it, and report."""
    records = data.records
    organizations = sorted({r.organization for r in records})
    console.print(
        f"generated {sum(r.kind is Kind.case for r in records)} Cases and "
        f"{sum(r.kind is Kind.inbox_item for r in records)} Inbox Items "
        f"(seed {data.seed}, organizations {', '.join(organizations)})"
    )
    loaded = load(services.store, records)
    console.print(f"loaded {loaded} records into the {services.engine.kind} engine")
    console.print(counts_table(services.store))
    detections = detect_all(services, data)
    console.print(detections_table(detections))
    found = [d for d in detections if d.detection.has_matches]
    hits = sum(d.found_expected for d in detections)
    forbidden = sum(d.found_forbidden for d in detections)
    wanted = sum(d.expected for d in detections)
    console.print(
        f"detection: {len(found)} of {len(detections)} Inbox Items have potential matches; "
        f"{hits} of {wanted} planted duplicates/follow-ups were found; "
        f"{forbidden} records the rules forbid were returned"
    )
    if found:
        console.print(render.detection_tables(found[0].detection))
    promotions = promote_all(services, data, organizations)
    console.print(promotions_table(promotions))
    outcomes = Counter(p.final_state for p in promotions)
    console.print(
        "promotion: "
        + ", ".join(f"{n} {state}" for state, n in sorted(outcomes.items()))
        + f"; counts now: {_counts_line(services.store.counts())}"
    )


@dataclass(frozen=True)
class DemoDetection:
    """One sample Inbox Item's detection and how it compares with the planted truth."""

    item_id: str
    family: str
    detection: Detection
    expected: int
    found_expected: int
    found_forbidden: int


def detect_all(services: Services, data: SampleData) -> list[DemoDetection]:
    """Duplicate detection (PHI masked) for every sample Inbox Item."""
    out: list[DemoDetection] = []
    for query in data.queries:
        run = run_detection(
            services.engine,
            services.store,
            services.settings,
            query.source,
            show_phi=False,
            models=services.promotion.models,
        )
        returned = {m.record_id for m in run.detection.sections.all()}
        out.append(
            DemoDetection(
                item_id=query.source.id,
                family=query.family,
                detection=run.detection,
                expected=len(query.expected),
                found_expected=len(returned & set(query.expected)),
                found_forbidden=len(returned & set(query.must_not_match)),
            )
        )
    return out


def detections_table(detections: Sequence[DemoDetection]) -> Table:
    table = Table(title="duplicate detection on the sample Inbox Items")
    for column in ("item", "planted as", "ID", "subject", "possible", "top match", "truth"):
        table.add_column(
            column, justify="right" if column in ("ID", "subject", "possible") else "left"
        )
    for d in detections:
        sections = d.detection.sections
        top = next(iter(sections.all()), None)
        table.add_row(
            d.item_id,
            d.family,
            str(len(sections.id_matches)),
            str(len(sections.subject_matches)),
            str(len(sections.possible_matches)),
            f"{top.record_id} {top.badge or top.tag or ''}".strip() if top else "-",
            _truth(d),
        )
    return table


def _truth(d: DemoDetection) -> str:
    parts = []
    if d.expected:
        parts.append(f"found {d.found_expected}/{d.expected}")
    if d.found_forbidden:
        parts.append(f"{d.found_forbidden} forbidden!")
    return ", ".join(parts) or "-"


@dataclass(frozen=True)
class DemoPromotion:
    """What promoting one sample Inbox Item did."""

    item_id: str
    family: str
    promote: str
    decision: str
    result: str
    final_state: str


def promote_all(
    services: Services, data: SampleData, organizations: Sequence[str]
) -> list[DemoPromotion]:
    """Promote every sample Inbox Item as a processor would (P1-P3).

    No potential match: the Case is created. Potential matches: the decision a
    processor who knew the planted truth would take - mark a follow-up of the
    true original, mark a duplicate of it, or create a new Case for a near miss.
    """
    promotion = services.promotion
    promotion.ensure_indices()
    everyone = Principal(
        key_id="demo",
        organizations=frozenset(organizations),
        permissions=frozenset({"promote", "read_matches", "admin"}),
    )
    out: list[DemoPromotion] = []
    for query in data.queries:
        item_id = query.source.id
        principal = everyone.narrowed(query.source.organization)  # ids: per organization
        decision = "-"
        try:
            first = outcome_json(
                promotion.manual.promote(item_id, principal, f"demo-promote-{item_id}")
            )
            result = first
            if first["outcome"] == "potential_matches":
                action, target, target_type = _decision(query.family, query.expected, first)
                decision = f"{action} {target or ''}".strip()
                result = outcome_json(
                    promotion.decisions.decide(
                        item_id,
                        principal,
                        f"demo-decide-{item_id}",
                        DecisionRequest(action, target, target_type),
                    )
                )
            summary = result["outcome"] + (f" {result['case_id']}" if result.get("case_id") else "")
        except ServiceError as exc:
            first = {"outcome": "refused"}
            summary = f"refused: {exc.message}"
        stored = services.store.get(Kind.inbox_item, query.source.organization, item_id)
        out.append(
            DemoPromotion(
                item_id=item_id,
                family=query.family,
                promote=first["outcome"],
                decision=decision,
                result=summary,
                final_state=stored.record.state if stored else "?",
            )
        )
    return out


def _decision(
    family: str, expected: Sequence[str], outcome: dict[str, Any]
) -> tuple[DecisionAction, str | None, Literal["case", "inbox_item"] | None]:
    matches = [m for section in outcome["detection"]["sections"].values() for m in section]
    truth = next((m for m in matches if m["record_id"] in expected), None)
    if truth is None:
        return "create_new_case", None, None
    target_type: Literal["case", "inbox_item"] = truth["record_type"]
    if family == "follow_up" and target_type == "case":
        return "mark_follow_up", truth["record_id"], target_type
    return "mark_duplicate", truth["record_id"], target_type


def promotions_table(promotions: Sequence[DemoPromotion]) -> Table:
    table = Table(title="promotion of the sample Inbox Items")
    for column in ("item", "planted as", "promote", "decision", "result", "item state"):
        table.add_column(column)
    for p in promotions:
        table.add_row(p.item_id, p.family, p.promote, p.decision, p.result, p.final_state)
    return table


def _counts_line(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {n}" for name, n in counts.items())
