"""Manual promotion on the embedded engine: P1-P6, the results log (M22), the audit trail (P18)."""

from __future__ import annotations

import pytest

from indexer.store import RecordStore
from service.errors import NotFound
from service.promotion.errors import (
    ActionRefusedError,
    InvalidRequestError,
    PrerequisitesError,
    TransitionError,
)
from service.settings import OrganizationSettings
from tests.integration.promotion_support import SAME_COUNTRY, WRITER, case, item, service


def test_P1_prerequisites_listed_item_by_item(store: RecordStore) -> None:
    svc = service(store, require_minimum_case_criteria=True)
    store.put(item("II-1", patient={}, reporter={}, events=[], products=[]))
    with pytest.raises(PrerequisitesError) as exc:
        svc.promote("II-1", WRITER, "op-1")
    assert exc.value.missing == [
        "identifiable patient",
        "identifiable reporter",
        "country (primary reporter or adverse event)",
        "adverse event",
        "study or company product",
    ]
    assert [d["field"] for d in exc.value.details] == exc.value.missing
    assert store.get("inbox_item", "ORG-A", "II-1").record.state == "new"  # nothing changed


def test_P1_minimum_criteria_per_organization(store: RecordStore) -> None:
    svc = service(
        store, organizations={"ORG-A": OrganizationSettings(require_minimum_case_criteria=True)}
    )
    store.put(item("II-1", events=[]))
    with pytest.raises(PrerequisitesError) as exc:
        svc.promote("II-1", WRITER, "op-1")
    assert exc.value.missing == ["adverse event"]


def test_P1_promote_only_from_promotable_states(store: RecordStore) -> None:
    svc = service(
        store, organizations={"ORG-A": OrganizationSettings(promotable_states=["verified"])}
    )
    store.put(item("II-1"))
    with pytest.raises(TransitionError) as exc:
        svc.promote("II-1", WRITER, "op-1")
    assert "in state 'new'" in exc.value.message
    svc.set_item_state("II-1", WRITER, "op-2", "verified")
    assert svc.promote("II-1", WRITER, "op-3")["outcome"] == "case_created"


def test_P2_no_match_creates_case_and_transmission(store: RecordStore) -> None:
    svc = service(store)
    store.put(item("II-1"))
    out = svc.promote("II-1", WRITER, "op-1")
    assert out == {
        "outcome": "case_created",
        "case_id": "CASE-II-1",
        "case_version": 1,
        "inbound_transmission_id": "IT-II-1",
        "state": "promoted",
    }
    promoted = store.get("inbox_item", "ORG-A", "II-1").record
    assert promoted.state == "promoted" and promoted.links["case_id"] == "CASE-II-1"
    created = store.get("case", "ORG-A", "CASE-II-1").record
    assert (created.state, created.version, created.links["inbox_item_id"]) == ("new", 1, "II-1")
    t = svc.transmission("IT-II-1", WRITER)
    assert (t["state"], t["case_id"], t["inbox_item_id"]) == ("completed", "CASE-II-1", "II-1")


def test_P2_matches_are_returned_and_nothing_is_created(store: RecordStore) -> None:
    svc = service(store)
    store.put(case("C-1", identifiers={"case_identifiers": ["SHARED-1"]}, reporter=SAME_COUNTRY))
    store.put(item("II-1", identifiers={"case_identifiers": ["shared-1"]}))
    out = svc.promote("II-1", WRITER, "op-1")
    assert out["outcome"] == "potential_matches"
    ids = out["detection"]["sections"]["id_matches"]
    assert [(m["record_id"], m["badge"]) for m in ids] == [("C-1", "ID")]
    assert store.get("inbox_item", "ORG-A", "II-1").record.state == "new"
    assert store.get("case", "ORG-A", "CASE-II-1") is None


def test_M22_results_log_stored_on_transmission_and_kept_with_the_case(store: RecordStore) -> None:
    svc = service(store)
    store.put(case("C-1", identifiers={"case_identifiers": ["SHARED-1"]}, reporter=SAME_COUNTRY))
    store.put(item("II-1", identifiers={"case_identifiers": ["SHARED-1"]}))
    svc.promote("II-1", WRITER, "op-1")
    svc.decide("II-1", WRITER, "op-2", action="create_new_case")
    t = svc.transmission("IT-II-1", WRITER)
    assert t["case_id"] == "CASE-II-1"
    (log,) = t["results_logs"]
    assert log["counts"] == {"id_matches": 1, "subject_matches": 0, "possible_matches": 0}
    (m,) = log["sections"]["id_matches"]
    assert (m["record_id"], m["badge"], m["rank"]) == ("C-1", "ID", 1)
    assert {"section", "field", "result"} == set(m["fields"][0])
    assert log["settings"]["profile"] == "enhanced" and log["at"]
    assert "ZZ" not in str(log) and "QX" not in str(log)  # statuses only, never values


