"""``casematch audit``: screen an organization's stored Cases for duplicates, resumably.

The work is :mod:`matcher.audit`'s; this module runs it over the store in phases, each
ending in a checkpoint under ``OUT/checkpoint/``, so that a run stopped at any point (Ctrl-C,
a crash, a killed machine) continues with ``--resume`` from the last finished chunk or
phase and ends with the same outputs:

1. **scan**: the Cases' match views and retrieval keys (``indexer.scan``), a chunk of
   pages per file (``scan-000001.ndjson``); the state file keeps the last ``_id`` read;
2. **block**: chunk by chunk into codes (``matcher.audit.Encoder``; only one chunk of
   records is ever held as objects), then the candidate pairs (``encoded.pkl``, ``pairs.npy``);
3. **levels**: the pairs' level vectors, a million pairs per file (``levels-000001.npy``);
4. **model**: the one given (``--model``), or one trained on these pairs (``model.json``);
5. **score** and **cluster**, then the outputs: ``pairs.csv``/``.ndjson`` (the linked pairs:
   ids, probability, match weight, each field's Bayes factor; no PHI),
   ``clusters.csv``/``.ndjson``, ``summary.json`` and ``report.md`` with PNG charts when
   matplotlib is installed (the ``reports`` extra).

Memory is bounded by the arrays (codes per record, pairs, levels: about 20 bytes per
record and 30 per pair) and one chunk of records; the report gives the peak.
"""

from __future__ import annotations

import csv
import json
import math
import pickle
import resource
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from indexer.fields import FieldSpec
from indexer.scan import PAGE_SIZE, count_cases, scan_cases
from indexer.store import RecordStore
from matcher import audit as bulk
from matcher import linkage
from matcher.facts import facts_from_view

#: Pages of the scan per checkpoint file.
CHUNK_PAGES = 25
#: Pairs per levels checkpoint file.
LEVEL_CHUNK = 1_000_000
STATE = "state.json"

#: Called after each checkpoint is written: (phase, chunk number). Tests interrupt here.
Checkpointed = Callable[[str, int], None]
#: Progress: (phase, done, total or None).
Progressed = Callable[[str, int, int | None], None]


class AuditError(Exception):
    """The audit cannot run as asked (a message for the user)."""


@dataclass(frozen=True)
class AuditParams:
    """What an audit screens and how; a resumed run must ask for the same."""

    organization: str
    since: date | None = None
    until: date | None = None
    threshold: float = bulk.DEFAULT_THRESHOLD
    max_block: int = bulk.MAX_BLOCK
    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "organization": self.organization,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "threshold": self.threshold,
            "max_block": self.max_block,
            "seed": self.seed,
        }


@dataclass
class AuditSummary:
    """What a run found and what it cost (``summary.json``)."""

    params: dict[str, Any]
    records: int = 0
    candidate_pairs: int = 0
    excluded: dict[str, int] = field(default_factory=dict)
    scored_pairs: int = 0
    links: int = 0
    id_matches: int = 0
    clusters: int = 0
    clustered_records: int = 0
    refused_merges: int = 0
    blocking: dict[str, int] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    phase_seconds: dict[str, float] = field(default_factory=dict)
    peak_rss_mb: float = 0.0
    resumed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _Checkpoints:
    """The checkpoint directory and its state file."""

    def __init__(self, out: Path, params: AuditParams, resume: bool) -> None:
        self.dir = out / "checkpoint"
        self.path = self.dir / STATE
        if self.path.exists() and not resume:
            raise AuditError(
                f"{out} holds an earlier audit; pass --resume to continue it or choose another --out"
            )
        self.dir.mkdir(parents=True, exist_ok=True)
        self.state: dict[str, Any] = json.loads(self.path.read_text()) if self.path.exists() else {}
        if self.state and self.state.get("params") != params.as_dict():
            raise AuditError(
                f"{out} holds an audit with other options ({self.state.get('params')}); "
                "resume it with the same options or choose another --out"
            )
        self.resumed = bool(self.state)
        self.state["params"] = params.as_dict()

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state, indent=1))
        tmp.replace(self.path)

    def file(self, name: str) -> Path:
        return self.dir / name


