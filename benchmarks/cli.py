"""``casematch bench``: one subcommand per benchmark, each writing a JSON result, a Markdown
report and PNG plots under ``benchmarks/results/<name>/``.

    casematch bench quality --seed 42            # generated labelled data + FEBRL, 50k Cases
    casematch bench latency --sizes 10000,100000 # duplicate-check percentiles against size
    casematch bench index                        # bulk load docs/s, reindex time, peak memory
    casematch bench service                      # HTTP load on a running `casematch serve`
    casematch bench peer                         # casematch audit vs Splink on FEBRL
    casematch bench audit --size 100000          # casematch audit vs Splink, generated Cases
    casematch bench promotion                    # the promotion workflow benchmark
    casematch bench ui                           # review page: item page with 100 matches
    casematch bench all --quick                  # everything, CI-sized

``--quick`` shrinks every size so a run takes seconds to a minute (CI smoke); figures
for the README come from runs without it. Every run is reproducible from its seed.

The ``casematch`` CLI finds this app through the ``casematch.commands`` entry point
(``pyproject.toml``); without the ``bench`` extra, importing it fails and the CLI
offers no ``bench`` command.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

#: What the ``bench`` extra installs; the benchmarks need all of it.
BENCH_EXTRA = ("matplotlib", "recordlinkage", "splink")
_missing = [name for name in BENCH_EXTRA if importlib.util.find_spec(name) is None]
if _missing:
    raise ImportError(
        f"casematch bench needs the bench extra (missing: {', '.join(_missing)}); "
        "install it with: pip install -e '.[bench]'"
    )

app = typer.Typer(
    name="bench",
    help="Quality and speed benchmarks (results under benchmarks/results/).",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)
console = Console(highlight=False)

RESULTS = Path("benchmarks/results")

Seed = Annotated[int, typer.Option(help="seed of every generated data set and sample")]
Quick = Annotated[bool, typer.Option("--quick", help="small CI-sized run (seconds, not minutes)")]
Out = Annotated[
    Path | None, typer.Option(help="output directory (default benchmarks/results/<name>/)")
]
Sizes = Annotated[str | None, typer.Option(help="comma-separated index sizes, e.g. 10000,100000")]
EngineOpt = Annotated[
    str,
    typer.Option(
        "--engine",
        help="opensearch (the local node, default), osmem, or both (side by side, with ratios)",
    ),
]


def _on_engines(name: str, engine: str, out: Path | None, run: Callable[[Path], Path]) -> None:
    """Run one benchmark on the chosen engine, or on both with a comparison report."""
    from benchmarks.compare import write_comparison
    from benchmarks.harness import BENCH_ENGINES, use_engine

    if engine not in (*BENCH_ENGINES, "both"):
        raise typer.BadParameter(f"--engine must be opensearch, osmem or both, not {engine!r}")
    target = _out(name, out)
    if engine != "both":
        use_engine(engine)  # type: ignore[arg-type]
        _done(run(target))
        return
    for kind in BENCH_ENGINES:
        console.rule(f"{name} on {kind}")
        use_engine(kind)
        _done(run(target / kind))
    use_engine("opensearch")
    _done(write_comparison(name, target))


def parse_sizes(text: str | None, default: list[int]) -> list[int]:
    """``"10000,100k,1m"`` -> ``[10000, 100000, 1000000]``; None -> ``default``."""
    if not text:
        return default
    sizes: list[int] = []
    for part in text.split(","):
        token = part.strip().lower().replace("_", "")
        scale = 1
        if token.endswith("k"):
            token, scale = token[:-1], 1_000
        elif token.endswith("m"):
            token, scale = token[:-1], 1_000_000
        try:
            value = int(float(token) * scale)
        except ValueError:
            raise typer.BadParameter(f"not a size: {part!r} (use e.g. 10000 or 100k)") from None
        if value <= 0:
            raise typer.BadParameter(f"sizes must be positive, got {part!r}")
        sizes.append(value)
    return sorted(set(sizes))


def _out(name: str, out: Path | None) -> Path:
    return out if out is not None else RESULTS / name


def _done(report_path: Path) -> None:
    console.print(f"[bold]report:[/bold] {report_path}")


@app.command()
def quality(
    seed: Seed = 42,
    size: Annotated[int | None, typer.Option(help="indexed Cases (default 50000)")] = None,
    queries: Annotated[int | None, typer.Option(help="labelled queries (default 2000)")] = None,
    febrl: Annotated[str, typer.Option(help="FEBRL data set for the person-data part")] = "febrl3",
    febrl_queries: Annotated[
        int, typer.Option(help="FEBRL duplicate records checked per variant (seeded sample)")
    ] = 500,
    quick: Quick = False,
    out: Out = None,
    engine: EngineOpt = "opensearch",
) -> None:
    """Recall@k, precision@1, MRR, near-miss false matches, retrieval vs final recall."""
    from benchmarks.quality import run_quality

    n = size or (2_000 if quick else 50_000)
    q = queries or (150 if quick else 2_000)
    _on_engines(
        "quality",
        engine,
        out,
        lambda target: run_quality(
            seed=seed,
            size=n,
            queries=q,
            febrl=("febrl1" if quick else febrl),
            febrl_queries=(100 if quick else febrl_queries),
            out=target,
            quick=quick,
        ),
    )


@app.command()
def latency(
    seed: Seed = 42,
    sizes: Sizes = None,
    queries: Annotated[int | None, typer.Option(help="duplicate checks per size")] = None,
    quick: Quick = False,
    out: Out = None,
    engine: EngineOpt = "opensearch",
) -> None:
    """Duplicate-check p50/p90/p99 and matcher CPU against the number of indexed Cases."""
    from benchmarks.latency import run_latency

    default = [1_000, 5_000] if quick else [10_000, 100_000]
    q = queries or (100 if quick else 500)
    _on_engines(
        "latency",
        engine,
        out,
        lambda target: run_latency(
            seed=seed, sizes=parse_sizes(sizes, default), queries=q, out=target, quick=quick
        ),
    )


@app.command()
def index(
    seed: Seed = 42,
    sizes: Sizes = None,
    quick: Quick = False,
    out: Out = None,
    engine: EngineOpt = "opensearch",
) -> None:
    """Bulk-load docs/s, reindex time and peak memory against size."""
    from benchmarks.index_report import run_index

    default = [1_000, 5_000] if quick else [10_000, 50_000]
    _on_engines(
        "index",
        engine,
        out,
        lambda target: run_index(
            seed=seed, sizes=parse_sizes(sizes, default), out=target, quick=quick
        ),
    )


@app.command()
def service(
    seed: Seed = 42,
    size: Annotated[int | None, typer.Option(help="Cases loaded before the load test")] = None,
    clients: Annotated[int, typer.Option(help="concurrent HTTP clients")] = 4,
    requests: Annotated[int | None, typer.Option(help="requests per endpoint at most")] = None,
    seconds: Annotated[float, typer.Option(help="time bound per endpoint")] = 30.0,
    soak: Annotated[
        float,
        typer.Option(
            help="then a mixed soak (store, check, promote, decide, read) for this many "
            "seconds; fails on any 5xx, lost acknowledged write or duplicate Case"
        ),
    ] = 0.0,
    quick: Quick = False,
    out: Out = None,
    engine: EngineOpt = "opensearch",
) -> None:
    """HTTP load on `casematch serve` (loopback only): requests/s and latency percentiles."""
    from benchmarks.service_load import run_service

    n = size or (1_000 if quick else 10_000)
    r = requests or (100 if quick else 1_000)
    _on_engines(
        "service",
        engine,
        out,
        lambda target: run_service(
            seed=seed,
            size=n,
            clients=clients,
            max_requests=r,
            max_seconds=(10.0 if quick else seconds),
            out=target,
            soak_seconds=soak,
        ),
    )


@app.command()
def peer(
    seed: Seed = 42,
    febrl: Annotated[str, typer.Option(help="febrl1 (1,000 records) or febrl3 (5,000)")] = "febrl3",
    node: Annotated[
        bool, typer.Option(help="also time casematch with the local node in the loop")
    ] = True,
    quick: Quick = False,
    out: Out = None,
) -> None:
    """casematch's duplicate audit against Splink (DuckDB) on the same FEBRL data, one run."""
    from benchmarks.peer import run_peer

    dataset = "febrl1" if quick else febrl
    _done(
        run_peer(seed=seed, dataset=dataset, with_store=node and not quick, out=_out("peer", out))
    )


