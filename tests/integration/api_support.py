"""API keys and headers shared by the API tests (two organizations, graded permissions)."""

from __future__ import annotations

from service.settings import ApiKey

KEYS = {
    "a-writer": ApiKey(organizations=["ORG-A"], permissions=["promote"], name="a-writer"),
    "a-reader": ApiKey(organizations=["ORG-A"], permissions=["read_matches"], name="a-reader"),
    "a-phi": ApiKey(
        organizations=["ORG-A"], permissions=["read_matches", "read_phi"], name="a-phi"
    ),
    "a-nothing": ApiKey(organizations=["ORG-A"], permissions=[], name="a-nothing"),
    "b-writer": ApiKey(organizations=["ORG-B"], permissions=["promote"], name="b-writer"),
}


def auth(key: str) -> dict[str, str]:
    return {"X-API-Key": key}
