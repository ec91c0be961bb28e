"""Status bars (M18), the comparison table (M19) and PHI masking (M20) for the listed matches.

Built only for the matches a detection returns, by one :class:`TableBuilder`
per detection. Values shown are the stored
record's own values (not the normalized ones); the result of each row comes
from the same comparators that ranked the match, so a masked value (``***``)
still says exact / partial / none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, TypeVar

from indexer import fields
from indexer.fields import FIELDS, RANKED_FIELDS
from matcher.bind import compare_items
from matcher.compare import (
    NONE,
    PARTIAL,
    compare_exact,
    compare_product_reported,
    compare_window_days,
    name_pairing,
)
from matcher.evaluate import RESULT_AT, Evaluation
from matcher.facts import EventFacts, Facts, ProductFacts
from matcher.model import MASK, Badge, ComparisonRow, Header, RecordRef, Result, Status

#: M19 limits.
MAX_IDENTIFIER_ROWS = 10
MAX_PRODUCT_PAIRS = 3
MAX_EVENT_PAIRS = 3

#: (table section, field) pairs whose values are PHI (M20), from the field registry.
PHI_ROWS: frozenset[tuple[str, str]] = fields.PHI_ROWS

#: Every field's key: a table compares them all unless its profile says otherwise.
ALL_FIELDS: frozenset[str] = frozenset(f.key for f in FIELDS)

#: Fields of which some section's values are PHI (a quick test before ``PHI_ROWS``).
_PHI_FIELDS = frozenset(fld for _, fld in PHI_ROWS)

#: M18's bars lit by ranked results, each with its fields (``FieldSpec.bar``); the
#: country bar is the reporter country's own result (``Evaluation.country``).
_BARS: tuple[tuple[str, ...], ...] = tuple(
    tuple(f.key for f in RANKED_FIELDS if f.bar == bar)
    for bar in ("patient", "reporter", "products", "events")
)
#: Per bar, what reads its fields' results from an Evaluation's ``values``, and how many.
_BAR_READERS = tuple((itemgetter(*(RESULT_AT[key] for key in bar)), len(bar)) for bar in _BARS)


class TableBuilder:
    """Status bars, headers and comparison tables for the listed matches of one detection.

    The source's side of every row (its shown values, masked or not) is read
    once per detection, not once per match. Rows are immutable and rows equal
    in every value (common once PHI is masked) are one shared object.
    """

    def __init__(self, src: Facts, *, mask: bool, compared: frozenset[str] = ALL_FIELDS) -> None:
        """``mask``: show PHI values as ``***`` (M20); ``compared``: the fields the
        detection's profile compares (``Profile.fields``), the only ones with rows."""
        self.src = src
        self.mask = mask
        self.compared = compared
        self._country = "reporter.country" in compared
        self._ids = "identifiers.any" in compared
        self._items = {
            what: tuple((i, f) for i, f in enumerate(specs) if f.key in compared)
            for what, specs in _ITEM_FIELDS.items()
        }
        self._masked = _PHI_FIELDS if mask else frozenset()
        self._source_ref = _ref(src)
        self._receipt, self._new_info = _dates(src.record)
        self._details = self._bind(_DETAIL_ROWS, src.record)
        self._people = self._bind(_PERSON_ROWS, src.record)
        self._shown: dict[tuple[str, int], tuple[str | None, ...]] = {}
        self._rows: dict[Row, ComparisonRow] = {}
        self._fixed_rows: dict[tuple[int, str | None, Result], ComparisonRow] = {}
        self._bars: dict[tuple[bool, ...], Status] = {}

    def status(self, ev: Evaluation, *, subject: bool = False) -> Status:
        """M18 (:func:`status_bars`); equal bars are one shared object."""
        bars = _bars(ev, subject, country=self._country)
        status = self._bars.get(bars)
        if status is None:
            status = self._bars[bars] = _status(bars)
        return status

    def header(self, cand: Facts) -> Header:
        """M19's header: both records' WWUID and UID and the match's lifecycle state."""
        return Header(source=self._source_ref, match=_ref(cand), state=cand.state)

    def rows(self, ev: Evaluation) -> list[ComparisonRow]:
        """M19: every compared field side by side; rows with no value on either side are omitted."""
        src, cand = self.src, ev.facts
        record = cand.record
        receipt, new_info = _dates(record)
        results: tuple[Result, ...] = (  # ranking's results, then the table's own (_TABLE_ONLY)
            *ev.values,
            compare_exact(src.report_type, cand.report_type),
            compare_window_days(self._receipt, receipt),
            compare_window_days(self._new_info, new_info),
            compare_exact(src.edc_subject, cand.edc_subject),
            ev.country,
        )
        parts = _parts(record)
        results, crossed = _name_rows(src, ev, results, self.compared)
        out: list[ComparisonRow] = []
        self._fixed(out, self._details, parts, results)
        if self._ids:
            self._add(out, _identifier_rows(src, ev))
        self._fixed(out, self._people, parts, results)
        if crossed:  # after its section's name rows
            cross: list[ComparisonRow] = []
            self._add(cross, _cross_name_rows(self.src.record, record, crossed))
            for row in cross:
                at = max(
                    (
                        i
                        for i, r in enumerate(out)
                        if r.section == row.section and "name" in r.field
                    ),
                    default=len(out) - 1,
                )
                out.insert(at + 1, row)
        blinded = src.blinded or cand.blinded
        for sp, cp in _pairs(src.products, cand.products, _product_score, MAX_PRODUCT_PAIRS):
            va = self._source_shown("products", sp, _shown_product)
            vb = _shown_product(_display(cand, "products", cp))
            self._add(out, _item_rows(self._items["products"], sp, cp, va, vb, blinded))
        for se, ce in _pairs(src.events, cand.events, _event_score, MAX_EVENT_PAIRS):
            va = self._source_shown("events", se, _shown_event)
            vb = _shown_event(_display(cand, "events", ce))
            self._add(out, _item_rows(self._items["events"], se, ce, va, vb, blinded))
        return out

    def _bind(self, specs: tuple[_Spec, ...], record: dict[str, Any]) -> tuple[_Bound, ...]:
        """Fixed rows with the source's value as shown (masked when the row is PHI), read once."""
        parts = _parts(record)
        out: list[_Bound] = []
        for spec in specs:
            if spec.result not in self.compared:
                continue
            masked = spec.phi and self.mask
            value = _show(parts[spec.part].get(spec.name))
            shown = MASK if value is not None and masked else value
            at = _ROW_AT[spec.result]
            out.append((spec.section, spec.field, spec.part, spec.name, at, masked, shown))
        return tuple(out)

    def _fixed(
        self,
        out: list[ComparisonRow],
        bound: tuple[_Bound, ...],
        parts: tuple[dict[str, Any], ...],
        results: tuple[Result, ...],
    ) -> None:
        """Rows every match has (details, patient, study, reporter), skipping empty ones.

        ``parts``: the match's stored record, patient, MRNs and reporter (``_parts``);
        ``results``: its results by position (``_ROW_AT``).
        """
        rows = self._fixed_rows
        for section, fld, part, name, at, masked, a in bound:
            b = parts[part].get(name)
            if not b and (b is None or b == "" or b == []):  # ``_show`` of a stored value
                if a is None:
                    continue
                b = None
            elif masked:
                b = MASK
            else:
                b = str(b) if isinstance(b, str | int | float) else _show(b)
            result = results[at]
            row_key = (at, b, result)  # the source's value is the spec's, in one detection
            row = rows.get(row_key)
            if row is None:
                row = rows[row_key] = ComparisonRow(
                    section=section, field=fld, source=a, match=b, result=result
                )
            out.append(row)

    def _add(self, out: list[ComparisonRow], rows: Iterable[Row]) -> None:
        """Rows of identifiers, products and events: masked (M20), then shared when equal."""
        cache = self._rows
        masked = self._masked
        for key in rows:
            section, fld, a, b, result = key
            if a is None and b is None:
                continue
            if fld in masked and (section, fld) in PHI_ROWS:
                key = (
                    section,
                    fld,
                    None if a is None else MASK,
                    None if b is None else MASK,
                    result,
                )
            row = cache.get(key)
            if row is None:
                row = cache[key] = _row(*key)
            out.append(row)

    def _source_shown(
        self,
        what: str,
        item: ProductFacts | EventFacts | None,
        shown: Callable[[dict[str, Any]], tuple[str | None, ...]],
    ) -> tuple[str | None, ...]:
        """A source product's / event's values as shown (``shown``), read once per detection."""
        key = (what, item.rank if item is not None else 0)
        found = self._shown.get(key)
        if found is None:
            found = self._shown[key] = shown(_display(self.src, what, item))
        return found