@app.command()
def audit(
    seed: Seed = 42,
    size: Annotated[int, typer.Option(help="generated Cases (a tenth of them planted)")] = 100_000,
    node: Annotated[
        bool, typer.Option(help="also time casematch with the local node in the loop")
    ] = False,
    quick: Quick = False,
    out: Out = None,
) -> None:
    """casematch audit against Splink on generated Cases with planted duplicates, one run."""
    from benchmarks.audit import run_audit_bench

    _done(
        run_audit_bench(
            seed=seed, size=5_000 if quick else size, with_store=node, out=_out("audit", out)
        )
    )


@app.command()
def promotion(
    seed: Seed = 42,
    cases: Annotated[int | None, typer.Option(help="indexed Cases (default 100000)")] = None,
    items: Annotated[
        int | None, typer.Option(help="items promoted manually (default 1000)")
    ] = None,
    auto_items: Annotated[
        int | None, typer.Option(help="items in the automated run (default 10000)")
    ] = None,
    quick: Quick = False,
    out: Out = None,
) -> None:
    """Promotion items/s and latency; one automated run with outcome counts per state."""
    from benchmarks.promotion_bench import run_promotion_bench

    _done(
        run_promotion_bench(
            seed=seed,
            quick=quick,
            out=_out("promotion", out),
            cases=cases,
            items=items,
            auto_items=auto_items,
        )
    )


