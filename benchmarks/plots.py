"""PNG plots for the benchmark reports (matplotlib, headless Agg backend).

Each function takes plain numbers, writes one small PNG and returns its path; the
reports embed them by file name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # after use("Agg"): the backend must be chosen first
from matplotlib.figure import Figure

_DPI = 90
_SIZE = (7.0, 4.0)


def grouped_bars(
    path: Path,
    title: str,
    groups: Sequence[str],
    series: Mapping[str, Sequence[float]],
    *,
    ylabel: str,
    ylim: tuple[float, float] | None = None,
    target: float | None = None,
) -> Path:
    """One group of bars per ``groups`` item, one bar per series (e.g. recall@1/@5/@10)."""
    fig, ax = plt.subplots(figsize=_SIZE)
    n = max(len(series), 1)
    width = 0.8 / n
    for i, (label, values) in enumerate(series.items()):
        xs = [g + (i - (n - 1) / 2) * width for g in range(len(groups))]
        ax.bar(xs, values, width=width, label=label)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(groups, rotation=20, ha="right", fontsize=8)
    if target is not None:
        ax.axhline(target, color="black", linestyle="--", linewidth=0.8, label=f"target {target}")
    if ylim:
        ax.set_ylim(*ylim)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.32), ncol=5, frameon=False)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def lines(
    path: Path,
    title: str,
    xs: Sequence[float],
    series: Mapping[str, Sequence[float]],
    *,
    xlabel: str,
    ylabel: str,
    logx: bool = True,
    targets: Mapping[str, float] | None = None,
) -> Path:
    """One line per series against ``xs`` (e.g. latency percentiles against index size)."""
    fig, ax = plt.subplots(figsize=_SIZE)
    for label, values in series.items():
        ax.plot(xs, values, marker="o", label=label)
    for label, value in (targets or {}).items():
        ax.axhline(value, linestyle="--", linewidth=0.8, color="grey")
        ax.annotate(label, (xs[0], value), fontsize=7, va="bottom")
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=_DPI)
    plt.close(fig)
    return path
