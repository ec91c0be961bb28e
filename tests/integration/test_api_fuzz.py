"""Issue 12 item 10: schemathesis fuzzes the API from its own OpenAPI document.

Every operation gets positive (schema-valid) and negative (schema-violating)
requests; a stateful run follows the OpenAPI links store -> duplicate-check ->
promote -> decision. Every response is checked for: no 5xx, conformance to the
documented schema, and never the PHI marker planted in requests and seeded
records (the fuzzing key has no ``read_phi``).

The default run is bounded (``FUZZ_EXAMPLES`` examples per operation and mode,
a short stateful run): about a minute on two cores. A longer run::

    CASEMATCH_FUZZ_EXAMPLES=500 CASEMATCH_FUZZ_STEPS=50 .venv/bin/pytest -q tests/integration/test_api_fuzz.py
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from indexer.engine import Engine
from indexer.store import IndexNames, RecordStore
from service.app import Services, create_app
from service.settings import ApiKey, Settings

pytestmark = pytest.mark.integration

FUZZ_EXAMPLES = int(os.environ.get("CASEMATCH_FUZZ_EXAMPLES", "12"))
FUZZ_STEPS = int(os.environ.get("CASEMATCH_FUZZ_STEPS", "6"))
STATEFUL_EXAMPLES = int(os.environ.get("CASEMATCH_FUZZ_STATEFUL", "15"))

MARKER = "ZQXPHIMARKER"
KEY = "fuzz-writer"
HEADERS = {"X-API-Key": KEY}
KEYS = {
    KEY: ApiKey(organizations=["ORG-A"], permissions=["promote", "admin"], name="fuzz"),
    "seed-phi": ApiKey(organizations=["ORG-A"], permissions=["promote", "read_phi"], name="seed"),
}


def _seed(organization: str, record_id: str) -> dict[str, Any]:
    return {
        "id": record_id,
        "organization": organization,
        "receipt_date": "2025-03-01",
        "identifiers": {"wwuid": f"US-ACME-{record_id}"},
        "patient": {
            "initials": MARKER[:3],
            "first_name": MARKER,
            "last_name": MARKER,
            "mrn": {"hospital": MARKER},
        },
        "reporter": {"first_name": MARKER, "last_name": MARKER},
        "products": [{"product": "PRD-17", "rank": 1}],
        "events": [{"event_reported": "headache", "rank": 1}],
    }


@pytest.fixture
def app(engine: Engine, index_names: IndexNames, tmp_path: Path) -> Iterator[FastAPI]:
    config = Settings(index_prefix=index_names.prefix, data_dir=tmp_path, api_keys=KEYS)
    store = RecordStore(engine, index_names)
    store.ensure_indices()
    application = create_app(config, services=Services(settings=config, engine=engine, store=store))
    with TestClient(application) as client:
        seeded = {"X-API-Key": "seed-phi"}
        for i in range(3):
            res = client.post("/v1/inbox-items", json=_seed("ORG-A", f"II-{i}"), headers=seeded)
            assert res.status_code == 201, res.text
        res = client.post(
            "/v1/cases", json={**_seed("ORG-A", "C-0"), "kind": "case"}, headers=seeded
        )
        assert res.status_code == 201, res.text
        yield application


def _plant(case: Case) -> Case:
    """Put the PHI marker into the patient of any record body the fuzzer built."""
    bodies = case.body if isinstance(case.body, list) else [case.body]
    for body in bodies:
        if isinstance(body, dict) and isinstance(body.get("patient"), dict):
            body["patient"]["first_name"] = MARKER
    return case


def no_phi_marker(ctx: Any, response: Any, case: Case) -> bool | None:
    """The fuzzing key has no read_phi: the planted marker must never come back."""
    if MARKER in response.text:
        raise AssertionError(f"PHI marker returned by {case.method} {case.path}")
    return None


def _check(case: Case) -> None:
    response = case.call(headers=HEADERS)
    case.validate_response(
        response,
        checks=[not_a_server_error, response_schema_conformance],
        additional_checks=[no_phi_marker],
    )


def _operations(app: FastAPI) -> list[Any]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize(
    "mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["positive", "negative"]
)
def test_every_operation_fuzzed_never_5xx_conforms_and_keeps_phi_masked(
    app: FastAPI, mode: GenerationMode
) -> None:
    operations = _operations(app)
    assert len(operations) >= 18
    for operation in operations:
        strategy = operation.as_strategy(generation_mode=mode).map(_plant)

        @settings(
            max_examples=FUZZ_EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def run(case: Case) -> None:
            _check(case)

        run()


def test_stateful_links_store_check_promote_decide(app: FastAPI) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    base = schema.as_state_machine()

    class Workflow(base):  # type: ignore[misc, valid-type]
        def call(self, case: Case, **kwargs: Any) -> Any:
            return case.call(headers=HEADERS, **kwargs)

        def get_call_kwargs(self, case: Case) -> dict[str, Any]:
            return {}

        def validate_response(self, response: Any, case: Case, **kwargs: Any) -> None:
            case.validate_response(
                response,
                checks=[not_a_server_error, response_schema_conformance],
                additional_checks=[no_phi_marker],
            )

    Workflow.run(
        settings=settings(
            max_examples=STATEFUL_EXAMPLES,
            stateful_step_count=FUZZ_STEPS,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )


def test_the_marker_check_can_fail(app: FastAPI) -> None:
    """The PHI check is real: a key with read_phi does see the seeded marker."""
    with TestClient(app) as client:
        res = client.get("/v1/inbox-items/II-0", headers={"X-API-Key": "seed-phi"})
        assert MARKER in res.text
        masked = client.get("/v1/inbox-items/II-0", headers=HEADERS)
        assert masked.status_code == 200 and MARKER not in masked.text


_ = st  # strategies are built by schemathesis
