"""The whole-database duplicate audit, in bulk: encode, block, compare, score, cluster (pure).

``casematch audit`` (``service/audit.py``) reads an organization's Cases from the store and
runs them through here; the peer benchmark runs FEBRL rows through the same functions in
memory. Nothing here does I/O; every step works on numpy arrays of the records' codes, so
a million records cost arrays, not a million Python objects.

1. :class:`Encoder` turns each record (its :class:`~matcher.facts.Facts` and its stored
   retrieval keys, ``indexer.documents.retrieval_keys``) into integers: one code per model
   field (``matcher.linkage.MODEL_FIELDS``) for the values that field's comparator reads,
   and one hash per blocking key.
2. :func:`candidate_pairs` blocks **on the retrieval keys** of the kinds in
   :data:`BLOCK_KINDS` (identifiers, patient names, initials, date of birth, MRNs, EDC
   subject, study subject): two records are a candidate pair when they share such a key,
   which is how retrieval finds a candidate's Patient-tier and ID matches. Keys carry
   their scope (``{organization}|{ct|pm}|``), so a block never mixes organizations (M1)
   or clinical-trial with postmarketing records (M3). A less precise date of birth
   (``patient_dob_within``) joins the records whose date of birth is exactly that value,
   as retrieval looks it up, not each other; likewise patient initials, which are derived
   from the names, join only records of which at least one lacks a first or last name
   (two named records are blocked by their names). A block of more than ``max_block`` records
   (common initials, a popular name) is not paired whole: it is split by birth year (its
   members without a date of birth leave it), and a part still larger is dropped and
   counted (:class:`BlockStats`). Pairs are made per block size with numpy and deduplicated.
3. :class:`BulkLevels` gives each pair the level vector :func:`matcher.linkage.pair_levels`
   gives (a test proves them equal): exact single-valued fields compare their codes in
   numpy; the other fields (names, dates, products, events) compare each distinct pair of
   codes once, through ``linkage.field_level`` on a record holding just those values, and
   cache the result.
4. :func:`exclusions` drops the pairs the seeds exclude: M1, M3, M7 (not searchable) and
   M5 (another reporter country and no patient field matches: ``matcher.rank.country_excluded``).
5. :func:`score` gives each pair its match weight and probability under a
   :class:`~matcher.linkage.MatchModel`, as ``MatchModel.probability`` does.
6. :func:`cluster` links pairs at or above the threshold (and pairs sharing an identifier,
   M10) and merges two clusters only when **more than half** of the possible pairs between
   them are links: a chain A-B-C of links without A-C never merges A and C.
"""

from __future__ import annotations

import copy
import math
from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from indexer.documents import is_searchable, key_kind
from indexer.fields import RANKED_FIELDS, FieldSpec, KeyKind
from matcher import linkage
from matcher.bind import compare_items
from matcher.compare import EXACT as R_EXACT
from matcher.compare import NONE as R_NONE
from matcher.compare import PARTIAL as R_PARTIAL
from matcher.compare import compare_name_rows
from matcher.evaluate import Evaluation
from matcher.facts import EventFacts, Facts, ProductFacts
from matcher.model import Result
from matcher.rank import country_excluded

IntArray = npt.NDArray[np.int64]
LevelArray = npt.NDArray[np.int8]
FloatArray = npt.NDArray[np.float64]

K = KeyKind
#: The retrieval key kinds the audit blocks on: those that find a record's ID, Subject and
#: Patient-tier matches. Reporter, product and event keys are left out: every record of a
#: product shares them, so they would pair most of the database.
BLOCK_KINDS: frozenset[str] = frozenset(
    str(k)
    for k in (
        K.IDENTIFIER,
        K.PATIENT_INITIALS,
        K.PATIENT_FIRST_NAME,
        K.PATIENT_LAST_NAME,
        K.PATIENT_NAME_TOKEN,
        K.PATIENT_DOB,
        K.PATIENT_DOB_WITHIN,
        K.MRN_GP,
        K.MRN_SPECIALIST,
        K.MRN_HOSPITAL,
        K.MRN_INVESTIGATION,
        K.EDC_SUBJECT,
        K.STUDY_MRN_INVESTIGATION,
        K.STUDY_INITIALS,
    )
)
#: Records per block beyond which a block is split by birth year (see the module doc).
MAX_BLOCK = 200
#: Compared value pairs kept per field between calls of :meth:`BulkLevels.levels`.
CACHE_LIMIT = 1_000_000
#: The default link threshold on the match probability.
DEFAULT_THRESHOLD = 0.9

