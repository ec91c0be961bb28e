"""casematch's local OpenSearch node: build it, start it, find it, stop it.

The default engine is a real single-node OpenSearch 2.19 assembled from Maven Central jars by
the Maven module in ``engine/opensearch-node/`` (the server, its netty4, analysis-common,
mapper-extras, reindex and painless modules, and one launcher class). It runs as its own JVM,
detached from the command that started it, so ``casematch serve``, ``load``, ``check`` and
``reindex`` share one node, and a node survives the command that started it until
``casematch engine stop``.

Everything lives under ``<data_dir>/opensearch/``:

========================  =====================================================================
``data/``                 the node's indices (OpenSearch locks it: one node per data directory)
``logs/``                 ``casematch.log`` (the node's log), ``jvm.log`` (the JVM's stdout and
                          stderr), ``http.ports`` (written by the node once REST listens)
``config/``               ``log4j2.properties`` (written by the launcher when missing)
``node.json``             pid, URL, version and heap of the running node
``node.lock``             held while a node is started or stopped, so two commands never race
========================  =====================================================================

    >>> node = LocalNode(NodeConfig(data_dir=Path(".casematch")))   # doctest: +SKIP
    >>> node.ensure_started().url                                    # doctest: +SKIP
    'http://127.0.0.1:9200'

Nothing here logs or raises with a document value: only paths, ports, pids and versions.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

log = logging.getLogger("casematch.engine")

#: The Maven module that builds the node (kept in the repository, beside the packages).
NODE_MODULE = Path(__file__).resolve().parent.parent / "engine" / "opensearch-node"
#: The launcher class (``engine/opensearch-node/src/main/java``).
LAUNCHER = "casematch.node.LocalNode"
#: The oldest Java the node runs on (OpenSearch 2.19's own floor).
MIN_JAVA = 17
#: Whose cluster a node on a port is: the launcher's ``cluster.name``.
CLUSTER_NAME = "casematch"


class NodeError(Exception):
    """The local node could not be built, started or reached; the message says what to fix."""


@dataclass(frozen=True)
class NodeConfig:
    """Where the local node keeps its data and how it runs.

    >>> NodeConfig(data_dir=Path("/var/lib/casematch"), heap="2g").home
    PosixPath('/var/lib/casematch/opensearch')
    """

    data_dir: Path
    #: JVM heap (``-Xms`` = ``-Xmx``); OpenSearch wants the rest of memory for the page cache.
    heap: str = "1g"
    #: A port or a range (``9200-9299``): the node takes the first free one.
    http_port: str = "9200-9299"
    transport_port: str = "9300-9399"
    #: The ``java`` to run (``None``: ``$JAVA_HOME/bin/java``, then ``java`` on ``PATH``).
    java: str | None = None
    start_timeout_s: float = 180.0

    @property
    def home(self) -> Path:
        return self.data_dir.resolve() / "opensearch"


@dataclass(frozen=True)
class NodeInfo:
    """A running node, as ``node.json`` records it."""

    pid: int
    url: str
    version: str
    heap: str
    started: float


# -- Java and the build ------------------------------------------------------------------


@dataclass(frozen=True)
class Java:
    path: str
    version: int

    @property
    def home(self) -> str:
        return str(Path(os.path.realpath(self.path)).parent.parent)


def _java_version(java: str) -> int | None:
    try:
        res = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', res.stderr + res.stdout)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


@cache
def find_java(explicit: str | None = None) -> Java | None:
    """The Java runtime the node would run on, or ``None`` when no Java ≥ 17 is found."""
    candidates: list[str] = []
    if explicit:
        candidates.append(explicit)
    if os.environ.get("JAVA_HOME"):
        candidates.append(str(Path(os.environ["JAVA_HOME"]) / "bin" / "java"))
    on_path = shutil.which("java")
    if on_path:
        candidates.append(on_path)
    for candidate in candidates:
        version = _java_version(candidate)
        if version is not None and version >= MIN_JAVA:
            return Java(candidate, version)
    return None


def java_missing_reason(explicit: str | None = None) -> str | None:
    """Why the local node cannot run here (``None`` when it can)."""
    if find_java(explicit) is not None:
        return None
    return f"no Java {MIN_JAVA} or newer was found (JAVA_HOME, PATH or CASEMATCH_JAVA)"


@cache
def opensearch_version() -> str:
    """The OpenSearch version the Maven module builds (``<opensearch.version>`` of its POM)."""
    pom = (NODE_MODULE / "pom.xml").read_text()
    match = re.search(r"<opensearch\.version>([^<]+)</opensearch\.version>", pom)
    if not match:
        raise NodeError(f"{NODE_MODULE / 'pom.xml'} names no <opensearch.version>")
    return match.group(1)


def _sources_digest() -> str:
    """A digest of what the build reads (POM, launcher, resources): a change means a rebuild."""
    digest = hashlib.sha256()
    files = [NODE_MODULE / "pom.xml", *sorted((NODE_MODULE / "src").rglob("*"))]
    for path in files:
        if path.is_file():
            digest.update(str(path.relative_to(NODE_MODULE)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def build_dir() -> Path:
    return NODE_MODULE / "target"


def classpath() -> str:
    target = build_dir()
    return f"{target / 'opensearch-node.jar'}:{target / 'lib'}/*"


def is_built() -> bool:
    stamp = build_dir() / "casematch-build.sha256"
    return (
        stamp.is_file()
        and stamp.read_text().strip() == _sources_digest()
        and (build_dir() / "opensearch-node.jar").is_file()
    )


def build(java: Java | None = None, *, force: bool = False) -> Path:
    """Build the node with Maven unless an up-to-date build exists; the build directory.

    The first build downloads the jars from Maven Central into ``~/.m2``; later builds work
    offline. Serialized by a lock, so parallel commands build once.
    """
    if not force and is_built():
        return build_dir()
    java = java or find_java()
    if java is None:
        raise NodeError(java_missing_reason() or "no Java")
    mvn = shutil.which("mvn")
    if mvn is None:
        raise NodeError(
            "Maven (mvn) is not on PATH: it builds the local OpenSearch node "
            "(apt-get install maven), or set CASEMATCH_ENGINE=osmem"
        )
    with _flock(NODE_MODULE / ".build.lock"):
        if not force and is_built():
            return build_dir()
        log.info("building the local OpenSearch node with Maven (%s)", NODE_MODULE)
        env = {**os.environ, "JAVA_HOME": java.home}
        res = subprocess.run(
            [mvn, "-B", "-q", "-f", str(NODE_MODULE / "pom.xml"), "package"],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if res.returncode != 0:
            tail = "\n".join((res.stdout + res.stderr).strip().splitlines()[-15:])
            raise NodeError(f"the Maven build of the local OpenSearch node failed:\n{tail}")
        (build_dir() / "casematch-build.sha256").write_text(_sources_digest() + "\n")
    return build_dir()


# -- processes --------------------------------------------------------------------------


@contextlib.contextmanager
def _flock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _proc_state(pid: int) -> str | None:
    """The kernel's one-letter state of ``pid`` (``None``: no such process)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def _is_our_node(pid: int, home: Path) -> bool:
    """Whether ``pid`` is a live launcher JVM of this home (pids are reused)."""
    state = _proc_state(pid)
    if state is None or state in ("Z", "X"):
        if state == "Z":  # our own child that died: reap it
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, os.WNOHANG)
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return LAUNCHER.encode() in cmdline and str(home).encode() in cmdline


