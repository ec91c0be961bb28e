"""Duplicate detection on the engine: bounded retrieval, then ranking by the comparators.

Retrieval runs in stages, each one ``_msearch`` round trip, and stops as soon
as the M26 cap is provably filled in M14's order:

1. the ID query, the Subject query (clinical trial), the selective
   Possible-Match tiers (Patient, Reporter) and the selective level of the
   broad tiers (Study, Product: records matching the tier's own values *and*
   something lower, i.e. the head of that tier in M14 order);
2. only when the cap is not yet filled: a broad tier in full (Study, then
   Product, then Event), one at a time, in M14 order;
3. the stored records of the listed matches, for their comparison tables.

Candidates come back as their match views (``indexer.documents.match_view``),
a tenth of a full document. Fuzzy name lookups never reach the records index:
before the first search, one round trip to the name vocabulary
(``indexer.names``) turns them into exact key lookups.

Queries only collect (filter context, never scored). A tier's page is
trusted only when it is complete (not full). Each page counts the records of
its level, so a full page is read to its end (``search_after``) in one more
page. A full page of a selective tier (Patient, Reporter) is read to its end;
so is one of a broad tier whose rest fits a page three times its size; a larger
one is first narrowed to records with more matching values (the head of the
tier, M14's count) and read whole only when the head is too small - so a lower tier never
displaces a higher one and the cap never changes the head (M26). Every retrieved document
that can be listed at all is then compared with the source in Python
(``matcher.evaluate``) and ranked by ``matcher.rank``: the same code as the brute-force
reference, never ``_score``.

Log lines carry ids, counts and timings only (M21).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Protocol

import orjson

from indexer.documents import fold_key, scope_prefix
from indexer.names import FIELD as NAME_FIELD
from indexer.records import Record
from matcher.evaluate import Evaluation, evaluate
from matcher.facts import (
    RECORD_SOURCE,
    VIEW_FETCH,
    Facts,
    StaleMatchViewError,
    facts_from_record,
    facts_from_view,
    with_record,
)
from matcher.model import Category, DetectionOptions, DetectionRun
from matcher.profiles import FIELD_BY_KEY, Profile, get_profile
from matcher.queries import (
    Query,
    expand_fuzzy,
    expansions,
    fuzzy_lookups,
    id_query,
    lookup_id,
    possible_clauses,
    scope_filter,
    subject_query,
    tier_query,
    vocabulary_query,
)
from matcher.rank import (
    Ranked,
    assign_sections,
    listable_test,
    new_info_cutoff,
    possible_eligible,
    source_is_clinical_trial,
    to_detection,
)

log = logging.getLogger("casematch.matcher")

#: Keys read from the name vocabulary per detection at most (it holds a handful per name).
VOCABULARY_PAGE = 2000

#: Categories whose values are shared by many records: fetched only when the cap needs them.
BROAD: frozenset[Category] = frozenset({"study", "product", "event"})


class SearchEngine(Protocol):
    """What detection needs from the engine seam (``indexer.engine.Engine``)."""

    def msearch(self, searches: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]: ...


class HasIndexNames(Protocol):
    @property
    def cases(self) -> str: ...

    @property
    def inbox_items(self) -> str: ...

    @property
    def name_vocabulary(self) -> str: ...


class MatcherError(Exception):
    """Detection could not run; the message carries no record values (M21)."""


def margin(cap: int) -> int:
    """Extra hits fetched per tier so that fuzzy clauses the comparators reject cannot starve it."""
    return cap // 4 + 10


@dataclass
class _Tier:
    category: Category
    level: int  # minimum matching identifying values
    size: int
    hits: int = 0
    #: The page reached records M6 excludes: every eligible record of the tier is on it.
    past_cutoff: bool = False
    #: Sort values of the last record fetched, to continue the tier after it.
    after: list[Any] | None = None
    #: How many records the level holds (``hits.total`` of its first page), if counted exactly.
    total: int | None = None

    @property
    def saturated(self) -> bool:
        """The level may hold records not fetched yet: its pages came back full, short of
        both its count and the M6 cutoff."""
        if self.total is not None and self.hits >= self.total:
            return False
        return self.hits >= self.size and not self.past_cutoff

    @property
    def rest(self) -> int | None:
        """Records of a saturated level not fetched yet, when its count is known."""
        return None if self.total is None else max(self.total - self.hits, 0)

    def completes_in_one(self) -> bool:
        """Whether one more page, at most three times this one, fetches the rest of the level."""
        return self.rest is not None and self.rest < 3 * self.size


@dataclass
class _Run:
    engine: SearchEngine
    index: str
    src: Facts
    profile: Profile
    options: DetectionOptions
    clauses: dict[str, Query]
    filters: list[Query]
    must_not: list[Query]
    #: M6: Possible Matches with a New Info Date before this day are excluded.
    cutoff: date
    #: The name-vocabulary index fuzzy name lookups are expanded in (``indexer.names``).
    vocabulary: str | None = None
    #: Matching-value counts of the eligible Possible Matches retrieved so far, per tier.
    possible: dict[Category, list[int]] = field(default_factory=dict)
    #: A tier page came back full: the index holds many records like the source.
    crowded: bool = False
    #: Whether a candidate can be listed at all (``matcher.rank.listable_test``).
    listable: Callable[[Facts], bool] = field(default=lambda cand: True)
    #: Every retrieved candidate that can be listed, by ``(index, _id)``, evaluated.
    evaluations: dict[tuple[str, str], Evaluation] = field(default_factory=dict)
    #: The retrieved candidates that cannot be listed (read, never evaluated).
    unlisted: dict[tuple[str, str], Facts] = field(default_factory=dict)
    retrieved: list[str] = field(default_factory=list)
    tiers: dict[tuple[Category, int], _Tier] = field(default_factory=dict)
    round_trips: int = 0
    searches: int = 0
    engine_ms: float = 0.0
    #: Thread CPU spent inside engine calls (the client's HTTP and JSON work), not the matcher's.
    engine_cpu_s: float = 0.0

    def tier_body(self, tier: _Tier) -> Query | None:
        return tier_query(
            self.clauses,
            self.profile,
            tier.category,
            filters=self.filters,
            must_not=self.must_not,
            size=tier.size,
            scope=scope_prefix(self.src.organization, self.src.clinical_trial),
            country=self.src.country,
            min_identifying=tier.level,
            study=fold_key(self.src.study_number) if self.src.study_number else None,
        )

    def msearch(self, bodies: list[Query], index: str | None = None) -> list[dict[str, Any]]:
        """One ``_msearch`` round trip, timed apart from the matcher's own CPU."""
        cpu = time.thread_time()
        started = time.perf_counter()
        responses = self.engine.msearch([(index or self.index, body) for body in bodies])
        self.engine_ms += (time.perf_counter() - started) * 1000
        self.engine_cpu_s += time.thread_time() - cpu
        self.round_trips += 1
        self.searches += len(bodies)
        if any("error" in response for response in responses):
            raise MatcherError("a detection search failed in the engine")
        return responses

    def expand_names(self) -> None:
        """Turn the fuzzy name lookups of every field clause into exact key lookups.

        One round trip asks the name vocabulary (``indexer.names``) for the keys
        near each lookup, so the records index never sees a fuzzy lookup. The
        country-scoped lookups of lower tiers are derived from the expanded
        clauses (``queries.in_countries`` maps each key), so they need none.
        """
        if self.vocabulary is None:
            return
        specs = {lookup_id(s): s for q in self.clauses.values() for s in fuzzy_lookups(q)}
        if not specs:
            return
        body = vocabulary_query(list(specs.values()), NAME_FIELD, VOCABULARY_PAGE)
        (response,) = self.msearch([body], index=self.vocabulary)
        hits = response.get("hits", {}).get("hits", [])
        if len(hits) >= VOCABULARY_PAGE:  # improbable: leave them to the engine's fuzzy
            return
        found = expansions(list(specs.values()), [str(hit["_id"]) for hit in hits])
        self.clauses = {key: expand_fuzzy(q, dict(found)) for key, q in self.clauses.items()}

    def fetch(self, bodies: list[tuple[_Tier | None, Query]]) -> None:
        """One ``_msearch`` round trip; every hit is read once, and evaluated once if it can be
        listed at all (``matcher.rank.listable_test``: an old record sharing no identifier
        with a postmarketing source cannot)."""
        if not bodies:
            return
        responses = self.msearch([body for _, body in bodies])
        for (tier, body), response in zip(bodies, responses, strict=True):
            hits = response.get("hits", {}).get("hits", [])
            last: Facts | None = None
            for hit in hits:
                key = (hit["_index"], hit["_id"])
                seen = self.evaluations.get(key)
                last = seen.facts if seen is not None else self.unlisted.get(key)
                if last is None:
                    last = _candidate(hit)
                    self.retrieved.append(last.record_id)
                    if self.listable(last):
                        ev = self.evaluations[key] = evaluate(self.src, last, self.profile)
                        self.admit(ev)
                    else:
                        self.unlisted[key] = last
            if tier is not None:
                self.crowded |= len(hits) >= body["size"]
                total = response.get("hits", {}).get("total")
                if "search_after" not in body and isinstance(total, dict):
                    tier.total = total.get("value") if total.get("relation") == "eq" else None
                tier.hits += len(hits)
                tier.past_cutoff = last is not None and _past_cutoff(last, self.cutoff)
                if hits:
                    tier.after = hits[-1].get("sort")

    def levels(self, category: Category) -> tuple[int, ...]:
        """Minimum matching identifying values per fetch of a tier, most selective first.

        A broad tier (Study, Product) is first asked for records that match
        every value of its own category *and* something lower, which is
        selective; the full tier only when that does not fill the cap.
        """
        if category not in BROAD:
            return (1,)
        rank = self.profile.category_rank(category)
        own = lower = 0
        for key in self.clauses:
            spec = FIELD_BY_KEY[key]
            if not spec.identifying:
                continue
            if spec.category == category:
                own += 1
            elif self.profile.category_rank(spec.category) > rank:
                lower += 1
        return (own + 1, 1) if lower else (1,)

    def max_level(self, category: Category) -> int:
        """Identifying values a record of this tier can match at most (this category and below)."""
        rank = self.profile.category_rank(category)
        return sum(
            1
            for key in self.clauses
            if FIELD_BY_KEY[key].identifying
            and self.profile.category_rank(FIELD_BY_KEY[key].category) >= rank
        )

    def page(self, category: Category, level: int, size: int) -> _Tier | None:
        """The fetched page of a tier level, fetching it (one round trip) if need be."""
        self.pages([(category, level)], size)
        return self.tiers.get((category, level))

    def pages(self, wanted: list[tuple[Category, int]], size: int) -> None:
        """Fetch the pages of tier levels not fetched yet, all in one round trip."""
        planned: list[tuple[_Tier | None, Query]] = []
        for category, level in wanted:
            if (category, level) in self.tiers:
                continue
            tier = _Tier(category, level, size + self.eligible_in(category, level))
            body = self.tier_body(tier)
            if body is not None:
                self.tiers[(category, level)] = tier
                planned.append((tier, _with_source(body)))
        self.fetch(planned)

    def complete(self, tier: _Tier) -> None:
        """Fetch the rest of a tier level after its last record: in one page when the level
        was counted (one record more than the count, so the page comes back not full), else
        (or when records were added meanwhile) in growing pages."""
        while tier.saturated and tier.after is not None:
            rest = tier.rest
            step = rest + 1 if rest else tier.size * 3
            body = self.tier_body(replace(tier, size=step))
            assert body is not None
            tier.size += step
            self.fetch([(tier, {**_with_source(body), "search_after": tier.after})])

    def eligible_in(self, category: Category, level: int) -> int:
        """Retrieved Possible Matches of a tier with at least ``level`` matching values."""
        return sum(1 for count in self.possible.get(category, ()) if count >= level)

    def admit(self, ev: Evaluation) -> None:
        """Count a new candidate in its tier if it is an eligible Possible Match (M5, M6, M15)."""
        if ev.id_matches or (self.src.clinical_trial and ev.subject_tier is not None):
            return
        if possible_eligible(ev, self.profile, self.cutoff):
            category = ev.top_category(self.profile)
            assert category is not None
            self.possible.setdefault(category, []).append(ev.count)