_RANKED_KEYS = tuple(f.key for f in RANKED_FIELDS)
_LEVEL_OF: dict[Result, int] = {
    R_EXACT: linkage.EXACT,
    R_PARTIAL: linkage.PARTIAL,
    R_NONE: linkage.NONE,
}
_RESULT_OF: dict[int, Result] = {
    linkage.EXACT: R_EXACT,
    linkage.PARTIAL: R_PARTIAL,
    linkage.NONE: R_NONE,
    linkage.NULL: R_NONE,
}


# --------------------------------------------------------------------------- encoding


def _simple(spec: FieldSpec) -> bool:
    """A single-valued field compared for equality: its level follows from codes alone."""
    return (
        spec.comparator == "exact"
        and "." not in spec.fact
        and spec.normalizer is None
        and not spec.hidden_when_blinded
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
        table = self.item_tables[i]
        code = table.get(signature)
        if code is None:
            code = table[signature] = len(self.item_signatures[i])
            self.item_signatures[i].append(signature)
        return code

    def _code(self, i: int, signature: Hashable) -> int:
        table = self.tables[i]
        code = table.get(signature)
        if code is None:
            code = table[signature] = len(self.signatures[i])
            self.signatures[i].append(signature)
        return code

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
                kind = key_kind(key)
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


# --------------------------------------------------------------------------- blocking


@dataclass
class BlockStats:
    """What blocking did: blocks paired, split by birth year, dropped as still too large."""

    blocks: int = 0
    split: int = 0
    dropped: int = 0
    dropped_records: int = 0
    pairs_before_dedupe: int = 0
    pairs: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def _groups(hashes: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """Sort order, group starts and group sizes of equal hashes."""
    order = np.argsort(hashes, kind="stable")
    sorted_h = hashes[order]
    if len(sorted_h) == 0:
        empty = np.zeros(0, np.int64)
        return order, empty, empty
    starts = np.flatnonzero(np.r_[True, sorted_h[1:] != sorted_h[:-1]])
    sizes = np.diff(np.r_[starts, len(sorted_h)])
    return order, starts, sizes


def _pairs_in_groups(
    rows: IntArray, probe: npt.NDArray[np.bool_], starts: IntArray, sizes: IntArray
) -> IntArray:
    """Every pair within each group (rows already in group order) with a probing member,
    as ``lo * 2**32 + hi`` codes; groups of one size at a time, in numpy."""
    out: list[IntArray] = []
    for size in np.unique(sizes):
        if size < 2:
            continue
        s = starts[sizes == size]
        a, b = np.triu_indices(int(size), 1)
        ia = (s[:, None] + a[None, :]).ravel()
        ib = (s[:, None] + b[None, :]).ravel()
        keep = probe[ia] | probe[ib]
        ra, rb = rows[ia[keep]], rows[ib[keep]]
        ra, rb = np.minimum(ra, rb), np.maximum(ra, rb)
        keep = ra != rb
        out.append((ra[keep] << 32) | rb[keep])
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def candidate_pairs(enc: Encoded, max_block: int = MAX_BLOCK) -> tuple[IntArray, BlockStats]:
    """The deduplicated candidate pairs (``(n, 2)`` rows, ``i < j``, sorted) and what blocking did."""
    stats = BlockStats()
    # one key per (record, hash); a record that probes a key and also holds it only probes
    order = np.lexsort((~enc.key_probe, enc.key_rows, enc.key_hashes))
    hashes, rows = enc.key_hashes[order], enc.key_rows[order]
    held = ~enc.key_probe[order]
    first = np.r_[True, (hashes[1:] != hashes[:-1]) | (rows[1:] != rows[:-1])]
    hashes, rows, held = hashes[first], rows[first], held[first]
    order, starts, sizes = _groups(hashes)
    rows, probe, hashes = rows[order], ~held[order], hashes[order]
    stats.blocks = int(np.count_nonzero(sizes >= 2))
    small = sizes <= max_block
    parts = [_pairs_in_groups(rows, probe, starts[small], sizes[small])]
    big = np.flatnonzero(~small)
    if len(big):
        stats.split = len(big)
        member = np.zeros(len(rows), dtype=bool)
        group_of = np.repeat(np.arange(len(starts)), sizes)
        member[np.isin(group_of, big)] = True
        sub_rows = rows[member]
        years = enc.dob_year[sub_rows]
        known = years > 0
        sub_rows, sub_probe = sub_rows[known], probe[member][known]
        sub_hash = hashes[member][known] * 1_000_003 + years[known]
        stats.dropped_records += int(np.count_nonzero(~known))
        o2, s2, z2 = _groups(sub_hash)
        sub_rows, sub_probe = sub_rows[o2], sub_probe[o2]
        ok = z2 <= max_block
        stats.dropped = int(np.count_nonzero(~ok))
        stats.dropped_records += int(z2[~ok].sum())
        parts.append(_pairs_in_groups(sub_rows, sub_probe, s2[ok], z2[ok]))
    codes = np.concatenate(parts)
    stats.pairs_before_dedupe = len(codes)
    codes = np.unique(codes)
    stats.pairs = len(codes)
    return np.stack([codes >> 32, codes & 0xFFFFFFFF], axis=1), stats


def identifier_links(enc: Encoded, pairs: IntArray) -> npt.NDArray[np.bool_]:
    """Whether each pair shares an identifier (M10: an ID Match, linked deterministically)."""
    if len(pairs) == 0 or len(enc.id_rows) == 0:
        return np.zeros(len(pairs), dtype=bool)
    order, starts, sizes = _groups(enc.id_hashes)
    rows = enc.id_rows[order]
    shared = np.unique(_pairs_in_groups(rows, np.ones(len(rows), dtype=bool), starts, sizes))
    codes = (pairs[:, 0] << 32) | pairs[:, 1]
    return np.isin(codes, shared)


def random_pairs(n: int, count: int, seed: int) -> IntArray:
    """``count`` random pairs of distinct rows (``i < j``), for estimating ``u``."""
    rng = np.random.default_rng(seed)
    if n < 2:
        return np.zeros((0, 2), np.int64)
    a = rng.integers(0, n, size=count, dtype=np.int64)
    b = rng.integers(0, n - 1, size=count, dtype=np.int64)
    b = np.where(b >= a, b + 1, b)
    return np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1)


# --------------------------------------------------------------------------- levels


class BulkLevels:
    """Level vectors of many pairs, equal to ``linkage.pair_levels`` (cached per code pair)."""

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder
        self.cache: list[dict[int, int]] = [{} for _ in encoder.fields]
        self.stubs: list[dict[int, Facts]] = [{} for _ in encoder.fields]
        self.computed = 0
        #: The other name field of the same person (patient, reporter), when both are scored.
        self.partner: dict[int, int] = {}
        keys = [f.key for f in encoder.fields]
        for group in ("patient", "reporter"):
            pair = (f"{group}.first_name", f"{group}.last_name")
            if all(k in keys for k in pair):
                a, b = keys.index(pair[0]), keys.index(pair[1])
                self.partner[a], self.partner[b] = b, a

    def levels(self, enc: Encoded, pairs: IntArray) -> LevelArray:
        """One row of levels per pair (columns: ``encoder.fields``)."""
        n = len(pairs)
        fields = self.encoder.fields
        out = np.zeros((n, len(fields)), dtype=np.int8)
        if n == 0:
            return out
        for cache in self.cache:  # bounded memory: a full cache starts again
            if len(cache) > CACHE_LIMIT:
                cache.clear()
        left, right = enc.codes[pairs[:, 0]], enc.codes[pairs[:, 1]]
        for i, spec in enumerate(fields):
            if self.encoder.multi[i]:
                out[:, i] = self._items_level(i, spec, enc, pairs)
                continue
            a, b = left[:, i], right[:, i]
            if self.encoder.simple[i]:
                col = np.where(a == b, linkage.EXACT, linkage.NONE).astype(np.int8)
                col[(a == 0) | (b == 0)] = linkage.NULL
                out[:, i] = col
                continue
            lo, hi = np.minimum(a, b), np.maximum(a, b)
            keys, inverse = np.unique((lo << 32) | hi, return_inverse=True)
            table = np.fromiter(
                (self._level(i, spec, key) for key in keys.tolist()), dtype=np.int8, count=len(keys)
            )
            out[:, i] = table[inverse.reshape(-1)]
        return out

    def _items_level(self, i: int, spec: FieldSpec, enc: Encoded, pairs: IntArray) -> LevelArray:
        """A product or event field: the best result over every pair of items (as
        ``matcher.bind.compare_field``), ``NULL`` without items on a side or, for a field
        hidden when blinded (M8), when either record is blinded."""
        a_items, b_items = enc.items[i][pairs[:, 0]], enc.items[i][pairs[:, 1]]
        best = np.full(len(pairs), linkage.NONE, dtype=np.int8)
        exact_only = spec.comparator == "exact"
        for ka in range(a_items.shape[1]):
            a = a_items[:, ka]
            for kb in range(b_items.shape[1]):
                b = b_items[:, kb]
                valid = (a >= 0) & (b >= 0)
                if exact_only:
                    found = np.where(valid & (a == b), linkage.EXACT, linkage.NONE)
                else:
                    rows = np.flatnonzero(valid)
                    found = np.full(len(pairs), linkage.NONE, dtype=np.int8)
                    if len(rows):
                        lo = np.minimum(a[rows], b[rows])
                        hi = np.maximum(a[rows], b[rows])
                        keys, inverse = np.unique((lo << 32) | hi, return_inverse=True)
                        table = np.fromiter(
                            (self._item_level(i, spec, key) for key in keys.tolist()),
                            dtype=np.int8,
                            count=len(keys),
                        )
                        found[rows] = table[inverse.reshape(-1)]
                best = np.maximum(best, found.astype(np.int8))
        empty = (a_items[:, 0] < 0) | (b_items[:, 0] < 0)
        level = np.where((best == linkage.NONE) & empty, linkage.NULL, best).astype(np.int8)
        if spec.hidden_when_blinded:
            level[enc.blinded[pairs[:, 0]] | enc.blinded[pairs[:, 1]]] = linkage.NULL
        return level

    def _item_level(self, i: int, spec: FieldSpec, key: int) -> int:
        cache = self.cache[i]
        level = cache.get(key)
        if level is None:
            self.computed += 1
            sigs = self.encoder.item_signatures[i]
            result = compare_items(
                spec, _item_stub(spec, sigs[key >> 32]), _item_stub(spec, sigs[key & 0xFFFFFFFF])
            )
            level = cache[key] = _LEVEL_OF[result]
        return level

    def _level(self, i: int, spec: FieldSpec, key: int) -> int:
        cache = self.cache[i]
        level = cache.get(key)
        if level is None:
            self.computed += 1
            a, b = self._stub(i, spec, key >> 32), self._stub(i, spec, key & 0xFFFFFFFF)
            partner = self.partner.get(i)
            if partner is None:
                level = cache[key] = linkage.field_level(spec, a, b)
            else:  # both name rows from one comparison (their code tables are the same)
                first, last = (i, partner) if spec.key.endswith("first_name") else (partner, i)
                rows = compare_name_rows(_names(a, spec), _names(b, spec), _same_tokens(a, b, spec))
                for f, result in ((first, rows[0]), (last, rows[1])):
                    self.cache[f][key] = _name_level(self.encoder.fields[f], result, a, b)
                level = cache[key]
        return level

    def _stub(self, i: int, spec: FieldSpec, code: int) -> Facts:
        stubs = self.stubs[i]
        found = stubs.get(code)
        if found is None:
            found = stubs[code] = _stub(spec, self.encoder.signatures[i][code])
        return found


def _names(facts: Facts, spec: FieldSpec) -> tuple[str | None, str | None]:
    if spec.group == "patient":
        return facts.first_name, facts.last_name
    return facts.reporter_first, facts.reporter_last


def _same_tokens(a: Facts, b: Facts, spec: FieldSpec) -> bool:
    tokens = a.patient_name if spec.group == "patient" else a.reporter_name
    other = b.patient_name if spec.group == "patient" else b.reporter_name
    return tokens is not None and tokens == other


def _name_level(spec: FieldSpec, result: Result, a: Facts, b: Facts) -> int:
    """``linkage.field_level`` of a name field given its row's result (``compare_name_rows``,
    as ``matcher.bind.compare_field`` calls it): ``NULL`` when either side has no value."""
    if result == R_EXACT:
        return linkage.EXACT
    if result == R_PARTIAL:
        return linkage.PARTIAL
    if getattr(a, spec.fact) in (None, "") or getattr(b, spec.fact) in (None, ""):
        return linkage.NULL
    return linkage.NONE


def level_counts(levels: LevelArray) -> Counter[tuple[int, ...]]:
    """Level vectors counted by vector (what ``linkage`` fits read), via numpy."""
    if len(levels) == 0:
        return Counter()
    n_fields = levels.shape[1]
    place = np.int64(4) ** np.arange(n_fields, dtype=np.int64)
    packed = levels.astype(np.int64) @ place
    values, counts = np.unique(packed, return_counts=True)
    out: Counter[tuple[int, ...]] = Counter()
    for value, count in zip(values.tolist(), counts.tolist(), strict=True):
        out[tuple((value >> (2 * f)) & 3 for f in range(n_fields))] = count
    return out


#: Fields whose value is derived from others when those are present: (derived, sources).
#: Patient initials are the names' first letters; when both records hold both names, the
#: initials add no evidence of their own and counting them too would count the names twice
#: (Fellegi-Sunter assumes the fields independent given match status).
DERIVED_FIELDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("patient.initials", ("patient.first_name", "patient.last_name")),
)


