"""Batch audit: find duplicate pairs across an existing database, clustered.

Every stored record is checked against the index with the product's own duplicate
check (``matcher.detect``, the same call the promote endpoint makes); the matches it
returns become candidate links, a link rule decides which of them count as "the same
patient", and union-find turns the links into clusters. This is casematch's side of
the peer benchmark, and a tool in its own right for cleaning a legacy database.

The link rule (decided before looking at any benchmark result, see :class:`LinkRule`):

- every ID Match (M10) and Subject Match (M12) is a link;
- a Possible Match is a link when its top category is Patient (M14) and at least
  ``min_patient_fields`` of the patient values first name, last name, date of birth
  and MRN match (exact or partial). Initials are not counted: they are derived from
  the names and would count the same evidence twice.

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
EVIDENCE_FIELDS: frozenset[str] = frozenset(
    {
        "first_name",
        "last_name",
        "dob",
        "mrn",
        "mrn_gp",
        "mrn_specialist",
        "mrn_hospital",
        "mrn_investigation",
    }
)


#: The strength of an ID or Subject Match: above any count of patient fields.
ID_STRENGTH = 100


@dataclass(frozen=True)
class LinkRule:
    """Which returned matches count as a predicted duplicate link."""

    min_patient_fields: int = 2

    def patient_evidence(self, match: Match) -> int:
        """How many distinct patient values (names, DOB, MRN) match exactly or partially."""
        fields: set[str] = set()
        for row in match.comparison:
            if row.section.lower() != "patient" or row.result == "none":
                continue
            name = _field_key(row.field)
            if name in EVIDENCE_FIELDS:
                fields.add("mrn" if name.startswith("mrn") else name)
        return len(fields)

    def strength(self, section: str, match: Match) -> int:
        """The evidence of one returned match: ``ID_STRENGTH`` for an ID/Subject Match, the
        patient evidence for a Possible Match whose top category is Patient, else 0."""
        if section in ("id_matches", "subject_matches"):
            return ID_STRENGTH
        if match.top_category != "patient":
            return 0
        return self.patient_evidence(match)

    def links(self, section: str, match: Match) -> bool:
        return self.strength(section, match) >= self.min_patient_fields


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
    candidates: dict[Pair, int]
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
    candidates: dict[Pair, int] = {}
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
                    candidates[pair] = max(strength, candidates.get(pair, 0))
                    if strength >= rule.min_patient_fields:
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


def links_at(candidates: dict[Pair, int], min_strength: int) -> set[Pair]:
    """The links a rule with ``min_patient_fields=min_strength`` would have made."""
    return {pair for pair, strength in candidates.items() if strength >= min_strength}