@app.command()
def parity(
    seed: Seed = 42,
    size: Annotated[int, typer.Option(help="Cases loaded into each engine")] = 20_000,
    queries: Annotated[int, typer.Option(help="labelled queries, each checked per profile")] = 200,
    quick: Quick = False,
    out: Out = None,
) -> None:
    """The same data and queries on the local OpenSearch node and on osmem: identical?"""
    from benchmarks.parity import run_parity

    _done(
        run_parity(
            seed=seed,
            size=(2_000 if quick else size),
            queries=(50 if quick else queries),
            out=_out("parity", out),
        )
    )


@app.command()
def restart(
    seed: Seed = 42,
    size: Annotated[int, typer.Option(help="Cases of the kept population")] = 1_000_000,
    out: Out = None,
) -> None:
    """Seconds from starting `casematch serve` (cold node / warm node) to the first check."""
    from benchmarks.restart_bench import run_restart

    _done(run_restart(seed=seed, size=size, out=_out("restart", out)))


@app.command()
def ui(
    seed: Seed = 42,
    background: Annotated[
        int | None, typer.Option(help="generated Cases besides the matches (default 10000)")
    ] = None,
    repetitions: Annotated[int | None, typer.Option(help="timed requests per page")] = None,
    quick: Quick = False,
    out: Out = None,
    engine: Annotated[
        str, typer.Option("--engine", help="opensearch (the local node, default) or osmem")
    ] = "opensearch",
) -> None:
    """Server time to render a review-page item page with 100 Possible Matches."""
    from benchmarks.harness import BENCH_ENGINES, use_engine
    from benchmarks.ui_bench import run_ui_bench

    if engine not in BENCH_ENGINES:
        raise typer.BadParameter(f"--engine must be opensearch or osmem, not {engine!r}")
    use_engine(engine)
    try:
        _done(
            run_ui_bench(
                seed=seed,
                quick=quick,
                out=_out("ui", out),
                background=background,
                repetitions=repetitions,
            )
        )
    finally:
        use_engine("opensearch")


@app.command()
def summary(
    results: Annotated[Path, typer.Option(help="results directory")] = RESULTS,
) -> None:
    """Print the headline figures of the latest results as a Markdown table (for the README)."""
    from benchmarks.summary import summary_markdown

    print(summary_markdown(results), end="")


@app.command(name="all")
def all_benchmarks(seed: Seed = 42, quick: Quick = False) -> None:
    """Every benchmark in turn with its defaults (``--quick`` for a CI-sized run)."""
    steps: list[tuple[str, Callable[[], None]]] = [
        ("quality", lambda: quality(seed=seed, quick=quick)),
        ("latency", lambda: latency(seed=seed, quick=quick)),
        ("index", lambda: index(seed=seed, quick=quick)),
        ("peer", lambda: peer(seed=seed, quick=quick)),
        ("service", lambda: service(seed=seed, quick=quick)),
        ("promotion", lambda: promotion(seed=seed, quick=quick)),
        ("ui", lambda: ui(seed=seed, quick=quick)),
    ]
    for name, step in steps:
        console.rule(name)
        step()
