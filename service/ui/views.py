"""What the review page's templates show, shaped from the service's outputs (pure).

* :func:`shown_record`: a stored record's JSON as a page may show it: masked by
  the service's own masking (:func:`service.records.mask_record`, M20) unless the
  caller may see PHI, plus the free-text PHI that M20 names (narrative, EDC
  subject), which that registry does not mask yet.
* :func:`comparison_groups`: M19's comparison table grouped by section, with the
  product and event pairs split, and the source's primary product and primary
  event first.
* :data:`STATUS_SEGMENTS` and :data:`RESULTS`: M18's five segments and the three
  match results, each with a text label and a symbol, so that nothing is told by
  colour alone.

    >>> [g.title for g in comparison_groups([], {})]
    []
    >>> RESULTS["partial"].symbol
    '≈'
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from matcher.model import ComparisonRow
from service.records import MASK, mask_record

#: M18's status bar: (Match.status key, label), in the bar's order.
STATUS_SEGMENTS: tuple[tuple[str, str], ...] = (
    ("patient", "Patient"),
    ("country", "Country"),
    ("reporter", "Reporter"),
    ("products", "Product"),
    ("events", "Event"),
)

#: Free-text fields that carry patient data (M20), masked on top of the PHI registry.
FREE_TEXT_PHI: tuple[tuple[str, ...], ...] = (("narrative",), ("patient", "edc_subject"))

SECTION_TITLES = {
    "id_matches": "ID Matches",
    "subject_matches": "Subject Matches",
    "possible_matches": "Possible Matches",
}
GROUP_TITLES = {
    "identifiers": "Identifiers",
    "details": "Details",
    "patient": "Patient",
    "study": "Study",
    "reporter": "Primary Reporter",
    "products": "Product",
    "events": "Adverse Event",
}
_PAIRED = ("products", "events")


@dataclass(frozen=True)
class ResultLabel:
    symbol: str
    text: str
    css: str


RESULTS: dict[str, ResultLabel] = {
    "exact": ResultLabel("=", "Exact match", "exact"),
    "partial": ResultLabel("≈", "Partial match", "partial"),
    "none": ResultLabel("≠", "No match", "none"),
}


def shown_record(data: dict[str, Any], *, sees_phi: bool) -> dict[str, Any]:
    """``data`` (a record's JSON) as the page may show it to this caller."""
    if sees_phi:
        return data
    out = mask_record(data)
    for path in FREE_TEXT_PHI:
        node: Any = out
        for part in path[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and node.get(path[-1]) not in (None, ""):
            node[path[-1]] = MASK
    return out


def field_label(name: str) -> str:
    """``mrn_hospital`` -> ``MRN hospital``; ``wwuid~uid`` -> ``WWUID ~ UID``."""
    special = {"wwuid": "WWUID", "uid": "UID", "dob": "DOB", "meddra_pt": "MedDRA PT"}
    parts = []
    for token in name.split("~"):
        words = [special.get(token, token)] if token in special else token.split("_")
        text = " ".join(special.get(w, "MRN" if w == "mrn" else w) for w in words)
        parts.append(text[:1].upper() + text[1:])
    return " ~ ".join(parts)


@dataclass
class Group:
    """One block of the comparison table: a section, or one product / event pair."""

    section: str
    title: str
    rows: list[ComparisonRow] = field(default_factory=list)
    primary: bool = False


def _primary(items: Any) -> dict[str, Any]:
    """The rank-1 entry of a record's products or events (the first one without ranks)."""
    if not isinstance(items, list) or not items:
        return {}

    def rank(entry: dict[str, Any]) -> int:
        value = entry.get("rank")
        return value if isinstance(value, int) else 1_000_000

    ranked = sorted((i for i in items if isinstance(i, dict)), key=rank)
    return ranked[0] if ranked else {}


def _meddra(event: dict[str, Any]) -> str | None:
    code, term = event.get("meddra_pt_code"), event.get("meddra_pt")
    if code and term:
        return f"{term} ({code})"
    return str(code or term) if (code or term) else None


def _primary_values(source: dict[str, Any]) -> dict[str, set[str]]:
    """The source's primary product / event values, as the table shows them."""
    product, event = _primary(source.get("products")), _primary(source.get("events"))
    values = {
        "products": {
            str(v) for v in (product.get("product_reported"), product.get("product")) if v
        },
        "events": {str(v) for v in (event.get("event_reported"), _meddra(event)) if v},
    }
    return values


def comparison_groups(rows: Sequence[ComparisonRow], source: dict[str, Any]) -> list[Group]:
    """M19's rows in blocks; each product / event pair is its own block, primary first."""
    groups: list[Group] = []
    primary = _primary_values(source)
    for row in rows:
        current = groups[-1] if groups else None
        new_pair = (
            current is not None
            and row.section in _PAIRED
            and any(r.field == row.field for r in current.rows)
        )
        if current is None or current.section != row.section or new_pair:
            current = Group(row.section, GROUP_TITLES.get(row.section, row.section.title()))
            groups.append(current)
        current.rows.append(row)
    for section in _PAIRED:
        pairs = [g for g in groups if g.section == section]
        for g in pairs:
            g.primary = any(r.source in primary[section] for r in g.rows if r.source)
        ordered = sorted(pairs, key=lambda g: not g.primary)  # stable: primary first
        for n, g in enumerate(ordered, 1):
            label = GROUP_TITLES[section]
            g.title = f"{label} {n}" + (" (primary)" if g.primary else "")
        slots = [i for i, g in enumerate(groups) if g.section == section]
        for i, g in zip(slots, ordered, strict=True):
            groups[i] = g
    return groups


def counts_by_result(rows: Iterable[ComparisonRow]) -> dict[str, int]:
    out = {"exact": 0, "partial": 0, "none": 0}
    for r in rows:
        out[r.result] += 1
    return out
