"""Encoding records as integer codes: one per model field, one hash per blocking key."""

from __future__ import annotations

import copy
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from indexer.documents import is_searchable, key_kind
from indexer.fields import FieldSpec
from matcher import linkage
from matcher.audit.common import BLOCK_KINDS, IntArray, K
from matcher.facts import EventFacts, Facts, ProductFacts

# --------------------------------------------------------------------------- encoding


def _simple(spec: FieldSpec) -> bool:
    """A single-valued field compared for equality: its level follows from codes alone."""
    return (
        spec.comparator == "exact"
        and "." not in spec.fact
        and spec.normalizer is None
        and not spec.hidden_when_blinded
        and not spec.typos
    )


def _multi(spec: FieldSpec) -> bool:
    """A field of each product or event: compared item by item, the best result counting."""
    return "." in spec.fact and spec.normalizer is None


def _item_signatures(spec: FieldSpec, facts: Facts) -> list[Hashable]:
    """The values ``matcher.bind.compare_items`` reads of each product or event (items
    without a value can match nothing and are left out)."""
    what, name = spec.fact.split(".", 1)
    items = [x for x in getattr(facts, what) if x.rank <= linkage.DEPTH]
    if spec.comparator == "event_text":
        return sorted(
            {
                (x.meddra_pt_code, x.event_reported)
                for x in items
                if x.event_reported not in (None, "")
            },
            key=repr,
        )
    return sorted({getattr(x, name) for x in items if getattr(x, name) not in (None, "")}, key=repr)


def _item_stub(spec: FieldSpec, signature: Any) -> ProductFacts | EventFacts:
    what, name = spec.fact.split(".", 1)
    if what == "products":
        return ProductFacts(
            signature if name == "product" else None,
            signature if name == "product_reported" else None,
            signature if name == "study_product" else None,
            1,
        )
    if spec.comparator == "event_text":
        code, text = signature
        return EventFacts(code, text, None, None, 1)
    return EventFacts(
        signature if name == "meddra_pt_code" else None,
        signature if name == "event_reported" else None,
        signature if name == "country" else None,
        signature if name == "onset" else None,
        1,
    )


def _signature(spec: FieldSpec, facts: Facts) -> Hashable:
    """Everything ``linkage.field_level`` reads of one record for ``spec`` (and nothing else)."""
    if spec.normalizer is not None:
        return facts.extra.get(spec.key)
    if spec.comparator == "name":
        group = spec.group
        if group == "patient":
            return (facts.first_name, facts.last_name, facts.patient_name)
        return (facts.reporter_first, facts.reporter_last, facts.reporter_name)
    blinded = facts.blinded if spec.hidden_when_blinded else False
    if "." not in spec.fact:
        return (getattr(facts, spec.fact), blinded)
    what, name = spec.fact.split(".", 1)
    items = [x for x in getattr(facts, what) if x.rank <= linkage.DEPTH]
    if spec.comparator == "event_text":
        values: frozenset[Any] = frozenset(
            (x.meddra_pt_code, x.event_reported)
            for x in items
            if x.event_reported not in (None, "")
        )
    else:
        values = frozenset(getattr(x, name) for x in items if getattr(x, name) not in (None, ""))
    return (tuple(sorted(values, key=repr)), blinded)


_BLANK = Facts(
    record_id="",
    kind="case",
    state="new",
    organization="",
    clinical_trial=False,
    blinded=False,
    study_number=None,
    report_type=None,
    study=None,
    new_info_date=None,
    initials=None,
    first_name=None,
    last_name=None,
    patient_name=None,
    sex=None,
    mrn_gp=None,
    mrn_specialist=None,
    mrn_hospital=None,
    mrn_investigation=None,
    edc_subject=None,
    age_group=None,
    reporter_first=None,
    reporter_last=None,
    reporter_name=None,
    qualification=None,
    country=None,
    dob=None,
    id_values=[],
    products=(),
    events=(),
    extra={},
    record={},
)


def _stub(spec: FieldSpec, signature: Any) -> Facts:
    """A record holding only the values of ``signature`` (what ``_signature`` read)."""
    out = copy.copy(_BLANK)
    if spec.normalizer is not None:
        out.extra = {spec.key: signature}
        return out
    if spec.comparator == "name":
        first, last, tokens = signature
        if spec.group == "patient":
            out.first_name, out.last_name, out.patient_name = first, last, tokens
        else:
            out.reporter_first, out.reporter_last, out.reporter_name = first, last, tokens
        return out
    value, blinded = signature
    out.blinded = blinded
    if "." not in spec.fact:
        setattr(out, spec.fact, value)
        return out
    what, name = spec.fact.split(".", 1)
    if what == "products":
        out.products = tuple(
            ProductFacts(
                v if name == "product" else None,
                v if name == "product_reported" else None,
                v if name == "study_product" else None,
                1,
            )
            for v in value
        )
    elif spec.comparator == "event_text":
        out.events = tuple(EventFacts(code, text, None, None, 1) for code, text in value)
    else:
        out.events = tuple(
            EventFacts(
                v if name == "meddra_pt_code" else None,
                v if name == "event_reported" else None,
                v if name == "country" else None,
                v if name == "onset" else None,
                1,
            )
            for v in value
        )
    return out


