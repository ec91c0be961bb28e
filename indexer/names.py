"""The name vocabulary: every scoped name key ever indexed, one small document each.

A fuzzy lookup (M17 partial names) on the records index makes an engine walk
the term dictionary of the ``keys`` field, millions of terms at 100k records;
the embedded engine takes 1-10 ms per lookup there and a detection asks a few
dozen. The same lookup on an index holding only the distinct name keys
(thousands) costs a fraction of a millisecond. So every name key
(``{organization}|{ct|pm}|[@{country}|]{kind}:{name}`` for each of ``indexer.fields.NAME_KINDS``) is also a
document of the ``name-vocabulary`` index, whose id is the key; detection asks
the vocabulary which keys lie within the edit distance of the source's names
and looks those up exactly (``matcher.queries.expand_fuzzy``).

The vocabulary only grows. A key whose records are gone expands into a lookup
that finds nothing, so stale entries cost nothing; a missing one would lose a
partial name match, so every writer of record documents calls
:meth:`NameVocabulary.remember` *before* writing them: a name is in the
vocabulary before any record holding it can be found.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

import orjson

from indexer.documents import Document, key_kind
from indexer.engine import BulkOp, Engine, EngineError, Refresh
from indexer.fields import NAME_KINDS

#: The field holding the key in a vocabulary document.
FIELD = "key"

#: Keys remembered as written, per process; beyond this the memory is dropped and rebuilt.
_MEMORY_LIMIT = 500_000


def name_keys(doc: Document) -> list[str]:
    """The name keys of one index document (none when it is not searchable)."""
    return [key for key in doc.get("keys") or () if key_kind(key) in NAME_KINDS]


class NameVocabulary:
    """Writes the name keys of documents to the vocabulary index, each key once per process."""

    def __init__(self, engine: Engine, index: str) -> None:
        self.engine = engine
        self.index = index
        self._written: set[str] = set()
        self._lock = threading.Lock()

    def remember(self, keys: Iterable[str], *, refresh: Refresh = False) -> int:
        """Add the name keys not yet written (``name_keys``); returns how many were new.

        A key already in the index is fine (``create`` answers 409). Any other
        failure raises, so the caller writes no record whose name could be missed.
        """
        keys = set(keys)
        with self._lock:
            keys -= self._written
        if not keys:
            return 0
        ops = [
            BulkOp("create", self.index, key, orjson.dumps({FIELD: key})) for key in sorted(keys)
        ]
        result = self.engine.bulk_ops(ops, refresh=refresh)
        failed = [item for item in result.items if not item.ok and item.status != 409]
        if failed:
            raise EngineError(
                f"name vocabulary {self.index}: {len(failed)} of {len(ops)} keys not written "
                f"({failed[0].error or failed[0].status})"
            )
        with self._lock:
            if len(self._written) > _MEMORY_LIMIT:
                self._written.clear()
            self._written.update(keys)
        return sum(1 for item in result.items if item.ok)
