"""The ``casematch`` command: serve, load, reindex, check, demo (and bench, when installed).

Each command builds its own :class:`~service.settings.Settings` (environment and
``casematch.toml``), opens the engine through :func:`service.app.open_services`,
and stays thin: the work is in :mod:`service.demo`, :mod:`service.sample`,
:mod:`indexer.load`, :mod:`indexer.reindex` and :mod:`matcher`. Every error a
user can cause (a wrong option, a missing file, an engine that cannot start) is
one line on stderr, ``casematch: ...``, and a non-zero exit code.

Other packages add commands through the ``casematch.commands`` entry point
group; the repository's ``benchmarks`` package adds ``casematch bench`` that
way when the ``bench`` extra is installed. The product never imports it.

    $ casematch serve --host 127.0.0.1 --port 8000 --sample
    casematch listening on http://127.0.0.1:8000
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import signal
import socket
import sys
from collections.abc import Callable, Iterator, Sequence
from importlib.metadata import PackageNotFoundError, entry_points, version
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import orjson
import typer
import uvicorn
from pydantic import ValidationError
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)

from indexer.engine import EngineStartupError, EngineUnavailable
from indexer.localnode import LocalNode, NodeError, java_missing_reason
from indexer.records import Kind, Record, describe_errors, parse_record
from indexer.store import OutdatedStoreError
from service.app import Services, create_app, open_services
from service.audit_cli import register as register_audit
from service.model_cli import model_app
from service.runtime import tune_gc
from service.settings import ConfigError, Settings, load_settings

app = typer.Typer(
    name="casematch",
    help="Duplicate detection for pharmacovigilance case intake.",
    no_args_is_help=True,
    add_completion=False,
    # Plain help: flags read as flags (``--json``), not as options taking a ``<bool>``.
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

#: The entry point group through which other packages add subcommands.
COMMANDS_GROUP = "casematch.commands"


def package_version() -> str:
    """The installed casematch version (``0+unknown`` when run from an uninstalled tree)."""
    try:
        return version("casematch")
    except PackageNotFoundError:
        return "0+unknown"


def _print_version(value: bool) -> None:
    if value:
        out.print(f"casematch {package_version()}")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="print the version and exit",
        ),
    ] = False,
) -> None:
    """Duplicate detection for pharmacovigilance case intake."""


class _Stop(Exception):  # noqa: N818 (a control-flow signal, not an error)
    """SIGTERM/SIGINT outside the server loop: unwind, closing the engine."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop(signum)


