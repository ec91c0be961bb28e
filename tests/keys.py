"""API keys and principals for tests: two organizations, graded permissions.

``KEYS`` configures the API in integration tests (``auth(name)`` is the header
that uses one); the principals stand for callers of the service layer directly.
"""

from __future__ import annotations

from service.auth import Principal
from service.settings import ApiKey, Permission

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


def principal(
    *permissions: Permission, orgs: tuple[str, ...] = ("ORG-A",), key_id: str = "t"
) -> Principal:
    """A caller of the service layer with these permissions in these organizations."""
    return Principal(
        key_id=key_id, organizations=frozenset(orgs), permissions=frozenset(permissions)
    )


WRITER = principal("promote", key_id="writer")
PHI_WRITER = principal("promote", "read_phi", key_id="phi-writer")
OTHER_ORG = principal("promote", orgs=("ORG-B",), key_id="b-writer")
