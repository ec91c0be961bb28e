"""The embedded engine's durable copy: a materialized journal in SQLite.

The embedded engine (osmem-server) keeps everything in memory, so every write
that goes through :mod:`indexer.engine` is also recorded here, under the data
directory, before it is acknowledged to the caller. The journal is not a log of
operations but the *latest state*: index definitions, aliases, and one row per
document ``(index, id)`` holding the source bytes the engine accepted. At start
the engine replays it (create indices, bulk-load documents, restore aliases).

Ordering rule (see ``indexer.engine``): the engine write happens first, the
journal write second, the acknowledgement third. A write the engine refuses is
never journaled (no phantom after a restart); a write the engine accepted is
journaled before the caller hears "done" (nothing acknowledged is lost). A crash
between the two loses a write nobody was told succeeded.

Concurrent writers may reach the journal in another order than they reached
the engine. Each document row therefore carries the engine's sequence number
for the write, qualified by a *generation* (bumped at every start, because a
restored engine numbers its writes from zero again); a row is only replaced by
a write with a higher ``(generation, seq_no)``. Deletes are tombstones (``source
IS NULL``) for the same reason.

SQLite runs in WAL mode with ``synchronous=FULL``: a committed transaction
survives a crash of this process, of the engine, and of the machine.

    >>> j = Journal.open(Path("/tmp/cm/journal.sqlite3"))   # doctest: +SKIP
    >>> j.put_documents([("cases-000001", "C-1~v1", 3, b'{"kind": "case"}')])  # doctest: +SKIP
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import orjson

#: ``(physical index, document id, seq_no, source bytes or None for a delete)``
DocumentRow = tuple[str, str, int, bytes | None]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS indices (name TEXT PRIMARY KEY, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS aliases (
    alias TEXT NOT NULL, idx TEXT NOT NULL, PRIMARY KEY (alias, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS documents (
    idx TEXT NOT NULL,
    id TEXT NOT NULL,
    gen INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    source BLOB,
    PRIMARY KEY (idx, id)
) WITHOUT ROWID;
"""

_UPSERT = """
INSERT INTO documents (idx, id, gen, seq, source) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (idx, id) DO UPDATE SET gen = excluded.gen, seq = excluded.seq, source = excluded.source
WHERE (excluded.gen, excluded.seq) > (documents.gen, documents.seq)
"""


class Journal:
    """The durable copy of every acknowledged write to the embedded engine (thread-safe)."""

    def __init__(self, conn: sqlite3.Connection, path: Path, generation: int) -> None:
        self._conn = conn
        self._lock = threading.Lock()
        self.path = path
        #: This run's generation; rows written now outrank every row restored at start.
        self.generation = generation
        #: Time spent committing document rows, and how many (benchmarks read these).
        self.write_seconds = 0.0
        self.rows_written = 0

    @classmethod
    def open(cls, path: Path, *, synchronous: str = "FULL") -> Journal:
        """Open (or create) the journal and start a new generation."""
        if synchronous.upper() not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise ValueError(f"synchronous must be OFF, NORMAL, FULL or EXTRA, not {synchronous!r}")
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={synchronous}")
        conn.executescript(_SCHEMA)
        row = conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        generation = int(row[0]) + 1 if row else 1
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('generation', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (str(generation),),
        )
        return cls(conn, path, generation)

    # -- writes (each one transaction, committed before returning) -------------

    @contextmanager
    def _tx(self) -> Iterator[None]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def put_index(self, name: str, body: dict[str, object]) -> None:
        with self._lock, self._tx():
            self._conn.execute(
                "INSERT INTO indices (name, body) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET body = excluded.body",
                (name, orjson.dumps(body)),
            )

    def delete_index(self, name: str) -> None:
        """Forget an index, its documents and the aliases that point at it."""
        with self._lock, self._tx():
            self._conn.execute("DELETE FROM documents WHERE idx = ?", (name,))
            self._conn.execute("DELETE FROM aliases WHERE idx = ?", (name,))
            self._conn.execute("DELETE FROM indices WHERE name = ?", (name,))

    def apply_aliases(
        self, adds: Sequence[tuple[str, str]], removes: Sequence[tuple[str, str]]
    ) -> None:
        """Record one atomic alias update: ``(alias, index)`` pairs removed then added."""
        with self._lock, self._tx():
            self._conn.executemany("DELETE FROM aliases WHERE alias = ? AND idx = ?", removes)
            self._conn.executemany("INSERT OR IGNORE INTO aliases (alias, idx) VALUES (?, ?)", adds)

    def put_documents(self, rows: Iterable[DocumentRow]) -> int:
        """Record accepted document writes (source ``None`` = deleted) in one transaction."""
        gen = self.generation
        params = [(idx, id_, gen, seq, source) for idx, id_, seq, source in rows]
        if not params:
            return 0
        with self._lock:
            started = time.perf_counter()
            with self._tx():
                self._conn.executemany(_UPSERT, params)
            self.write_seconds += time.perf_counter() - started
            self.rows_written += len(params)
        return len(params)

    # -- reads (restore, checks) ----------------------------------------------

    def indices(self) -> dict[str, dict[str, object]]:
        with self._lock:
            rows = self._conn.execute("SELECT name, body FROM indices ORDER BY name").fetchall()
        return {name: orjson.loads(body) for name, body in rows}

    def aliases(self) -> list[tuple[str, str]]:
        """``(alias, index)`` pairs."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT alias, idx FROM aliases ORDER BY alias, idx"
            ).fetchall()
        return [(a, i) for a, i in rows]

    def document_count(self, index: str | None = None) -> int:
        sql = "SELECT count(*) FROM documents WHERE source IS NOT NULL"
        args: tuple[str, ...] = ()
        if index is not None:
            sql += " AND idx = ?"
            args = (index,)
        with self._lock:
            (count,) = self._conn.execute(sql, args).fetchone()
        return int(count)

    def iter_documents(self, index: str, *, batch: int = 2000) -> Iterator[list[tuple[str, bytes]]]:
        """Live documents of one index as batches of ``(id, source bytes)``, in id order."""
        last = ""
        while True:
            with self._lock:
                rows = self._conn.execute(
                    "SELECT id, source FROM documents WHERE idx = ? AND id > ? "
                    "AND source IS NOT NULL ORDER BY id LIMIT ?",
                    (index, last, batch),
                ).fetchall()
            if not rows:
                return
            yield [(i, s) for i, s in rows]
            last = rows[-1][0]

    def close(self) -> None:
        with self._lock:
            self._conn.close()