@pytest.mark.parametrize("target_type", ["case", "inbox_item"])
def test_P3_mark_duplicate_of_case_or_inbox_item(store: RecordStore, target_type: str) -> None:
    svc = service(store)
    store.put(case("C-1"))
    store.put(item("II-0"))
    store.put(item("II-1"))
    target = "C-1" if target_type == "case" else "II-0"
    out = svc.decide("II-1", WRITER, "op-1", action="mark_duplicate", target_id=target)
    assert (
        out["outcome"] == "marked_duplicate" and out["duplicate_of"]["record_type"] == target_type
    )
    stored = store.get("inbox_item", "ORG-A", "II-1").record
    assert stored.state == "duplicate" and stored.links["duplicate_of"]["record_id"] == target
    assert store.get("case", "ORG-A", "CASE-II-1") is None


def test_P3_mark_duplicate_target_of_another_organization_is_not_found(store: RecordStore) -> None:
    svc = service(store)
    store.put(case("C-B", organization="ORG-B"))
    store.put(item("II-1"))
    with pytest.raises(NotFound):
        svc.decide("II-1", WRITER, "op-1", action="mark_duplicate", target_id="C-B")


def test_P3_create_new_case_copying_patient_info_records_what_was_copied(
    store: RecordStore,
) -> None:
    svc = service(store)
    store.put(
        case(
            "C-1",
            patient={"initials": "ZZ", "dob": "1950", "mrn": {"gp": "G-7"}},
            products=[
                {"product": "PRD-C", "rank": 1, "drug_role": "suspect"},
                {"product": "PRD-K", "rank": 2, "drug_role": "concomitant"},
            ],
            narrative="Old narrative.",
        )
    )
    store.put(item("II-1", patient={"sex": "female"}))
    out = svc.decide(
        "II-1",
        WRITER,
        "op-1",
        action="copy_patient_info",
        target_id="C-1",
        copy=["concomitant_products", "narrative"],
    )
    created = store.get("case", "ORG-A", out["case_id"]).record
    assert created.patient.mrn.gp == "G-7" and created.patient.initials == "ZZ"
    assert [p.product for p in created.products] == ["PRD-II-1", "PRD-K"]
    assert created.narrative == "Old narrative."
    entry = next(
        e
        for e in svc.audit_trail("case", out["case_id"], WRITER)
        if e["action"] == "created_copying_patient_info"
    )
    assert entry["details"]["copied_from"] == "C-1~v1"
    assert set(entry["details"]["copied"]) == {"patient", "concomitant_products", "narrative"}


def test_P3_copy_refuses_sections_records_do_not_hold(store: RecordStore) -> None:
    svc = service(store)
    store.put(case("C-1"))
    store.put(item("II-1"))
    with pytest.raises(InvalidRequestError) as exc:
        svc.decide(
            "II-1",
            WRITER,
            "op-1",
            action="copy_patient_info",
            target_id="C-1",
            copy=["test_results"],
        )
    assert "test_results" in str(exc.value.details)


def test_P3_mark_follow_up_links_in_flight_case(store: RecordStore) -> None:
    svc = service(store)
    store.put(case("C-1", state="medical_review"))
    store.put(item("II-1", state="triage"))
    out = svc.decide("II-1", WRITER, "op-1", action="mark_follow_up", target_id="C-1")
    assert out == {"outcome": "marked_follow_up", "case_id": "C-1", "state": "marked_as_follow_up"}
    stored = store.get("inbox_item", "ORG-A", "II-1").record
    assert stored.links["follow_up_of"] == "C-1" and stored.links["prior_state"] == "triage"


def test_P3_mark_follow_up_needs_in_flight_case(store: RecordStore) -> None:
    svc = service(store)
    store.put(case("C-1", state="approved"))
    store.put(item("II-1"))
    with pytest.raises(ActionRefusedError) as exc:
        svc.decide("II-1", WRITER, "op-1", action="mark_follow_up", target_id="C-1")
    assert "approved" in exc.value.message


