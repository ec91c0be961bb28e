"""Duplicate detection: query builders, comparators, ranking, comparison table, masking, profiles.

Public API (the service, the CLI and the benchmarks use these names):

    >>> from matcher import DetectionOptions, detect, rank_reference
    >>> DetectionOptions().profile
    'enhanced'

``detect(engine, indices, source, options) -> DetectionRun`` runs on the
engine (``indices``: an ``IndexNames`` or index names); ``rank_reference(source,
candidates, options) -> Detection`` is the brute-force reference over records
in Python, ranking by the very same rules.
"""

from matcher.detect import MatcherError, detect
from matcher.model import (
    ComparisonRow,
    Detection,
    DetectionOptions,
    DetectionRun,
    Match,
    Sections,
    Status,
)
from matcher.rank import rank_reference

__all__ = [
    "ComparisonRow",
    "Detection",
    "DetectionOptions",
    "DetectionRun",
    "Match",
    "MatcherError",
    "Sections",
    "Status",
    "detect",
    "rank_reference",
]
