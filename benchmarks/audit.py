"""Batch audit: find duplicate pairs across an existing database, clustered.

Every stored record is checked against the index with the product's own duplicate
check (``matcher.detect``, the same call the promote endpoint makes); the matches it
returns become candidate links, a link rule decides which of them count as "the same
patient", and union-find turns the links into clusters. This is casematch's side of
the peer benchmark, and a tool in its own right for cleaning a legacy database.

The link rule (see :class:`LinkRule`):

- every ID Match (M10) and Subject Match (M12) is a link;
- a Possible Match is a link when its top category is Patient (M14) and its patient
  evidence reaches ``min_evidence`` (1.5): first name, last name, date of birth and MRN
  each add 1.0 for an exact match and 0.5 for a partial one. Initials are not counted:
  they are derived from the names and would count the same evidence twice. So exact
  names alone, or a DOB with one name (a partial surname included), link; two fuzzy
  names alone, a DOB alone or a name alone do not.

The weights and the threshold were chosen on FEBRL ``febrl1`` (the ``--quick`` data
set) and are evaluated on ``febrl3``, a different data set; the peer report also shows
other thresholds for transparency. Only the first ``max_possible_matches`` (10)
Possible Matches of each record are read: a link needs Patient-category evidence,
and M14 ranks those first (M26: the cap never changes which come first).

Detections run on ``workers`` threads: the engine is another process, so while one
thread waits for ``_msearch`` another ranks.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from benchmarks.metrics import Pair, canonical_pair, cluster_pairs
from indexer.records import Record
from indexer.store import RecordStore
from matcher.model import DetectionOptions, DetectionRun, Match

#: Patient fields whose agreement counts as evidence of the same patient.
EVIDENCE_FIELDS: frozenset[str] = frozenset({"first_name", "last_name", "dob", "mrn"})
#: What one matching value adds to the evidence.
RESULT_WEIGHT: dict[str, float] = {"exact": 1.0, "partial": 0.5, "none": 0.0}
#: The strength of an ID or Subject Match: above any patient evidence.
ID_STRENGTH = 100.0
#: How many Possible Matches per record the audit reads.
AUDIT_CAP = 10


@dataclass(frozen=True)
class LinkRule:
    """Which returned matches count as a predicted duplicate link."""

    min_evidence: float = 1.5

    def patient_evidence(self, match: Match) -> float:
        """Exact (1.0) and partial (0.5) patient values among names, DOB and MRN; the best
        result per field (several MRN kinds count once)."""
        best: dict[str, float] = {}
        for row in match.comparison:
            if row.section.lower() != "patient":
                continue
            name = _field_key(row.field)
            if name in EVIDENCE_FIELDS:
                best[name] = max(best.get(name, 0.0), RESULT_WEIGHT.get(row.result, 0.0))
        return sum(best.values())

    def strength(self, section: str, match: Match) -> float:
        """The evidence of one returned match: ``ID_STRENGTH`` for an ID/Subject Match, the
        patient evidence for a Possible Match whose top category is Patient, else 0."""
        if section in ("id_matches", "subject_matches"):
            return ID_STRENGTH
        if match.top_category != "patient":
            return 0.0
        return self.patient_evidence(match)

    def links(self, section: str, match: Match) -> bool:
        return self.strength(section, match) >= self.min_evidence


def _field_key(label: str) -> str:
    """``"Date of Birth"`` / ``"patient.dob"`` / ``"mrn.gp"`` -> a key of EVIDENCE_FIELDS."""
    text = label.lower().strip().replace("patient.", "").replace(".", "_").replace(" ", "_")
    aliases = {
        "date_of_birth": "dob",
        "birth_date": "dob",
        "first": "first_name",
        "last": "last_name",
        "given_name": "first_name",
        "surname": "last_name",
    }
    text = aliases.get(text, text)
    if text.startswith("mrn"):
        return "mrn"
    return text


@dataclass
class AuditResult:
    """The audit's links and clusters, and what they cost."""

    links: set[Pair]
    #: every returned (record, match) pair with its strongest evidence (LinkRule.strength),
    #: so that other link thresholds can be scored without running again
    candidates: dict[Pair, float]
    clusters: list[list[str]]
    detections: int
    detect_ms: list[float] = field(default_factory=list)
    matcher_cpu_ms: list[float] = field(default_factory=list)
    wall_s: float = 0.0


def audit(
    store: RecordStore,
    records: Sequence[Record],
    options: DetectionOptions,
    *,
    rule: LinkRule | None = None,
    workers: int = 2,
    on_done: Callable[[], None] | None = None,
) -> AuditResult:
    """Check every record against the index; link, then cluster, the duplicates found."""
    from benchmarks.harness import timed_detect

    rule = rule or LinkRule()
    started = time.perf_counter()

    def check(record: Record) -> tuple[Record, DetectionRun, float]:
        run, wall_ms = timed_detect(store, record, options)
        return record, run, wall_ms

    links: set[Pair] = set()
    candidates: dict[Pair, float] = {}
    detect_ms: list[float] = []
    cpu_ms: list[float] = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        for record, run, wall_ms in pool.map(check, records):
            detect_ms.append(wall_ms)
            cpu_ms.append(run.matcher_cpu_ms)
            sections = run.detection.sections
            for section, matches in (
                ("id_matches", sections.id_matches),
                ("subject_matches", sections.subject_matches),
                ("possible_matches", sections.possible_matches),
            ):
                for match in matches:
                    if match.record_id == record.id:
                        continue  # a record always finds itself
                    pair = canonical_pair(record.id, match.record_id)
                    strength = rule.strength(section, match)
                    candidates[pair] = max(strength, candidates.get(pair, 0.0))
                    if strength >= rule.min_evidence:
                        links.add(pair)
            if on_done:
                on_done()
    clusters = cluster_pairs(sorted(links), [r.id for r in records])
    return AuditResult(
        links=links,
        candidates=candidates,
        clusters=clusters,
        detections=len(records),
        detect_ms=detect_ms,
        matcher_cpu_ms=cpu_ms,
        wall_s=time.perf_counter() - started,
    )


def audit_options() -> DetectionOptions:
    """Detection options of the audit: the default profile, Cases only, top 10 Possible Matches."""
    return DetectionOptions(
        profile="enhanced", match_inbox_items=False, mask_phi=False, max_possible_matches=AUDIT_CAP
    )


def links_at(candidates: dict[Pair, float], min_evidence: float) -> set[Pair]:
    """The links a rule with ``min_evidence`` would have made."""
    return {pair for pair, strength in candidates.items() if strength >= min_evidence}
