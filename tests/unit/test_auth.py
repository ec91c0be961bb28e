"""API keys, permissions, masking and error details: the service's pure parts (no engine)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from indexer.records import PHI_FIELDS, Record
from service.auth import key_id, resolve_key
from service.errors import Forbidden, InvalidInput, Unauthorized, request_error_details
from service.records import mask_record, parse_batch
from service.settings import ApiKey, Permission
from tests.keys import principal

KEYS = {
    "key-one": ApiKey(organizations=["ORG-A"], permissions=["read_matches"], name="one"),
    "key-two": ApiKey(organizations=["ORG-A", "ORG-B"], permissions=["promote", "read_phi"]),
}


# -- keys ------------------------------------------------------------------------------


def test_a_known_key_resolves_to_its_organizations_and_permissions() -> None:
    p = resolve_key("key-two", KEYS)
    assert p.organizations == {"ORG-A", "ORG-B"}
    assert p.permissions == {"promote", "read_phi"}


@pytest.mark.parametrize(
    ("presented", "message"),
    [(None, "missing X-API-Key"), ("", "missing X-API-Key"), ("key-on", "invalid X-API-Key")],
    ids=["absent", "empty", "prefix-of-a-key"],
)
def test_unknown_or_missing_keys_are_unauthorized(presented: str | None, message: str) -> None:
    with pytest.raises(Unauthorized, match=message):
        resolve_key(presented, KEYS)


def test_with_no_keys_configured_the_message_says_how_to_configure_them() -> None:
    with pytest.raises(Unauthorized, match="CASEMATCH_API_KEYS"):
        resolve_key("anything", {})


def test_key_id_never_reveals_the_key() -> None:
    assert key_id("key-one", KEYS["key-one"]) == "one"
    anonymous = key_id("key-two", KEYS["key-two"])
    assert anonymous.startswith("key-") and "key-two" not in anonymous


# -- permissions -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("held", "required", "allowed"),
    [
        (("read_matches",), "read_matches", True),
        (("promote",), "read_matches", True),
        (("admin",), "read_matches", True),
        (("admin",), "promote", True),
        (("read_matches",), "promote", False),
        (("read_phi",), "read_matches", False),
        (("admin",), "read_phi", False),
        (("promote", "read_matches"), "read_phi", False),
        (("read_phi",), "read_phi", True),
        ((), "read_matches", False),
    ],
    ids=[
        "reader-reads",
        "promoter-reads",
        "admin-reads",
        "admin-promotes",
        "reader-cannot-promote",
        "phi-alone-cannot-read-records",
        "admin-does-not-imply-phi",
        "promoter-does-not-imply-phi",
        "phi-is-explicit",
        "nothing",
    ],
)
def test_permission_implications(
    held: tuple[Permission, ...], required: Permission, allowed: bool
) -> None:
    assert principal(*held).can(required) is allowed


@pytest.mark.parametrize(
    ("held", "mask_phi", "sees"),
    [((), True, False), (("read_phi",), True, True), ((), False, True)],
    ids=["masked", "read_phi-unmasks", "masking-off"],
)
def test_M20_who_sees_phi(held: tuple[Permission, ...], mask_phi: bool, sees: bool) -> None:
    assert principal(*held).sees_phi(mask_phi) is sees


def test_another_organization_is_forbidden_naming_it() -> None:
    with pytest.raises(Forbidden, match="ORG-B"):
        principal("promote").check_organization("ORG-B")
    principal("promote").check_organization("ORG-A")


# -- masking (M20) -------------------------------------------------------------------------

FULL: dict[str, Any] = {
    "id": "II-1",
    "kind": "inbox_item",
    "organization": "ORG-A",
    "patient": {
        "initials": "JS",
        "first_name": "Jane",
        "last_name": "Smith",
        "sex": "female",
        "dob": "1980-06",
        "age": {"value": 44, "unit": "year"},
        "mrn": {"gp": "G1", "specialist": "S1", "hospital": "H1", "investigation": "I1"},
        "edc_subject": "SITE-04-0117",
    },
    "reporter": {"first_name": "Jacob", "last_name": "Smith", "country": "US", "organization": "X"},
    "events": [{"onset": "2025-02-20", "event_reported": "headache"}, {"onset": None}],
    "narrative": "Jane Smith (DOB 1980-06) developed a headache.",
}


def _value(data: dict[str, Any], path: str) -> list[Any]:
    head, _, rest = path.partition(".")
    node = data.get(head)
    nodes = node if isinstance(node, list) else [node]
    if not rest:
        return nodes
    return [v for n in nodes if isinstance(n, dict) for v in _value(n, rest)]


@pytest.mark.parametrize("field", sorted(PHI_FIELDS))
def test_M20_mask_record_masks_every_phi_field(field: str) -> None:
    masked = mask_record(FULL)
    values = [v for v in _value(masked, field) if v is not None]
    assert values and all(v == "***" for v in values)


@pytest.mark.parametrize(
    "field",
    ["narrative", "patient.edc_subject", "reporter.organization"],
    ids=["narrative", "edc-subject", "reporter-organization"],
)
def test_M20_free_text_with_patient_data_is_masked(field: str) -> None:
    """Issue 12: these came back in clear to keys without ``read_phi``."""
    assert _value(mask_record(FULL), field) == ["***"]


def test_M20_mask_record_keeps_the_rest_and_the_input() -> None:
    masked = mask_record(FULL)
    assert masked["patient"]["age"] == {"value": 44, "unit": "year"}
    assert masked["events"][0]["event_reported"] == "headache"
    assert masked["events"][1]["onset"] is None  # absent stays absent
    assert FULL["patient"]["dob"] == "1980-06"  # the input is not modified


# -- batches and error details ---------------------------------------------------------------


def test_parse_batch_fills_the_kind_from_the_route() -> None:
    (record,) = parse_batch({"id": "C-1", "organization": "ORG-A"}, "case")
    assert isinstance(record, Record) and record.kind.value == "case"


def test_parse_batch_reports_every_bad_item_with_its_index() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_batch(
            [
                {"id": "II-1", "organization": "ORG-A"},
                {"id": "II-2", "organization": "ORG-A", "patient": {"dob": "2999-01-01"}},
                {"id": "II-3"},
            ],
            "inbox_item",
        )
    fields = [d["field"] for d in caught.value.details]
    assert fields == ["[1].patient.dob", "[2].organization"]
    assert "2999" not in str(caught.value.details)


def test_request_error_details_mask_phi_and_drop_the_body_prefix() -> None:
    try:
        Record.model_validate(
            {"id": "x", "kind": "case", "organization": "O", "patient": {"sex": 5}}
        )
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
    details = request_error_details(errors)
    assert details[0]["field"] == "patient.sex"
    assert details[0]["value"] == "***"
