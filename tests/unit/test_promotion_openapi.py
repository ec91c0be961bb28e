"""The OpenAPI document types every promotion response (issue: OpenAPI showed ``{}``).

Built from the app's routes without starting it (no engine needed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from service.app import create_app
from service.settings import Settings

#: Every promotion operation (method, path) the API serves.
OPERATIONS = [
    ("post", "/v1/inbox-items/{item_id}/promote"),
    ("post", "/v1/inbox-items/{item_id}/decision"),
    ("post", "/v1/inbox-items/{item_id}/promote-multiple"),
    ("post", "/v1/inbox-items/{item_id}/auto-promote"),
    ("post", "/v1/auto-promote"),
    ("post", "/v1/inbox-items/{item_id}/unmark-follow-up"),
    ("post", "/v1/inbox-items/{item_id}/reset-to-new"),
    ("post", "/v1/inbox-items/{item_id}/state"),
    ("post", "/v1/cases/{case_id}/state"),
    ("get", "/v1/inbound-transmissions/{transmission_id}"),
    ("get", "/v1/inbox-items/{item_id}/audit"),
    ("get", "/v1/cases/{case_id}/audit"),
]


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    data_dir: Path = tmp_path_factory.mktemp("openapi")
    doc: dict[str, Any] = create_app(Settings(data_dir=data_dir, api_keys={})).openapi()
    return doc


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The object schemas a response schema stands for (refs, unions and arrays followed)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return _resolve(doc, doc["components"]["schemas"][name])
    if "oneOf" in schema or "anyOf" in schema:
        return [s for part in schema.get("oneOf", schema.get("anyOf")) for s in _resolve(doc, part)]
    if schema.get("type") == "array":
        return _resolve(doc, schema["items"])
    return [schema]


def test_the_promotion_operations_are_all_listed(document: dict[str, Any]) -> None:
    tagged = {
        (method, path)
        for path, ops in document["paths"].items()
        for method, op in ops.items()
        if "promotion" in op.get("tags", [])
    }
    assert tagged == set(OPERATIONS)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_promotion_response_schema_is_empty(
    document: dict[str, Any], method: str, path: str
) -> None:
    responses = document["paths"][path][method]["responses"]
    assert any(code.startswith("2") for code in responses)
    for code, response in responses.items():
        schema = response.get("content", {}).get("application/json", {}).get("schema")
        assert schema, f"{method} {path} {code}: no response schema"
        for part in _resolve(document, schema):
            assert part.get("properties"), f"{method} {path} {code}: untyped {part}"


@pytest.mark.parametrize(
    ("path", "outcomes"),
    [
        ("/v1/inbox-items/{item_id}/promote", {"case_created", "potential_matches"}),
        (
            "/v1/inbox-items/{item_id}/decision",
            {"case_created", "follow_up_created", "marked_duplicate", "marked_follow_up"},
        ),
        (
            "/v1/inbox-items/{item_id}/auto-promote",
            {"case_created", "missing_information", "marked_as_follow_up", "promotion_failed"},
        ),
    ],
    ids=["promote", "decision", "auto-promote"],
)
def test_each_outcome_of_an_action_is_documented(
    document: dict[str, Any], path: str, outcomes: set[str]
) -> None:
    schema = document["paths"][path]["post"]["responses"]["200"]["content"]["application/json"]
    documented = {
        part["properties"]["outcome"]["const"] for part in _resolve(document, schema["schema"])
    }
    assert outcomes <= documented
