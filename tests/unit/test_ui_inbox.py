"""The Inbox's filters and its query (golden JSON in tests/golden/ui/).

Regenerate after an intended change with
``CASEMATCH_UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/test_ui_inbox.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from service.errors import InvalidInput
from service.ui.inbox import InboxFilter, inbox_query, parse_filter

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "ui"
UPDATE = os.environ.get("CASEMATCH_UPDATE_GOLDEN") == "1"
ORGS = ["ORG-B", "ORG-A"]

QUERIES = {
    "inbox_default": InboxFilter(),
    "inbox_all_filters": InboxFilter(
        state="duplicate",
        source="e2b",
        organization="ORG-A",
        received_from="2025-01-01",
        received_to="2025-03-31",
        q="II-00",
        page=3,
    ),
    "inbox_all_states_from_date": InboxFilter(state="all", received_from="2025-01-01"),
}


@pytest.mark.parametrize("name", sorted(QUERIES), ids=sorted(QUERIES))
def test_M1_inbox_query_matches_golden(name: str) -> None:
    actual = json.dumps(inbox_query(QUERIES[name], ORGS), indent=2, sort_keys=True) + "\n"
    path = GOLDEN / f"{name}.json"
    if UPDATE:
        path.write_text(actual)
    assert actual == path.read_text()


def test_M1_inbox_query_never_leaves_the_keys_organizations() -> None:
    query = inbox_query(InboxFilter(), ORGS)
    assert {"terms": {"organization": ["ORG-A", "ORG-B"]}} in query["query"]["bool"]["filter"]


def test_state_counts_ignore_the_state_filter() -> None:
    query = inbox_query(InboxFilter(state="duplicate"), ORGS)
    assert "state" not in json.dumps(query["query"])
    assert query["post_filter"] == {"bool": {"filter": [{"term": {"state": "duplicate"}}]}}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"state": "sleeping"}, "state"),
        ({"source": "fax"}, "source"),
        ({"organization": "ORG-Z"}, "organization"),
        ({"received_from": "01/02/2025"}, "received_from"),
        ({"received_to": "2025-13-01"}, "received_to"),
        ({"q": "Smith John"}, "q"),
        ({"page": "0"}, "page"),
        ({"page": "x"}, "page"),
        ({"page": "401"}, "page"),
    ],
    ids=[
        "unknown-state",
        "unknown-source",
        "other-organization",
        "date-not-iso",
        "date-invalid",
        "search-not-an-id",
        "page-zero",
        "page-not-a-number",
        "page-too-deep",
    ],
)
def test_bad_filter_is_422_naming_the_parameter(params: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_filter(params, ORGS)
    assert [d["field"] for d in caught.value.details] == [field]


def test_filter_round_trips_through_its_query_string() -> None:
    f = QUERIES["inbox_all_filters"]
    params = dict(pair.split("=") for pair in f.query_string().split("&"))
    assert parse_filter(params, ORGS) == f
    assert InboxFilter().query_string() == ""
    assert InboxFilter(state="new").query_string(page=2) == "state=new&page=2"
