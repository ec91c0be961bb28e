"""The one I/O seam to the search engine: connect, write (journaled on osmem), read.

Three ways to an engine sit behind the same :class:`Engine` (``EngineConfig.mode``):

* ``external``: the OpenSearch cluster at ``EngineConfig.opensearch_url`` (user,
  password, CA bundle optional). It wins over the other two.
* ``local``: casematch's own single-node OpenSearch 2.19 (:mod:`indexer.localnode`),
  built from Maven Central jars and started on a loopback port when it is not
  running; data on disk under ``EngineConfig.data_dir``. The node is the store:
  its translog makes every acknowledged write durable, nothing is journaled, and
  the node keeps running after the command that started it.
* ``osmem``: ``osmem-server`` (an in-memory, OpenSearch-compatible binary) as a
  child process, with a durable copy of every write in :class:`indexer.journal.Journal`
  under ``EngineConfig.data_dir``, replayed into the fresh process at start.

``EngineConfig.engine`` chooses between ``local`` and ``osmem`` (``auto``: the local
node when Java 17 or newer is found, else osmem, with one line saying why). The
first two are ``kind == "opensearch"``; the third is ``kind == "osmem"``.

When the engine's process (the local node or osmem) dies, the :class:`Engine` notices
(a failed call, or the watchdog of a long-running server), answers
:class:`EngineUnavailable` meanwhile, and restarts it with a bounded back-off
(restoring the journal on osmem); :meth:`Engine.condition` says what happened.

Every *write* goes through a method of :class:`Engine` (index, delete, bulk,
create/delete index, alias updates) so that it can be journaled: the engine
write first, then the journal, then the return to the caller. A write the engine
refuses is never journaled; a write the caller saw succeed is always journaled.
*Reads* go through :meth:`Engine.search`, :meth:`Engine.msearch`, :meth:`Engine.get`,
:meth:`Engine.mget` and :meth:`Engine.count`: nothing outside this module touches the
opensearch-py client, so an engine difference is handled here, once.

This module is longer than the house's ~500 lines on purpose: it is the seam, the one
importer of opensearch-py, and the client, the supervised engine processes, the journal
replay and the opening live together so that "nothing else touches the client" stays a fact
one file proves (``tests/unit/test_layers.py`` checks it).

Errors are typed (:class:`EngineUnavailable` -> HTTP 503, :class:`VersionConflict`
-> 409, :class:`EngineStartupError` -> one clear line at start) and their messages
name indices, document ids and error types only, never a document value (PHI).

    >>> config = EngineConfig(opensearch_url=None, data_dir=Path(".casematch"))  # doctest: +SKIP
    >>> with open_engine(config) as engine:                                      # doctest: +SKIP
    ...     engine.ensure_index("casematch-cases", load_mapping())
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import fcntl
import logging
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal, Protocol
from urllib.parse import urlsplit, urlunsplit

import opensearchpy
import orjson
from opensearchpy import OpenSearch
from opensearchpy.serializer import JSONSerializer

from indexer.journal import DocumentRow, Journal
from indexer.localnode import LocalNode, NodeConfig, NodeError, java_missing_reason

log = logging.getLogger("casematch.engine")
# M21: opensearch-py logs whole request and response bodies (record values, PHI) at
# DEBUG/INFO; they never reach the application's logs, whatever its log level.
for _logger in ("opensearch", "opensearchpy.trace"):
    logging.getLogger(_logger).setLevel(logging.WARNING)

Refresh = str | bool
EngineKind = Literal["opensearch", "osmem"]
EngineMode = Literal["external", "local", "osmem"]
EngineChoice = Literal["auto", "opensearch", "osmem"]


class EngineError(Exception):
    """An engine operation failed; the message never carries a document value."""


class EngineUnavailable(EngineError):  # noqa: N818 (public name fixed by the contract)
    """The engine cannot be reached or is down (the API answers 503 with Retry-After)."""


class VersionConflict(EngineError):  # noqa: N818 (public name fixed by the contract)
    """An optimistic-concurrency (if_seq_no) or op_type=create conflict (the API answers 409)."""


class EngineStartupError(EngineError):
    """The engine could not be started or reached at startup; the message says what to fix."""


@dataclass(frozen=True)
class EngineConfig:
    """How to reach the engine.

    >>> EngineConfig(opensearch_url="https://search:9200", user="cm", password="...",
    ...              ca_certs=None, data_dir=Path(".casematch")).mode
    'external'
    >>> EngineConfig(opensearch_url=None, data_dir=Path(".casematch"), engine="osmem").kind
    'osmem'
    """

    opensearch_url: str | None
    data_dir: Path
    user: str | None = None
    password: str | None = None
    ca_certs: Path | None = None
    addr: str = "127.0.0.1:0"
    timeout_s: float = 30.0
    #: Path of the osmem-server binary; ``None`` = the one bundled with the osmem-server wheel.
    binary: str | None = None
    #: SQLite ``synchronous`` of the journal: FULL survives power loss, NORMAL a process crash.
    journal_synchronous: str = "FULL"

    #: ``auto`` | ``opensearch`` (the local node) | ``osmem``; a URL wins over all three.
    engine: EngineChoice = "auto"
    #: The local node's JVM heap, HTTP port (or range) and ``java``.
    node_heap: str = "1g"
    node_http_port: str = "9200-9299"
    java: str | None = None

    @property
    def mode(self) -> EngineMode:
        """Which engine this configuration opens (``auto`` resolved; see the module doc)."""
        if self.opensearch_url:
            return "external"
        if self.engine == "osmem":
            return "osmem"
        if self.engine == "opensearch":
            return "local"
        return "local" if java_missing_reason(self.java) is None else "osmem"

    @property
    def kind(self) -> EngineKind:
        return "osmem" if self.mode == "osmem" else "opensearch"

    def node_config(self) -> NodeConfig:
        return NodeConfig(
            data_dir=self.data_dir,
            heap=self.node_heap,
            http_port=self.node_http_port,
            java=self.java,
        )


@dataclass(frozen=True)
class BulkOp:
    """One bulk operation with its source already serialized (``orjson.dumps``)."""

    op: Literal["index", "create", "delete"]
    index: str
    id: str
    source: bytes | None = None
    if_seq_no: int | None = None
    if_primary_term: int | None = None


@dataclass(frozen=True)
class BulkItem:
    """The engine's answer for one bulk operation."""

    op: str
    index: str
    id: str
    status: int
    seq_no: int | None = None
    primary_term: int | None = None
    #: The engine's error *type* (e.g. ``mapper_parsing_exception``); never its reason text.
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.status < 300


