"""Which request bodies the HTTP edge accepts per route (service.limits): JSON for the API,
E2B XML/ZIP for the record stores too, URL-encoded forms for the review page only."""

from __future__ import annotations

import pytest

from service.limits import accepted

CASES = [
    ("/v1/inbox-items", "application/json", True),
    ("/v1/inbox-items", "application/zip", True),
    ("/v1/inbox-items/II-1/decision", "application/json; charset=utf-8", True),
    ("/v1/inbox-items/II-1/decision", "application/x-www-form-urlencoded", False),
    ("/v1/cases/C-1/state", "text/plain", False),
    ("/ui/sign-in", "application/x-www-form-urlencoded", True),
    ("/ui/items/II-1/decide", "application/x-www-form-urlencoded; charset=utf-8", True),
    ("/ui/items/II-1/decide", "application/json", False),
    ("/ui/auto-promote", "multipart/form-data; boundary=x", False),
    ("/ui/sign-in", None, False),
]


@pytest.mark.parametrize(
    ("path", "content_type", "ok"),
    CASES,
    ids=[f"{p}-{(c or 'none').split(';')[0]}" for p, c, _ in CASES],
)
def test_content_type_accepted_per_route(path: str, content_type: str | None, ok: bool) -> None:
    assert accepted(path, content_type) is ok