@contextlib.contextmanager
def _stoppable() -> Iterator[None]:
    """Turn SIGTERM/SIGINT into :class:`_Stop` so ``finally`` blocks close the engine.

    uvicorn installs its own handlers while it serves and re-raises the signal
    after its graceful shutdown; that lands here too. A stop that nobody
    handles ends the command with exit code 130.
    """
    previous = {s: signal.signal(s, _raise_stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    except _Stop:
        err.print("casematch: interrupted")
        raise typer.Exit(130) from None
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@contextlib.contextmanager
def _services(settings: Settings, *, check_doc_ids: bool = True) -> Iterator[Services]:
    """Open the engine; startup errors become one line and exit code 2."""
    try:
        with open_services(settings, check_doc_ids=check_doc_ids) as services:
            yield services
    except OutdatedStoreError as exc:
        err.print(f"casematch: {exc}")
        raise typer.Exit(2) from None
    except EngineStartupError as exc:
        err.print(f"casematch: cannot start the engine: {exc}")
        raise typer.Exit(2) from None
    except EngineUnavailable as exc:
        err.print(f"casematch: the engine became unavailable: {exc}")
        raise typer.Exit(2) from None


class _Server(uvicorn.Server):
    """uvicorn's server, announcing the bound address once it listens."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[str], None]) -> None:
        super().__init__(config)
        self._on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and not self.should_exit:
            self._on_ready(self._url())

    def _url(self) -> str:
        for server in self.servers:
            for sock in server.sockets:
                host, port = sock.getsockname()[:2]
                if sock.family == socket.AF_INET6:
                    host = f"[{host}]"
                return f"http://{host}:{port}"
        return f"http://{self.config.host}:{self.config.port}"


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port (0 picks a free one)")] = 8000,
    sample: Annotated[
        bool,
        typer.Option(
            "--sample",
            help="load generated sample data when the store is empty; without "
            "CASEMATCH_API_KEYS also use a local demo key (kept in the data directory) "
            "and print it",
        ),
    ] = False,
    seed: Annotated[int, typer.Option(help="seed of the sample data set")] = 7,
) -> None:
    """Serve the HTTP API on the configured engine (the local OpenSearch node by default)."""
    from service import demo
    from service.sample import sample_data

    _configure_logging()
    settings = load_settings()
    with _stoppable():
        try:
            dataset = sample_data(seed).records if sample else None
            demo_key: str | None = None
            if dataset is not None and not settings.api_keys:
                settings, demo_key = demo.with_demo_key(settings, dataset)
            with _services(settings) as services:
                if dataset is not None:
                    loaded = demo.load_if_empty(services.store, dataset)
                    out.print(
                        f"sample data: {loaded} records loaded"
                        if loaded
                        else "sample data: the store already holds records; nothing loaded",
                        f"({_counts_line(services.store.counts())})",
                    )
                if not settings.api_keys:
                    err.print(
                        "casematch: no API keys configured (CASEMATCH_API_KEYS); every /v1 "
                        "call will be refused with 401. Use --sample for a local demo key."
                    )
                tune_gc()  # startup done: detection's short-lived objects (service.runtime)
                config = uvicorn.Config(
                    create_app(settings, services=services),
                    host=host,
                    port=port,
                    log_level="warning",
                    lifespan="on",
                )
                _Server(config, lambda url: _banner(url, settings, dataset, demo_key)).run()
        except _Stop:
            pass
    out.print("casematch stopped")


def _banner(
    url: str, settings: Settings, dataset: list[Record] | None, demo_key: str | None
) -> None:
    """What ``serve`` prints once it listens: the URL, and how to call it."""
    from service.demo import demo_key_path

    out.print(f"casematch listening on {url}")
    out.print(f"  review page: {url}/ui (sign in with an API key)")
    out.print(f"  API docs: {url}/docs   health: {url}/health")
    if demo_key is not None and dataset is not None:
        key = settings.api_keys[demo_key]
        item = next((r.id for r in dataset if r.kind is Kind.inbox_item), "II-1")
        out.print(
            f"  demo API key (organizations {', '.join(key.organizations)}; PHI masked): {demo_key}"
        )
        out.print(
            f"  (kept in {demo_key_path(settings)}; delete that file and restart for a new key)"
        )
        out.print(f'  try: curl -H "X-API-Key: {demo_key}" {url}/v1/inbox-items/{item}')
        out.print(
            f'       curl -X POST -H "X-API-Key: {demo_key}" '
            f"{url}/v1/inbox-items/{item}/duplicate-check"
        )
    elif dataset is not None:
        out.print("  API keys: those of CASEMATCH_API_KEYS (no demo key created)")
    sys.stdout.flush()


def _configure_logging() -> None:
    """casematch's own log lines (ids, counts, timings; never PHI) at INFO on stderr."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("casematch")
    if not root.handlers:
        root.addHandler(handler)
    root.setLevel(logging.INFO)
    # Expected 409s of optimistic writes and pool churn are not news to an operator.
    logging.getLogger("opensearch").setLevel(logging.ERROR)
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)


def _counts_line(counts: dict[str, int]) -> str:
    return ", ".join(f"{name}: {n}" for name, n in counts.items())


@app.command()
def demo(
    seed: Annotated[int, typer.Option(help="seed of the generated data set")] = 7,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="data directory (default: a fresh temporary one)"),
    ] = None,
) -> None:
    """Generate a realistic data set, load it, run detections and promotions, print what happened."""
    import tempfile

    from service import demo as demo_logic
    from service.sample import sample_data

    base = load_settings()
    with _stoppable(), contextlib.ExitStack() as stack:
        update: dict[str, Any] = {}
        if data_dir is not None:
            update["data_dir"] = data_dir
        elif base.engine_config().mode == "osmem":
            update["data_dir"] = Path(
                stack.enter_context(tempfile.TemporaryDirectory(prefix="casematch-demo-"))
            )
        else:
            # A shared OpenSearch node: the demo's own indices, deleted afterwards.
            update["index_prefix"] = f"casematch-demo-{secrets.token_hex(4)}"
        settings = base.model_copy(update=update)
        with _services(settings) as services:
            if "index_prefix" in update:
                stack.callback(services.store.drop_indices)
            demo_logic.run_demo(services, sample_data(seed), console=out)


#: How many failed lines ``load`` lists before summarizing the rest.
MAX_LISTED_FAILURES = 50