_REINDEX = "the index holds documents of another casematch version: run `casematch reindex`"


def _candidate(hit: dict[str, Any]) -> Facts:
    try:
        return facts_from_view(hit["fields"]["match_view"][0])
    except (KeyError, StaleMatchViewError):
        raise MatcherError(_REINDEX) from None


def _past_cutoff(last: Facts, cutoff: date) -> bool:
    """Whether a page ends on a record M6 excludes (pages run newest first, undated first).

    Every record after it on a longer page is older still, so none is an
    eligible Possible Match: the page holds all the eligible ones.
    """
    day = last.new_info_date
    return day is not None and day < cutoff.isoformat()


def _with_source(body: Query) -> Query:
    """Candidates come back as their match views: compared values only, never the record."""
    return {**body, **VIEW_FETCH}


def _indices(indices: HasIndexNames | Sequence[str] | str, options: DetectionOptions) -> str:
    if isinstance(indices, str):
        return indices
    if isinstance(indices, Sequence):
        return ",".join(indices)
    names = [indices.cases]
    if options.match_inbox_items:
        names.append(indices.inbox_items)
    return ",".join(names)


def detect(
    engine: SearchEngine,
    indices: HasIndexNames | Sequence[str] | str,
    source: Record,
    options: DetectionOptions,
) -> DetectionRun:
    """Run duplicate detection for ``source`` (changes nothing). See the module docstring."""
    wall = time.perf_counter()
    cpu0 = time.thread_time()
    profile = get_profile(options.profile)
    ct = source_is_clinical_trial(source, options.known_studies)
    src = facts_from_record(source)
    if src.clinical_trial != ct:
        src = replace(src, clinical_trial=ct)
    cap = options.cap(clinical_trial=ct)
    run = _start(engine, indices, source, src, profile, options)
    _first_stage(run, ct, cap)
    _fill(run, cap)

    ranked = assign_sections(src, run.evaluations.values(), profile, cap=cap, today=options.on())
    _fetch_records(run, [*ranked.id_matches, *ranked.subject_matches, *ranked.possible_matches])
    took_ms = (time.perf_counter() - wall) * 1000
    detection = to_detection(src, source, ranked, profile, options, took_ms=took_ms)
    cpu_ms = (time.thread_time() - cpu0 - run.engine_cpu_s) * 1000
    _log_run(run, source, ranked, cpu_ms)
    return DetectionRun(
        detection=detection,
        retrieved_ids=run.retrieved,
        round_trips=run.round_trips,
        searches=run.searches,
        matcher_cpu_ms=cpu_ms,
        engine_ms=run.engine_ms,
    )


