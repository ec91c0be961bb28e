"""Blocking on retrieval keys: candidate pairs, identifier links, random pairs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from matcher.audit.common import MAX_BLOCK, IntArray, unique_sorted
from matcher.audit.encoding import Encoded

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
    for size in unique_sorted(sizes):
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
    codes = unique_sorted(codes)
    stats.pairs = len(codes)
    return np.stack([codes >> 32, codes & 0xFFFFFFFF], axis=1), stats


def identifier_links(enc: Encoded, pairs: IntArray) -> npt.NDArray[np.bool_]:
    """Whether each pair shares an identifier (M10: an ID Match, linked deterministically)."""
    if len(pairs) == 0 or len(enc.id_rows) == 0:
        return np.zeros(len(pairs), dtype=bool)
    order, starts, sizes = _groups(enc.id_hashes)
    rows = enc.id_rows[order]
    shared = unique_sorted(_pairs_in_groups(rows, np.ones(len(rows), dtype=bool), starts, sizes))
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
