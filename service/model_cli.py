"""``casematch model ...``: train, show and calibrate the organizations' match models.

    $ casematch model train --organization ORG-A --report out/
    ORG-A: model version 3 trained on 20,312 records (prior 7.2e-05), stored
    $ casematch model show --organization ORG-A --version 3
    {"schema": "casematch.linkage/1", ...}

The work is in :mod:`service.models` (training, storage), :mod:`service.calibration`
and :mod:`service.model_report`. The CLI's shared helpers are imported when a command
runs (``service.cli`` registers this group).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer

from matcher.training import DEFAULT_MAX_RECORDS

model_app = typer.Typer(
    help="Train and read the per-organization match models (probabilities in Detections).",
    no_args_is_help=True,
)

Organization = Annotated[str, typer.Option("--organization", help="the organization")]
ReportDir = Annotated[
    Path | None,
    typer.Option("--report", help="write model.md (and PNG charts with matplotlib) here"),
]


def _print_report(files_missing: str | None, markdown: Path) -> None:
    from service.cli import out

    out.print(f"report: {markdown}")
    if files_missing:
        out.print(f"no charts: {files_missing}")


@model_app.command("train")
def train_command(
    organization: Organization,
    max_records: Annotated[
        int, typer.Option(min=2, help="train on at most this many records, drawn uniformly")
    ] = DEFAULT_MAX_RECORDS,
    seed: Annotated[int, typer.Option(help="seed of the record and pair draws")] = 0,
    report: ReportDir = None,
) -> None:
    """Train ORG's next model version on its stored records and store it."""
    from service.cli import _services, _stoppable, err, out
    from service.model_report import write_report
    from service.models import ModelStore, train_organization
    from service.settings import load_settings

    settings = load_settings()
    with _stoppable(), _services(settings) as services:
        models = ModelStore(services.engine, services.store.names)
        models.ensure_index()
        try:
            model = train_organization(
                services.store,
                models,
                organization,
                max_records=max_records,
                seed=seed,
            )
        except ValueError as exc:
            err.print(f"casematch: cannot train a model: {exc}")
            raise typer.Exit(1) from None
    t = model.training
    out.print(
        f"{organization}: model version {model.version} trained on {t.records:,} records "
        f"(prior {model.prior:.3g}, EM {'converged' if t.converged else 'did not converge'} "
        f"in {t.em_iterations} iterations), stored"
    )
    if report is not None:
        files = write_report(model, report)
        _print_report(files.missing, files.markdown)


@model_app.command("show")
def show_command(
    organization: Organization,
    version: Annotated[int | None, typer.Option(min=1, help="default: the latest")] = None,
) -> None:
    """Print a stored model's JSON (schema casematch.linkage/1)."""
    from service.cli import _services, _stoppable, err, out
    from service.models import ModelStore
    from service.settings import load_settings

    settings = load_settings()
    with _stoppable(), _services(settings) as services:
        models = ModelStore(services.engine, services.store.names)
        models.ensure_index()
        data = models.get_json(organization, version)
    if data is None:
        which = f"version {version}" if version is not None else "no model"
        err.print(
            f"casematch: {organization} has {which} stored (train one: casematch model train)"
        )
        raise typer.Exit(1)
    out.print_json(orjson.dumps(data).decode())


@model_app.command("calibrate")
def calibrate_command(
    cases: Annotated[int, typer.Option(min=200, help="generated Cases")] = 2000,
    items: Annotated[int, typer.Option(min=20, help="labelled Inbox Items among them")] = 400,
    seed: Annotated[int, typer.Option(help="seed of the generated data and draws")] = 1,
    report: ReportDir = None,
) -> None:
    """Train on labelled generated data (no engine) and print the reliability bins."""
    from service.calibration import calibrate
    from service.cli import out
    from service.model_report import write_report

    model, _, bins = calibrate(seed, cases, items)
    out.print(f"prior {model.prior:.3g}; bins of predicted probability:")
    for b in bins:
        mark = "checked" if b.checked else "too few pairs"
        out.print(
            f"  {b.lower:.1f}-{b.upper:.1f}: {b.pairs:>7,} pairs, predicted {b.mean_predicted:.3f}, "
            f"observed {b.observed:.3f} ({mark})"
        )
    if report is not None:
        files = write_report(model, report, bins=bins)
        _print_report(files.missing, files.markdown)
