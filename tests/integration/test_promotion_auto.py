"""Automated Case promotion on the embedded engine: P10-P16."""

from __future__ import annotations

from typing import Any

import pytest

from indexer.store import RecordStore
from service.promotion.errors import ActionRefusedError, TransitionError
from service.settings import TransmissionProfile
from tests.integration.promotion_support import WRITER, case, item, service

SERIOUS = [{"event_reported": "stroke", "rank": 1, "seriousness": ["hospitalization"]}]


def _svc(store: RecordStore, **profile: Any):  # type: ignore[no-untyped-def]
    return service(store, transmission_profiles={"default": TransmissionProfile(**profile)})


def test_P10_invalid_item_goes_to_missing_information(store: RecordStore) -> None:
    svc = _svc(store)
    store.put(item("II-1", products=[{"product_reported": "aspirin", "rank": 1}]))
    out = svc.auto_promote("II-1", WRITER, "op-1")
    assert out["state"] == "missing_information"
    assert out["validation_errors"] == ["products: no primary company product with rank 1"]
    t = svc.transmission("IT-II-1", WRITER)
    assert (t["state"], t["validation_errors"]) == ("validation_error", out["validation_errors"])
    stored = store.get("inbox_item", "ORG-A", "II-1").record
    assert "primary company product" in stored.links["automation_message"]


def test_P11_no_matching_case_identifier_promotes_to_initial_case(store: RecordStore) -> None:
    svc = _svc(store)
    store.put(item("II-1"))
    out = svc.auto_promote("II-1", WRITER, "op-1")
    assert (out["outcome"], out["case_id"], out["state"]) == (
        "case_created",
        "CASE-II-1",
        "promoted",
    )
    assert "automation_message" not in store.get("inbox_item", "ORG-A", "II-1").record.links


def test_P12_in_flight_match_is_marked_as_follow_up(store: RecordStore) -> None:
    svc = _svc(store)
    store.put(case("C-1", state="in_progress", identifiers={"case_identifiers": ["ACME-1"]}))
    store.put(item("II-1", identifiers={"case_identifiers": ["acme-1"]}))
    out = svc.auto_promote("II-1", WRITER, "op-1")
    assert (out["state"], out["case_id"]) == ("marked_as_follow_up", "C-1")
    assert store.get("case", "ORG-A", "C-1").record.version == 1  # no Case created
    assert store.get("inbox_item", "ORG-A", "II-1").record.links["follow_up_of"] == "C-1"


@pytest.mark.parametrize(
    ("events", "profile", "expected"),
    [
        (SERIOUS, {"merge_method_serious": "smart"}, ("promoted", "smart")),
        (SERIOUS, {"merge_method_serious": "override"}, ("promoted", "override")),
        (SERIOUS, {"merge_method_serious": "manual"}, ("marked_as_follow_up", None)),
        (
            [{"event_reported": "rash", "rank": 1}],
            {"merge_method_non_serious": "override", "merge_method_serious": "smart"},
            ("promoted", "override"),
        ),
        (
            [{"event_reported": "rash", "rank": 1}],
            {"merge_method_non_serious": "manual", "merge_method_serious": "smart"},
            ("marked_as_follow_up", None),
        ),
    ],
    ids=[
        "serious-smart",
        "serious-override",
        "serious-manual",
        "non-serious-override",
        "non-serious-manual",
    ],
)
def test_P13_merge_method_by_seriousness(
    store: RecordStore, events: list[Any], profile: dict[str, Any], expected: tuple[str, str | None]
) -> None:
    svc = _svc(store, **profile)
    store.put(
        case(
            "C-1",
            state="approved",
            identifiers={"case_identifiers": ["ACME-1"]},
            narrative="Initial narrative.",
            documents=["doc-1"],
        )
    )
    store.put(
        item(
            "II-1",
            identifiers={"case_identifiers": ["ACME-1"]},
            events=events,
            narrative="Follow-up narrative.",
            documents=["doc-2"],
        )
    )
    out = svc.auto_promote("II-1", WRITER, "op-1")
    assert (out["state"], out.get("merge_method")) == expected
    if expected[0] == "promoted":
        latest = store.get("case", "ORG-A", "C-1").record
        assert latest.version == 2 and latest.documents == (
            ["doc-1", "doc-2"] if expected[1] == "smart" else ["doc-2", "doc-1"]
        )
        assert latest.narrative is not None and "Initial narrative." in latest.narrative
    else:
        stored = store.get("inbox_item", "ORG-A", "II-1").record
        assert (
            stored.links["follow_up_of"] == "C-1"
            and "manual merge" in stored.links["automation_message"]
        )


def test_P14_manual_with_mark_prohibited_state_fails(store: RecordStore) -> None:
    svc = _svc(
        store,
        merge_method_serious="manual",
        allow_mark_follow_up_prohibited_states=["medical_review"],
    )
    store.put(case("C-1", state="medical_review", identifiers={"case_identifiers": ["ACME-1"]}))
    store.put(item("II-1", identifiers={"case_identifiers": ["ACME-1"]}, events=SERIOUS))
    out = svc.auto_promote("II-1", WRITER, "op-1")
    assert (out["state"], out["case_id"]) == ("promotion_failed", "C-1")
    assert "prohibits mark as follow-up" in out["automation_message"]