def independent(
    levels: LevelArray, fields: Sequence[FieldSpec], *, in_place: bool = False
) -> LevelArray:
    """``levels`` with each derived field (:data:`DERIVED_FIELDS`) set to ``NULL`` (no
    evidence) where every field it derives from is compared (not ``NULL``) in the pair
    (a copy unless ``in_place``)."""
    keys = [f.key for f in fields]
    out = levels
    for derived, sources in DERIVED_FIELDS:
        if derived not in keys or not all(k in keys for k in sources):
            continue
        cols = [keys.index(k) for k in sources]
        covered = np.ones(len(levels), dtype=bool)
        for col in cols:
            covered &= levels[:, col] != linkage.NULL
        if out is levels and not in_place:
            out = levels.copy()
        out[covered, keys.index(derived)] = linkage.NULL
    return out


# --------------------------------------------------------------------------- exclusions

#: Why a pair was excluded (the seeds' rule IDs).
EXCLUSION_RULES: tuple[str, ...] = ("M1", "M3", "M5", "M7")


def exclusions(
    enc: Encoded, pairs: IntArray, levels: LevelArray, fields: Sequence[FieldSpec]
) -> tuple[npt.NDArray[np.bool_], dict[str, int]]:
    """Which pairs the seeds allow (M1, M3, M5, M7), and how many each rule excluded.

    M1 and M3 are already part of the blocking keys' scope and M7 of the scan (records that
    are not searchable hold no keys); they are checked again here because pairs may come
    from elsewhere (random pairs, another blocking). M5 needs the comparison: for the pairs
    whose reporter countries differ, an :class:`~matcher.evaluate.Evaluation` of their
    levels goes through ``matcher.rank.country_excluded``, the rule detection applies.
    """
    i, j = pairs[:, 0], pairs[:, 1]
    counts: dict[str, int] = {}
    ok = np.ones(len(pairs), dtype=bool)
    for rule, bad in (
        ("M1", enc.organization[i] != enc.organization[j]),
        ("M3", enc.clinical_trial[i] != enc.clinical_trial[j]),
        ("M7", ~(enc.searchable[i] & enc.searchable[j])),
    ):
        counts[rule] = int(np.count_nonzero(bad & ok))
        ok &= ~bad
    ci, cj = enc.country[i], enc.country[j]
    differ = np.flatnonzero(ok & (ci != 0) & (cj != 0) & (ci != cj))
    m5 = 0
    if len(differ):
        # a pair with a matching identifying patient field is never excluded (M5's "unless")
        patient = np.array([f.group == "patient" and f.identifying for f in fields])
        matched = np.zeros(len(differ), dtype=bool)
        for col in np.flatnonzero(patient).tolist():
            matched |= levels[differ, col] >= linkage.PARTIAL
        maybe = differ[~matched]
        keys = [f.key for f in fields]
        for k in maybe.tolist():
            results = dict.fromkeys(_RANKED_KEYS, R_NONE)
            results.update(zip(keys, (_RESULT_OF[int(x)] for x in levels[k]), strict=True))
            ev = Evaluation.of(_with_country(str(cj[k])), results)
            ev.country, ev.src_country = R_NONE, str(ci[k])
            if country_excluded(ev):
                ok[k] = False
                m5 += 1
    counts["M5"] = m5
    return ok, counts


