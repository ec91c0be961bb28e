"""OpenAPI links between operations: what a response lets a client call next.

``store -> duplicate-check -> promote -> decision`` (and the reads along the
way) are declared as OpenAPI ``links`` so that clients and the stateful API
fuzzer (schemathesis, in the test suite) can follow a record through its
workflow. Links are added to the 2xx responses an operation documents.
"""

from __future__ import annotations

from typing import Any

_ITEM_FROM_STORE = {"item_id": "$response.body#/ids/0"}
_RECORD_FROM_STORE = {"record_id": "$response.body#/ids/0"}
_CASE_FROM_STORE = {"case_id": "$response.body#/ids/0"}
_ITEM_FROM_PATH = {"item_id": "$request.path.item_id"}
_RECORD_FROM_PATH = {"record_id": "$request.path.item_id"}

_ITEM_NEXT = ("duplicate-check", "promote", "decision", "state", "auto-promote", "audit")

#: (method, path) of the source -> {link name: (method, path) of the target, parameters}
LINKS: dict[tuple[str, str], dict[str, tuple[str, str, dict[str, str]]]] = {
    ("post", "/v1/inbox-items"): {
        "GetInboxItem": ("get", "/v1/inbox-items/{record_id}", _RECORD_FROM_STORE),
        "DuplicateCheck": (
            "post",
            "/v1/inbox-items/{item_id}/duplicate-check",
            _ITEM_FROM_STORE,
        ),
        "Promote": ("post", "/v1/inbox-items/{item_id}/promote", _ITEM_FROM_STORE),
        "Decision": ("post", "/v1/inbox-items/{item_id}/decision", _ITEM_FROM_STORE),
        "SetState": ("post", "/v1/inbox-items/{item_id}/state", _ITEM_FROM_STORE),
        "ItemAudit": ("get", "/v1/inbox-items/{item_id}/audit", _ITEM_FROM_STORE),
    },
    ("post", "/v1/inbox-items/{item_id}/duplicate-check"): {
        "Promote": ("post", "/v1/inbox-items/{item_id}/promote", _ITEM_FROM_PATH),
        "Decision": ("post", "/v1/inbox-items/{item_id}/decision", _ITEM_FROM_PATH),
    },
    ("post", "/v1/inbox-items/{item_id}/promote"): {
        "Decision": ("post", "/v1/inbox-items/{item_id}/decision", _ITEM_FROM_PATH),
        "GetInboxItem": ("get", "/v1/inbox-items/{record_id}", _RECORD_FROM_PATH),
        "ItemAudit": ("get", "/v1/inbox-items/{item_id}/audit", _ITEM_FROM_PATH),
    },
    ("post", "/v1/inbox-items/{item_id}/decision"): {
        "GetInboxItem": ("get", "/v1/inbox-items/{record_id}", _RECORD_FROM_PATH),
        "ItemAudit": ("get", "/v1/inbox-items/{item_id}/audit", _ITEM_FROM_PATH),
    },
    ("post", "/v1/cases"): {
        "GetCase": ("get", "/v1/cases/{record_id}", _RECORD_FROM_STORE),
        "SetCaseState": ("post", "/v1/cases/{case_id}/state", _CASE_FROM_STORE),
        "CaseAudit": ("get", "/v1/cases/{case_id}/audit", _CASE_FROM_STORE),
    },
}


def add_links(schema: dict[str, Any]) -> dict[str, Any]:
    """Add :data:`LINKS` to ``schema`` (in place; returned for chaining)."""
    paths = schema.get("paths", {})
    for (method, path), links in LINKS.items():
        operation = paths.get(path, {}).get(method)
        if operation is None:
            continue
        declared: dict[str, Any] = {}
        for name, (target_method, target_path, parameters) in links.items():
            target = paths.get(target_path, {}).get(target_method)
            if target is None or "operationId" not in target:
                continue
            declared[name] = {"operationId": target["operationId"], "parameters": parameters}
        for status, response in operation.get("responses", {}).items():
            if str(status).startswith("2") and declared:
                response.setdefault("links", {}).update(declared)
    return schema