def _write_atomic(path: Path, write: Callable[[Path], object]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    tmp.replace(path)


def run_audit(
    store: RecordStore,
    params: AuditParams,
    out: Path,
    *,
    resume: bool = False,
    model: linkage.MatchModel | None = None,
    page_size: int = PAGE_SIZE,
    chunk_pages: int = CHUNK_PAGES,
    level_chunk: int = LEVEL_CHUNK,
    progress: Progressed | None = None,
    checkpointed: Checkpointed | None = None,
) -> AuditSummary:
    """Run (or resume) an audit of ``params.organization`` into ``out``: the phases of the
    module docstring, each skipped when its checkpoint says it is done."""
    out.mkdir(parents=True, exist_ok=True)
    ckpt = _Checkpoints(out, params, resume)
    run = _Phases(
        store=store,
        params=params,
        out=out,
        ckpt=ckpt,
        summary=AuditSummary(params=params.as_dict(), resumed=ckpt.resumed),
        times=ckpt.state.setdefault("seconds", {}),
        tell=progress or (lambda phase, done, total: None),
        mark=checkpointed or (lambda phase, chunk: None),
    )
    chunks = run.scan(page_size, chunk_pages)
    encoder, enc, pairs = run.block(chunks, model.specs if model is not None else None)
    levels_of, pairs, levels, id_match = run.levels(encoder, enc, pairs, level_chunk)
    model = model or run.train(encoder, levels_of, enc, levels, id_match)
    run.summary.model = {
        "prior": model.prior,
        "source": ckpt.state.get("model", "given"),
        "prior_source": model.training.prior_source,
        "fields": list(model.fields),
    }
    return run.finish(model, enc, pairs, levels, id_match)


@dataclass
class _Phases:
    """One audit run's shared state, with one method per phase."""

    store: RecordStore
    params: AuditParams
    out: Path
    ckpt: _Checkpoints
    summary: AuditSummary
    times: dict[str, float]
    tell: Progressed
    mark: Checkpointed

    def timed(self, phase: str, started: float) -> float:
        """Add the time since ``started`` to ``phase``; the time now (the next start)."""
        now = time.perf_counter()
        self.times[phase] = self.times.get(phase, 0.0) + now - started
        return now

    def scan(self, page_size: int, chunk_pages: int) -> int:
        """1. Read the organization's Cases into checkpointed chunks; how many chunks."""
        started = time.perf_counter()
        params, ckpt = self.params, self.ckpt
        scan = ckpt.state.setdefault(
            "scan", {"chunks": 0, "records": 0, "after": None, "done": False}
        )
        if not scan["done"]:
            total = count_cases(self.store, params.organization, params.since, params.until)
            self.tell("scan", scan["records"], total)
            pages = scan_cases(
                self.store,
                params.organization,
                params.since,
                params.until,
                after=scan["after"],
                page_size=page_size,
            )
            while True:
                chunk: list[tuple[str, list[str]]] = []
                after = scan["after"]
                for _, page in zip(range(chunk_pages), pages, strict=False):
                    chunk.extend(page.views)
                    after = page.after
                    self.tell("scan", scan["records"] + len(chunk), total)
                if not chunk:
                    break
                number = scan["chunks"] + 1
                _write_atomic(
                    ckpt.file(f"scan-{number:06d}.ndjson"),
                    lambda p, c=chunk: p.write_bytes(  # type: ignore[misc]
                        b"".join(orjson.dumps(v, option=orjson.OPT_APPEND_NEWLINE) for v in c)
                    ),
                )
                scan.update(chunks=number, records=scan["records"] + len(chunk), after=after)
                started = self.timed("scan", started)
                ckpt.save()
                self.mark("scan", number)
            scan["done"] = True
            self.timed("scan", started)
            ckpt.save()
        self.summary.records = scan["records"]
        return int(scan["chunks"])

    def block(
        self, chunks: int, fields: Sequence[FieldSpec] | None
    ) -> tuple[bulk.Encoder, bulk.Encoded, Any]:
        """2. Encode the chunks and block them into candidate pairs (checkpointed)."""
        started = time.perf_counter()
        ckpt = self.ckpt
        if "block" not in ckpt.state:
            encoder = bulk.Encoder(fields if fields is not None else linkage.MODEL_FIELDS)
            parts = []
            for number in range(1, chunks + 1):
                parts.append(encoder.encode(_read_chunk(ckpt.file(f"scan-{number:06d}.ndjson"))))
                self.tell("block", number, chunks)
            enc = bulk.concat(parts)
            del parts
            pairs, stats = bulk.candidate_pairs(enc, self.params.max_block)
            _write_atomic(
                ckpt.file("encoded.pkl"),
                lambda p: p.write_bytes(pickle.dumps((encoder, enc), protocol=5)),
            )
            _write_atomic(ckpt.file("pairs.npy"), lambda p: _save_npy(p, pairs))
            ckpt.state["block"] = stats.as_dict()
            self.timed("block", started)
            ckpt.save()
            self.mark("block", 1)
        else:
            encoder, enc = pickle.loads(ckpt.file("encoded.pkl").read_bytes())  # our checkpoint
            pairs = np.load(ckpt.file("pairs.npy"))
        self.summary.blocking = ckpt.state["block"]
        self.summary.candidate_pairs = len(pairs)
        return encoder, enc, pairs

    def levels(
        self, encoder: bulk.Encoder, enc: bulk.Encoded, pairs: Any, level_chunk: int
    ) -> tuple[bulk.BulkLevels, Any, Any, Any]:
        """3. The pairs' levels in checkpointed chunks, then the seeds' exclusions; the
        comparer, the kept pairs, their levels and which share an identifier."""
        started = time.perf_counter()
        ckpt = self.ckpt
        levels_of = bulk.BulkLevels(encoder)
        chunks = max(1, math.ceil(len(pairs) / level_chunk))
        done = ckpt.state.setdefault("levels", 0)
        for number in range(done + 1, chunks + 1):
            part = pairs[(number - 1) * level_chunk : number * level_chunk]
            lv = levels_of.levels(enc, part)
            _write_atomic(ckpt.file(f"levels-{number:06d}.npy"), lambda p, a=lv: _save_npy(p, a))  # type: ignore[misc]
            ckpt.state["levels"] = number
            started = self.timed("levels", started)
            ckpt.save()
            self.tell("levels", number, chunks)
            self.mark("levels", number)
        levels = (
            np.concatenate(
                [np.load(ckpt.file(f"levels-{n:06d}.npy")) for n in range(1, chunks + 1)]
            )
            if len(pairs)
            else np.zeros((0, len(encoder.fields)), np.int8)
        )
        allowed, excluded = bulk.exclusions(enc, pairs, levels, encoder.fields)
        if not allowed.all():
            pairs, levels = pairs[allowed], levels[allowed]
        levels = bulk.independent(levels, encoder.fields, in_place=True)
        id_match = bulk.identifier_links(enc, pairs)
        self.summary.excluded = excluded
        self.summary.scored_pairs = len(pairs)
        self.timed("levels", started)
        return levels_of, pairs, levels, id_match

    def train(
        self,
        encoder: bulk.Encoder,
        levels_of: bulk.BulkLevels,
        enc: bulk.Encoded,
        levels: Any,
        id_match: Any,
    ) -> linkage.MatchModel:
        """4. The model this run trains on its own pairs (kept as ``model.json``)."""
        started = time.perf_counter()
        params, ckpt = self.params, self.ckpt
        model_path = self.out / "model.json"
        if model_path.exists() and ckpt.state.get("model"):
            model = linkage.MatchModel.from_json(json.loads(model_path.read_text()))
        else:
            if len(enc) < 2:
                raise AuditError(
                    f"organization {params.organization} has {len(enc)} Case(s) in range: "
                    "nothing to audit"
                )
            model = bulk.train(
                encoder,
                levels_of,
                enc,
                levels,
                id_match,
                organization=params.organization,
                trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
                seed=params.seed,
            )
            text = json.dumps(model.to_json(), indent=1)
            _write_atomic(model_path, lambda p: p.write_text(text))
            ckpt.state["model"] = "trained"
            ckpt.save()
            self.mark("model", 1)
        self.timed("model", started)
        return model

    def finish(
        self,
        model: linkage.MatchModel,
        enc: bulk.Encoded,
        pairs: Any,
        levels: Any,
        id_match: Any,
    ) -> AuditSummary:
        """5. Score, cluster, and write the outputs, the summary and the report."""
        started = time.perf_counter()
        params, summary = self.params, self.summary
        weights = bulk.Weights.of(model)
        match_weight = weights.weights(levels)
        probability = bulk.probabilities(match_weight)
        clusters = bulk.cluster(pairs, probability, params.threshold, forced=id_match)
        summary.links = int(np.count_nonzero((probability >= params.threshold) | id_match))
        summary.id_matches = int(np.count_nonzero(id_match))
        summary.clusters = len(clusters.members)
        summary.clustered_records = sum(len(m) for m in clusters.members)
        summary.refused_merges = clusters.refused
        started = self.timed("cluster", started)
        write_outputs(
            self.out,
            enc.ids,
            pairs,
            levels,
            probability,
            match_weight,
            id_match,
            clusters,
            weights,
            model,
            params.threshold,
        )
        self.timed("write", started)
        summary.phase_seconds = {k: round(v, 3) for k, v in self.times.items()}
        summary.peak_rss_mb = round(peak_rss_mb(), 1)
        self.ckpt.save()
        (self.out / "summary.json").write_text(json.dumps(summary.as_dict(), indent=1))
        write_report(self.out, summary, model, probability, clusters)
        return summary


def _save_npy(path: Path, array: Any) -> None:
    with path.open("wb") as fh:
        np.save(fh, array)


def _read_chunk(path: Path) -> Iterator[tuple[Any, list[str]]]:
    with path.open("rb") as fh:
        for line in fh:
            view, keys = orjson.loads(line)
            yield facts_from_view(view), keys


# --------------------------------------------------------------------------- outputs


def _bf_columns(model: linkage.MatchModel) -> list[str]:
    return [f"bf_{key}" for key in model.fields]


def write_outputs(
    out: Path,
    ids: list[str],
    pairs: Any,
    levels: Any,
    probability: Any,
    match_weight: Any,
    id_match: Any,
    clusters: bulk.Clusters,
    weights: bulk.Weights,
    model: linkage.MatchModel,
    threshold: float,
) -> None:
    """``pairs.csv``/``.ndjson`` (linked pairs, strongest first) and ``clusters.csv``/``.ndjson``.

    Ids, scores and each field's Bayes factor only: no compared value (PHI) is written.
    """
    cluster_of: dict[int, str] = {}
    names = [f"C{n:07d}" for n in range(1, len(clusters.members) + 1)]
    for name, members in zip(names, clusters.members, strict=True):
        for row in members:
            cluster_of[row] = name
    linked = np.flatnonzero((probability >= threshold) | id_match)
    linked = linked[np.lexsort((linked, -probability[linked]))]
    factors = weights.bayes_factors(levels[linked]) if len(linked) else np.zeros((0, 0))
    columns = ["left_id", "right_id", "probability", "match_weight", "id_match", "cluster"]
    bf_names = _bf_columns(model)
    with (
        (out / "pairs.csv").open("w", newline="") as fh_csv,
        (out / "pairs.ndjson").open("wb") as fh_json,
    ):
        writer = csv.writer(fh_csv)
        writer.writerow(columns + bf_names)
        for n, k in enumerate(linked.tolist()):
            i, j = int(pairs[k, 0]), int(pairs[k, 1])
            a, b = (i, j) if ids[i] <= ids[j] else (j, i)
            same = cluster_of.get(a) if cluster_of.get(a) == cluster_of.get(b) else None
            bf = [round(float(x), 6) for x in factors[n]]
            p, w = round(float(probability[k]), 6), round(float(match_weight[k]), 4)
            writer.writerow([ids[a], ids[b], p, w, bool(id_match[k]), same or "", *bf])
            fh_json.write(
                orjson.dumps(
                    {
                        "left_id": ids[a],
                        "right_id": ids[b],
                        "probability": p,
                        "match_weight": w,
                        "id_match": bool(id_match[k]),
                        "cluster": same,
                        "bayes_factors": dict(zip(model.fields, bf, strict=True)),
                    },
                    option=orjson.OPT_APPEND_NEWLINE,
                )
            )
    with (
        (out / "clusters.csv").open("w", newline="") as fh_csv,
        (out / "clusters.ndjson").open("wb") as fh_json,
    ):
        writer = csv.writer(fh_csv)
        writer.writerow(["cluster", "record_id", "size"])
        for name, members in zip(names, clusters.members, strict=True):
            record_ids = sorted(ids[row] for row in members)
            for record_id in record_ids:
                writer.writerow([name, record_id, len(members)])
            fh_json.write(
                orjson.dumps(
                    {"cluster": name, "size": len(members), "record_ids": record_ids},
                    option=orjson.OPT_APPEND_NEWLINE,
                )
            )


def write_report(
    out: Path,
    summary: AuditSummary,
    model: linkage.MatchModel,
    probability: Any,
    clusters: bulk.Clusters,
) -> None:
    """``report.md``, with ``scores.png`` and ``cluster_sizes.png`` when matplotlib is installed."""
    plots = _plots(out, probability, [len(m) for m in clusters.members])
    p = summary.params
    lines = [
        f"# Duplicate audit of {p['organization']}",
        "",
        f"Receipt dates {p['since'] or 'any'} to {p['until'] or 'any'}; link threshold "
        f"{p['threshold']}; blocks over {p['max_block']} records split by birth year.",
        "",
        "| what | count |",
        "|---|---|",
        f"| Cases read | {summary.records:,} |",
        f"| candidate pairs (sharing a retrieval key) | {summary.candidate_pairs:,} |",
        *(f"| excluded by {rule} | {n:,} |" for rule, n in sorted(summary.excluded.items())),
        f"| pairs scored | {summary.scored_pairs:,} |",
        f"| linked pairs (probability >= threshold, or a shared identifier) | {summary.links:,} |",
        f"| of which ID Matches (M10) | {summary.id_matches:,} |",
        f"| clusters | {summary.clusters:,} ({summary.clustered_records:,} Cases) |",
        f"| merges refused for want of support (chains broken) | {summary.refused_merges:,} |",
        "",
        "Blocking: " + ", ".join(f"{k} {v:,}" for k, v in summary.blocking.items()) + ".",
        "",
        "Time per phase (s): "
        + ", ".join(f"{k} {v:.1f}" for k, v in summary.phase_seconds.items())
        + f"; peak memory {summary.peak_rss_mb:,.0f} MiB"
        + (" (resumed run: times add up every attempt)" if summary.resumed else "")
        + ".",
        "",
        f"## Model ({summary.model.get('source')}; prior {model.prior:.3g}, from "
        f"{model.training.prior_source})",
        "",
        "| field | level | m | u | Bayes factor |",
        "|---|---|---|---|---|",
    ]
    for key, m, u in zip(model.fields, model.m, model.u, strict=True):
        for level in sorted(m):
            lines.append(
                f"| {key} | {linkage.level_name(level)} | {m[level]:.4f} | {u[level]:.5f} | "
                f"{m[level] / u[level]:.3g} |"
            )
    lines.append("")
    for name, caption in plots:
        lines += [f"![{caption}]({name})", ""]
    if not plots:
        lines += ["(Charts need matplotlib: `pip install 'casematch[reports]'`.)", ""]
    (out / "report.md").write_text("\n".join(lines))


def _plots(out: Path, probability: Any, sizes: list[int]) -> list[tuple[str, str]]:
    try:
        import matplotlib  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return []
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # type: ignore[import-not-found,unused-ignore]

    made: list[tuple[str, str]] = []
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.hist(probability, bins=50, range=(0, 1), log=True)
    ax.set_xlabel("match probability")
    ax.set_ylabel("pairs (log)")
    ax.set_title("Scored candidate pairs")
    fig.tight_layout()
    fig.savefig(out / "scores.png", dpi=100)
    plt.close(fig)
    made.append(("scores.png", "Match probability of every scored pair"))
    if sizes:
        fig, ax = plt.subplots(figsize=(7, 3.5))
        top = max(sizes)
        ax.hist(sizes, bins=range(2, top + 2), align="left", log=True)
        ax.set_xlabel("Cases per cluster")
        ax.set_ylabel("clusters (log)")
        ax.set_title("Cluster sizes")
        fig.tight_layout()
        fig.savefig(out / "cluster_sizes.png", dpi=100)
        plt.close(fig)
        made.append(("cluster_sizes.png", "How many Cases each cluster holds"))
    return made
