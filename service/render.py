"""Terminal rendering of detections for ``casematch check`` and ``casematch demo``.

One table per section (ID, Subject, Possible matches): rank, the matched
record, its badge or tag, M18's status bars (patient, country, reporter,
products, events as filled or hollow dots) and its lifecycle state. Values
are never shown here, so PHI cannot leak to a terminal or a pasted log.

    >>> status_bar({"patient": True, "country": False, "reporter": True,
    ...             "products": False, "events": True})
    '●P ○C ●R ○Pr ●E'
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.console import Group
from rich.table import Table
from rich.text import Text

from matcher import Detection

SECTION_TITLES = {
    "id_matches": "ID matches",
    "subject_matches": "Subject matches",
    "possible_matches": "Possible matches",
}
_STATUS = (
    ("patient", "P"),
    ("country", "C"),
    ("reporter", "R"),
    ("products", "Pr"),
    ("events", "E"),
)


def status_bar(status: Mapping[str, bool]) -> str:
    """M18's five indicators, filled (●) when the category matches."""
    return " ".join(f"{'●' if status.get(key) else '○'}{label}" for key, label in _STATUS)


def detection_tables(detection: Detection) -> Group:
    """The detection's sections as rich tables (empty sections say so)."""
    parts: list[Table | Text] = [
        Text(
            f"{detection.source_id} ({detection.organization}, profile {detection.profile}): "
            f"{sum(len(getattr(detection.sections, s)) for s in SECTION_TITLES)} potential "
            f"matches in {detection.took_ms:.1f} ms",
            style="bold",
        )
    ]
    for name, title in SECTION_TITLES.items():
        matches = getattr(detection.sections, name)
        if not matches:
            parts.append(Text(f"{title}: none", style="dim"))
            continue
        table = Table(title=title, title_justify="left")
        table.add_column("rank", justify="right")
        table.add_column("record")
        table.add_column("badge / tag")
        table.add_column("status")
        table.add_column("state")
        for m in matches:
            table.add_row(
                str(m.rank),
                f"{m.record_type} {m.record_id}",
                m.badge or m.tag or "",
                status_bar(m.status.model_dump()),
                m.state,
            )
        parts.append(table)
    parts.append(
        Text("status: P patient, C country, R reporter, Pr products, E events", style="dim")
    )
    return Group(*parts)
