"""Every generated Case and Inbox Item validates, for any seed and any ``today`` (issue 13).

``casematch bench latency --seed 7 --sizes 100k`` once aborted after 31,168
records on an event onset two days after today. The generator's dates are
drawn relative to its ``today``; the product refuses dates after the real
today, so ``today`` ranges over days up to the real one.
"""

from __future__ import annotations

from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.generator import Population, case_dict, generate_queries
from indexer.records import Record

days = st.dates(min_value=date(2000, 1, 1), max_value=date.today())
seeds = st.integers(min_value=0, max_value=2**32 - 1)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seeds, st.integers(min_value=0, max_value=10**7), days)
def test_every_generated_case_validates(seed: int, index: int, today: date) -> None:
    data = case_dict(seed, index, today=today)
    record = Record.model_validate(data)
    assert all(e.onset is None or e.onset.first_day <= today for e in record.events)
    assert record.receipt_date is not None and record.receipt_date.first_day <= today


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seeds, days)
def test_every_generated_query_validates(seed: int, today: date) -> None:
    pop = Population(seed=seed, n=300, today=today)
    for query in generate_queries(seed, pop, 40):
        record = Record.model_validate(query.source.model_dump(mode="json", exclude_none=True))
        assert record.receipt_date is not None and record.receipt_date.first_day <= today


def test_latency_seed_7_case_31168_validates() -> None:
    """The record the 100k latency run aborted on (its onset was two days after today)."""
    for today in (date(2026, 12, 4), date(2026, 12, 1), date(2025, 6, 30)):
        Record.model_validate(case_dict(7, 31_168, today=today))
