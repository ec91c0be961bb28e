"""Name levels of many pairs at once, in numpy, equal to ``linkage.field_level``.

A name field's level (``matcher.compare.compare_name_rows``, then ``linkage``'s ``CLOSE``
and ``NULL``) is a function of a few relations between single names: equal, similar
(``matcher.compare.similar_name``) and close (``linkage.close_names``), first with first,
last with last and across, plus whether the two full names hold the same tokens. There are
far fewer distinct pairs of single names than of (first, last) pairs: at 100,000 generated
Cases the reporter's (first, last) pairs number 0.74 million among the candidate pairs. So
the relations are computed once per distinct pair of single names and the rules of
``compare_name_rows`` are applied over arrays. ``tests/unit/test_audit_names.py`` checks
every level against ``field_level``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from matcher import linkage
from matcher.audit.common import IntArray, LevelArray
from matcher.compare import similar_name

BoolArray = npt.NDArray[np.bool_]
#: What a name field's encoder code stands for: (first, last, the full name's tokens).
NameSignature = tuple[str | None, str | None, str | None]


@dataclass(frozen=True)
class NameTable:
    """Name signatures by code, as ids of single names (-1: none) and of token strings."""

    first: IntArray
    last: IntArray
    tokens: IntArray
    vocabulary: list[str]

    @classmethod
    def of(cls, signatures: Sequence[NameSignature]) -> NameTable:
        ids: dict[str, int] = {}
        token_ids: dict[str, int] = {}

        def name_id(value: str | None) -> int:
            return -1 if value is None else ids.setdefault(value, len(ids))

        first = np.array([name_id(s[0]) for s in signatures], dtype=np.int64)
        last = np.array([name_id(s[1]) for s in signatures], dtype=np.int64)
        tokens = np.array(
            [
                -1 if s[2] is None else token_ids.setdefault(s[2], len(token_ids))
                for s in signatures
            ],
            dtype=np.int64,
        )
        return cls(first, last, tokens, list(ids))


@dataclass(frozen=True)
class _Relation:
    """Two single names of each pair: both present, equal, similar, close."""

    valid: BoolArray
    equal: BoolArray
    similar: BoolArray
    close: BoolArray


def _per_distinct(
    x: IntArray, y: IntArray, vocabulary: list[str], test: Callable[[str, str], bool]
) -> BoolArray:
    """``test`` of each pair of name ids, called once per distinct pair."""
    out = np.zeros(len(x), dtype=bool)
    if len(x) == 0:
        return out
    keys, inverse = np.unique((x << 32) | y, return_inverse=True)
    table = np.fromiter(
        (test(vocabulary[k >> 32], vocabulary[k & 0xFFFFFFFF]) for k in keys.tolist()),
        dtype=bool,
        count=len(keys),
    )
    out[:] = table[inverse.reshape(-1)]
    return out


def _relation(x: IntArray, y: IntArray, vocabulary: list[str]) -> _Relation:
    valid = (x >= 0) & (y >= 0)
    equal = valid & (x == y)
    rows = np.flatnonzero(valid & ~equal)
    similar = equal.copy()
    close = equal.copy()
    if len(rows):
        a, b = x[rows], y[rows]
        similar[rows] = _per_distinct(a, b, vocabulary, similar_name)
        close[rows] = _per_distinct(a, b, vocabulary, linkage.close_names)
    nonempty = np.array([bool(v) for v in vocabulary] + [False], dtype=bool)  # [-1]: none
    close &= nonempty[x] & nonempty[y]  # ``close_name_row`` skips empty names
    return _Relation(valid, equal, similar, close)


def _direct(r: _Relation) -> LevelArray:
    """``matcher.compare._direct`` as levels: EXACT, PARTIAL or NONE."""
    out = np.full(len(r.valid), linkage.NONE, dtype=np.int8)
    out[r.valid & r.similar] = linkage.PARTIAL
    out[r.equal] = linkage.EXACT
    return out


def name_levels(
    table: NameTable, a: IntArray, b: IntArray, *, typos: tuple[bool, bool]
) -> tuple[LevelArray, LevelArray]:
    """The levels of the first-name and the last-name field of each pair of codes (``a[k]``,
    ``b[k]``), as ``linkage.field_level`` gives them (``typos``: whether each field has the
    ``CLOSE`` level)."""
    t, voc = table, table.vocabulary
    a0, a1, b0, b1 = t.first[a], t.last[a], t.first[b], t.last[b]
    ff, ll = _relation(a0, b0, voc), _relation(a1, b1, voc)
    fl, lf = _relation(a0, b1, voc), _relation(a1, b0, voc)
    first, last = _direct(ff), _direct(ll)
    # name_pairing: the cross pairing wins when it credits more names than the direct one
    x01 = fl.valid & fl.similar
    x10 = lf.valid & lf.similar
    f_any, l_any = first != linkage.NONE, last != linkage.NONE
    crossed = (~f_any | ~l_any) & (
        x01.astype(np.int8) + x10 > f_any.astype(np.int8) + l_any.astype(np.int8)
    )
    done = (f_any & l_any) | (crossed & x01 & x10)
    same = ~done & (t.tokens[a] >= 0) & (t.tokens[a] == t.tokens[b])
    # N3: the same tokens fill the rows with a value on both sides
    first = np.where(same & ~f_any & ff.valid, linkage.PARTIAL, first).astype(np.int8)
    last = np.where(same & ~l_any & ll.valid, linkage.PARTIAL, last).astype(np.int8)
    crossed &= ~(same & (first != linkage.NONE) & (last != linkage.NONE))
    # compare_name_rows: a winning cross pairing credits both rows or the last one only
    both = crossed & x01 & x10
    first = np.where(crossed, np.where(both, linkage.PARTIAL, linkage.NONE), first)
    last = np.where(crossed, linkage.PARTIAL, last)
    out = []
    for row, result, own, typo in ((0, first, ff, typos[0]), (1, last, ll, typos[1])):
        level = result.astype(np.int8)
        none = level == linkage.NONE
        values = t.first if row == 0 else t.last
        nonempty = np.array([bool(v) for v in voc] + [False], dtype=bool)
        valued = nonempty[values[a]] & nonempty[values[b]]
        if typo:
            close = own.close if row == 0 else (own.close | fl.close | lf.close)
            level[none & valued & close] = linkage.CLOSE
        level[none & ~valued] = linkage.NULL
        out.append(level)
    return out[0], out[1]
