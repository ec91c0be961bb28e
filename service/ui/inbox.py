"""The Inbox: a page of the caller's Inbox Items, filtered, with counts per state.

:func:`inbox_query` is a pure function (filters in, a search body out, golden-
tested); :func:`read_inbox` runs it on the store's Inbox Item alias. Only the
caller's organizations are ever searched (M1), whatever the filter says. The
list shows ids, states, sources, dates and organizations: no PHI.

    >>> f = InboxFilter(state="new", page=2)
    >>> inbox_query(f, ["ORG-A"], page_size=25)["from"]
    25
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any
from urllib.parse import urlencode

from indexer.records import InboxState, Source
from indexer.store import RecordStore
from service.errors import InvalidInput

PAGE_SIZE = 25
#: The deepest page the Inbox pages to (from + size stays under the engine's window).
MAX_PAGE = 400
#: States an Inbox Item is still open in (the ones a processor works on).
OPEN_STATES: tuple[str, ...] = tuple(
    s.value
    for s in InboxState
    if s.value not in {"promoted", "duplicate", "rejected", "superseded"}
)
ALL_STATES: tuple[str, ...] = tuple(s.value for s in InboxState)
SOURCES: tuple[str, ...] = tuple(s.value for s in Source)
#: ``state`` filter values besides a single state.
STATE_GROUPS = ("open", "all")
_ID_SEARCH = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")


@dataclass(frozen=True)
class InboxFilter:
    """The Inbox's filters, as read from the query string (all optional)."""

    state: str = "open"
    source: str = ""
    organization: str = ""
    received_from: str = ""
    received_to: str = ""
    q: str = ""
    page: int = 1

    def query_string(self, **changes: Any) -> str:
        """This filter as a query string (without defaults), with ``changes`` applied."""
        f = replace(self, **changes)
        pairs = {
            "state": f.state if f.state != "open" else "",
            "source": f.source,
            "organization": f.organization,
            "received_from": f.received_from,
            "received_to": f.received_to,
            "q": f.q,
            "page": str(f.page) if f.page != 1 else "",
        }
        return urlencode({k: v for k, v in pairs.items() if v})


def parse_filter(params: dict[str, str], organizations: Sequence[str]) -> InboxFilter:
    """Validate the query string; 422 naming each bad parameter."""
    errors: list[dict[str, Any]] = []

    def bad(name: str, error: str) -> None:
        errors.append({"field": name, "value": params.get(name), "error": error})

    state = params.get("state", "") or "open"
    if state not in STATE_GROUPS and state not in ALL_STATES:
        bad("state", f"one of {', '.join((*STATE_GROUPS, *ALL_STATES))}")
    source = params.get("source", "")
    if source and source not in SOURCES:
        bad("source", f"one of {', '.join(SOURCES)}")
    organization = params.get("organization", "")
    if organization and organization not in organizations:
        bad("organization", "not an organization of this API key")
    dates: dict[str, str] = {}
    for name in ("received_from", "received_to"):
        value = params.get(name, "")
        if value:
            try:
                date.fromisoformat(value)
            except ValueError:
                bad(name, "a date as YYYY-MM-DD")
        dates[name] = value
    q = params.get("q", "").strip()
    if q and not _ID_SEARCH.match(q):
        bad("q", "an id (letters, digits and -_.: only)")
    page_text = params.get("page", "") or "1"
    page = int(page_text) if page_text.isdigit() else 0
    if not 1 <= page <= MAX_PAGE:
        bad("page", f"a page number from 1 to {MAX_PAGE}")
    if errors:
        raise InvalidInput(errors)
    return InboxFilter(
        state=state,
        source=source,
        organization=organization,
        received_from=dates["received_from"],
        received_to=dates["received_to"],
        q=q,
        page=page,
    )


def _scope(f: InboxFilter, organizations: Sequence[str]) -> list[dict[str, Any]]:
    """Every filter but the state (the counts per state are taken over these)."""
    orgs = [f.organization] if f.organization else sorted(organizations)
    clauses: list[dict[str, Any]] = [
        {"terms": {"organization": orgs}},
        {"term": {"kind": "inbox_item"}},
    ]
    if f.source:
        clauses.append({"term": {"source": f.source}})
    if f.received_from or f.received_to:
        window = {"gte": f.received_from, "lte": f.received_to}
        clauses.append({"range": {"receipt_date": {k: v for k, v in window.items() if v}}})
    if f.q:
        clauses.append({"prefix": {"record_id": f.q}})
    return clauses


def _state_clause(state: str) -> list[dict[str, Any]]:
    if state == "all":
        return []
    if state == "open":
        return [{"terms": {"state": list(OPEN_STATES)}}]
    return [{"term": {"state": state}}]


def inbox_query(
    f: InboxFilter, organizations: Sequence[str], *, page_size: int = PAGE_SIZE
) -> dict[str, Any]:
    """The search body for one Inbox page: newest receipt first, then id.

    The state filter is a ``post_filter`` so that the ``states`` aggregation
    counts every state under the other filters (the counts beside the filter).
    """
    return {
        "query": {"bool": {"filter": _scope(f, organizations)}},
        "post_filter": {"bool": {"filter": _state_clause(f.state)}},
        "aggs": {"states": {"terms": {"field": "state", "size": len(ALL_STATES)}}},
        "sort": [{"receipt_date": {"order": "desc", "missing": "_last"}}, {"record_id": "asc"}],
        "from": (f.page - 1) * page_size,
        "size": page_size,
        "track_total_hits": True,
        "_source": ["record_id", "organization", "state", "source", "receipt_date", "report_type"],
    }


@dataclass(frozen=True)
class InboxRow:
    id: str
    organization: str
    state: str
    source: str
    receipt_date: str
    report_type: str


@dataclass(frozen=True)
class InboxPage:
    rows: list[InboxRow]
    total: int
    counts: dict[str, int]
    page: int
    pages: int

    @property
    def open_count(self) -> int:
        return sum(n for s, n in self.counts.items() if s in OPEN_STATES)

    @property
    def all_count(self) -> int:
        return sum(self.counts.values())


def read_inbox(
    store: RecordStore, f: InboxFilter, organizations: Sequence[str], *, page_size: int = PAGE_SIZE
) -> InboxPage:
    """Run :func:`inbox_query`: the page's rows, the total and the counts per state."""
    res = store.engine.search(
        store.names.inbox_items, inbox_query(f, organizations, page_size=page_size)
    )
    hits = res["hits"]["hits"]
    total_raw = res["hits"]["total"]
    total = int(total_raw["value"] if isinstance(total_raw, dict) else total_raw)
    buckets = res.get("aggregations", {}).get("states", {}).get("buckets", [])
    counts = {str(b["key"]): int(b["doc_count"]) for b in buckets}
    rows = [
        InboxRow(
            id=str(h["_source"]["record_id"]),
            organization=str(h["_source"].get("organization", "")),
            state=str(h["_source"].get("state", "")),
            source=str(h["_source"].get("source") or ""),
            receipt_date=str(h["_source"].get("receipt_date") or ""),
            report_type=str(h["_source"].get("report_type") or ""),
        )
        for h in hits
    ]
    pages = max(1, -(-total // page_size))
    return InboxPage(rows=rows, total=total, counts=counts, page=f.page, pages=pages)
