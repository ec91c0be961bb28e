"""The match model's report: Markdown, plus PNG charts when matplotlib is installed.

``casematch model train --report DIR`` and ``casematch model calibrate --report DIR``
write ``DIR/model.md`` and, with the ``reports`` extra (matplotlib), three charts like
Splink's: each field's match weight per level (``match_weights.png``), the waterfall of
one example pair from the prior to its final weight (``waterfall.png``) and, when
labelled pairs are at hand, the reliability diagram (``reliability.png``). The report
shows levels and weights only, never a record's values.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from matcher.linkage import LEVEL_NAMES, NULL, MatchModel
from service.calibration import MIN_PAIRS_PER_BIN, CalibrationBin

#: Said when matplotlib is missing.
NO_CHARTS = "charts need matplotlib: pip install 'casematch[reports]'"


@dataclass
class ReportFiles:
    markdown: Path
    charts: list[Path] = field(default_factory=list)
    #: Why there are no charts, when there are none.
    missing: str | None = None


def example_levels(model: MatchModel) -> tuple[int, ...]:
    """A typical duplicate for the waterfall: each field at its most likely level among
    matches (``argmax m``), or null where no level tells matches apart (a field the
    training pairs never had on both sides)."""
    return tuple(
        NULL
        if all(abs(math.log2(m[level] / u[level])) < 0.01 for level in m)
        else max(m, key=lambda level: m[level])
        for m, u in zip(model.m, model.u, strict=True)
    )


def _matplotlib() -> Any | None:
    try:
        mpl = importlib.import_module("matplotlib")
    except ImportError:
        return None
    mpl.use("Agg")
    return importlib.import_module("matplotlib.pyplot")


def markdown(
    model: MatchModel,
    example: Sequence[int],
    bins: Sequence[CalibrationBin] | None,
    charts: Sequence[str],
) -> str:
    t = model.training
    lines = [
        f"# Match model of {model.organization}, version {model.version}",
        "",
        f"Trained {model.trained_at} on {t.records:,} records: {t.random_pairs:,} random pairs "
        f"for u, {t.blocked_pairs:,} blocked pairs for m (EM: {t.em_iterations} iterations, "
        f"{'converged' if t.converged else 'NOT converged'}), {t.deterministic_links:,} pairs "
        f"sharing an identifier.",
        "",
        f"Prior (two random records are the same report): {model.prior:.3g} "
        f"(match weight {model.prior_weight:+.2f}; from {t.prior_source.replace('_', ' ')}).",
        "",
        "## Match weights per field and level",
        "",
        "| field | level | m | u | Bayes factor | match weight |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for key, m, u in zip(model.fields, model.m, model.u, strict=True):
        for level in sorted(m):
            bf = m[level] / u[level]
            lines.append(
                f"| {key} | {LEVEL_NAMES[level]} | {m[level]:.4f} | {u[level]:.4f} | "
                f"{bf:.3g} | {math.log2(bf):+.2f} |"
            )
    lines += ["", "A field without a value on either side (null) has weight 0.", ""]
    if "match_weights.png" in charts:
        lines += ["![match weights](match_weights.png)", ""]
    lines += [
        "## Example: a typical duplicate",
        "",
        "| step | level | match weight | running total |",
        "|---|---|---:|---:|",
        f"| prior | | {model.prior_weight:+.2f} | {model.prior_weight:+.2f} |",
    ]
    total = model.prior_weight
    for key, level, w in zip(model.fields, example, model.field_weights(example), strict=True):
        if level == NULL:
            continue
        total += w
        lines.append(f"| {key} | {LEVEL_NAMES[level]} | {w:+.2f} | {total:+.2f} |")
    lines += ["", f"Probability: {model.probability(example):.4f}.", ""]
    if "waterfall.png" in charts:
        lines += ["![waterfall](waterfall.png)", ""]
    if bins is not None:
        lines += [
            "## Reliability on labelled generated data",
            "",
            f"Bins of predicted probability; a bin with {MIN_PAIRS_PER_BIN} pairs or more "
            "is checked (observed share within 0.05 of the mean prediction).",
            "",
            "| bin | pairs | mean predicted | observed | checked |",
            "|---|---:|---:|---:|---|",
        ]
        for b in bins:
            lines.append(
                f"| {b.lower:.1f}-{b.upper:.1f} | {b.pairs:,} | {b.mean_predicted:.4f} | "
                f"{b.observed:.4f} | {'yes' if b.checked else 'no'} |"
            )
        lines.append("")
        if "reliability.png" in charts:
            lines += ["![reliability](reliability.png)", ""]
    return "\n".join(lines)


def _weights_chart(plt: Any, model: MatchModel, path: Path) -> None:
    labels, weights = [], []
    for key, m, u in zip(model.fields, model.m, model.u, strict=True):
        for level in sorted(m, reverse=True):
            labels.append(f"{key} {LEVEL_NAMES[level]}")
            weights.append(math.log2(m[level] / u[level]))
    fig, ax = plt.subplots(figsize=(8, 0.22 * len(labels) + 1))
    ax.barh(range(len(labels)), weights, color=["#2b8a3e" if w > 0 else "#c92a2a" for w in weights])
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.axvline(0, color="black", linewidth=0.5)
    ax.set_xlabel("match weight (log2 Bayes factor)")
    ax.set_title(f"{model.organization} model v{model.version}: match weights")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _waterfall_chart(plt: Any, model: MatchModel, example: Sequence[int], path: Path) -> None:
    steps = [("prior", model.prior_weight)] + [
        (f"{key} {LEVEL_NAMES[level]}", w)
        for key, level, w in zip(model.fields, example, model.field_weights(example), strict=True)
        if level != NULL
    ]
    fig, ax = plt.subplots(figsize=(8, 0.3 * len(steps) + 1.5))
    total = 0.0
    for i, (_, w) in enumerate(steps):
        ax.barh(i, w, left=total, color="#2b8a3e" if w > 0 else "#c92a2a")
        total += w
    ax.barh(len(steps), total, color="#1c7ed6")
    ax.set_yticks(range(len(steps) + 1), [s for s, _ in steps] + ["final"], fontsize=7)
    ax.invert_yaxis()
    ax.axvline(0, color="black", linewidth=0.5)
    ax.set_xlabel(f"match weight; probability {model.probability(example):.4f}")
    ax.set_title("waterfall of a typical duplicate")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _reliability_chart(plt: Any, bins: Sequence[CalibrationBin], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=0.8)
    ax.scatter(
        [b.mean_predicted for b in bins],
        [b.observed for b in bins],
        s=[max(10.0, min(200.0, 10 * math.log10(b.pairs + 1) ** 2)) for b in bins],
        c=["#1c7ed6" if b.checked else "#adb5bd" for b in bins],
    )
    ax.set_xlabel("mean predicted probability")
    ax.set_ylabel("observed share of true matches")
    ax.set_title("reliability (grey: too few pairs to check)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_report(
    model: MatchModel,
    directory: Path,
    *,
    bins: Sequence[CalibrationBin] | None = None,
    charts: bool = True,
) -> ReportFiles:
    """Write ``model.md`` (and the PNGs, when matplotlib is installed) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    example = example_levels(model)
    plt = _matplotlib() if charts else None
    files = ReportFiles(directory / "model.md")
    if plt is None:
        files.missing = NO_CHARTS if charts else "charts not asked for"
    else:
        _weights_chart(plt, model, directory / "match_weights.png")
        _waterfall_chart(plt, model, example, directory / "waterfall.png")
        files.charts = [directory / "match_weights.png", directory / "waterfall.png"]
        if bins:
            _reliability_chart(plt, bins, directory / "reliability.png")
            files.charts.append(directory / "reliability.png")
    text = markdown(model, example, bins, [p.name for p in files.charts])
    files.markdown.write_text(text, encoding="utf-8")
    return files