def _with_country(country: str) -> Facts:
    out = copy.copy(_BLANK)
    out.country = country
    return out


# --------------------------------------------------------------------------- scoring


@dataclass(frozen=True)
class Weights:
    """A model as arrays: each field's match weight by level, and the prior's weight."""

    table: FloatArray  # (fields, 4): log2(m/u) per level, 0 for NULL
    prior: float

    @classmethod
    def of(cls, model: linkage.MatchModel) -> Weights:
        table = np.zeros((len(model.fields), 4), dtype=np.float64)
        for f, (m, u) in enumerate(zip(model.m, model.u, strict=True)):
            for level, p in m.items():
                table[f, level] = math.log2(p / u[level])
        return cls(table, model.prior_weight)

    def weights(self, levels: LevelArray) -> FloatArray:
        """Each pair's match weight (prior included), a field at a time (bounded memory)."""
        total: FloatArray = np.full(len(levels), self.prior, dtype=np.float64)
        for f in range(self.table.shape[0]):
            total += self.table[f][levels[:, f]]
        return total

    def bayes_factors(self, levels: LevelArray) -> FloatArray:
        cols = np.arange(self.table.shape[0])
        out: FloatArray = np.exp2(self.table[cols[None, :], levels.astype(np.int64)])
        return out


def probabilities(weights: FloatArray) -> FloatArray:
    """``2^w / (1 + 2^w)`` per pair (``linkage.probability_of_weight``), without overflow."""
    out: FloatArray = 1.0 / (1.0 + np.exp2(-np.clip(weights, -1000, 1000)))
    return out


