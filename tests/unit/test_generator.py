"""The synthetic data generator: deterministic, streaming, valid and correctly labelled."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import orjson
import pycountry
import pytest
from rapidfuzz.distance import Levenshtein

from benchmarks.generator import (
    DUPLICATE_FAMILIES,
    FAMILIES,
    FAMILY_RULES,
    NEAR_MISS_FAMILIES,
    SAMPLE_CASES,
    SAMPLE_ITEMS,
    LabelledQuery,
    Population,
    generate_case_dicts,
    generate_cases,
    generate_queries,
    main,
    sample_dataset,
    sample_queries,
    write_ndjson,
)
from indexer.documents import build_document
from indexer.normalize import (
    event_key,
    name_tokens,
    normalize_country,
    normalize_id,
    normalize_initials,
)
from indexer.records import Record, parse_record
from service.sample.tables import PREFERRED_TERMS, PRODUCTS

TODAY = date(2026, 6, 30)
POPULATION = Population(seed=5, n=3000, today=TODAY)
CASES = list(POPULATION)
QUERIES = list(generate_queries(5, POPULATION, 16 * 12))


def _base(query: LabelledQuery) -> Record:
    return POPULATION.case(int(query.base_id.split("-")[1]))


def _ids(record: Record) -> set[str]:
    return {v for _, raw in record.identifiers.all() if (v := normalize_id(raw))}


def _queries(family: str) -> list[LabelledQuery]:
    found = [q for q in QUERIES if q.family == family]
    assert found, family
    return found


# -- determinism and streaming -------------------------------------------------------


def test_same_seed_same_records() -> None:
    assert list(generate_cases(5, 50, today=TODAY)) == CASES[:50]


def test_different_seed_different_records() -> None:
    other = list(generate_cases(6, 50, today=TODAY))
    assert sum(a != b for a, b in zip(other, CASES[:50], strict=True)) == 50


def test_record_i_is_independent_of_n_and_chunking() -> None:
    chunks = itertools.chain(
        generate_cases(5, 7, today=TODAY),
        generate_cases(5, 93, start_index=7, today=TODAY),
    )
    assert list(chunks) == CASES[:100]
    assert POPULATION.case(2999) == CASES[2999]
    assert next(generate_cases(5, 1, start_index=1234, today=TODAY)) == CASES[1234]


def test_generation_is_lazy() -> None:
    stream = generate_cases(5, 10**9, today=TODAY)
    assert next(stream) == CASES[0]


def test_dicts_and_records_are_the_same_stream() -> None:
    dicts = generate_case_dicts(5, 20, today=TODAY)
    assert [Record.model_validate(d) for d in dicts] == CASES[:20]


def test_queries_are_deterministic_and_chunkable() -> None:
    again = list(generate_queries(5, POPULATION, 10, start_index=20))
    assert again == QUERIES[20:30]


def test_queries_from_held_cases_equal_queries_from_parameters() -> None:
    held = list(generate_queries(5, CASES, 32, today=TODAY))
    assert held == QUERIES[:32]


# -- realistic, valid records --------------------------------------------------------


def test_all_records_are_valid_and_dated_in_the_past() -> None:
    for case in CASES:
        assert case.kind.value == "case" and case.case_id == case.id
        assert case.receipt_date and case.new_info_date
        assert case.receipt_date <= case.new_info_date
        assert case.new_info_date.last_day <= TODAY
        dob = case.patient.dob
        for event in case.events:
            assert event.onset is None or event.onset.last_day <= TODAY
            if dob is not None and event.onset is not None:
                assert dob.first_day <= event.onset.last_day
        build_document(case)


def test_population_spreads_over_organizations_states_and_study_types() -> None:
    orgs = Counter(c.organization for c in CASES)
    assert set(orgs) == {"ORG-A", "ORG-B", "ORG-C"} and min(orgs.values()) > 800
    states = Counter(c.state for c in CASES)
    assert {"new", "in_progress", "approved", "closed", "void", "nullified"} <= set(states)
    assert states["in_progress"] > states["void"]
    ct_share = sum(c.is_clinical_trial for c in CASES) / len(CASES)
    assert 0.10 < ct_share < 0.20
    blinded = [c for c in CASES if c.is_clinical_trial and c.blinded]
    assert blinded and all(c.study_number for c in blinded)


def test_dates_spread_over_four_years_with_some_older_than_two() -> None:
    ages = [(TODAY - c.new_info_date.first_day).days for c in CASES if c.new_info_date]
    assert max(ages) > 3 * 365 and min(ages) < 30
    old = sum(a > 2 * 365 for a in ages) / len(ages)
    assert 0.3 < old < 0.6


def test_patients_have_partial_dobs_accents_and_consistent_initials() -> None:
    precisions = Counter(c.patient.dob.precision for c in CASES if c.patient.dob)
    assert set(precisions) == {"day", "month", "year"}
    names = [c.patient for c in CASES if c.patient.first_name and c.patient.last_name]
    assert any(
        not (p.first_name or "").isascii() or not (p.last_name or "").isascii() for p in names
    )
    for p in names:
        ini = normalize_initials(p.initials)
        if ini:
            tokens = [t for t in (p.first_name or "").replace("-", " ").split()]
            expected = "".join(normalize_initials(t[0]) or "" for t in [*tokens, p.last_name or ""])
            assert ini == expected, (p.first_name, p.last_name, p.initials)


def test_N5_placeholder_initials_are_generated_and_never_matchable() -> None:
    unknown = [
        c for c in CASES if c.patient.initials and not normalize_initials(c.patient.initials)
    ]
    assert len(unknown) > 50
    assert {build_document(c)["patient"]["initials"] for c in unknown} == {None}
    omitted = [c for c in CASES if "initials" in c.patient.reason_omitted]
    assert omitted and all(c.patient.initials is None for c in omitted)


def test_identifiers_follow_the_e2b_forms() -> None:
    for case in CASES:
        ids = case.identifiers
        country, company, number = (ids.wwuid or "").split("-")
        assert pycountry.countries.get(alpha_2=country) is not None
        assert ids.case_identifiers[0].startswith(f"{company}-")
        assert ids.case_identifiers[0].endswith(number)
    wwuids = [c.identifiers.wwuid for c in CASES]
    assert len(set(wwuids)) == len(wwuids)
    assert any(c.identifiers.external_system_uid for c in CASES)


def test_products_and_events_come_from_the_catalogs() -> None:
    codes = {p.code for p in PRODUCTS}
    pts = {t.code: t.term for t in PREFERRED_TERMS}
    for case in CASES:
        assert 1 <= len(case.products) <= 3 and 1 <= len(case.events) <= 3
        primary = case.primary_product
        assert primary is not None and primary.product in codes and primary.drug_role is not None
        for event in case.events:
            if event.meddra_pt_code:
                assert pts[event.meddra_pt_code] == event.meddra_pt


def test_meddra_table_has_unique_eight_digit_codes() -> None:
    codes = [t.code for t in PREFERRED_TERMS]
    assert len(codes) >= 60 and len(set(codes)) == len(codes)
    assert all(len(c) == 8 and c.isdigit() and c.startswith("100") for c in codes)
    assert {"10019211": "Headache", "10028813": "Nausea"}.items() <= {
        t.code: t.term for t in PREFERRED_TERMS
    }.items()


def test_reporter_countries_are_iso_codes() -> None:
    countries = {c.reporter.country for c in CASES if c.reporter.country}
    assert len(countries) > 20
    assert all(normalize_country(c) == c for c in countries)


# -- labelled queries ----------------------------------------------------------------


def test_every_family_is_present_and_labelled() -> None:
    assert Counter(q.family for q in QUERIES) == dict.fromkeys(FAMILIES, 12)
    assert set(FAMILIES) == set(DUPLICATE_FAMILIES) | set(NEAR_MISS_FAMILIES)
    for q in QUERIES:
        assert q.source.kind.value == "inbox_item" and q.source.state == "new"
        if q.family in DUPLICATE_FAMILIES:
            assert q.expected == [q.base_id] and q.must_not_match == []
        elif q.family in FAMILY_RULES:
            assert q.expected == [] and q.must_not_match == [q.base_id]
            assert q.rule == FAMILY_RULES[q.family]
        else:
            assert q.expected == [] and q.must_not_match == []
    assert len({q.source.id for q in QUERIES}) == len(QUERIES)


def test_shares_identifier_is_true_exactly_when_an_identifier_is_shared() -> None:
    for q in QUERIES:
        assert q.shares_identifier == bool(_ids(q.source) & _ids(_base(q))), q.family


def test_rules_other_than_the_planted_one_keep_the_duplicate_findable() -> None:
    """Same organization (M1), same study type (M3), same reporter country (M5), recent (M6)."""
    for q in QUERIES:
        if q.family not in DUPLICATE_FAMILIES:
            continue
        base = _base(q)
        assert q.source.organization == base.organization
        assert q.source.is_clinical_trial == base.is_clinical_trial
        assert normalize_country(q.source.reporter.country) == normalize_country(
            base.reporter.country
        )
        assert base.state != "superseded"
        if not q.shares_identifier:
            assert base.new_info_date is not None
            assert (TODAY - base.new_info_date.first_day).days < 700


def test_exact_duplicate_and_follow_up_share_the_wwuid() -> None:
    for q in _queries("exact_duplicate") + _queries("follow_up"):
        assert q.source.identifiers.wwuid == _base(q).identifiers.wwuid
    for q in _queries("follow_up"):
        base = _base(q)
        assert base.new_info_date and q.source.receipt_date
        assert q.source.receipt_date > base.new_info_date


def test_id_cross_field_shares_a_value_only_across_fields() -> None:
    for q in _queries("id_cross_field"):
        source = {(k, normalize_id(v)) for k, v in q.source.identifiers.all()}
        base = {(k, normalize_id(v)) for k, v in _base(q).identifiers.all()}
        assert not source & base
        assert {v for _, v in source} & {v for _, v in base}


def test_name_variants_change_the_name_but_not_the_person() -> None:
    for q in _queries("name_order_swap"):
        base = _base(q).patient
        p = q.source.patient
        assert (p.first_name, p.last_name) != (base.first_name, base.last_name)
        assert name_tokens(p.first_name, p.last_name) == name_tokens(
            base.first_name, base.last_name
        )
    for q in _queries("transliterated_name"):
        base = _base(q).patient
        assert (q.source.patient.first_name, q.source.patient.last_name) != (
            base.first_name,
            base.last_name,
        )
    for q in _queries("typo_name"):
        base = _base(q).patient
        source = " ".join(name_tokens(q.source.patient.first_name, q.source.patient.last_name))
        original = " ".join(name_tokens(base.first_name, base.last_name))
        assert 1 <= Levenshtein.distance(source, original) <= 2


def test_partial_dob_contains_the_full_dob() -> None:
    for q in _queries("partial_dob"):
        base_dob, dob = _base(q).patient.dob, q.source.patient.dob
        assert base_dob and dob and base_dob.precision == "day" and dob.precision != "day"
        assert dob.contains(base_dob)


def test_onset_day_and_month_are_swapped() -> None:
    for q in _queries("onset_day_month_swap"):
        base, source = _base(q).events[0].onset, q.source.events[0].onset
        assert base and source and base != source
        assert (source.year, source.month, source.day) == (base.year, base.day, base.month)


def test_reporter_and_product_variants() -> None:
    for q in _queries("reporter_name_variant"):
        base = _base(q).reporter
        assert (q.source.reporter.first_name, q.source.reporter.last_name) != (
            base.first_name,
            base.last_name,
        )
    for q in _queries("product_verbatim_variant"):
        base, source = _base(q).products[0], q.source.products[0]
        assert source.product_reported != base.product_reported
        assert source.product in (None, base.product)


def test_no_identifier_duplicate_keeps_patient_and_event() -> None:
    for q in _queries("no_identifier_duplicate"):
        base = _base(q)
        assert not q.shares_identifier
        patient_match = (
            normalize_initials(q.source.patient.initials) is not None
            and normalize_initials(q.source.patient.initials)
            == normalize_initials(base.patient.initials)
        ) or (q.source.patient.dob is not None and q.source.patient.dob == base.patient.dob)
        assert patient_match
        assert event_key(
            q.source.events[0].meddra_pt_code, q.source.events[0].event_reported
        ) == event_key(base.events[0].meddra_pt_code, base.events[0].event_reported) or (
            base.events[0].meddra_pt_code is None
        )


def test_M1_M3_M5_M6_near_misses_plant_exactly_their_rule() -> None:
    for q in _queries("different_organization"):
        assert q.source.organization != _base(q).organization and q.shares_identifier
    for q in _queries("ct_vs_postmarketing"):
        assert q.source.is_clinical_trial != _base(q).is_clinical_trial
    for q in _queries("different_reporter_country_no_patient"):
        base = _base(q)
        assert normalize_country(q.source.reporter.country) != normalize_country(
            base.reporter.country
        )
        doc, base_doc = build_document(q.source)["patient"], build_document(base)["patient"]
        for field in ("initials", "sex", "dob", "first_name", "last_name", "edc_subject"):
            assert doc[field] is None or doc[field] != base_doc[field], field
        assert not set(doc["mrn_all"]) & set(base_doc["mrn_all"])
    for q in _queries("old_new_info_date"):
        base = _base(q)
        assert base.new_info_date and (TODAY - base.new_info_date.last_day).days > 2 * 365
        assert not q.shares_identifier


def test_different_patient_shares_product_and_event_only() -> None:
    for q in _queries("different_patient_same_product_event"):
        base = _base(q)
        assert q.source.products[0].product == base.products[0].product
        assert q.source.events[0] == base.events[0]
        assert normalize_initials(q.source.patient.initials) != normalize_initials(
            base.patient.initials
        )
        assert q.source.patient.sex != base.patient.sex
        assert q.source.patient.dob != base.patient.dob


def test_unknown_family_and_empty_base_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown query families"):
        next(generate_queries(1, POPULATION, 1, families=["nonsense"]))
    with pytest.raises(ValueError, match="empty"):
        next(generate_queries(1, [], 1))


def test_a_family_no_case_can_carry_is_reported() -> None:
    tiny = Population(seed=1, n=1, today=TODAY)
    with pytest.raises(ValueError, match="can carry the family"):
        list(generate_queries(1, tiny, len(FAMILIES)))


# -- sample data set and files -------------------------------------------------------


def test_sample_dataset_plants_duplicates_of_its_cases() -> None:
    cases, items = sample_dataset(7, today=TODAY)
    assert len(cases) == SAMPLE_CASES and len(items) == SAMPLE_ITEMS
    queries = sample_queries(7, today=TODAY)
    assert {q.family for q in queries} == set(FAMILIES)
    case_ids = {c.id for c in cases}
    assert all(set(q.expected) <= case_ids and set(q.must_not_match) <= case_ids for q in queries)
    assert [q.source for q in queries] == items


def test_write_ndjson_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "cases.ndjson"
    assert write_ndjson(CASES[:25], path) == 25
    lines = path.read_bytes().splitlines()
    assert [parse_record(orjson.loads(line)) for line in lines] == CASES[:25]
    dict_path = tmp_path / "dicts.ndjson"
    assert write_ndjson(generate_case_dicts(5, 25, today=TODAY), dict_path) == 25
    assert [parse_record(orjson.loads(x)) for x in dict_path.read_bytes().splitlines()] == CASES[
        :25
    ]


def test_command_writes_cases_and_labelled_queries(tmp_path: Path) -> None:
    assert main(["--seed", "3", "--cases", "40", "--queries", "16", "--out", str(tmp_path)]) == 0
    cases = (tmp_path / "cases.ndjson").read_bytes().splitlines()
    queries = [orjson.loads(x) for x in (tmp_path / "queries.ndjson").read_bytes().splitlines()]
    assert len(cases) == 40 and len(queries) == 16
    assert {q["family"] for q in queries} == set(FAMILIES)
    for q in queries:
        parse_record(q["source"])


def test_default_today_is_the_current_day() -> None:
    case = next(generate_cases(5, 1))
    assert case.receipt_date and case.receipt_date.first_day >= date.today() - timedelta(
        days=4 * 366
    )


def test_M6_near_miss_is_never_a_subject_match() -> None:
    """M6 limits Possible Matches only, so its base is postmarketing (no M12 Subject Match)."""
    assert all(not _base(q).is_clinical_trial for q in _queries("old_new_info_date"))


def test_module_examples_hold() -> None:
    import doctest

    import service.sample as module

    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