def _row(section: str, fld: str, a: str | None, b: str | None, result: Result) -> ComparisonRow:
    badge: Badge | None = None
    if section == "identifiers":
        badge = "WWUID" if fld == "wwuid" else "ID"
    return ComparisonRow(section=section, field=fld, source=a, match=b, result=result, badge=badge)


def status_bars(ev: Evaluation, *, subject: bool = False) -> Status:
    """M18: which categories of this match have a matching value."""
    return _status(_bars(ev, subject))


def _bars(
    ev: Evaluation, subject: bool, *, country: bool = True
) -> tuple[bool, bool, bool, bool, bool]:
    """M18's bars; ``country``: whether the profile compares the reporter country."""
    v = ev.values
    patient, reporter, products, events = [
        read(v).count(NONE) < size for read, size in _BAR_READERS
    ]
    return (
        patient or (subject and ev.subject_tier == 1),
        country and ev.country != NONE,
        reporter,
        products,
        events,
    )


def _status(bars: tuple[bool, bool, bool, bool, bool]) -> Status:
    patient, country, reporter, products, events = bars
    return Status(
        patient=patient, country=country, reporter=reporter, products=products, events=events
    )


def header(src: Facts, cand: Facts) -> Header:
    """M19's header: both records' WWUID and UID and the match's lifecycle state."""
    return Header(source=_ref(src), match=_ref(cand), state=cand.state)


