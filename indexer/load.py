"""Bulk load (I5): NDJSON, JSON arrays and E2B(R3) XML files into the index.

Files are streamed, never read whole: NDJSON line by line, a JSON array element
by element (a small scanner cuts the top-level elements out of a memory-mapped
file and each is parsed on its own), E2B ``.xml`` / ``.zip`` through
:mod:`indexer.e2b`. A bad line or element becomes a :class:`LoadError` naming
the file, the line and the reason (field by field for a record that fails
validation, PHI masked by :func:`indexer.records.describe_errors`) and does not
stop the good ones, which go to :meth:`indexer.store.RecordStore.put_many`.

    >>> report = load_files(store, [Path("cases.ndjson")], progress=print)  # doctest: +SKIP
    >>> report.loaded, [(e.line, e.reason) for e in report.failed]         # doctest: +SKIP
    (997, [(12, 'invalid JSON: ...'), ...])
"""

from __future__ import annotations

import mmap
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from indexer.records import ErrorDetail, Record, describe_errors, doc_key, id_grammar_errors
from indexer.store import RecordStore

#: ``progress(records_done, bytes_done, bytes_total)``
Progress = Callable[[int, int, int], None]

E2B_SUFFIXES = frozenset({".xml", ".zip"})


@dataclass(frozen=True)
class LoadError:
    """Why one line / element / message of an input was not loaded (no PHI)."""

    line: int
    reason: str
    errors: list[ErrorDetail] = field(default_factory=list)
    file: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.file else f"line {self.line}"
        return f"{where}: {self.reason}"


@dataclass
class LoadReport:
    loaded: int = 0
    failed: list[LoadError] = field(default_factory=list)
    files: int = 0
    seconds: float = 0.0
    superseded: int = 0
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def docs_per_s(self) -> float:
        return self.loaded / self.seconds if self.seconds else 0.0


# -- parsing --------------------------------------------------------------------


def _record(line: int, data: Any, kind: str | None) -> Record | LoadError:
    if not isinstance(data, dict):
        return LoadError(line, f"expected a JSON object, got {type(data).__name__}")
    if kind is not None and "kind" not in data:
        data = {**data, "kind": kind}
    try:
        record = Record.model_validate(data)
    except ValidationError as exc:
        details = describe_errors(exc)
        fields = ", ".join(f"{d['field']}: {d['error']}" for d in details[:5])
        more = f" (+{len(details) - 5} more)" if len(details) > 5 else ""
        return LoadError(line, f"invalid record: {fields}{more}", details)
    bad = id_grammar_errors(record)
    if bad:
        fields = ", ".join(f"{d['field']}: {d['error']}" for d in bad)
        return LoadError(line, f"invalid record: {fields}", bad)
    return record


def _json_error(exc: orjson.JSONDecodeError) -> str:
    # The message of orjson names the position only; never echo the document.
    return f"invalid JSON ({exc.msg}, column {exc.colno})"


def _iter_ndjson(fh: Any, kind: str | None) -> Iterator[tuple[int, int, Record | LoadError]]:
    offset = 0
    for line_no, raw in enumerate(fh, start=1):
        offset += len(raw)
        if not raw.strip():
            continue
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            yield line_no, offset, LoadError(line_no, _json_error(exc))
            continue
        yield line_no, offset, _record(line_no, data, kind)


_STRUCT = re.compile(rb'[\[\]{}"\\\n,]')


def _iter_json_array(
    buf: Any, start: int, kind: str | None
) -> Iterator[tuple[int, int, Record | LoadError]]:
    """Top-level elements of the JSON array that opens at ``buf[start]``."""
    line = 1 + buf[:start].count(b"\n")
    depth = 0  # depth inside the outer array
    in_string = False
    skip = -1
    elem_start = start + 1
    elem_line = line
    closed = False
    for m in _STRUCT.finditer(buf, start + 1):
        pos = m.start()
        ch = buf[pos : pos + 1]
        if ch == b"\n":
            line += 1
            continue
        if pos == skip:
            continue
        if in_string:
            if ch == b"\\":
                skip = pos + 1
            elif ch == b'"':
                in_string = False
            continue
        if ch == b'"':
            in_string = True
        elif ch in (b"{", b"["):
            depth += 1
        elif ch in (b"}", b"]"):
            if depth == 0:  # the outer array closes
                chunk = bytes(buf[elem_start:pos])
                if chunk.strip():
                    yield from _element(chunk, elem_line, pos, kind)
                closed = True
                break
            depth -= 1
        elif ch == b"," and depth == 0:
            yield from _element(bytes(buf[elem_start:pos]), elem_line, pos, kind)
            elem_start = pos + 1
            elem_line = line
    if not closed:
        yield line, len(buf), LoadError(elem_line, "invalid JSON array: not closed with ']'")