def _start(
    engine: SearchEngine,
    indices: HasIndexNames | Sequence[str] | str,
    source: Record,
    src: Facts,
    profile: Profile,
    options: DetectionOptions,
) -> _Run:
    """A detection's state: the scope filters (M1, M3/M4, M7, M9), the indices, the
    profile's clauses and the name vocabulary, with the source's names expanded."""
    filters, must_not = scope_filter(
        src,
        exclude_ids=[x for x in (source.id, source.case_id) if x],
        match_inbox_items=options.match_inbox_items,
        kinds_by_index=not isinstance(indices, str | Sequence),
    )
    run = _Run(
        engine=engine,
        index=_indices(indices, options),
        src=src,
        profile=profile,
        options=options,
        clauses=possible_clauses(src, profile),
        filters=filters,
        must_not=must_not,
        cutoff=new_info_cutoff(options.on()),
        vocabulary=None if isinstance(indices, str | Sequence) else indices.name_vocabulary,
        listable=listable_test(src, options.on()),
    )
    run.expand_names()
    return run


def _first_stage(run: _Run, ct: bool, cap: int) -> None:
    """Stage 1: identifiers, subjects and the selective tiers, as separate searches in one
    round trip (a union of them would read the same postings and, when its page is full -
    most detections at 100k Cases - run again apart). Broad tiers wait for :func:`_fill`."""
    src, profile = run.src, run.profile
    planned: list[tuple[_Tier | None, Query]] = []
    for body in (
        id_query(src, run.filters, run.must_not, profile),
        subject_query(src, run.filters, run.must_not, profile) if ct else None,
    ):
        if body is not None:
            planned.append((None, body))
    for category in profile.category_order:
        level = run.levels(category)[0]
        if category in BROAD and level == 1:
            continue  # broad: only when the cap needs it (_fill)
        tier = _Tier(category, level, cap + margin(cap))
        body = run.tier_body(tier)
        if body is not None:
            run.tiers[(category, level)] = tier
            planned.append((tier, body))
    run.fetch([(tier, _with_source(body)) for tier, body in planned])


