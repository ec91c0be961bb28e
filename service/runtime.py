"""Process settings for a long-running casematch: garbage collection tuned for detection.

A duplicate check reads a few hundred candidates and makes a handful of small
objects for each; nearly all die when the check returns, freed by reference
counting. CPython's default collector still counts them: every 700 net
allocations it runs a collection, and every few of those walks the objects
that live for the whole process (modules, settings, the app). Measured on
4,000 match views (``matcher.facts.facts_from_view``): 15-53 µs each with the
default thresholds, 16-17 µs after :func:`tune_gc`. ``casematch audit`` makes the
same kind of objects (a document and its ``Facts`` per Case, dying once encoded) by the
million; the default collector cost it about a third of its time.
"""

from __future__ import annotations

import gc

#: Net allocations between young-generation collections (CPython's default is 700).
YOUNG_THRESHOLD = 20_000


def tune_gc() -> None:
    """Collect young objects less often; never walk what exists at startup again.

    Call once, after startup work is done (``casematch serve``; the latency
    benchmark does the same to measure detection as the service runs it).
    Cycles are still collected, only less often.
    """
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