@dataclass
class Encoded:
    """The records of one audit as arrays (row ``i`` is record ``ids[i]``)."""

    ids: list[str]
    #: One column per model field: the code of the record's values (0: none, simple fields).
    codes: IntArray
    #: Blocking keys: the record's row, the key's hash, whether it probes (see the module doc).
    key_rows: IntArray
    key_hashes: IntArray
    key_probe: npt.NDArray[np.bool_]
    #: Identifier keys only (M10): rows and hashes.
    id_rows: IntArray
    id_hashes: IntArray
    #: Birth year (0 unknown), clinical-trial flag, reporter country code (0 none),
    #: organization code, searchable (M7).
    dob_year: IntArray
    clinical_trial: npt.NDArray[np.bool_]
    country: IntArray
    organization: IntArray
    searchable: npt.NDArray[np.bool_]
    #: Per product / event field (by column): each record's item codes, padded with -1.
    items: dict[int, IntArray] = field(default_factory=dict)
    blinded: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def __len__(self) -> int:
        return len(self.ids)


def _intern(table: dict[Hashable, int], signatures: list[Hashable], signature: Hashable) -> int:
    """``signature``'s code in ``table``, a new one (its place in ``signatures``) if unseen."""
    code = table.get(signature)
    if code is None:
        code = table[signature] = len(signatures)
        signatures.append(signature)
    return code


class Encoder:
    """Codes per field value and blocking-key hashes, shared by every chunk of one audit."""

    def __init__(self, fields: Sequence[FieldSpec] = linkage.MODEL_FIELDS) -> None:
        self.fields = tuple(fields)
        self.simple = np.array([_simple(f) for f in self.fields], dtype=bool)
        #: Per field: signature -> code; code 0 is "no value" for simple fields.
        self.tables: list[dict[Hashable, int]] = [{} for _ in self.fields]
        #: Per field: code -> signature (to compare distinct code pairs).
        self.signatures: list[list[Hashable]] = [[] for _ in self.fields]
        for i, spec in enumerate(self.fields):
            if _simple(spec):
                self.tables[i][None] = 0
                self.tables[i][""] = 0
                self.signatures[i].append(None)
        self.multi = [_multi(f) for f in self.fields]
        #: Per product / event field: item signature -> code, and code -> signature.
        self.item_tables: list[dict[Hashable, int]] = [{} for _ in self.fields]
        self.item_signatures: list[list[Hashable]] = [[] for _ in self.fields]
        self.countries: dict[str | None, int] = {None: 0}
        self.organizations: dict[str, int] = {}

    def _item_code(self, i: int, signature: Hashable) -> int:
        return _intern(self.item_tables[i], self.item_signatures[i], signature)

    def _code(self, i: int, signature: Hashable) -> int:
        return _intern(self.tables[i], self.signatures[i], signature)

    def encode(self, records: Iterable[tuple[Facts, Sequence[str]]]) -> Encoded:
        """Encode records given as (facts, stored retrieval keys)."""
        ids: list[str] = []
        codes: list[list[int]] = []
        key_rows: list[int] = []
        key_hashes: list[int] = []
        key_probe: list[bool] = []
        id_rows: list[int] = []
        id_hashes: list[int] = []
        years: list[int] = []
        ct: list[bool] = []
        country: list[int] = []
        org: list[int] = []
        searchable: list[bool] = []
        simple = [_simple(f) for f in self.fields]
        multi = self.multi
        multi_columns = [i for i, m in enumerate(multi) if m]
        items: dict[int, list[list[int]]] = {i: [] for i in multi_columns}
        blinded: list[bool] = []
        facts_of = [f.fact for f in self.fields]
        dob_within = str(K.PATIENT_DOB_WITHIN)
        identifier = str(K.IDENTIFIER)
        initials = str(K.PATIENT_INITIALS)
        kind_of: dict[str, str] = {}  # a key's scope and kind -> its kind
        for row, (facts, keys) in enumerate(records):
            ids.append(facts.record_id)
            named = bool(facts.first_name and facts.last_name)
            codes.append(
                [
                    0
                    if multi[i]
                    else self._code(
                        i, getattr(facts, facts_of[i]) if simple[i] else _signature(spec, facts)
                    )
                    for i, spec in enumerate(self.fields)
                ]
            )
            for i in multi_columns:
                items[i].append(
                    [self._item_code(i, sig) for sig in _item_signatures(self.fields[i], facts)]
                )
            blinded.append(facts.blinded)
            for key in keys:
                prefix = key.partition(":")[0]  # all ``key_kind`` reads
                kind = kind_of.get(prefix)
                if kind is None:
                    kind = kind_of[prefix] = key_kind(key)
                if kind not in BLOCK_KINDS:
                    continue
                if kind == dob_within:  # joins the records whose date of birth is this value
                    scope, value = key.split(dob_within + ":", 1)
                    key_hashes.append(hash(scope + "patient_dob:" + value))
                    key_probe.append(False)
                elif kind == initials:  # derived from the names: pairs a record without both
                    key_hashes.append(hash(key))
                    key_probe.append(not named)
                else:
                    key_hashes.append(hash(key))
                    key_probe.append(True)
                key_rows.append(row)
                if kind == identifier:
                    id_rows.append(row)
                    id_hashes.append(hash(key))
            years.append(facts.dob.year if facts.dob is not None else 0)
            ct.append(facts.clinical_trial)
            country.append(self.countries.setdefault(facts.country, len(self.countries)))
            org.append(self.organizations.setdefault(facts.organization, len(self.organizations)))
            searchable.append(is_searchable(facts.kind, facts.state))
        n_fields = len(self.fields)
        return Encoded(
            ids=ids,
            codes=np.array(codes, dtype=np.int64).reshape(len(ids), n_fields),
            key_rows=np.array(key_rows, dtype=np.int64),
            key_hashes=np.array(key_hashes, dtype=np.int64),
            key_probe=np.array(key_probe, dtype=bool),
            id_rows=np.array(id_rows, dtype=np.int64),
            id_hashes=np.array(id_hashes, dtype=np.int64),
            dob_year=np.array(years, dtype=np.int64),
            clinical_trial=np.array(ct, dtype=bool),
            country=np.array(country, dtype=np.int64),
            organization=np.array(org, dtype=np.int64),
            searchable=np.array(searchable, dtype=bool),
            items={i: _padded(rows) for i, rows in items.items()},
            blinded=np.array(blinded, dtype=bool),
        )