def _element(
    chunk: bytes, line: int, end: int, kind: str | None
) -> Iterator[tuple[int, int, Record | LoadError]]:
    # The element starts on the first non-blank line after the separator.
    stripped = chunk.lstrip()
    line += chunk[: len(chunk) - len(stripped)].count(b"\n")
    if not stripped:
        yield line, end, LoadError(line, "invalid JSON array: empty element")
        return
    try:
        data = orjson.loads(stripped)
    except orjson.JSONDecodeError as exc:
        yield line, end, LoadError(line, _json_error(exc))
        return
    yield line, end, _record(line, data, kind)


def _iter_file(
    path: Path, kind: str | None = None
) -> Iterator[tuple[int, int, Record | LoadError]]:
    """``(line, bytes consumed, record or error)`` for a JSON or NDJSON file."""
    with path.open("rb") as fh:
        head = fh.read(4096)
        first = head.lstrip()[:1]
        fh.seek(0)
        if first == b"[":
            if path.stat().st_size == 0:
                return
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
                start = buf.find(b"[")
                yield from _iter_json_array(buf, start, kind)
            return
        if first == b"{" and path.suffix.lower() == ".json":
            data = fh.read()
            try:
                one = orjson.loads(data)
            except orjson.JSONDecodeError:
                fh.seek(0)  # not one document: read it as NDJSON
            else:
                yield 1, len(data), _record(1, one, kind)
                return
        yield from _iter_ndjson(fh, kind)


def iter_records(
    path: Path | str, *, kind: str | None = None
) -> Iterator[tuple[int, Record] | LoadError]:
    """Stream the records of one NDJSON / JSON file: ``(line, Record)`` or a :class:`LoadError`."""
    p = Path(path)
    for line, _, item in _iter_file(p, kind):
        if isinstance(item, LoadError):
            yield LoadError(item.line, item.reason, item.errors, p.name)
        else:
            yield line, item


def _iter_e2b(path: Path, e2b_options: Any) -> Iterator[tuple[int, int, Record | LoadError]]:
    from indexer.e2b import E2BError, E2BOptions, iter_e2b_file

    options = e2b_options if e2b_options is not None else E2BOptions()
    size = path.stat().st_size
    n = 0
    for item in iter_e2b_file(path, options):
        if isinstance(item, E2BError):
            line = item.line or item.message_number or 0
            yield line, 0, LoadError(line, str(item))
        else:
            n += 1
            yield n, 0, item
    yield 0, size, LoadError(-1, "")  # progress marker, filtered out below


# -- loading --------------------------------------------------------------------


def load_files(
    store: RecordStore,
    paths: Iterable[Path | str],
    *,
    progress: Progress | None = None,
    chunk_size: int = 2000,
    kind: str | None = None,
    e2b_options: Any = None,
    refresh: bool = True,
    workers: int = 1,
) -> LoadReport:
    """Load files into ``store`` (a :class:`indexer.store.RecordStore`); bad input is reported.

    ``kind`` fills in records without one; ``e2b_options`` (an
    :class:`indexer.e2b.E2BOptions`) says how ``.xml`` / ``.zip`` files become records.
    """
    files = [Path(p) for p in paths]
    report = LoadReport(files=len(files))
    total = sum(f.stat().st_size for f in files)
    started = time.perf_counter()
    where: dict[str, tuple[str, int]] = {}
    state = {"done": 0, "bytes": 0}
    parse_s = 0.0

    def records() -> Iterator[Record]:
        nonlocal parse_s
        base = 0
        for f in files:
            items = (
                _iter_e2b(f, e2b_options)
                if f.suffix.lower() in E2B_SUFFIXES
                else _iter_file(f, kind)
            )
            t0 = time.perf_counter()
            for line, consumed, item in items:
                if isinstance(item, LoadError):
                    if item.line >= 0:
                        report.failed.append(LoadError(item.line, item.reason, item.errors, f.name))
                else:
                    where[f"{item.kind.value}:{doc_key(item.organization, item.id)}"] = (
                        f.name,
                        line,
                    )
                    state["done"] += 1
                    if consumed:
                        state["bytes"] = base + consumed
                    if progress is not None and state["done"] % chunk_size == 0:
                        progress(state["done"], state["bytes"], total)
                    parse_s += time.perf_counter() - t0
                    yield item
                    t0 = time.perf_counter()
            base += f.stat().st_size
            state["bytes"] = base

    with store.bulk_loading():
        bulk = store.put_many(records(), chunk_size=chunk_size, refresh=refresh, workers=workers)
    if progress is not None:
        progress(state["done"], total, total)
    report.loaded = bulk.stored
    report.superseded = bulk.superseded
    for failure in bulk.failed:
        rid = doc_key(failure.organization, failure.record_id)
        file, line = where.get(f"{failure.kind}:{rid}", ("", 0))
        report.failed.append(LoadError(line, f"the engine refused it ({failure.error})", [], file))
    report.failed.sort(key=lambda e: (e.file, e.line))
    report.seconds = time.perf_counter() - started
    report.timings = {"parse": parse_s, **bulk.timings}
    return report
