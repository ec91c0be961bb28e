"""Per-profile participation: a profile compares only the fields whose ``profiles`` name it.

The registry (``indexer.fields``) declares every field in every profile (its docstring
says why); these tests build a registry that restricts one field to ``enhanced`` and show
the field drop out of ranking, the comparison table, the status bars and retrieval under
the other profiles, on both the fast and the registry-driven evaluation.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from indexer.fields import ALL_PROFILES, FIELD_BY_KEY, FIELDS
from matcher.evaluate import evaluate
from matcher.facts import facts_from_record, with_record
from matcher.profiles import PROFILES, Profile, profiles_for
from matcher.queries import id_query, possible_clauses, subject_query
from matcher.reference import evaluate_by_registry
from matcher.table import TableBuilder
from tests.factories import record

PATIENT = {"initials": "JS", "sex": "female", "dob": "1980-06", "mrn": {"gp": "G-1"}}
SOURCE = record("II-1", patient=PATIENT)
MATCH = record("C-2", kind="case", patient=PATIENT)

#: Fields restricted to ``enhanced`` in a registry built per test: a patient value, a
#: name (with cross-field rows), a product's and an event's field.
RESTRICTED = ["patient.mrn_gp", "reporter.last_name", "product.product", "event.meddra_pt"]


def test_profiles_compare_what_the_registry_declares() -> None:
    for name, profile in PROFILES.items():
        assert profile.fields == {f.key for f in FIELDS if name in f.profiles}
    assert all(f.profiles == ALL_PROFILES for f in FIELDS)  # the seeds' reading (indexer.fields)


def _registry(key: str) -> dict[str, Profile]:
    only = frozenset({"enhanced"})
    return profiles_for(replace(f, profiles=only) if f.key == key else f for f in FIELDS)


@pytest.mark.parametrize("key", RESTRICTED, ids=RESTRICTED)
@pytest.mark.parametrize("name", sorted(PROFILES), ids=sorted(PROFILES))
def test_a_field_left_out_of_a_profile_drops_out_of_ranking(key: str, name: str) -> None:
    profile, full = _registry(key)[name], PROFILES[name]
    src, cand = facts_from_record(SOURCE), facts_from_record(MATCH)
    for evaluator in (evaluate, evaluate_by_registry):
        ev, before = evaluator(src, cand, profile), evaluator(src, cand, full)
        assert before.results[key] == "exact"
        assert ev.results[key] == ("exact" if name == "enhanced" else "none")
        others = {k: r for k, r in ev.results.items() if k != key}
        assert others == {k: r for k, r in before.results.items() if k != key}
        assert ev.count == before.count - (name != "enhanced")


@pytest.mark.parametrize("key", RESTRICTED, ids=RESTRICTED)
@pytest.mark.parametrize("name", sorted(PROFILES), ids=sorted(PROFILES))
def test_a_field_left_out_of_a_profile_drops_out_of_the_table(key: str, name: str) -> None:
    profile = _registry(key)[name]
    src = facts_from_record(SOURCE)
    cand = with_record(facts_from_record(MATCH), facts_from_record(MATCH).record)
    table = TableBuilder(src, mask=False, compared=profile.fields)
    ev = evaluate(src, cand, profile)
    rows = {(row.section, row.field) for row in table.rows(ev)}
    full = {(row.section, row.field) for row in TableBuilder(src, mask=False).rows(ev)}
    row = FIELD_BY_KEY[key].row
    assert row in full
    assert (row in rows) is (name == "enhanced")
    assert full - rows <= {row}


@pytest.mark.parametrize("key", RESTRICTED, ids=RESTRICTED)
@pytest.mark.parametrize("name", sorted(PROFILES), ids=sorted(PROFILES))
def test_a_field_left_out_of_a_profile_drops_out_of_retrieval(key: str, name: str) -> None:
    profile, full = _registry(key)[name], PROFILES[name]
    src = facts_from_record(SOURCE)
    clauses, before = possible_clauses(src, profile), possible_clauses(src, full)
    assert key in before
    assert (key in clauses) is (name == "enhanced")
    assert set(before) - set(clauses) <= {key}


def test_a_profile_without_the_reporter_country_lights_no_country_bar() -> None:
    profile = _registry("reporter.country")["deep_22r3"]
    src, cand = facts_from_record(SOURCE), facts_from_record(MATCH)
    ev = evaluate(src, cand, profile)
    assert TableBuilder(src, mask=False).status(ev).country
    assert not TableBuilder(src, mask=False, compared=profile.fields).status(ev).country


def test_M10_identifiers_left_out_of_a_profile_make_no_id_match() -> None:
    ids = {"wwuid": "W-1"}
    src = facts_from_record(record("II-1", identifiers=ids))
    cand = facts_from_record(record("C-2", kind="case", identifiers=ids))
    for name, profile in _registry("identifiers.any").items():
        compared = name == "enhanced"
        for evaluator in (evaluate, evaluate_by_registry):
            assert bool(evaluator(src, cand, profile).id_matches) is compared
        assert (id_query(src, [], [], profile) is not None) is compared
        shown = with_record(cand, cand.record)
        rows = TableBuilder(src, mask=False, compared=profile.fields).rows(
            evaluate(src, shown, profile)
        )
        assert any(row.section == "identifiers" for row in rows) is compared


def test_M12_a_subject_field_left_out_of_a_profile_neither_tiers_nor_retrieves() -> None:
    trial = {
        "study_type": "clinical_trial",
        "study_number": "STU-1",
        "patient": {"initials": "JS", "edc_subject": "E-1", "mrn": {"investigation": "I-1"}},
    }
    src = facts_from_record(record("II-1", **trial))
    cand = facts_from_record(record("C-2", kind="case", **trial))
    for name, profile in _registry("patient.edc_subject").items():
        tier = 1 if name == "enhanced" else 2  # else study number + MRN-Investigation
        for evaluator in (evaluate, evaluate_by_registry):
            assert evaluator(src, cand, profile).subject_tier == tier
        body = json.dumps(subject_query(src, [], [], profile))
        assert ("subject.edc" in body) is (name == "enhanced")
        assert "subject.mrn" in body