def test_P3_merge_to_current_creates_follow_up_version(store: RecordStore) -> None:
    svc = service(store)
    store.put(
        case(
            "C-1",
            state="approved",
            patient={"initials": "ZZ", "weight": {"value": 80, "unit": "kg"}},
        )
    )
    store.put(item("II-1", patient={"initials": "ZZ"}, receipt_date="2025-04-02"))
    out = svc.decide("II-1", WRITER, "op-1", action="merge_to_current", target_id="C-1")
    assert (out["outcome"], out["case_id"], out["case_version"]) == ("follow_up_created", "C-1", 2)
    assert store.get("inbox_item", "ORG-A", "II-1").record.state == "promoted"


def test_P3_merge_to_current_from_marked_follow_up_uses_the_linked_case(store: RecordStore) -> None:
    svc = service(store)
    store.put(case("C-1", state="in_progress"))
    store.put(item("II-1"))
    svc.decide("II-1", WRITER, "op-1", action="mark_follow_up", target_id="C-1")
    out = svc.decide("II-1", WRITER, "op-2", action="merge_to_current")
    assert (out["case_id"], out["case_version"]) == ("C-1", 2)


def test_P6_follow_up_version_supersedes_previous_and_reconciles(store: RecordStore) -> None:
    svc = service(store)
    store.put(
        case(
            "C-1",
            state="approved",
            patient={"initials": "ZZ", "first_name": "Zed", "weight": {"value": 80, "unit": "kg"}},
        )
    )
    store.put(
        item(
            "II-1", patient={"reason_omitted": {"first_name": "privacy"}}, receipt_date="2025-04-02"
        )
    )
    svc.decide("II-1", WRITER, "op-1", action="merge_to_current", target_id="C-1")
    versions = store.case_versions("ORG-A", "C-1")
    assert [(v.record.version, v.record.state) for v in versions] == [(1, "superseded"), (2, "new")]
    latest = versions[-1].record
    assert latest.patient.first_name is None and latest.patient.reason_omitted == {
        "first_name": "privacy"
    }
    assert latest.patient.weight is None  # value+unit overwritten, null included
    assert (str(latest.receipt_date), str(latest.new_info_date)) == ("2025-01-10", "2025-04-02")
    # I2: only the follow-up version is searchable
    hits = store.engine.client.search(
        index=store.names.cases,
        body={
            "query": {
                "bool": {"filter": [{"term": {"record_id": "C-1"}}, {"term": {"searchable": True}}]}
            }
        },
    )["hits"]["hits"]
    assert [h["_source"]["version"] for h in hits] == [2]


@pytest.mark.parametrize("state", ["void", "nullified", "voiding", "nullifying", "deleted"])
@pytest.mark.parametrize("action", ["mark_follow_up", "merge_to_current"])
def test_P4_follow_up_refused_for_retired_cases(
    store: RecordStore, state: str, action: str
) -> None:
    svc = service(store)
    store.put(case("C-1", state=state))
    store.put(item("II-1"))
    with pytest.raises(ActionRefusedError) as exc:
        svc.decide("II-1", WRITER, "op-1", action=action, target_id="C-1")  # type: ignore[arg-type]
    assert f"state '{state}'" in exc.value.message
    assert store.get("inbox_item", "ORG-A", "II-1").record.state == "new"


def test_P4_follow_up_refused_in_settings_prohibited_state(store: RecordStore) -> None:
    svc = service(
        store,
        organizations={
            "ORG-A": OrganizationSettings(prohibited_follow_up_states=["medical_review"])
        },
    )
    store.put(case("C-1", state="medical_review"))
    store.put(item("II-1"))
    for action in ("mark_follow_up", "merge_to_current"):
        with pytest.raises(ActionRefusedError, match="settings prohibit"):
            svc.decide("II-1", WRITER, f"op-{action}", action=action, target_id="C-1")  # type: ignore[arg-type]


def test_P5_unmark_follow_up_returns_to_prior_state(store: RecordStore) -> None:
    svc = service(store)
    store.put(case("C-1"))
    store.put(item("II-1", state="verified"))
    svc.decide("II-1", WRITER, "op-1", action="mark_follow_up", target_id="C-1")
    assert svc.unmark_follow_up("II-1", WRITER, "op-2") == {
        "outcome": "unmarked",
        "state": "verified",
    }
    stored = store.get("inbox_item", "ORG-A", "II-1").record
    assert stored.state == "verified" and "follow_up_of" not in stored.links