def _padded(rows: Sequence[Sequence[int]], width: int | None = None) -> IntArray:
    """Rows of item codes as one array, padded with -1 to ``width`` (default: the widest)."""
    width = max((len(r) for r in rows), default=0) if width is None else width
    out = np.full((len(rows), max(width, 1)), -1, dtype=np.int64)
    for k, row in enumerate(rows):
        out[k, : len(row)] = row
    return out


def _widen(array: IntArray, width: int) -> IntArray:
    if array.shape[1] >= width:
        return array
    pad = np.full((array.shape[0], width - array.shape[1]), -1, dtype=np.int64)
    return np.concatenate([array, pad], axis=1)


def concat(parts: Sequence[Encoded]) -> Encoded:
    """Chunks encoded by one :class:`Encoder`, as one (rows renumbered in order)."""
    offsets = np.cumsum([0, *(len(p) for p in parts)])[:-1]
    n_fields = parts[0].codes.shape[1] if parts else 0
    return Encoded(
        ids=[i for p in parts for i in p.ids],
        codes=np.concatenate([p.codes for p in parts])
        if parts
        else np.zeros((0, n_fields), np.int64),
        key_rows=np.concatenate([p.key_rows + o for p, o in zip(parts, offsets, strict=True)])
        if parts
        else np.zeros(0, np.int64),
        key_hashes=_cat([p.key_hashes for p in parts], np.int64),
        key_probe=_cat([p.key_probe for p in parts], bool),
        id_rows=np.concatenate([p.id_rows + o for p, o in zip(parts, offsets, strict=True)])
        if parts
        else np.zeros(0, np.int64),
        id_hashes=_cat([p.id_hashes for p in parts], np.int64),
        dob_year=_cat([p.dob_year for p in parts], np.int64),
        clinical_trial=_cat([p.clinical_trial for p in parts], bool),
        country=_cat([p.country for p in parts], np.int64),
        organization=_cat([p.organization for p in parts], np.int64),
        searchable=_cat([p.searchable for p in parts], bool),
        items={
            i: np.concatenate(
                [_widen(p.items[i], max(q.items[i].shape[1] for q in parts)) for p in parts]
            )
            for i in (parts[0].items if parts else {})
        },
        blinded=_cat([p.blinded for p in parts], bool),
    )


def _cat(arrays: Sequence[npt.NDArray[Any]], dtype: Any) -> npt.NDArray[Any]:
    return np.concatenate(arrays) if arrays else np.zeros(0, dtype)
