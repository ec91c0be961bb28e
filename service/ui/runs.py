"""Automated promotion runs started from the review page, with progress and outcomes.

A run takes the ``new`` Inbox Items from automated sources of the caller's
organizations (:meth:`AutomatedPromotion.pending_items`, P16: failed items are not
retried) and auto-promotes them one by one (:meth:`AutomatedPromotion.auto_promote`,
P10-P16, with operation ids made as ``POST /v1/auto-promote``'s run makes them)
on a background thread, recording each item's outcome as it goes, so the
page can show progress while the run works. Runs live in memory, per process; a
run is visible only to the key that started it.

    >>> run = AutoRun(run_id="r1", owner="fp", organizations=("ORG-A",))
    >>> run.total, run.finished
    (0, False)
"""

from __future__ import annotations

import secrets
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from service.auth import Principal
from service.errors import ServiceError
from service.promotion.auto_promotion import AutomatedPromotion
from service.promotion.outcomes import outcome_json

#: Runs kept per process (the oldest finished ones are forgotten first).
MAX_RUNS = 50


@dataclass
class Outcome:
    #: The item's organization: ids are unique per organization, so its link names it.
    organization: str
    item_id: str
    state: str
    detail: str = ""
    refused: bool = False


@dataclass
class AutoRun:
    run_id: str
    owner: str
    organizations: tuple[str, ...]
    total: int = 0
    outcomes: list[Outcome] = field(default_factory=list)
    finished: bool = False
    error: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def done(self) -> int:
        return len(self.outcomes)

    def snapshot(self) -> dict[str, Any]:
        """The run as JSON (ids, states and reasons only: no PHI)."""
        with self._lock:
            outcomes = list(self.outcomes)
        by_state = Counter(o.state for o in outcomes if not o.refused)
        return {
            "run_id": self.run_id,
            "organizations": list(self.organizations),
            "total": self.total,
            "done": len(outcomes),
            "finished": self.finished,
            "error": self.error,
            "by_state": dict(sorted(by_state.items())),
            "refused": sum(o.refused for o in outcomes),
            "outcomes": [
                {
                    "organization": o.organization,
                    "item_id": o.item_id,
                    "state": o.state,
                    "detail": o.detail,
                    "refused": o.refused,
                }
                for o in outcomes
            ],
        }

    def add(self, outcome: Outcome) -> None:
        with self._lock:
            self.outcomes.append(outcome)


class RunRegistry:
    """The runs of one app (on ``app.state``)."""

    def __init__(self) -> None:
        self._runs: dict[str, AutoRun] = {}
        self._lock = threading.Lock()

    def get(self, run_id: str, owner: str) -> AutoRun | None:
        with self._lock:
            run = self._runs.get(run_id)
        return run if run is not None and secrets.compare_digest(run.owner, owner) else None

    def for_owner(self, owner: str) -> list[AutoRun]:
        with self._lock:
            return [r for r in reversed(self._runs.values()) if r.owner == owner]

    def start(self, automated: AutomatedPromotion, principal: Principal, owner: str) -> AutoRun:
        """List the pending items now, then promote them on a background thread."""
        organizations = tuple(sorted(principal.organizations))
        run = AutoRun(run_id=uuid.uuid4().hex[:12], owner=owner, organizations=organizations)
        ids = list(automated.pending_items(organizations))
        run.total = len(ids)
        with self._lock:
            self._runs[run.run_id] = run
            finished = [k for k, r in self._runs.items() if r.finished]
            for k in finished[: max(0, len(self._runs) - MAX_RUNS)]:
                del self._runs[k]
        thread = threading.Thread(
            target=_work, args=(run, automated, principal, ids), name=f"ui-auto-{run.run_id}"
        )
        thread.daemon = True
        thread.start()
        return run


def _work(
    run: AutoRun,
    automated: AutomatedPromotion,
    principal: Principal,
    ids: list[tuple[str, str]],
) -> None:
    try:
        for org, item_id in ids:
            try:
                outcome = automated.auto_promote(
                    item_id, principal.narrowed(org), f"auto-{uuid.uuid4().hex}"
                )
            except ServiceError as exc:
                run.add(Outcome(org, item_id, f"refused ({exc.status_code})", exc.message, True))
                continue
            out = outcome_json(outcome)
            detail = str(out.get("automation_message") or "")
            if out.get("case_id"):
                detail = (detail + " " if detail else "") + f"Case {out['case_id']}"
            run.add(Outcome(org, item_id, str(out.get("state", out.get("outcome", ""))), detail))
    except Exception as exc:  # the engine went away mid-run: say so on the page
        run.error = f"the run stopped: {type(exc).__name__}"
    finally:
        run.finished = True