@pytest.mark.parametrize("method", ["smart", "override"])
def test_P14_smart_or_override_with_mark_prohibited_state_creates_follow_up(
    store: RecordStore, method: str
) -> None:
    svc = _svc(
        store,
        merge_method_serious=method,
        allow_mark_follow_up_prohibited_states=["medical_review"],
    )
    store.put(case("C-1", state="medical_review", identifiers={"case_identifiers": ["ACME-1"]}))
    store.put(item("II-1", identifiers={"case_identifiers": ["ACME-1"]}, events=SERIOUS))
    out = svc.auto_promote("II-1", WRITER, "op-1")
    assert (out["outcome"], out["case_version"]) == ("follow_up_created", 2)


def test_P14_follow_up_prohibited_state_fails_linked_to_case(store: RecordStore) -> None:
    svc = _svc(store, merge_method_serious="smart", follow_up_prohibited_states=["closed"])
    store.put(case("C-1", state="closed", identifiers={"case_identifiers": ["ACME-1"]}))
    store.put(item("II-1", identifiers={"case_identifiers": ["ACME-1"]}, events=SERIOUS))
    out = svc.auto_promote("II-1", WRITER, "op-1")
    assert out["state"] == "promotion_failed"
    assert store.get("inbox_item", "ORG-A", "II-1").record.links["failed_case_id"] == "C-1"


def test_P14_void_case_fails(store: RecordStore) -> None:
    svc = _svc(store, merge_method_serious="smart")
    store.put(case("C-1", state="void", identifiers={"case_identifiers": ["ACME-1"]}))
    store.put(item("II-1", identifiers={"case_identifiers": ["ACME-1"]}, events=SERIOUS))
    assert svc.auto_promote("II-1", WRITER, "op-1")["state"] == "promotion_failed"


def test_P15_several_open_cases_with_the_identifier_fail(store: RecordStore) -> None:
    svc = _svc(store)
    store.put(case("C-1", state="approved", identifiers={"case_identifiers": ["ACME-1"]}))
    store.put(case("C-2", state="approved", identifiers={"case_identifiers": ["ACME-1", "X"]}))
    store.put(item("II-1", identifiers={"case_identifiers": ["ACME-1"]}))
    out = svc.auto_promote("II-1", WRITER, "op-1")
    assert out["state"] == "promotion_failed" and "C-1, C-2" in out["automation_message"]


def test_P15_superseded_versions_do_not_count(store: RecordStore) -> None:
    svc = _svc(store, merge_method_non_serious="smart")
    store.put(case("C-1", state="approved", identifiers={"case_identifiers": ["ACME-1"]}))
    store.put(
        case("C-1", version=2, state="approved", identifiers={"case_identifiers": ["ACME-1"]})
    )
    store.put(item("II-1", identifiers={"case_identifiers": ["ACME-1"]}))
    out = svc.auto_promote("II-1", WRITER, "op-1")
    assert (out["outcome"], out["case_version"]) == ("follow_up_created", 3)


def test_P16_failed_items_are_not_retried_until_reset(store: RecordStore) -> None:
    svc = _svc(store)
    store.put(case("C-1", state="void", identifiers={"case_identifiers": ["ACME-1"]}))
    store.put(item("II-1", identifiers={"case_identifiers": ["ACME-1"]}))
    assert svc.auto_promote("II-1", WRITER, "op-1")["state"] == "promotion_failed"
    store.put(item("II-2"))
    run = svc.auto_promote_run(WRITER)
    assert run["processed"] == 1 and run["by_state"] == {"promoted": 1}
    assert store.get("inbox_item", "ORG-A", "II-1").record.state == "promotion_failed"
    with pytest.raises(TransitionError, match="reset it to new"):
        svc.auto_promote("II-1", WRITER, "op-2")
    assert svc.reset_to_new("II-1", WRITER, "op-3") == {"outcome": "reset", "state": "new"}
    stored = store.get("inbox_item", "ORG-A", "II-1").record
    assert stored.state == "new" and "automation_message" not in stored.links
    assert svc.promote("II-1", WRITER, "op-4")["outcome"] == "potential_matches"


def test_P16_reset_only_from_failed_states(store: RecordStore) -> None:
    svc = _svc(store)
    store.put(item("II-1"))
    with pytest.raises(TransitionError, match="in state 'new'"):
        svc.reset_to_new("II-1", WRITER, "op-1")


def test_P16_every_non_success_writes_an_automation_message(store: RecordStore) -> None:
    svc = _svc(store)
    store.put(case("C-1", state="in_progress", identifiers={"case_identifiers": ["ACME-1"]}))
    store.put(item("II-1", identifiers={"case_identifiers": ["ACME-1"]}))  # marked as follow-up
    store.put(item("II-2", receipt_date=None))  # missing information
    svc.auto_promote_run(WRITER)
    for item_id in ("II-1", "II-2"):
        assert store.get("inbox_item", "ORG-A", item_id).record.links["automation_message"]


def test_auto_promote_refused_for_manual_items_and_disabled_profiles(store: RecordStore) -> None:
    svc = _svc(store, auto_promote=False)
    store.put(item("II-1", source="manual"))
    store.put(item("II-2"))
    with pytest.raises(ActionRefusedError, match="source 'manual'"):
        svc.auto_promote("II-1", WRITER, "op-1")
    with pytest.raises(ActionRefusedError, match="does not enable auto-promote"):
        svc.auto_promote("II-2", WRITER, "op-2")