def comparison_rows(
    src: Facts, ev: Evaluation, *, mask: bool, compared: frozenset[str] = ALL_FIELDS
) -> list[ComparisonRow]:
    """M19 for one match (:class:`TableBuilder` builds the tables of a whole detection)."""
    return TableBuilder(src, mask=mask, compared=compared).rows(ev)


def _ref(f: Facts) -> RecordRef:
    ids = f.record.get("identifiers") or {}
    return RecordRef(wwuid=ids.get("wwuid"), uid=ids.get("uid"))


@dataclass(frozen=True, slots=True)
class _Spec:
    """A table row every match has: where its value is in a stored record and its result."""

    section: str
    field: str
    #: Where the shown value is in a stored record: a part of it (``_parts``) and a name there.
    part: int
    name: str
    #: The row's key in the match's results (``section.field``).
    result: str
    phi: bool


_RECORD, _PATIENT, _MRN, _REPORTER = range(4)
#: Groups whose rows every match has (products and events are paired per item instead).
_FIXED_GROUPS = frozenset({"details", "patient", "study", "reporter"})


def _parts(record: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    """The record, its patient, the patient's MRNs and its reporter (empty when absent)."""
    patient = _mapping(record.get("patient"))
    return record, patient, _mapping(patient.get("mrn")), _mapping(record.get("reporter"))


#: A fixed row bound to one detection: section, field, part, name, its result's position
#: (``_ROW_AT``), whether its values are masked, and the source's value as shown.
_Bound = tuple[str, str, int, str, int, bool, str | None]

#: Results a table shows that ranking does not compare, after an Evaluation's ``values``
#: (``TableBuilder.rows`` computes them in this order).
_TABLE_ONLY: tuple[str, ...] = tuple(
    f.key for f in FIELDS if not f.ranked and f.group in _FIXED_GROUPS and f.row is not None
)
#: Each row's result position in a match's results as ``TableBuilder.rows`` lays them out.
_ROW_AT = {**RESULT_AT, **{key: len(RESULT_AT) + i for i, key in enumerate(_TABLE_ONLY)}}


def _dates(record: dict[str, Any]) -> tuple[str | None, str | None]:
    """A stored record's Receipt Date and New Info Date (its receipt date when it has none)."""
    receipt = record.get("receipt_date")
    return receipt, record.get("new_info_date") or receipt


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _spec(f: fields.FieldSpec) -> _Spec:
    """A fixed row from its field's declaration: where its value is in a stored record."""
    assert f.row is not None
    section, fld = f.row
    parts = f.path.split(".")
    if len(parts) == 1:
        part = _RECORD
    elif parts[:2] == ["patient", "mrn"]:
        part = _MRN
    else:
        part = _PATIENT if parts[0] == "patient" else _REPORTER
    return _Spec(section, fld, part, parts[-1], f.key, f.phi)


_FIXED = tuple(f for f in FIELDS if f.group in _FIXED_GROUPS and f.row is not None)
_DETAIL_ROWS = tuple(_spec(f) for f in _FIXED if f.group == "details")
_PERSON_ROWS = tuple(_spec(f) for f in _FIXED if f.group != "details")


def _show(value: Any) -> str | None:
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, dict) and isinstance(value.get("value"), int | float):  # a Quantity
        return f"{value['value']:g} {value.get('unit') or ''}".strip()
    return str(value)


