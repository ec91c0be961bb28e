"""Building Case records from Inbox Items (pure): initial Cases, P8 placeholders, P9 localization.

>>> from indexer.records import Record
>>> item = Record.model_validate(
...     {"id": "II-1", "kind": "inbox_item", "organization": "ORG-A", "localization": "ja"})
>>> case = new_case_from_item(item, "CASE-II-1")
>>> case.kind.value, case.case_id, case.version, case.state, case.localization
('case', 'CASE-II-1', 1, 'new', 'ja')
"""

from __future__ import annotations

from typing import Any

from indexer.fields import MRN_KINDS
from indexer.normalize import normalize_text
from indexer.records import Event, Record, Reporter

#: P8 placeholder values. They start with "placeholder", which N5 treats as
#: no information, so a placeholder is never indexed as a value and never matches.
PLACEHOLDER_INITIALS = "PLACEHOLDER"
PLACEHOLDER_REPORTER_LAST_NAME = "Placeholder reporter"
PLACEHOLDER_EVENT_REPORTED = "Placeholder event"

#: Localization values that mean an English (global) Case (P9).
_ENGLISH = frozenset({"", "global", "en", "english"})

#: Keys of ``links`` that belong to the Inbox Item's own workflow, not to a Case.
_ITEM_ONLY_LINKS = frozenset(
    {"pending", "audit", "prior_state", "automation_message", "follow_up_of", "duplicate_of"}
)


def is_english_localization(localization: str | None) -> bool:
    """``global``, ``en`` and ``en-XX`` / ``en_XX`` are English; anything else is domestic."""
    text = (localization or "").strip().lower()
    return text in _ENGLISH or text.startswith(("en-", "en_"))


def case_localization(item_localization: str | None) -> str:
    """P9: a non-English localization makes a Domestic Case carrying it; else ``global``."""
    if is_english_localization(item_localization):
        return "global"
    return (item_localization or "global").strip()


def case_payload(item: Record) -> dict[str, Any]:
    """The item's data as a Case body (no identity, state or item-only links)."""
    data = item.model_dump(mode="python", exclude={"id", "kind", "state", "version", "case_id"})
    data["transmission_profile"] = None
    data["links"] = {k: v for k, v in item.links.items() if k not in _ITEM_ONLY_LINKS}
    return data


def new_case_from_item(
    item: Record, case_id: str, *, links: dict[str, Any] | None = None
) -> Record:
    """An initial Case version (v1, state ``new``) holding the Inbox Item's data."""
    data = case_payload(item)
    data.update(id=case_id, kind="case", case_id=case_id, version=1, state="new")
    data["localization"] = case_localization(item.localization)
    data["links"] = {**data["links"], "inbox_item_id": item.id, **(links or {})}
    return Record.model_validate(data)


# -- P8 placeholders ----------------------------------------------------------


def _blank(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return False


def reporter_needs_placeholder(reporter: Reporter) -> bool:
    """First name, last name, organization and their reasons omitted are all blank."""
    fields = ("first_name", "last_name", "organization")
    return all(_blank(getattr(reporter, f)) for f in fields) and not any(
        f in reporter.reason_omitted for f in fields
    )


_PATIENT_REASON_KEYS = ("initials", "dob", "mrn", *(f"mrn.{kind}" for kind in MRN_KINDS))


def patient_initials_need_placeholder(record: Record) -> bool:
    """Initials, age, DOB, every MRN and all their reasons omitted are blank."""
    p = record.patient
    values_blank = (
        _blank(p.initials)
        and (p.age is None or p.age.value is None)
        and p.dob is None
        and all(_blank(getattr(p.mrn, k)) for k in MRN_KINDS)
    )
    return values_blank and not any(k in p.reason_omitted for k in _PATIENT_REASON_KEYS)


def event_needs_placeholder(event: Event) -> bool:
    """Event (Reported) and Event (MedDRA) are both blank."""
    return (
        normalize_text(event.event_reported) is None
        and _blank(event.meddra_pt)
        and _blank(event.meddra_pt_code)
    )


def with_placeholders(record: Record) -> tuple[Record, list[str]]:
    """P8: fill the placeholders a created Case needs; return it and what was filled."""
    filled: list[str] = []
    update: dict[str, Any] = {}
    if reporter_needs_placeholder(record.reporter):
        update["reporter"] = record.reporter.model_copy(
            update={"last_name": PLACEHOLDER_REPORTER_LAST_NAME}
        )
        filled.append("reporter")
    if patient_initials_need_placeholder(record):
        update["patient"] = record.patient.model_copy(update={"initials": PLACEHOLDER_INITIALS})
        filled.append("patient.initials")
    if not record.events:
        update["events"] = [Event(event_reported=PLACEHOLDER_EVENT_REPORTED, rank=1)]
        filled.append("events[0].event_reported")
    elif any(event_needs_placeholder(e) for e in record.events):
        events = []
        for i, e in enumerate(record.events):
            if event_needs_placeholder(e):
                e = e.model_copy(update={"event_reported": PLACEHOLDER_EVENT_REPORTED})
                filled.append(f"events[{i}].event_reported")
            events.append(e)
        update["events"] = events
    return (record.model_copy(update=update) if update else record), filled
