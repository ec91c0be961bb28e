"""``casematch audit``: the command over :mod:`service.audit` (registered in ``service/cli.py``).

casematch audit --organization ORG-A --out audit-org-a
casematch audit --organization ORG-A --from 2025-01-01 --to 2025-12-31 --out audit-2025
casematch audit --organization ORG-A --out audit-org-a --resume   # after an interruption
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from matcher.audit import DEFAULT_THRESHOLD, MAX_BLOCK
from matcher.linkage import MatchModel


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{option} must be a date YYYY-MM-DD, not {value!r}") from None


def audit(
    organization: Annotated[str, typer.Option("--organization", help="the organization to screen")],
    out: Annotated[
        Path, typer.Option("--out", help="directory for the outputs and the checkpoints")
    ],
    since: Annotated[
        str | None, typer.Option("--from", help="first receipt date (YYYY-MM-DD)")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--to", help="last receipt date (YYYY-MM-DD)")
    ] = None,
    threshold: Annotated[
        float, typer.Option("--threshold", help="link pairs with a match probability at least this")
    ] = DEFAULT_THRESHOLD,
    model_file: Annotated[
        Path | None,
        typer.Option("--model", help="a model JSON (casematch.linkage/1) to score with"),
    ] = None,
    retrain: Annotated[
        bool,
        typer.Option(
            "--retrain",
            help="train a model in this run even when the organization has a stored one",
        ),
    ] = False,
    max_block: Annotated[
        int, typer.Option("--max-block", help="records per block beyond which it is split")
    ] = MAX_BLOCK,
    resume: Annotated[
        bool, typer.Option("--resume", help="continue the audit in --out from its checkpoints")
    ] = False,
) -> None:
    """Screen an organization's stored Cases for duplicates: scored pairs and clusters."""
    from service.audit import AuditError, AuditParams, run_audit
    from service.cli import _services, _stoppable, err
    from service.cli import out as console
    from service.runtime import tune_gc
    from service.settings import load_settings

    if not 0.0 < threshold < 1.0:
        raise typer.BadParameter(f"--threshold must lie between 0 and 1, not {threshold}")
    if max_block < 2:
        raise typer.BadParameter(f"--max-block must be at least 2, not {max_block}")
    params = AuditParams(
        organization=organization,
        since=_day(since, "--from"),
        until=_day(until, "--to"),
        threshold=threshold,
        max_block=max_block,
    )
    model = None if model_file is None else _model_file(model_file)
    settings = load_settings()
    bar, progress = _progress_bar()
    with _stoppable(), _services(settings) as services, bar:
        if model is None and not retrain:
            from service.models import ModelStore

            model = ModelStore(services.engine, services.store.names).get(organization)
            if model is not None:
                console.print(
                    f"scoring with {organization}'s stored model, version {model.version} "
                    "(casematch model train; --retrain to train one in this run)"
                )
        tune_gc()  # a batch of short-lived objects per Case (service.runtime)
        try:
            summary = run_audit(
                services.store, params, out, resume=resume, model=model, progress=progress
            )
        except AuditError as exc:
            err.print(f"casematch: {exc}", markup=False)
            raise typer.Exit(1) from None
    console.print(
        f"{summary.records:,} Cases, {summary.candidate_pairs:,} candidate pairs, "
        f"{summary.links:,} linked, {summary.clusters:,} clusters "
        f"({summary.clustered_records:,} Cases); peak memory {summary.peak_rss_mb:,.0f} MiB"
    )
    console.print(f"outputs in {out}: pairs.csv, clusters.csv, report.md")


def _model_file(path: Path) -> MatchModel:
    """``--model``: a model JSON, or exit 1 with one line saying what is wrong with it."""
    from service.cli import err

    try:
        return MatchModel.from_json(json.loads(path.read_text()))
    except (OSError, ValueError) as exc:
        err.print(f"casematch: --model {path}: {exc}", markup=False)
        raise typer.Exit(1) from None


def _progress_bar() -> tuple[Progress, Callable[[str, int, int | None], None]]:
    """A progress bar on stderr, one row per phase, and the callback the audit reports to."""
    from service.cli import err

    bar = Progress(
        TextColumn("{task.description:<8}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
    )
    tasks: dict[str, TaskID] = {}

    def progress(phase: str, done: int, total: int | None) -> None:
        if phase not in tasks:
            tasks[phase] = bar.add_task(phase, total=total)
        bar.update(tasks[phase], completed=done, total=total)

    return bar, progress


def register(app: typer.Typer) -> None:
    """Add ``casematch audit`` to the ``casematch`` app."""
    app.command("audit")(audit)