Row = tuple[str, str, str | None, str | None, Result]
T = TypeVar("T", ProductFacts, EventFacts)


def _display(f: Facts, what: str, item: ProductFacts | EventFacts | None) -> dict[str, Any]:
    return f.display(what, item.rank) if item is not None else {}


_NAME_ROWS = (
    ("patient", "first_name", "last_name", "patient_name"),
    ("reporter", "reporter_first", "reporter_last", "reporter_name"),
)


def _name_rows(
    src: Facts, ev: Evaluation, results: tuple[Result, ...], compared: frozenset[str]
) -> tuple[tuple[Result, ...], list[tuple[str, bool, bool]]]:
    """Name rows whose credit came from cross-field pairs (N3, ``compare_name_rows``).

    Their own rows then show the direct comparison (returned ``results``), and each
    matching cross pair gets a row of its own: returned as (section, source first ~
    match last, source last ~ match first). Nothing changes when the names pair directly.
    """
    cand = ev.facts
    crossed_rows: list[tuple[str, bool, bool]] = []
    for section, first, last, tokens in _NAME_ROWS:
        if not {f"{section}.first_name", f"{section}.last_name"} <= compared:
            continue  # a profile without both name rows has no cross-field pairs to show
        at_first, at_last = RESULT_AT[f"{section}.first_name"], RESULT_AT[f"{section}.last_name"]
        if results[at_first] == NONE and results[at_last] == NONE:
            continue
        a = (getattr(src, first), getattr(src, last))
        b = (getattr(cand, first), getattr(cand, last))
        same = getattr(src, tokens) is not None and getattr(src, tokens) == getattr(cand, tokens)
        own_first, own_last, crossed = name_pairing(a, b, same)
        if crossed is None:
            continue
        crossed_rows.append((section, *crossed))
        shown = list(results)
        shown[at_first], shown[at_last] = own_first, own_last
        results = tuple(shown)
    return results, crossed_rows


def _cross_name_rows(
    src: dict[str, Any], cand: dict[str, Any], crossed: list[tuple[str, bool, bool]]
) -> Iterator[Row]:
    """One row per matching cross-field name pair: ``first_name~last_name`` (source ~ match)."""
    for section, first_last, last_first in crossed:
        a, b = _mapping(src.get(section)), _mapping(cand.get(section))
        if first_last:
            field = "first_name~last_name"
            yield section, field, _show(a.get("first_name")), _show(b.get("last_name")), PARTIAL
        if last_first:
            field = "last_name~first_name"
            yield section, field, _show(a.get("last_name")), _show(b.get("first_name")), PARTIAL


