"""A promote whose detection races another request on the same item (P17), made deterministic.

The loser reads the item, then - while its detection runs - the winner acts on
the item; only then does the loser's detection search. That is the interleaving
which, under load, let a loser answer ``potential_matches`` listing the Case its
own item had just become. Here the winner acts from inside the loser's detector
(a wrapper around the real matcher detection), so the race happens every run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from indexer.engine import EngineUnavailable
from indexer.records import Record
from indexer.store import RecordStore
from matcher import Detection, DetectionOptions
from service.promotion.access import matcher_detector
from service.promotion.errors import TransitionError
from tests.integration.promotion_support import (
    SAME_COUNTRY,
    WRITER,
    AsJson,
    case,
    item,
    service,
)


class DuringDetection:
    """A detector that lets ``interleave`` act once, mid-detection, before the real search."""

    def __init__(self, store: RecordStore, interleave: Callable[[], object]) -> None:
        self.detect = matcher_detector(store)
        self.interleave = interleave
        self.fired = False

    def __call__(self, source: Record, options: DetectionOptions) -> Detection:
        if not self.fired:
            self.fired = True
            self.interleave()
        return self.detect(source, options)


def loser(store: RecordStore, interleave: Callable[[], object]) -> AsJson:
    """A second service on the same store (another worker) whose detection gets raced."""
    return service(store, detector=DuringDetection(store, interleave))


def _cases_and_claims(store: RecordStore, svc: AsJson) -> tuple[int, int]:
    store.engine.refresh(store.names.cases)
    claims = [
        e for e in svc.audit_trail("inbox_item", "II-1", WRITER) if e["to_state"] == "processing"
    ]
    return store.engine.count(store.names.cases), len(claims)


@pytest.mark.parametrize("loser_op", ["op-L", "op-W"], ids=["other-request", "same-key-retry"])
def test_P17_detection_racing_a_finished_promotion_returns_its_outcome(
    store: RecordStore, loser_op: str
) -> None:
    winner = service(store)
    store.put(item("II-1"))
    won: dict[str, Any] = {}
    svc = loser(store, lambda: won.update(winner.promote("II-1", WRITER, "op-W")))

    out = svc.promote("II-1", WRITER, loser_op)

    assert won["outcome"] == "case_created"
    assert out == won  # the winner's outcome, not matches listing CASE-II-1
    assert _cases_and_claims(store, svc) == (1, 1)
    promoted = store.get("inbox_item", "ORG-A", "II-1").record
    assert promoted.links["last_operation"]["operation_id"] == "op-W"


def test_P17_detection_racing_an_in_flight_promotion_rolls_it_forward(
    store: RecordStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The winner claimed the item and wrote its Case, then failed (503) before finishing."""
    winner = service(store)

    def engine_down(*args: Any, **kwargs: Any) -> None:
        raise EngineUnavailable("engine down (test)")

    monkeypatch.setattr(winner.promotion.transmissions, "link_case", engine_down)
    store.put(item("II-1"))

    def winner_dies_mid_flight() -> None:
        with pytest.raises(EngineUnavailable):
            winner.promote("II-1", WRITER, "op-W")
        assert store.get("inbox_item", "ORG-A", "II-1").record.state == "processing"

    svc = loser(store, winner_dies_mid_flight)

    out = svc.promote("II-1", WRITER, "op-L")

    assert (out["outcome"], out["case_id"], out["state"]) == (
        "case_created",
        "CASE-II-1",
        "promoted",
    )
    promoted = store.get("inbox_item", "ORG-A", "II-1").record
    assert promoted.state == "promoted"
    assert promoted.links["last_operation"]["operation_id"] == "op-W"  # the winner's plan
    assert svc.transmission("IT-II-1", WRITER)["case_id"] == "CASE-II-1"
    assert _cases_and_claims(store, svc) == (1, 1)


def test_P17_detection_racing_another_change_of_the_item_is_409(store: RecordStore) -> None:
    """Real matches, but the item was rejected meanwhile: no matches for a stale item."""
    other = service(store)
    store.put(case("C-1", identifiers={"case_identifiers": ["SHARED-1"]}))
    store.put(item("II-1", identifiers={"case_identifiers": ["shared-1"]}))
    svc = loser(store, lambda: other.set_item_state("II-1", WRITER, "op-W", "rejected"))

    with pytest.raises(TransitionError) as exc:
        svc.promote("II-1", WRITER, "op-L")

    assert "in state 'rejected'" in exc.value.message
    assert store.get("inbox_item", "ORG-A", "II-1").record.state == "rejected"


def test_P17_detection_not_raced_still_returns_its_matches(store: RecordStore) -> None:
    """The re-read after a detection changes nothing when nobody touched the item."""
    store.put(case("C-1", identifiers={"case_identifiers": ["SHARED-1"]}, reporter=SAME_COUNTRY))
    store.put(item("II-1", identifiers={"case_identifiers": ["shared-1"]}))
    svc = loser(store, lambda: None)

    out = svc.promote("II-1", WRITER, "op-L")

    assert (out["outcome"], out["state"]) == ("potential_matches", "new")
    assert store.get("inbox_item", "ORG-A", "II-1").record.state == "new"