@dataclass
class BulkResult:
    items: list[BulkItem] = field(default_factory=list)

    @property
    def ok(self) -> int:
        return sum(1 for i in self.items if i.ok)

    @property
    def failed(self) -> list[BulkItem]:
        return [i for i in self.items if not i.ok]


class _OrjsonSerializer(JSONSerializer):
    """opensearch-py serializer on orjson (several times faster both ways)."""

    def dumps(self, data: Any) -> Any:
        if isinstance(data, str | bytes):
            return data
        try:
            return orjson.dumps(data, default=self.default).decode()
        except TypeError:
            return super().dumps(data)

    def loads(self, s: str) -> Any:
        return orjson.loads(s)


def _redact(url: str) -> str:
    """The URL without credentials, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _error_type(err: Any) -> str:
    if isinstance(err, dict):
        return str(err.get("type") or "error")
    return "error"


# -- the osmem process ----------------------------------------------------------------


def _osmem_binary(config: EngineConfig) -> str:
    """The osmem-server binary to run, or ``EngineStartupError`` saying how to get one."""
    from osmem_server import OsmemError, resolve_binary

    try:
        binary = resolve_binary(config.binary)
    except OsmemError as exc:
        raise EngineStartupError(
            "the osmem engine binary (osmem-server) is not installed for this platform; "
            "reinstall the osmem-server package, set OSMEM_SERVER_BIN, "
            "or set CASEMATCH_OPENSEARCH_URL to use an OpenSearch cluster"
        ) from exc
    if not os.access(binary, os.X_OK):
        raise EngineStartupError(
            f"the osmem engine binary {binary} is missing or not executable; "
            "reinstall the osmem-server package or set CASEMATCH_OPENSEARCH_URL"
        )
    return str(binary)


class _ChildOutput:
    """The osmem child's output, read by two daemon threads: its first JSON line with a
    ``url`` (``ready``), and the last lines of stderr (for a failure's message)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.ready: dict[str, Any] = {}
        self.got_line = threading.Event()
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=20)
        assert proc.stdout is not None and proc.stderr is not None
        self.readers = [
            threading.Thread(target=self._read_stdout, args=(proc.stdout,), daemon=True),
            threading.Thread(target=self._read_stderr, args=(proc.stderr,), daemon=True),
        ]
        for t in self.readers:
            t.start()

    def _read_stdout(self, stream: IO[str]) -> None:
        with stream:
            for line in stream:
                if not self.ready:
                    with contextlib.suppress(ValueError):
                        msg = orjson.loads(line)
                        if isinstance(msg, dict) and "url" in msg:
                            self.ready.update(msg)
                            self.got_line.set()
        self.got_line.set()

    def _read_stderr(self, stream: IO[str]) -> None:
        with stream:
            for line in stream:
                self.stderr_tail.append(line.rstrip())

    def failure(self, addr: str, timeout_s: float) -> EngineStartupError:
        """Stop a child that never said it was ready; the error that says why."""
        proc = self.proc
        with contextlib.suppress(OSError):
            if proc.stdin:
                proc.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=2)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
            _join(self.readers)
            return EngineStartupError(
                f"the osmem engine did not start within {timeout_s:.0f} s; "
                "check the machine's load or set CASEMATCH_OPENSEARCH_URL"
            )
        _join(self.readers)  # the readers reach EOF and hold the last stderr lines
        detail = " ".join(self.stderr_tail)
        if "address already in use" in detail:
            return EngineStartupError(
                f"the osmem engine could not listen on {addr}: the port is taken; "
                "choose another address (CASEMATCH_EMBEDDED_ADDR, port 0 picks a free one)"
            )
        return EngineStartupError(
            f"the osmem engine exited at start (code {proc.returncode}): {detail or 'no message'}"
        )