def test_P5_promoted_item_can_never_be_unlinked(store: RecordStore) -> None:
    svc = service(store)
    store.put(item("II-1"))
    svc.promote("II-1", WRITER, "op-1")
    with pytest.raises(TransitionError) as exc:
        svc.unmark_follow_up("II-1", WRITER, "op-2")
    assert "in state 'promoted'" in exc.value.message
    for action in ("mark_duplicate", "create_new_case"):
        with pytest.raises(TransitionError):
            svc.decide("II-1", WRITER, f"op-{action}", action=action, target_id="CASE-II-1")  # type: ignore[arg-type]
    assert store.get("inbox_item", "ORG-A", "II-1").record.links["case_id"] == "CASE-II-1"


def test_P18_audit_trail_records_every_state_change(store: RecordStore) -> None:
    svc = service(store)
    store.put(case("C-1"))
    store.put(item("II-1"))
    svc.set_item_state("II-1", WRITER, "op-1", "triage")
    svc.decide("II-1", WRITER, "op-2", action="mark_follow_up", target_id="C-1")
    svc.unmark_follow_up("II-1", WRITER, "op-3")
    svc.promote("II-1", WRITER, "op-4")
    trail = svc.audit_trail("inbox_item", "II-1", WRITER)
    assert [(e["from_state"], e["to_state"]) for e in trail] == [
        ("new", "triage"),
        ("triage", "marked_as_follow_up"),
        ("marked_as_follow_up", "triage"),
        ("triage", "processing"),
        ("processing", "promoted"),
    ]
    assert {e["actor"] for e in trail} == {"writer"} and all(e["at"] for e in trail)
    case_trail = svc.audit_trail("case", "CASE-II-1", WRITER)
    assert [(e["action"], e["to_state"]) for e in case_trail] == [("created", "new")]


def test_case_state_machine_refuses_with_current_state(store: RecordStore) -> None:
    svc = service(store)
    store.put(case("C-1", state="void"))
    with pytest.raises(TransitionError) as exc:
        svc.set_case_state("C-1", WRITER, "op-1", "approved")
    assert "Case C-1 is in state 'void'" in exc.value.message
    store.put(case("C-2", state="in_progress"))
    assert svc.set_case_state("C-2", WRITER, "op-2", "approved")["state"] == "approved"
    assert store.get("case", "ORG-A", "C-2").record.state == "approved"


def test_P17_half_done_follow_up_is_rolled_back_when_the_case_moved_on(
    store: RecordStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Item A claims a merge into C-1 v1 and dies before writing v2; item B then merges
    into C-1 (v2). A's retry finds v2 is not its own: A's plan is rolled back (audited),
    and the retried request merges A into the latest version instead (v3)."""
    from indexer.engine import EngineUnavailable
    from service.promotion.writers import FollowUpWriter

    svc = service(store)
    store.put(case("C-1", state="approved"))
    store.put(item("II-A"))
    store.put(item("II-B"))
    original = FollowUpWriter.write_version

    def dies(self: FollowUpWriter, *args: object, **kwargs: object) -> object:
        raise EngineUnavailable("engine went away")

    monkeypatch.setattr(FollowUpWriter, "write_version", dies)
    with pytest.raises(EngineUnavailable):
        svc.decide("II-A", WRITER, "op-a", action="merge_to_current", target_id="C-1")
    assert store.get("inbox_item", "ORG-A", "II-A").record.state == "processing"
    monkeypatch.setattr(FollowUpWriter, "write_version", original)

    assert (
        svc.decide("II-B", WRITER, "op-b", action="merge_to_current", target_id="C-1")[
            "case_version"
        ]
        == 2
    )  # II-A's stale claim does not block another item
    retry = svc.decide("II-A", WRITER, "op-a", action="merge_to_current", target_id="C-1")
    assert retry["case_version"] == 3
    versions = store.case_versions("ORG-A", "C-1")
    assert [(v.record.version, v.record.state) for v in versions] == [
        (1, "superseded"),
        (2, "superseded"),
        (3, "new"),
    ]
    assert [v.record.links.get("inbox_item_id") for v in versions] == [None, "II-B", "II-A"]
    actions = [e["action"] for e in svc.audit_trail("inbox_item", "II-A", WRITER)]
    assert "merge_to_current:rolled_back" in actions