#: Starts a program in a session of its own, prints its pid and exits: the node is then
#: nobody's child, so it outlives the command that started it and is never left a zombie.
_TRAMPOLINE = """
import subprocess, sys
with open(sys.argv[1], "ab") as log:
    child = subprocess.Popen(sys.argv[3:], cwd=sys.argv[2], stdin=subprocess.DEVNULL,
                             stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
print(child.pid)
"""


def _spawn_detached(args: list[str], *, cwd: Path, log_file: Path) -> int:
    """Start ``args`` detached from this process (see ``_TRAMPOLINE``); its pid."""
    import sys

    res = subprocess.run(
        [sys.executable, "-c", _TRAMPOLINE, str(log_file), str(cwd), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if res.returncode != 0 or not res.stdout.strip().isdigit():
        raise NodeError(
            f"the local OpenSearch node could not be started: {res.stderr.strip()[-300:]}"
        )
    return int(res.stdout.strip())


def _get_json(url: str, timeout_s: float = 3.0) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as res:
            body: dict[str, Any] = json.loads(res.read())
            return body
    except (OSError, ValueError, urllib.error.URLError):
        return None


def nodes_under(root: Path) -> list[Path]:
    """The homes of running local nodes whose data lies under ``root`` (tests clean up)."""
    found: list[Path] = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if LAUNCHER.encode() not in args:
            continue
        home = Path(args[args.index(LAUNCHER.encode()) + 1].decode())
        if home.is_relative_to(root.resolve()):
            found.append(home)
    return found


class LocalNode:
    """The local OpenSearch node of one data directory."""

    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        self.home = config.home

    # -- files ----------------------------------------------------------------------

    @property
    def _info_file(self) -> Path:
        return self.home / "node.json"

    @property
    def _ports_file(self) -> Path:
        return self.home / "logs" / "http.ports"

    @property
    def log_file(self) -> Path:
        return self.home / "logs" / "jvm.log"

    def info(self) -> NodeInfo | None:
        """The node this data directory's ``node.json`` names, if its JVM is alive."""
        try:
            raw = json.loads(self._info_file.read_text())
            info = NodeInfo(**raw)
        except (OSError, ValueError, TypeError):
            return None
        return info if _is_our_node(info.pid, self.home) else None

    def alive(self) -> bool:
        return self.info() is not None

    def answers(self, url: str | None = None) -> bool:
        """Whether the node's REST interface answers as casematch's cluster."""
        info = self.info() if url is None else None
        target = url or (info.url if info else None)
        if target is None:
            return False
        body = _get_json(target)
        return body is not None and body.get("cluster_name") == CLUSTER_NAME

    # -- start and stop --------------------------------------------------------------

    def ensure_started(self) -> NodeInfo:
        """The running node, started (and built) first when there is none."""
        info = self.info()
        if info is not None and self.answers(info.url):
            return info
        with _flock(self.home / "node.lock"):
            info = self.info()
            if info is not None:
                # Alive but not (yet) answering: another command may have just started it.
                if self._wait_ready(info.pid, deadline=time.monotonic() + 60):
                    return info
                log.warning(
                    "the local OpenSearch node (pid %d) does not answer; restarting it", info.pid
                )
                self._terminate(info.pid)
            return self._start()

    def _start(self) -> NodeInfo:
        java = find_java(self.config.java)
        if java is None:
            raise NodeError(java_missing_reason(self.config.java) or "no Java")
        build(java)
        for sub in ("data", "logs", "config", "tmp"):
            (self.home / sub).mkdir(parents=True, exist_ok=True)
        self._ports_file.unlink(missing_ok=True)
        args = [
            java.path,
            f"-Xms{self.config.heap}",
            f"-Xmx{self.config.heap}",
            "-XX:+UseG1GC",
            "-XX:+ExitOnOutOfMemoryError",
            "-XX:-OmitStackTraceInFastThrow",
            "-Xss1m",
            "-Djava.awt.headless=true",
            "-Dfile.encoding=UTF-8",
            "-Djava.locale.providers=SPI,COMPAT",
            "-Dlog4j.shutdownHookEnabled=false",
            "-Dlog4j2.disable.jmx=true",
            f"-Djava.io.tmpdir={self.home / 'tmp'}",
            "-cp",
            classpath(),
            LAUNCHER,
            str(self.home),
            f"http.port={self.config.http_port}",
            f"transport.port={self.config.transport_port}",
        ]
        log.info("starting the local OpenSearch node (heap %s) in %s", self.config.heap, self.home)
        pid = _spawn_detached(args, cwd=self.home, log_file=self.log_file)
        deadline = time.monotonic() + self.config.start_timeout_s
        url = self._wait_ports(pid, deadline)
        body = _get_json(url) or {}
        info = NodeInfo(
            pid=pid,
            url=url,
            version=str(body.get("version", {}).get("number", "")),
            heap=self.config.heap,
            started=time.time(),
        )
        tmp = self._info_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(info)))
        tmp.replace(self._info_file)
        if not self._wait_ready(pid, deadline):
            self._terminate(pid)
            raise NodeError(self._failure("did not become ready"))
        log.info("the local OpenSearch node %s is up at %s (pid %d)", info.version, url, pid)
        return info

    def _wait_ports(self, pid: int, deadline: float) -> str:
        while time.monotonic() < deadline:
            if not _is_our_node(pid, self.home):
                raise NodeError(self._failure("exited at start"))
            with contextlib.suppress(OSError):
                ports = self._ports_file.read_text().split()
                if ports:
                    return f"http://{ports[0]}"
            time.sleep(0.1)
        self._terminate(pid)
        raise NodeError(self._failure(f"did not listen within {self.config.start_timeout_s:.0f} s"))

    def _wait_ready(self, pid: int, deadline: float) -> bool:
        """Wait until the node answers and its cluster is at least yellow."""
        while time.monotonic() < deadline:
            if not _is_our_node(pid, self.home):
                return False
            info = self.info()
            if info is not None:
                health = _get_json(
                    f"{info.url}/_cluster/health?wait_for_status=yellow&timeout=5s", timeout_s=10
                )
                if (
                    health
                    and health.get("cluster_name") == CLUSTER_NAME
                    and not health.get("timed_out")
                ):
                    return True
            time.sleep(0.2)
        return False

    def _failure(self, what: str) -> str:
        tail = ""
        with contextlib.suppress(OSError):
            lines = self.log_file.read_text(errors="replace").strip().splitlines()
            errors = [ln for ln in lines if "ERROR" in ln or "Exception" in ln]
            tail = (errors or lines)[-1][:300] if (errors or lines) else ""
        where = f"; see {self.log_file}" + (f" ({tail})" if tail else "")
        return f"the local OpenSearch node {what}{where}"

    def stop(self, timeout_s: float = 60.0) -> bool:
        """Stop the node (SIGTERM, then SIGKILL after ``timeout_s``); whether one was running."""
        with _flock(self.home / "node.lock"):
            info = self.info()
            if info is None:
                self._info_file.unlink(missing_ok=True)
                return False
            self._terminate(info.pid, timeout_s)
            self._info_file.unlink(missing_ok=True)
            return True

    def kill(self) -> None:
        """SIGKILL the node, as a crash would (durability tests)."""
        info = self.info()
        if info is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(info.pid, signal.SIGKILL)
            self._reap(info.pid, 30.0)

    def _terminate(self, pid: int, timeout_s: float = 60.0) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if not self._reap(pid, timeout_s):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            self._reap(pid, 30.0)

    def _reap(self, pid: int, timeout_s: float) -> bool:
        """Wait until ``pid`` is gone (reaping it if it is our child); whether it went."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not _is_our_node(pid, self.home):
                return True
            time.sleep(0.1)
        return False

    # -- status ----------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """What ``casematch engine status`` prints: no document value, only facts."""
        info = self.info()
        disk = (
            sum(f.stat().st_size for f in (self.home / "data").rglob("*") if f.is_file())
            if (self.home / "data").exists()
            else 0
        )
        out: dict[str, Any] = {
            "home": str(self.home),
            "running": info is not None,
            "disk_bytes": disk,
            "built": is_built(),
            "opensearch": opensearch_version(),
        }
        if info is None:
            return out
        out.update(pid=info.pid, url=info.url, version=info.version, heap=info.heap)
        with contextlib.suppress(Exception):
            import psutil

            out["rss_bytes"] = psutil.Process(info.pid).memory_info().rss
        stats = _get_json(f"{info.url}/_nodes/_local/stats/jvm")
        if stats:
            for node in stats.get("nodes", {}).values():
                mem = node.get("jvm", {}).get("mem", {})
                out["heap_used_bytes"] = mem.get("heap_used_in_bytes")
                out["heap_max_bytes"] = mem.get("heap_max_in_bytes")
        return out