class _EmbeddedProcess:
    """osmem-server as a child process: started, watched, stopped, or killed."""

    def __init__(
        self,
        proc: subprocess.Popen[str],
        url: str,
        version: str,
        readers: list[threading.Thread],
    ) -> None:
        self.proc = proc
        self._readers = readers
        self.url = url
        self.version = version

    @classmethod
    def start(cls, config: EngineConfig, timeout_s: float = 30.0) -> _EmbeddedProcess:
        """Run osmem-server and wait for the line with its URL; ``EngineStartupError``
        with a message for the user when it cannot run, exits or stays silent."""
        binary = _osmem_binary(config)
        args = [binary, "--addr", config.addr, "--no-ja", "--parent-pid", str(os.getpid())]
        try:
            proc = subprocess.Popen(
                args,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        except OSError as exc:
            raise EngineStartupError(
                f"the osmem engine binary {binary} could not be run ({exc.strerror}); "
                "reinstall the osmem-server package or set CASEMATCH_OPENSEARCH_URL"
            ) from exc
        out = _ChildOutput(proc)
        out.got_line.wait(timeout_s)
        if not out.ready:
            raise out.failure(config.addr, timeout_s)
        return cls(proc, str(out.ready["url"]), str(out.ready.get("version", "")), out.readers)

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self, grace_s: float = 5.0) -> None:
        with contextlib.suppress(OSError):
            if self.proc.stdin:
                self.proc.stdin.close()  # osmem-server exits when stdin closes
        try:
            self.proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        _join(self._readers)

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _join(threads: list[threading.Thread], timeout_s: float = 2.0) -> None:
    for t in threads:
        t.join(timeout_s)