@app.command()
def load(
    files: Annotated[
        list[Path],
        typer.Argument(help="NDJSON, JSON (an object or an array) or E2B XML/ZIP files"),
    ],
    kind: Annotated[Kind | None, typer.Option(help="kind of records that do not say")] = None,
    organization: Annotated[
        str | None,
        typer.Option(help="organization of E2B messages (default: by transmission-profile sender)"),
    ] = None,
) -> None:
    """Load records into the index. Bad lines are listed; the good ones are stored (exit 1 if any failed)."""
    from indexer.load import load_files
    from service.e2b_intake import e2b_options

    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        err.print(f"casematch: no such file: {', '.join(missing)}")
        raise typer.Exit(2)
    settings = load_settings()
    options = e2b_options(
        settings, organization=organization, kind=kind.value if kind else "inbox_item"
    )
    with _stoppable(), _services(settings) as services, _progress() as bar:
        task = bar.add_task("loading", total=sum(f.stat().st_size for f in files))
        report = load_files(
            services.store,
            files,
            kind=kind.value if kind else None,
            e2b_options=options,
            progress=lambda done, done_bytes, total: bar.update(
                task, completed=done_bytes, total=total, description=f"loading ({done} records)"
            ),
        )
    rate = report.loaded / report.seconds if report.seconds else 0.0
    out.print(
        f"loaded {report.loaded} records from {report.files} file(s) in {report.seconds:.1f} s "
        f"({rate:,.0f} records/s); failed: {len(report.failed)}"
    )
    for failure in report.failed[:MAX_LISTED_FAILURES]:
        out.print(f"  {failure}")
        for detail in failure.errors:
            out.print(f"      {detail['field']}: {detail['error']}")
    if len(report.failed) > MAX_LISTED_FAILURES:
        out.print(f"  ... and {len(report.failed) - MAX_LISTED_FAILURES} more")
    if report.failed:
        raise typer.Exit(1)


@app.command()
def reindex() -> None:
    """Rebuild the cases and inbox-items indices behind their aliases, then swap (resumable)."""
    from indexer.reindex import ReindexError
    from indexer.reindex import reindex as run_reindex

    settings = load_settings()
    # reindex is what rewrites an outdated store's document ids: it opens one as it is
    with _stoppable(), _services(settings, check_doc_ids=False) as services, _progress() as bar:
        tasks: dict[str, TaskID] = {}

        def progress(alias: str, copied: int, total: int) -> None:
            if alias not in tasks:
                tasks[alias] = bar.add_task(alias, total=total)
            bar.update(tasks[alias], completed=copied, total=total)

        try:
            report = run_reindex(services.engine, services.store.names, progress=progress)
        except ReindexError as exc:
            err.print(f"casematch: reindex stopped, the aliases were not moved: {exc}")
            raise typer.Exit(1) from None
    for alias in report.aliases:
        resumed = f", resumed after {alias.resumed_from}" if alias.resumed_from else ""
        out.print(
            f"{alias.alias}: {alias.source} -> {alias.target}, {alias.copied} documents copied"
            f"{resumed} in {alias.seconds:.1f} s"
        )


@contextlib.contextmanager
def _progress() -> Iterator[Progress]:
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    )
    with bar:
        yield bar


@app.command()
def check(
    file: Annotated[
        Path, typer.Argument(help="a record as JSON (or the first of NDJSON), or E2B XML")
    ],
    organization: Annotated[
        str | None, typer.Option(help="organization of an E2B message (default: by sender)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the Detection JSON")] = False,
) -> None:
    """Run duplicate detection for one record and print its potential matches (stores nothing)."""
    from service import detection, render

    settings = load_settings()
    try:
        source = _read_one_record(file, settings, organization)
    except ValueError as exc:
        err.print(f"casematch: {file}: {exc}")
        raise typer.Exit(1) from None
    with _stoppable(), _services(settings) as services:
        run = detection.run_detection(
            services.engine,
            services.store,
            settings,
            source,
            show_phi=not settings.mask_phi,
            models=services.promotion.models,
        )
    if as_json:
        out.print_json(run.detection.model_dump_json())
    else:
        out.print(render.detection_tables(run.detection))