def _identifier_rows(src: Facts, ev: Evaluation) -> Iterator[Row]:
    for s_kind, c_kind, _value in ev.id_matches[:MAX_IDENTIFIER_ROWS]:
        fld = s_kind if s_kind == c_kind else f"{s_kind}~{c_kind}"
        yield (
            "identifiers",
            fld,
            _raw_id(src, s_kind, _value),
            _raw_id(ev.facts, c_kind, _value),
            "exact",
        )


def _raw_id(f: Facts, kind: str, normalized: str) -> str:
    ids = f.record.get("identifiers") or {}
    raw = ids.get("case_identifiers") if kind == "case_identifier" else [ids.get(kind)]
    for value in raw or ():
        if isinstance(value, str) and value.strip().casefold() == normalized:
            return value
    return normalized


def _product_score(a: ProductFacts, b: ProductFacts) -> int:
    value = a.product
    score = 2 if value and value == b.product else 0
    if compare_product_reported(a.product_reported, b.product_reported) != NONE:
        score += 1
    value = a.study_product
    return score + 1 if value and value == b.study_product else score


def _event_score(a: EventFacts, b: EventFacts) -> int:
    value = a.meddra_pt_code
    score = 2 if value and value == b.meddra_pt_code else 0
    value = a.event_reported
    return score + 1 if value and value == b.event_reported else score


def _pairs(
    src: tuple[T, ...], cand: tuple[T, ...], score: Callable[[T, T], int], limit: int
) -> list[tuple[T | None, T | None]]:
    """Up to ``limit`` (source, match) pairs, matching pairs first, then primary with primary.

    Each source item is paired with the unpaired match item it scores best with
    (the later one on a tie), if it scores at all.
    """
    pairs: list[tuple[T | None, T | None]] = []
    used: set[int] = set()
    for a in src:
        top, pick = 0, -1
        for i, b in enumerate(cand):
            points = score(a, b)
            if points and points >= top and i not in used:
                top, pick = points, i
        if pick >= 0:
            used.add(pick)
            pairs.append((a, cand[pick]))
            if len(pairs) == limit:
                return pairs
    if not pairs and (src or cand):
        pairs.append((src[0] if src else None, cand[0] if cand else None))
    return pairs


#: Per item kind, its fields' table rows in registry order (products: Product (Reported),
#: Product, Study Product; events: verbatim text, MedDRA PT, country, onset).
_ITEM_FIELDS: dict[str, tuple[fields.FieldSpec, ...]] = {
    what: tuple(f for f in FIELDS if f.group == group and f.row is not None)
    for what, group in (("products", "product"), ("events", "event"))
}


def _shown_item(what: str) -> Callable[[dict[str, Any]], tuple[str | None, ...]]:
    """What shows a stored product's / event's values, one per field of ``_ITEM_FIELDS``."""
    names = [f.path.split(".")[-1] for f in _ITEM_FIELDS[what]]

    def shown(display: dict[str, Any]) -> tuple[str | None, ...]:
        return tuple(
            _meddra(display) if name == "meddra_pt_code" else _show(display.get(name))
            for name in names
        )

    return shown


_shown_product = _shown_item("products")
_shown_event = _shown_item("events")


def _item_rows(
    specs: tuple[tuple[int, fields.FieldSpec], ...],
    a: ProductFacts | EventFacts | None,
    b: ProductFacts | EventFacts | None,
    va: tuple[str | None, ...],
    vb: tuple[str | None, ...],
    blinded: bool,
) -> list[Row]:
    """One product's or event's rows (``specs``: its compared fields, each with its
    position in ``va`` / ``vb``, each side's shown values), each compared as its field
    declares; M8: no study product rows for blinded study cases."""
    rows: list[Row] = []
    for i, spec in specs:
        if spec.hidden_when_blinded and blinded:
            continue
        assert spec.row is not None
        rows.append((spec.row[0], spec.row[1], va[i], vb[i], compare_items(spec, a, b)))
    return rows


def _meddra(display: dict[str, Any]) -> str | None:
    code, term = display.get("meddra_pt_code"), display.get("meddra_pt")
    if code and term:
        return f"{term} ({code})"
    return _show(code or term)