class _DataDirLock:
    """An exclusive lock on the data directory: one osmem engine per journal."""

    def __init__(self, data_dir: Path) -> None:
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
            self._fh = (data_dir / "engine.lock").open("a+")
        except OSError as exc:
            raise EngineStartupError(
                f"the data directory {data_dir} cannot be created or written ({exc.strerror}); "
                "set CASEMATCH_DATA_DIR to a writable directory"
            ) from exc
        try:
            fcntl.flock(self._fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            self._fh.close()
            raise EngineStartupError(
                f"the data directory {data_dir} is in use by another casematch process; "
                "stop it or set CASEMATCH_DATA_DIR to another directory"
            ) from exc

    def release(self) -> None:
        with contextlib.suppress(OSError):
            fcntl.flock(self._fh, fcntl.LOCK_UN)
        self._fh.close()


# -- supervised processes -------------------------------------------------------------


class _Supervised(Protocol):
    """An engine process casematch runs and restarts: the local node, or osmem."""

    name: str

    def alive(self) -> bool: ...

    def pid(self) -> int | None: ...

    def restart(self) -> tuple[str, str]:
        """Start it again (restoring what it needs); its new URL and version."""
        ...

    def kill(self) -> None: ...

    def close(self) -> None: ...


class _LocalNodeProcess:
    """The local OpenSearch node: shared by every command, so closing leaves it running."""

    name = "the local OpenSearch node"

    def __init__(self, node: LocalNode) -> None:
        self.node = node

    def alive(self) -> bool:
        return self.node.alive()

    def pid(self) -> int | None:
        info = self.node.info()
        return info.pid if info else None

    def restart(self) -> tuple[str, str]:
        info = self.node.ensure_started()
        return info.url, info.version

    def kill(self) -> None:
        self.node.kill()

    def close(self) -> None:
        """The node outlives this command (``casematch engine stop`` stops it)."""


class _OsmemProcess:
    """osmem-server as this process's child, restored from the journal at each start."""

    name = "the osmem engine process"

    def __init__(self, config: EngineConfig, journal: Journal) -> None:
        self.config = config
        self.journal = journal
        self.process = _EmbeddedProcess.start(config)

    def alive(self) -> bool:
        return self.process.alive

    def pid(self) -> int | None:
        return self.process.pid

    def restart(self) -> tuple[str, str]:
        with contextlib.suppress(Exception):
            self.process.stop(grace_s=1.0)
        self.process = _EmbeddedProcess.start(self.config)
        client = _client(self.process.url, self.config)
        try:
            restore(client, self.journal)
        finally:
            client.close()
        return self.process.url, self.process.version

    def kill(self) -> None:
        self.process.kill()

    def close(self) -> None:
        self.process.stop()


# -- the seam ---------------------------------------------------------------------


#: Back-off between restart attempts of a dead engine process: first, then doubling to the cap.
HEAL_FIRST_DELAY_S = 0.5
HEAL_MAX_DELAY_S = 30.0


class Engine:
    """A connected engine: every read and write of casematch goes through its methods."""

    def __init__(
        self,
        *,
        kind: EngineKind,
        mode: EngineMode,
        url: str,
        version: str,
        client: OpenSearch,
        config: EngineConfig | None = None,
        journal: Journal | None = None,
        process: _Supervised | None = None,
        lock: _DataDirLock | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        self.timeout_s = timeout_s
        self.kind = kind
        self.mode = mode
        self.url = url
        self.version = version
        self.client = client
        self.journal = journal
        self._config = config
        self._process = process
        self._lock = lock
        self._closed = False
        self._heal_lock = threading.Lock()
        self._healer: threading.Thread | None = None
        self._condition: str | None = None
        #: What happened to the engine process, newest last (PHI-free), for ``/health``.
        self.events: collections.deque[str] = collections.deque(maxlen=10)
        self._watchdog: threading.Thread | None = None

    # -- plumbing ------------------------------------------------------------------

    @property
    def process_pid(self) -> int | None:
        """The engine process's id (``None`` on an external cluster)."""
        return self._process.pid() if self._process else None

    @property
    def node(self) -> LocalNode | None:
        """The local node behind this engine (``None`` on osmem or an external cluster)."""
        return self._process.node if isinstance(self._process, _LocalNodeProcess) else None

    def condition(self) -> str | None:
        """Why the engine is degraded right now (``None``: it is not)."""
        return self._condition

    def _unavailable(self, exc: Exception) -> EngineUnavailable:
        if self._process is not None and not self._process.alive():
            self._heal(f"{self._process.name} stopped")
            return EngineUnavailable(
                f"{self._process.name} stopped; casematch is restarting it, retry shortly"
            )
        if self._condition:
            return EngineUnavailable(self._condition)
        return EngineUnavailable(
            f"the search engine at {_redact(self.url)} is unreachable ({type(exc).__name__})"
        )

    def _heal(self, reason: str) -> None:
        """Restart the dead engine process in the background (one healer at a time)."""
        with self._heal_lock:
            if self._closed or self._process is None:
                return
            if self._healer is not None and self._healer.is_alive():
                return
            self._condition = f"{reason}; restarting it"
            self.events.append(f"{_now()} {reason}")
            log.warning("%s; restarting it", reason)
            self._healer = threading.Thread(
                target=self._heal_loop, args=(reason,), name="engine-heal", daemon=True
            )
            self._healer.start()

    def _heal_loop(self, reason: str) -> None:
        assert self._process is not None
        delay = HEAL_FIRST_DELAY_S
        attempt = 0
        while not self._closed:
            attempt += 1
            try:
                url, version = self._process.restart()
            except Exception as exc:  # any failure: say so, wait, try again
                self._condition = (
                    f"{reason}; restart attempt {attempt} failed ({type(exc).__name__}), "
                    f"next in {delay:.0f} s"
                )
                log.warning("%s", self._condition)
                time.sleep(delay)
                delay = min(delay * 2, HEAL_MAX_DELAY_S)
                continue
            if url != self.url and self._config is not None:
                old, self.client = self.client, _client(url, self._config)
                with contextlib.suppress(Exception):
                    old.close()
            self.url, self.version = url, version
            self._condition = None
            self.events.append(f"{_now()} restarted {self._process.name} (attempt {attempt})")
            log.warning("restarted %s after %d attempt(s)", self._process.name, attempt)
            return

    def start_watchdog(self, interval_s: float = 2.0) -> None:
        """Check the engine process every ``interval_s`` and restart it when it died."""
        if self._process is None or self._watchdog is not None:
            return

        def watch() -> None:
            while not self._closed:
                time.sleep(interval_s)
                process = self._process
                if process is not None and not self._closed and not process.alive():
                    self._heal(f"{process.name} stopped")

        self._watchdog = threading.Thread(target=watch, name="engine-watchdog", daemon=True)
        self._watchdog.start()

    def wait_healthy(self, timeout_s: float = 120.0) -> bool:
        """Wait until no restart is under way (tests and the CLI use it); whether it healed."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            healer = self._healer
            if (healer is None or not healer.is_alive()) and self._condition is None:
                return True
            time.sleep(0.1)
        return False

    @contextlib.contextmanager
    def _calling(self, what: str, index: str = "", id: str = "") -> Iterator[None]:
        """Translate opensearch-py errors into the typed, PHI-free errors of this module."""
        where = f" {index}/{id}" if id else (f" {index}" if index else "")
        try:
            yield
        except opensearchpy.ConflictError as exc:
            raise VersionConflict(f"{what}{where}: version conflict") from exc
        except (opensearchpy.ConnectionError, opensearchpy.ConnectionTimeout) as exc:
            raise self._unavailable(exc) from exc
        except opensearchpy.AuthorizationException as exc:
            if exc.error == "cluster_block_exception":
                raise EngineUnavailable(
                    f"{what}{where}: the index is read-only while a reindex runs; retry shortly"
                ) from exc
            raise EngineError(f"{what}{where}: 403 {exc.error}") from exc
        except opensearchpy.TransportError as exc:
            status = exc.status_code
            if status in (429, 502, 503, 504):
                raise EngineUnavailable(
                    f"{what}{where}: engine busy or unavailable ({status})"
                ) from exc
            info = exc.info if isinstance(exc.info, dict) else {}
            raise EngineError(f"{what}{where}: {status} {_error_type(info.get('error'))}") from exc

    # -- index management --------------------------------------------------------

    def create_index(self, name: str, body: dict[str, Any]) -> None:
        """Create a physical index (and any aliases its body names); journaled."""
        aliases = dict(body.get("aliases") or {})
        definition = {k: v for k, v in body.items() if k != "aliases"}
        with self._calling("create index", name):
            self.client.indices.create(index=name, body=body)
        if self.journal is not None:
            self.journal.put_index(name, definition)
            if aliases:
                self.journal.apply_aliases([(a, name) for a in aliases], [])

    def delete_index(self, name: str) -> None:
        """Delete a physical index (missing is fine); journaled."""
        with self._calling("delete index", name):
            self.client.indices.delete(index=name, ignore_unavailable=True)
        if self.journal is not None:
            self.journal.delete_index(name)

    def index_exists(self, name: str) -> bool:
        with self._calling("exists", name):
            return bool(self.client.indices.exists(index=name))

    def alias_targets(self, alias: str) -> list[str]:
        """The physical indices an alias points at (empty if it does not exist)."""
        with self._calling("get alias", alias):
            if not self.client.indices.exists_alias(name=alias):
                return []
            found = self.client.indices.get_alias(name=alias)
        return sorted(found)

    def update_aliases(self, actions: list[dict[str, Any]]) -> None:
        """Apply alias actions atomically (one ``_aliases`` call); journaled."""
        with self._calling("update aliases"):
            self.client.indices.update_aliases(body={"actions": actions})
        if self.journal is None:
            return
        adds: list[tuple[str, str]] = []
        removes: list[tuple[str, str]] = []
        for action in actions:
            for verb, spec in action.items():
                if verb == "remove_index":
                    for idx in _names(spec, "index", "indices"):
                        self.journal.delete_index(idx)
                    continue
                pairs = [
                    (a, i)
                    for i in _names(spec, "index", "indices")
                    for a in _names(spec, "alias", "aliases")
                ]
                (adds if verb == "add" else removes).extend(pairs)
        self.journal.apply_aliases(adds, removes)

    def ensure_index(self, alias: str, body: dict[str, Any]) -> str:
        """Create ``{alias}-000001`` behind ``alias`` unless the alias exists; its physical name."""
        targets = self.alias_targets(alias)
        if targets:
            return targets[0]
        physical = f"{alias}-000001"
        try:
            self.create_index(physical, {**body, "aliases": {alias: {}}})
        except EngineError:
            # Another process may have won the race; anything else is re-raised below.
            targets = self.alias_targets(alias)
            if targets:
                return targets[0]
            raise
        return physical

    def set_write_block(self, index: str, blocked: bool) -> None:
        """Make an index read-only (reindex) or writable again. Not journaled: transient."""
        with self._calling("write block", index):
            self.client.indices.put_settings(
                index=index, body={"index": {"blocks": {"write": blocked}}}
            )

    def write_blocked(self, index: str) -> bool:
        with self._calling("get settings", index):
            res = self.client.indices.get_settings(index=index)
        settings = res.get(index, {}).get("settings", {}).get("index", {})
        value = settings.get("blocks", {}).get("write", False)
        return str(value).lower() == "true"

    def set_refresh_interval(self, index: str, interval: str) -> None:
        """Change how often an index (or alias) makes writes searchable (bulk loads widen it)."""
        with self._calling("refresh interval", index):
            self.client.indices.put_settings(
                index=index, body={"index": {"refresh_interval": interval}}
            )

    def refresh(self, index: str) -> None:
        with self._calling("refresh", index):
            self.client.indices.refresh(index=index)

    # -- documents --------------------------------------------------------------------

    def index(
        self,
        index: str,
        id: str,
        body: dict[str, Any],
        *,
        refresh: Refresh = "wait_for",
        if_seq_no: int | None = None,
        if_primary_term: int | None = None,
        op_type: str | None = None,
    ) -> dict[str, Any]:
        """Index one document; raises :class:`VersionConflict` on a conditional-write conflict."""
        source = orjson.dumps(body)
        params: dict[str, Any] = {"refresh": _refresh_param(refresh)}
        if if_seq_no is not None:
            params["if_seq_no"] = if_seq_no
            params["if_primary_term"] = if_primary_term
        if op_type is not None:
            params["op_type"] = op_type
        with self._calling("index", index, id):
            res: dict[str, Any] = self.client.index(index=index, id=id, body=source, params=params)
        if self.journal is not None:
            self.journal.put_documents([(res["_index"], id, int(res["_seq_no"]), source)])
        return res

    def delete(self, index: str, id: str, *, refresh: Refresh = "wait_for") -> None:
        """Delete one document (missing is fine); journaled."""
        with self._calling("delete", index, id):
            try:
                res = self.client.delete(
                    index=index, id=id, params={"refresh": _refresh_param(refresh)}
                )
            except opensearchpy.NotFoundError:
                return
        if self.journal is not None:
            self.journal.put_documents([(res["_index"], id, int(res["_seq_no"]), None)])

    def get(self, index: str, id: str) -> dict[str, Any] | None:
        """The document (realtime) with ``_source``, ``_seq_no``, ``_primary_term``, or ``None``."""
        with self._calling("get", index, id):
            try:
                doc: dict[str, Any] = self.client.get(index=index, id=id)
            except opensearchpy.NotFoundError:
                return None
        return doc if doc.get("found") else None

    def mget(self, index: str, ids: Sequence[str]) -> list[dict[str, Any]]:
        """The documents that exist among ``ids`` (realtime), in request order."""
        if not ids:
            return []
        with self._calling("mget", index):
            res = self.client.mget(index=index, body={"ids": list(ids)})
        return [d for d in res.get("docs", []) if d.get("found")]

    def bulk(self, actions: Iterable[dict[str, Any]], *, refresh: Refresh = False) -> BulkResult:
        """Bulk write in the opensearch-py helpers' action format; journaled.

        An action is ``{"_op_type": "index"|"create"|"delete", "_index", "_id", "_source"}``
        (plus optional ``if_seq_no`` / ``if_primary_term``).
        """
        actions = list(actions)
        unsupported = {str(a.get("_op_type", "index")) for a in actions} - {
            "index",
            "create",
            "delete",
        }
        if unsupported:
            # A partial "update" could not be journaled as the document's latest source.
            raise ValueError(f"bulk supports index, create and delete; not {sorted(unsupported)}")
        ops = [
            BulkOp(
                op=a.get("_op_type", "index"),
                index=a["_index"],
                id=str(a["_id"]),
                source=None if a.get("_op_type") == "delete" else orjson.dumps(a["_source"]),
                if_seq_no=a.get("if_seq_no"),
                if_primary_term=a.get("if_primary_term"),
            )
            for a in actions
        ]
        return self.bulk_ops(ops, refresh=refresh)

    def bulk_ops(self, ops: Sequence[BulkOp], *, refresh: Refresh = False) -> BulkResult:
        """Bulk write pre-serialized operations in one request; journal the accepted ones."""
        if not ops:
            return BulkResult()
        body = _bulk_body(ops)
        with self._calling("bulk"):
            res = self.client.bulk(
                body=body,
                params={"refresh": _refresh_param(refresh)},
                request_timeout=max(self.timeout_s, 120.0),
            )
        result = BulkResult()
        rows: list[DocumentRow] = []
        for op, entry in zip(ops, res["items"], strict=True):
            ((verb, item),) = entry.items()
            status = int(item.get("status", 500))
            error = item.get("error")
            if verb == "delete" and status == 404:
                error = None  # deleting a missing document is done
            bi = BulkItem(
                op=verb,
                index=str(item.get("_index", op.index)),
                id=op.id,
                status=status,
                seq_no=item.get("_seq_no"),
                primary_term=item.get("_primary_term"),
                error=_error_type(error) if error else None,
            )
            result.items.append(bi)
            if bi.ok and bi.seq_no is not None:
                rows.append(
                    (bi.index, op.id, int(bi.seq_no), None if verb == "delete" else op.source)
                )
        if self.journal is not None:
            self.journal.put_documents(rows)
        return result

    # -- reads ------------------------------------------------------------------------

    def msearch(self, searches: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
        """Run ``(index, body)`` searches in one ``_msearch`` round trip; responses in order."""
        if not searches:
            return []
        lines: list[bytes] = []
        for index, body in searches:
            lines.append(orjson.dumps({"index": index}))
            lines.append(orjson.dumps(body))
        with self._calling("msearch"):
            res = self.client.msearch(body=b"\n".join(lines) + b"\n")
        responses: list[dict[str, Any]] = res["responses"]
        for r in responses:
            if "error" in r:
                raise EngineError(f"msearch: {r.get('status', 500)} {_error_type(r['error'])}")
        return responses

    def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        """One search; the engine's response (``hits.hits`` with ``_source``, ``sort``, …)."""
        with self._calling("search", index):
            res: dict[str, Any] = self.client.search(index=index, body=body)
        return res

    def indices(self, pattern: str) -> list[str]:
        """The physical indices matching ``pattern`` (e.g. ``casematch-cases-*``), sorted."""
        with self._calling("get indices", pattern):
            found = self.client.indices.get(index=pattern, ignore_unavailable=True)
        return sorted(found)

    def count(self, index: str, query: dict[str, Any] | None = None) -> int:
        with self._calling("count", index):
            res = self.client.count(index=index, body={"query": query} if query else None)
        return int(res["count"])

    # -- lifecycle ---------------------------------------------------------------------

    def kill_process(self) -> None:
        """SIGKILL the engine process, as a crash would (durability and healing tests)."""
        if self._process is not None:
            self._process.kill()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        healer = self._healer
        if healer is not None and healer.is_alive():
            # A restart under way finishes before the process closes, however slow the machine:
            # its attempt is bounded by the engine's own start timeout, and the loop stops
            # after it. With a shorter wait, a restart could start a node nobody stops.
            healer.join()
        with contextlib.suppress(Exception):
            self.client.close()
        if self._process is not None:
            self._process.close()
        if self.journal is not None:
            self.journal.close()
        if self._lock is not None:
            self._lock.release()

    def __enter__(self) -> Engine:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _names(spec: dict[str, Any], one: str, many: str) -> list[str]:
    if one in spec:
        return [str(spec[one])]
    return [str(x) for x in spec.get(many, [])]


def _refresh_param(refresh: Refresh) -> str:
    if refresh is True:
        return "true"
    if refresh is False:
        return "false"
    return str(refresh)


def _bulk_body(ops: Sequence[BulkOp]) -> bytes:
    parts: list[bytes] = []
    for op in ops:
        meta: dict[str, Any] = {"_index": op.index, "_id": op.id}
        if op.if_seq_no is not None:
            meta["if_seq_no"] = op.if_seq_no
            meta["if_primary_term"] = op.if_primary_term
        parts.append(orjson.dumps({op.op: meta}))
        if op.op != "delete":
            if op.source is None:
                raise ValueError(f"bulk {op.op} of {op.index}/{op.id} has no source")
            parts.append(op.source)
    parts.append(b"")
    return b"\n".join(parts)


# -- opening ----------------------------------------------------------------------


def _client(url: str, config: EngineConfig) -> OpenSearch:
    kwargs: dict[str, Any] = {
        "hosts": [url],
        "timeout": config.timeout_s,
        "serializer": _OrjsonSerializer(),
        "http_compress": False,
        "max_retries": 0,
        # The API serves requests from a thread pool; one pooled connection per worker
        # avoids discarding and reopening connections under concurrent load.
        "pool_maxsize": 32,
    }
    if config.user:
        kwargs["http_auth"] = (config.user, config.password or "")
    if config.ca_certs:
        kwargs["ca_certs"] = str(config.ca_certs)
        kwargs["verify_certs"] = True
    return OpenSearch(**kwargs)


def _probe(client: OpenSearch, where: str) -> str:
    """The engine's version, or :class:`EngineStartupError` saying what to fix."""
    try:
        info = client.info()
    except opensearchpy.AuthenticationException as exc:
        raise EngineStartupError(
            f"OpenSearch at {where} refused the credentials (401); "
            "check CASEMATCH_OPENSEARCH_USER / CASEMATCH_OPENSEARCH_PASSWORD"
        ) from exc
    except opensearchpy.AuthorizationException as exc:
        raise EngineStartupError(
            f"OpenSearch at {where} denied access (403); give the user cluster monitor "
            "and index permissions on the casematch indices"
        ) from exc
    except (opensearchpy.ConnectionError, opensearchpy.ConnectionTimeout) as exc:
        raise EngineStartupError(
            f"OpenSearch at {where} is unreachable ({type(exc.info).__name__ if exc.info else 'connection failed'}); "
            "check CASEMATCH_OPENSEARCH_URL, the network and TLS settings"
        ) from exc
    except opensearchpy.TransportError as exc:
        raise EngineStartupError(
            f"OpenSearch at {where} answered {exc.status_code} to a health probe; "
            "check CASEMATCH_OPENSEARCH_URL points at an OpenSearch cluster"
        ) from exc
    return str(info.get("version", {}).get("number", ""))


def _open_external(config: EngineConfig) -> Engine:
    assert config.opensearch_url
    url = config.opensearch_url
    if config.ca_certs and not Path(config.ca_certs).is_file():
        raise EngineStartupError(
            f"the CA bundle {config.ca_certs} does not exist; fix CASEMATCH_OPENSEARCH_CA_CERTS"
        )
    client = _client(url, config)
    version = _probe(client, _redact(url))
    return Engine(
        kind="opensearch",
        mode="external",
        url=url,
        version=version,
        client=client,
        config=config,
        timeout_s=config.timeout_s,
    )


def _open_local(config: EngineConfig) -> Engine:
    """The local node of ``config.data_dir``: reused when it runs, else built and started."""
    node = LocalNode(config.node_config())
    try:
        info = node.ensure_started()
    except NodeError as exc:
        raise EngineStartupError(f"{exc}; or set CASEMATCH_ENGINE=osmem") from exc
    except OSError as exc:
        raise EngineStartupError(
            f"the local OpenSearch node could not be started in {node.home} ({exc.strerror}); "
            "set CASEMATCH_DATA_DIR to a writable directory"
        ) from exc
    client = _client(info.url, config)
    version = _probe(client, info.url)
    return Engine(
        kind="opensearch",
        mode="local",
        url=info.url,
        version=version,
        client=client,
        config=config,
        process=_LocalNodeProcess(node),
        timeout_s=config.timeout_s,
    )


def _open_osmem(config: EngineConfig) -> Engine:
    lock = _DataDirLock(config.data_dir)
    process: _OsmemProcess | None = None
    journal: Journal | None = None
    try:
        journal = Journal.open(
            config.data_dir / "journal.sqlite3", synchronous=config.journal_synchronous
        )
        process = _OsmemProcess(config, journal)
        client = _client(process.process.url, config)
        engine = Engine(
            kind="osmem",
            mode="osmem",
            url=process.process.url,
            version=process.process.version,
            client=client,
            config=config,
            journal=journal,
            process=process,
            lock=lock,
            timeout_s=config.timeout_s,
        )
        try:
            restore(client, journal)
        except opensearchpy.TransportError as exc:
            raise EngineStartupError(
                f"restoring the data directory {config.data_dir} into the osmem engine "
                f"failed ({type(exc).__name__} {exc.status_code}); nothing was changed on disk"
            ) from exc
        return engine
    except BaseException:
        if process is not None:
            process.close()
        if journal is not None:
            journal.close()
        lock.release()
        raise


def restore(
    client: OpenSearch,
    journal: Journal,
    *,
    batch: int = 2000,
    streams: int = 2,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, int]:
    """Replay the journal into a fresh osmem process: indices, documents, aliases.

    Writes go straight to the client (they are already journaled). ``streams`` bulk
    requests are in flight so the engine never waits while the next batch is read
    from SQLite and sent; the stored source bytes are sent as they are (no JSON
    work). Batches of 2,000: osmem's indexing cost per document grows with the
    number of bulk requests (segments), measured ~1.9 ms at 2,000 vs ~3 ms at 500.
    Logs counts and progress, never values.
    """
    started = time.perf_counter()
    indices = journal.indices()
    total = journal.document_count()
    counts: dict[str, int] = dict.fromkeys(indices, 0)
    done = 0
    last_log = started

    def send(name: str, rows: list[tuple[str, bytes]]) -> int:
        parts: list[bytes] = []
        for id_, source in rows:
            parts.append(orjson.dumps({"index": {"_index": name, "_id": id_}}))
            parts.append(source)
        parts.append(b"")
        res = client.bulk(body=b"\n".join(parts), params={"refresh": "false"}, request_timeout=600)
        if res.get("errors"):
            bad = sum(1 for e in res["items"] if next(iter(e.values())).get("error"))
            raise EngineStartupError(
                f"restoring index {name} from {journal.path}: the engine refused {bad} documents; "
                "the data directory may come from a newer casematch"
            )
        return len(rows)

    with concurrent.futures.ThreadPoolExecutor(streams, thread_name_prefix="restore") as pool:
        for name, body in indices.items():
            client.indices.create(index=name, body=body)
        in_flight: collections.deque[tuple[str, concurrent.futures.Future[int]]] = (
            collections.deque()
        )
        for name in indices:
            for rows in journal.iter_documents(name, batch=batch):
                while len(in_flight) >= streams * 2:
                    idx, fut = in_flight.popleft()
                    counts[idx] += fut.result()
                    done = sum(counts.values())
                in_flight.append((name, pool.submit(send, name, rows)))
                if progress is not None:
                    progress(done, total)
                if time.perf_counter() - last_log > 5:
                    last_log = time.perf_counter()
                    log.info("restoring the data directory: %d of %d documents", done, total)
        for idx, fut in in_flight:
            counts[idx] += fut.result()
    aliases = journal.aliases()
    if aliases:
        client.indices.update_aliases(
            body={"actions": [{"add": {"index": i, "alias": a}} for a, i in aliases]}
        )
    for name in indices:
        client.indices.refresh(index=name)
    if indices:
        log.info(
            "restored %d documents into %d indices from the data directory in %.1f s",
            sum(counts.values()),
            len(indices),
            time.perf_counter() - started,
        )
    if progress is not None:
        progress(sum(counts.values()), total)
    return counts


def open_engine(config: EngineConfig) -> Engine:
    """Connect to the engine ``config`` describes: an external cluster, the local node
    (started when it is not running), or osmem with its durable copy restored."""
    mode = config.mode
    if mode == "external":
        return _open_external(config)
    if mode == "local":
        return _open_local(config)
    if config.engine == "auto":
        log.warning("using the osmem engine: %s", java_missing_reason(config.java))
    return _open_osmem(config)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