def _read_one_record(path: Path, settings: Settings, organization: str | None) -> Record:
    """The record in ``path``; ValueError says what is wrong (no PHI values)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read the file ({exc.strerror})") from None
    from indexer.e2b import is_e2b_xml, parse_e2b

    if is_e2b_xml(data[:4096]) or data.startswith(b"PK"):
        from service.e2b_intake import e2b_options

        result = parse_e2b(data, e2b_options(settings, organization=organization), source=path.name)
        if not result.records:
            reason = str(result.errors[0]) if result.errors else "no ICSR message"
            raise ValueError(f"no usable E2B message: {reason}")
        return result.records[0]
    text = data.decode("utf-8", errors="replace").strip()
    try:
        parsed: Any = orjson.loads(text)
    except orjson.JSONDecodeError:
        try:  # NDJSON: the first line
            parsed = orjson.loads(text.splitlines()[0]) if text else None
        except orjson.JSONDecodeError:
            raise ValueError("not JSON, NDJSON or E2B XML") from None
    if isinstance(parsed, list):
        parsed = parsed[0] if parsed else None
    if not isinstance(parsed, dict):
        raise ValueError("expected a JSON object (a record)")
    try:
        return parse_record(parsed, kind="inbox_item")
    except ValidationError as exc:
        problems = "; ".join(f"{d['field']}: {d['error']}" for d in describe_errors(exc))
        raise ValueError(f"invalid record: {problems}") from None


engine_app = typer.Typer(
    help="Manage the local OpenSearch node (the default engine).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(engine_app, name="engine")
app.add_typer(model_app, name="model")
register_audit(app)


def _local_node(settings: Settings) -> LocalNode:
    config = settings.engine_config()
    if config.mode != "local":
        why = (
            "CASEMATCH_OPENSEARCH_URL points at an external cluster"
            if config.mode == "external"
            else f"the engine is osmem ({java_missing_reason(config.java) or 'CASEMATCH_ENGINE=osmem'})"
        )
        err.print(f"casematch: there is no local OpenSearch node to manage: {why}")
        raise typer.Exit(2)
    return LocalNode(config.node_config())


@engine_app.command("build")
def engine_build(
    force: Annotated[bool, typer.Option("--force", help="rebuild even when up to date")] = False,
) -> None:
    """Build the local node with Maven (the first build downloads its jars; later ones not)."""
    from indexer.localnode import build, opensearch_version

    try:
        where = build(force=force)
    except NodeError as exc:
        err.print(f"casematch: {exc}")
        raise typer.Exit(2) from None
    out.print(f"OpenSearch {opensearch_version()} node built in {where}")


@engine_app.command("start")
def engine_start() -> None:
    """Build (if needed) and start the local node; it keeps running until `engine stop`."""
    node = _local_node(load_settings())
    try:
        info = node.ensure_started()
    except NodeError as exc:
        err.print(f"casematch: {exc}")
        raise typer.Exit(2) from None
    out.print(f"OpenSearch {info.version} running at {info.url} (pid {info.pid}, heap {info.heap})")


@engine_app.command("stop")
def engine_stop() -> None:
    """Stop the local node (commands that need it start it again)."""
    node = _local_node(load_settings())
    out.print(
        "stopped the local OpenSearch node" if node.stop() else "the local node was not running"
    )


@engine_app.command("status")
def engine_status(
    as_json: Annotated[bool, typer.Option("--json", help="print the status as JSON")] = False,
) -> None:
    """Version, pid, heap, resident memory, disk and document counts of the local node."""
    settings = load_settings()
    status = _local_node(settings).status()
    if status["running"]:
        # counts only: an outdated store is counted too (reindex is what rewrites it)
        with (
            contextlib.suppress(Exception),
            open_services(settings, check_doc_ids=False) as services,
        ):
            status["documents"] = services.store.counts()
    if as_json:
        out.print_json(orjson.dumps(status).decode())
        return
    if not status["running"]:
        out.print(f"the local OpenSearch node is not running (data: {status['home']})")
        return
    mib = 1024 * 1024
    out.print(f"OpenSearch {status['version']} at {status['url']} (pid {status['pid']})")
    heap_used = status.get("heap_used_bytes") or 0
    out.print(
        f"  heap {heap_used / mib:,.0f} of {(status.get('heap_max_bytes') or 0) / mib:,.0f} MiB; "
        f"resident {(status.get('rss_bytes') or 0) / mib:,.0f} MiB; "
        f"disk {status['disk_bytes'] / mib:,.1f} MiB in {status['home']}"
    )
    if "documents" in status:
        out.print(f"  documents: {_counts_line(status['documents'])}")


def _mount_commands() -> None:
    """Add the subcommands other packages declare (``casematch.commands`` entry points).

    An entry point that cannot be imported (its optional dependencies are not
    installed, e.g. ``bench`` without the ``bench`` extra) is left out.
    """
    for entry in entry_points(group=COMMANDS_GROUP):
        try:
            command = entry.load()
        except ImportError:
            continue
        if isinstance(command, typer.Typer):
            app.add_typer(command, name=entry.name)


_mount_commands()


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point: a usage error is one line (``casematch: ...``), exit code 2."""
    try:
        code = app(args=argv, prog_name="casematch", standalone_mode=False)
    except typer.Abort:
        err.print("casematch: interrupted")
        sys.exit(130)
    except ConfigError as exc:  # a malformed setting
        err.print(f"casematch: configuration error: {exc}", markup=False)
        sys.exit(2)
    except typer.TyperException as exc:  # typer's usage errors (a wrong option, a bad value)
        message = exc.format_message().strip()
        if "\n" in message:  # a bare command group: its help, as usual
            err.print(message, markup=False)
        else:
            ctx = getattr(exc, "ctx", None)
            where = ctx.command_path if ctx is not None else "casematch"
            err.print(f"casematch: {message} (see '{where} -h')", markup=False)
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)