def _log_run(run: _Run, source: Record, ranked: Ranked, cpu_ms: float) -> None:
    log.debug(
        "detection source_id=%s profile=%s round_trips=%d searches=%d retrieved=%d "
        "id=%d subject=%d possible=%d/%d engine_ms=%.1f matcher_cpu_ms=%.1f",
        source.id,
        run.profile.name,
        run.round_trips,
        run.searches,
        len(run.retrieved),
        len(ranked.id_matches),
        len(ranked.subject_matches),
        len(ranked.possible_matches),
        ranked.possible_total,
        run.engine_ms,
        cpu_ms,
    )


def _fetch_records(run: _Run, listed: list[Evaluation]) -> None:
    """Give each listed match its stored record (one round trip), for its comparison table.

    The record comes as its ``record_view`` (``indexer.documents.record_view``): one
    string, which the engine returns for half the cost of filtering the record object.
    """
    if not listed:
        return
    where = {id(ev): key for key, ev in run.evaluations.items()}
    keys = [where[id(ev)] for ev in listed]
    body: Query = {
        "query": {"ids": {"values": sorted({doc_id for _, doc_id in keys})}},
        "size": len(keys),
        "track_total_hits": False,
        "_source": RECORD_SOURCE,
    }
    (response,) = run.msearch([body])
    # By document id and kind, not index: a reindex may have moved the alias in between.
    records: dict[tuple[str, str], dict[str, Any]] = {}
    for hit in response.get("hits", {}).get("hits", []):
        view = hit["_source"].get("record_view")
        if not isinstance(view, str):
            raise MatcherError(_REINDEX)
        record = orjson.loads(view)
        records[(hit["_id"], str(record.get("kind")))] = record
    for (_, doc_id), ev in zip(keys, listed, strict=True):
        record = records.get((doc_id, ev.facts.kind))
        if record is not None:  # else removed since it was read: its table shows no values
            ev.facts = with_record(ev.facts, record)