# --------------------------------------------------------------------------- clustering


@dataclass
class Clusters:
    """Clusters of rows (two or more members each) and the links that formed them."""

    members: list[list[int]]
    #: Links that were not used because their clusters lacked support (chains broken).
    refused: int = 0
    links: int = 0


def cluster(
    pairs: IntArray,
    probability: FloatArray,
    threshold: float,
    forced: npt.NDArray[np.bool_] | None = None,
    support: float = 0.5,
) -> Clusters:
    """Cluster rows through links (``probability >= threshold``, or ``forced``: ID Matches).

    Links are taken strongest first (forced ones first). Two clusters merge when the links
    between them are more than ``support`` of the ``|A| * |B|`` pairs between them: two
    records always merge on their link, a record joins a pair only when it links to both,
    and a chain of links A-B-C without A-C stays {A, B} and {C}.
    """
    linked = probability >= threshold
    if forced is not None:
        linked = linked | forced
    idx = np.flatnonzero(linked)
    strength = probability[idx] + (2.0 if forced is not None else 0.0) * (
        forced[idx] if forced is not None else 0
    )
    idx = idx[np.argsort(-strength, kind="stable")]
    edges = [(int(a), int(b)) for a, b in pairs[idx].tolist()]
    parent: dict[int, int] = {}
    size: dict[int, int] = {}
    members: dict[int, list[int]] = {}
    between: dict[int, Counter[int]] = {}

    def root(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        for x in (a, b):
            if x not in members:
                parent[x], size[x], members[x], between[x] = x, 1, [x], Counter()
        between[a][b] += 1
        between[b][a] += 1
    refused = 0
    for a, b in edges:
        ra, rb = root(a), root(b)
        if ra == rb:
            continue
        if between[ra][rb] <= support * size[ra] * size[rb]:
            refused += 1
            continue
        if size[ra] < size[rb]:
            ra, rb = rb, ra
        parent[rb] = ra
        size[ra] += size[rb]
        members[ra].extend(members.pop(rb))
        moved = between.pop(rb)
        moved.pop(ra, None)
        between[ra].pop(rb, None)
        for other, count in moved.items():
            between[ra][other] += count
            between[other].pop(rb, None)
            between[other][ra] += count
    groups = sorted((sorted(m) for m in members.values() if len(m) > 1), key=lambda m: m[0])
    return Clusters(groups, refused=refused, links=len(edges))


def clustered_pairs(clusters: Sequence[Sequence[int]]) -> set[tuple[int, int]]:
    """Every pair of rows within a cluster (what pairwise precision/recall score)."""
    out: set[tuple[int, int]] = set()
    for members in clusters:
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                out.add((members[x], members[y]))
    return out


# --------------------------------------------------------------------------- in memory


@dataclass
class AuditRun:
    """An audit of records held in memory (the peer benchmark; tests): every stage's output."""

    encoded: Encoded
    pairs: IntArray
    levels: LevelArray
    allowed: npt.NDArray[np.bool_]
    id_match: npt.NDArray[np.bool_]
    model: linkage.MatchModel
    weights: FloatArray
    probability: FloatArray
    clusters: Clusters
    blocking: BlockStats
    excluded: dict[str, int] = field(default_factory=dict)


#: Training passes, as Splink trains: EM over the blocked pairs that agree exactly on the
#: pass's fields, with those fields (and the fields derived from them: initials from names)
#: masked, so the EM is not told the answer by the fields that chose its pairs. Each field's
#: ``m`` is the mean over the passes that did not mask it.
TRAINING_PASSES: tuple[tuple[str, frozenset[str], frozenset[str]], ...] = (
    ("dob", frozenset({"patient.dob"}), frozenset({"patient.dob"})),
    (
        "names",
        frozenset({"patient.first_name", "patient.last_name"}),
        frozenset({"patient.first_name", "patient.last_name", "patient.initials"}),
    ),
)
#: Fewest pairs a training pass needs.
MIN_PASS_PAIRS = 50
#: Random pairs for ``u``.
RANDOM_PAIRS = 20_000


def train(
    encoder: Encoder,
    bulk: BulkLevels,
    enc: Encoded,
    levels: LevelArray,
    id_match: npt.NDArray[np.bool_],
    *,
    organization: str,
    trained_at: str,
    random_pair_count: int = RANDOM_PAIRS,
    seed: int = 0,
) -> linkage.MatchModel:
    """Fit a model on this audit's blocked pairs (``linkage``'s estimators, Splink's recipe).

    ``u``: ``linkage.estimate_u`` over random pairs. ``m``: ``linkage.estimate_m`` per
    training pass (:data:`TRAINING_PASSES`); a field no pass could estimate takes the
    EM over all blocked pairs. The prior: the dob pass's share of matches among the pairs
    with the same date of birth, times how many pairs share one (counted exactly from the
    codes), divided by ``m(dob exact)`` (the share of matches that share it) and by the
    pairs with a date of birth on both sides; without dates of birth, ``linkage.fit``'s
    rule (pairs sharing an identifier, else the EM's share among the blocked pairs).
    """
    fields = encoder.fields
    keys = [f.key for f in fields]
    rand = independent(bulk.levels(enc, random_pairs(len(enc), random_pair_count, seed)), fields)
    u = linkage.estimate_u(level_counts(rand), fields)
    sums: list[dict[int, float]] = [{} for _ in fields]
    passes: list[int] = [0 for _ in fields]
    shares: dict[str, float] = {}
    iterations = 0
    converged = True
    for name, rule, masked in TRAINING_PASSES:
        idx = [keys.index(k) for k in rule if k in keys]
        if len(idx) != len(rule):
            continue
        chosen = (levels[:, idx] == linkage.EXACT).all(axis=1)
        if int(np.count_nonzero(chosen)) < MIN_PASS_PAIRS:
            continue
        hide = [keys.index(k) for k in masked if k in keys]
        pass_levels = levels[chosen].copy()
        pass_levels[:, hide] = linkage.NULL
        em = linkage.estimate_m(level_counts(pass_levels), u, 0.1, fields)
        iterations += em.iterations
        converged = converged and em.converged
        shares[name] = em.match_share
        for f in range(len(fields)):
            if f in hide:
                continue
            passes[f] += 1
            for level, p in em.m[f].items():
                sums[f][level] = sums[f].get(level, 0.0) + p
    fallback = None
    if not all(passes) and len(levels):
        fallback = linkage.estimate_m(level_counts(levels), u, 0.1, fields)
        iterations += fallback.iterations
    m = tuple(
        {level: p / passes[f] for level, p in sums[f].items()}
        if passes[f]
        else (fallback.m[f] if fallback is not None else linkage.starting_m(fields)[f])
        for f in range(len(fields))
    )
    prior, source = _prior(encoder, enc, keys, m, shares, levels, id_match, fallback)
    return linkage.MatchModel(
        version=1,
        organization=organization,
        trained_at=trained_at,
        prior=prior,
        fields=tuple(keys),
        m=m,
        u=u,
        training=linkage.Training(
            records=len(enc),
            random_pairs=len(rand),
            blocked_pairs=len(levels),
            deterministic_links=int(np.count_nonzero(id_match)),
            em_iterations=iterations,
            converged=converged,
            blocked_match_share=shares.get("dob", fallback.match_share if fallback else 0.0),
            prior_source=source,
            smoothing=1.0,
            seed=seed,
        ),
    )


def _prior(
    encoder: Encoder,
    enc: Encoded,
    keys: list[str],
    m: Sequence[linkage.LevelProbabilities],
    shares: dict[str, float],
    levels: LevelArray,
    id_match: npt.NDArray[np.bool_],
    fallback: linkage.EMResult | None,
) -> tuple[float, str]:
    n = len(enc)
    if "dob" in shares and "patient.dob" in keys:
        f = keys.index("patient.dob")
        sigs = encoder.signatures[f]
        counts = np.bincount(enc.codes[:, f], minlength=len(sigs)).astype(np.float64)
        has = np.array([isinstance(sig, tuple) and sig[0] is not None for sig in sigs])
        with_dob = float(counts[has].sum())
        same = float((counts[has] * (counts[has] - 1) / 2).sum())
        if with_dob >= 2 and same > 0:
            both = with_dob * (with_dob - 1) / 2
            prior = shares["dob"] * same / m[f][linkage.EXACT] / both
            return min(max(prior, 1e-9), 0.5), "dob_pass"
    pairs = max(n * (n - 1) / 2, 1.0)
    links = int(np.count_nonzero(id_match))
    if links:
        return linkage.estimate_prior(links, max(n, 2)), "deterministic_links"
    share = fallback.match_share if fallback is not None else 0.1
    return min(max(share * len(levels) / pairs, 1e-9), 0.5), "blocked_em"


def audit_in_memory(
    records: Iterable[tuple[Facts, Sequence[str]]],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    model: linkage.MatchModel | None = None,
    organization: str = "",
    trained_at: str = "",
    max_block: int = MAX_BLOCK,
    seed: int = 0,
) -> AuditRun:
    """Encode, block, compare, exclude, train (unless ``model`` is given), score and cluster."""
    fields = model.specs if model is not None else linkage.MODEL_FIELDS
    encoder = Encoder(fields)
    enc = encoder.encode(records)
    pairs, stats = candidate_pairs(enc, max_block)
    bulk = BulkLevels(encoder)
    levels = bulk.levels(enc, pairs)
    allowed, excluded = exclusions(enc, pairs, levels, encoder.fields)
    pairs, levels = pairs[allowed], independent(levels[allowed], encoder.fields)
    id_match = identifier_links(enc, pairs)
    if model is None:
        model = train(
            encoder,
            bulk,
            enc,
            levels,
            id_match,
            organization=organization,
            trained_at=trained_at,
            seed=seed,
        )
    w = Weights.of(model)
    weights = w.weights(levels)
    prob = probabilities(weights)
    clusters = cluster(pairs, prob, threshold, forced=id_match)
    return AuditRun(
        encoded=enc,
        pairs=pairs,
        levels=levels,
        allowed=allowed,
        id_match=id_match,
        model=model,
        weights=weights,
        probability=prob,
        clusters=clusters,
        blocking=stats,
        excluded=excluded,
    )
