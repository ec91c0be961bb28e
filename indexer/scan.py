"""Reading an organization's searchable Cases page by page, as retrieval reads candidates.

The audit (``service/audit.py``) reads every Case of an organization once, and training
(``service/models.py``) every searchable record: each page is
one search on the cases alias through :meth:`Engine.search`, sorted by ``_id`` and
continued with ``search_after`` (so a read can stop and resume at the last ``_id``), and
returns, like retrieval, each hit's match view and retrieval keys from doc values (no
``_source``). Only searchable documents are read (M7: superseded versions and records in
a closed state hold no keys and are never candidates); ``since``/``until`` narrow the
read to a receipt-date range.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from indexer.store import RecordStore

#: Hits per page.
PAGE_SIZE = 2_000


@dataclass(frozen=True, slots=True)
class Page:
    """One page: each hit's (match view, retrieval keys), and where the next page starts."""

    views: list[tuple[str, list[str]]]
    after: list[Any] | None


def scan_query(
    organization: str, since: date | None = None, until: date | None = None
) -> dict[str, Any]:
    """The filter of an audit's read: the organization's searchable Cases, by receipt date."""
    filters: list[dict[str, Any]] = [
        {"term": {"organization": organization}},
        {"term": {"searchable": True}},
    ]
    if since is not None or until is not None:
        bounds: dict[str, str] = {}
        if since is not None:
            bounds["gte"] = since.isoformat()
        if until is not None:
            bounds["lte"] = until.isoformat()
        filters.append({"range": {"receipt_date": bounds}})
    return {"bool": {"filter": filters}}


def count_cases(
    store: RecordStore, organization: str, since: date | None = None, until: date | None = None
) -> int:
    """How many Cases an audit of these bounds reads."""
    return store.engine.count(store.names.cases, scan_query(organization, since, until))


def scan_views(
    store: RecordStore,
    index: str,
    query: dict[str, Any],
    *,
    after: list[Any] | None = None,
    page_size: int = PAGE_SIZE,
) -> Iterator[Page]:
    """The documents of ``index`` that ``query`` selects, a page at a time, from ``after``
    (a page's ``after``) or the start: each one's match view and retrieval keys."""
    while True:
        body: dict[str, Any] = {
            "size": page_size,
            "sort": [{"_id": "asc"}],
            "_source": False,
            "docvalue_fields": ["match_view", "keys"],
            "track_total_hits": False,
            "query": query,
        }
        if after is not None:
            body["search_after"] = after
        hits = store.engine.search(index, body)["hits"]["hits"]
        if not hits:
            return
        after = hits[-1]["sort"]
        views = [
            (hit["fields"]["match_view"][0], list(hit["fields"].get("keys") or ())) for hit in hits
        ]
        yield Page(views, after)
        if len(hits) < page_size:
            return


def scan_cases(
    store: RecordStore,
    organization: str,
    since: date | None = None,
    until: date | None = None,
    *,
    after: list[Any] | None = None,
    page_size: int = PAGE_SIZE,
) -> Iterator[Page]:
    """The organization's searchable Cases, a page at a time, from ``after`` (a page's
    ``after``) or the start."""
    query = scan_query(organization, since, until)
    return scan_views(store, store.names.cases, query, after=after, page_size=page_size)


def training_views(
    store: RecordStore, organization: str, *, page_size: int = PAGE_SIZE
) -> Iterator[tuple[str, list[str]]]:
    """The match view and retrieval keys of every searchable record of ``organization``
    (latest Case versions and open Inbox Items: what detection compares), Cases first, for
    training a match model (``matcher.training``)."""
    for alias in store.names.record_aliases:
        for page in scan_views(store, alias, scan_query(organization), page_size=page_size):
            yield from page.views