def _fill(run: _Run, cap: int) -> None:
    """Walk the tiers in M14 order until the first ``cap`` Possible Matches are certain.

    Within a tier M14 orders by the number of matching identifying values, so
    a *complete* page of the records with at least *k* of them (a level) that
    holds ``needed`` eligible records contains the tier's first ``needed``:
    anything missing from it matches fewer values. A selective tier that does
    not fit its page is read whole: its records are few, while narrowing counts
    matches over the broad categories, whose keys match many records. A broad
    level that does not fit is read whole when its rest fits one more page (pages
    count their level), else first narrowed (k + 1, ...) and only fetched in full
    when the narrower levels are too small. Pages are complete when not full.
    """
    needed = cap
    order = run.profile.category_order
    for position, category in enumerate(order):
        if needed <= 0:
            return
        size = needed + margin(cap)
        if category in BROAD and (category, 1) not in run.tiers and not run.crowded:
            # Every page so far held its whole tier (a small index, or a rare source): the
            # broad tiers still ahead are likely small too, so ask them in one round trip.
            run.pages([(c, 1) for c in order[position:] if c in BROAD], size)
        for level in run.levels(category):
            tier = run.page(category, level, size)
            if tier is None:
                continue
            if tier.saturated and (category not in BROAD or tier.completes_in_one()):
                # A selective tier is cheaper read whole than narrowed: narrowing counts
                # matches over the broad categories too, whose keys match many records. So
                # is a broad level whose rest fits one more page: every narrower page would
                # read the same keys again.
                run.complete(tier)
            elif tier.saturated:
                narrower: _Tier | None = tier
                k = level
                while (
                    narrower is not None
                    and narrower.saturated
                    and not narrower.completes_in_one()
                    and k < run.max_level(category)
                ):
                    k += 1
                    narrower = run.page(category, k, size)
                # Back down from the narrowest level: complete each until one holds enough
                # (its records are the tier's first in M14 order), the widest last.
                for j in range(k, level - 1, -1):
                    page = run.tiers.get((category, j))
                    if page is not None:
                        run.complete(page)
                        if run.eligible_in(category, j) >= needed:
                            break
            if run.eligible_in(category, level) >= needed:
                break
        needed -= run.eligible_in(category, 1)
