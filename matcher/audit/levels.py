"""Bulk comparison levels, equal to ``matcher.linkage.pair_levels`` for every pair."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from indexer.fields import FieldSpec
from matcher import linkage
from matcher.audit.common import _LEVEL_OF, CACHE_LIMIT, IntArray, LevelArray
from matcher.audit.dob import DateTable, dob_levels
from matcher.audit.encoding import Encoded, Encoder, _item_stub, _stub
from matcher.audit.names import NameTable, name_levels
from matcher.bind import compare_items
from matcher.compare import EXACT as R_EXACT
from matcher.compare import PARTIAL as R_PARTIAL
from matcher.compare import compare_name_rows
from matcher.facts import Facts
from matcher.model import Result

# --------------------------------------------------------------------------- levels


class BulkLevels:
    """Level vectors of many pairs, equal to ``linkage.pair_levels`` (cached per code pair)."""

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder
        self.cache: list[dict[int, int]] = [{} for _ in encoder.fields]
        self.stubs: list[dict[int, Facts]] = [{} for _ in encoder.fields]
        self.computed = 0
        #: Per field, a table built from its code signatures (dates, names, which codes
        #: hold a value) and the signature count it was built at: signatures only grow,
        #: so the table serves every chunk and the random pairs until encoding adds codes.
        self.tables: dict[int, tuple[int, Any]] = {}
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
        name_columns: dict[int, LevelArray] = {}  # a name column made with its partner
        for i, spec in enumerate(fields):
            if i in name_columns:
                out[:, i] = name_columns.pop(i)
                continue
            if self.encoder.multi[i]:
                out[:, i] = self._items_level(i, spec, enc, pairs)
                continue
            # one column at a time: two (pairs, fields) gathers cost 1.4 GB at 5M pairs
            a, b = enc.codes[pairs[:, 0], i], enc.codes[pairs[:, 1], i]
            partner = self.partner.get(i)
            if self.encoder.simple[i]:
                out[:, i] = _equality_column(a, b)
            elif spec.comparator == "dob" and not spec.hidden_when_blinded:
                dates = self._table(i, lambda sigs: DateTable.of([s[0] for s in sigs]))
                out[:, i] = dob_levels(dates, a, b, typos=spec.typos)
            elif partner is not None and not spec.hidden_when_blinded:
                out[:, i], name_columns[partner] = self._name_columns(i, partner, a, b)
            else:
                out[:, i] = self._coded_column(i, spec, a, b)
        return out

    def _table(self, i: int, make: Callable[[list[Any]], Any]) -> Any:
        """``make(field i's code signatures)``, built once per count of signatures."""
        sigs = self.encoder.signatures[i]
        built = self.tables.get(i)
        if built is None or built[0] != len(sigs):
            built = self.tables[i] = (len(sigs), make(sigs))
        return built[1]

    def _name_columns(
        self, i: int, partner: int, a: IntArray, b: IntArray
    ) -> tuple[LevelArray, LevelArray]:
        """Both name rows of one person (``i``'s column, then its partner's), in numpy from
        the distinct pairs of names (``matcher.audit.names``)."""
        fields = self.encoder.fields
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        keys, inverse = np.unique((lo << 32) | hi, return_inverse=True)
        first, last = (i, partner) if fields[i].key.endswith("first_name") else (partner, i)
        names = self._table(i, NameTable.of)
        typos = (fields[first].typos, fields[last].typos)
        levels = name_levels(names, keys >> 32, keys & 0xFFFFFFFF, typos=typos)
        cols = {first: levels[0][inverse], last: levels[1][inverse]}
        return cols[i], cols[partner]

    def _coded_column(self, i: int, spec: FieldSpec, a: IntArray, b: IntArray) -> LevelArray:
        """Any other field: each distinct pair of codes compared once (``_level``, cached);
        a single-valued field's pairs without a value on a side are ``NULL`` untouched."""
        n = len(a)
        rows: IntArray | None = None
        if spec.comparator != "name" and spec.normalizer is None and "." not in spec.fact:
            valued = self._table(i, _valued)
            rows = np.flatnonzero(valued[a] & valued[b])
            a, b = a[rows], b[rows]
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        keys, inverse = np.unique((lo << 32) | hi, return_inverse=True)
        table = np.fromiter(
            (self._level(i, spec, key) for key in keys.tolist()), dtype=np.int8, count=len(keys)
        )
        if rows is None:
            out: LevelArray = table[inverse.reshape(-1)]
            return out
        col = np.full(n, linkage.NULL, dtype=np.int8)
        col[rows] = table[inverse.reshape(-1)]
        return col

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
                names = linkage.name_pair(spec, a), linkage.name_pair(spec, b)
                rows = compare_name_rows(*names, _same_tokens(a, b, spec))
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
    return linkage.CLOSE if spec.typos and linkage.is_close(spec, a, b) else linkage.NONE


def _valued(signatures: Sequence[Any]) -> npt.NDArray[np.bool_]:
    """Which codes of a single-valued field hold a value (its signature's first part)."""
    return np.fromiter(
        (s[0] not in (None, "") for s in signatures), dtype=np.bool_, count=len(signatures)
    )


def _equality_column(a: IntArray, b: IntArray) -> LevelArray:
    """A field compared for equality: its level from the codes alone (0: no value)."""
    col = np.where(a == b, linkage.EXACT, linkage.NONE).astype(np.int8)
    col[(a == 0) | (b == 0)] = linkage.NULL
    return col


def level_counts(levels: LevelArray) -> Counter[tuple[int, ...]]:
    """Level vectors counted by vector (what ``linkage`` fits read), via numpy."""
    if len(levels) == 0:
        return Counter()
    n_fields = levels.shape[1]
    bits, mask = linkage.LEVEL_BITS, (1 << linkage.LEVEL_BITS) - 1
    if n_fields * bits > 63:
        return linkage.count_levels(levels)
    place = np.int64(1 << bits) ** np.arange(n_fields, dtype=np.int64)
    packed = levels.astype(np.int64) @ place
    values, counts = np.unique(packed, return_counts=True)
    out: Counter[tuple[int, ...]] = Counter()
    for value, count in zip(values.tolist(), counts.tolist(), strict=True):
        out[tuple((value >> (bits * f)) & mask for f in range(n_fields))] = count
    return out


def independent(
    levels: LevelArray, fields: Sequence[FieldSpec], *, in_place: bool = False
) -> LevelArray:
    """``linkage.evidence`` of many pairs: each derived field (``linkage.DERIVED_FIELDS``)
    ``NULL`` where any field it derives from is compared (a copy unless ``in_place``)."""
    out = levels
    for derived, sources in linkage.derived_columns(fields):
        covered = np.zeros(len(levels), dtype=bool)
        for col in sources:
            covered |= levels[:, col] != linkage.NULL
        if out is levels and not in_place:
            out = levels.copy()
        out[covered, derived] = linkage.NULL
    return out
