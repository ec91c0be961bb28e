"""Query builders against golden JSON (tests/golden/queries/), plus structural checks.

Regenerate after a deliberate change with
``CASEMATCH_UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/test_matcher_queries.py`` and
review the diff: the goldens are what the engine is asked, clause by clause.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from indexer.documents import fold_key, scope_prefix
from matcher.facts import Facts, facts_from_record
from matcher.model import Category
from matcher.profiles import get_profile
from matcher.queries import (
    TIER_TOTAL_LIMIT,
    id_query,
    possible_clauses,
    scope_filter,
    subject_query,
    tier_query,
    with_study,
)
from tests.factories import record as make_record

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "queries"
UPDATE = os.environ.get("CASEMATCH_UPDATE_GOLDEN") == "1"


def postmarketing() -> Facts:
    return facts_from_record(
        make_record(
            "II-Q1",
            identifiers={
                "case_identifiers": ["ACME-2025-0001"],
                "wwuid": "US-ACME-0001",
                "external_system_uid": "EXT-9",
            },
            patient={
                "initials": "J.S.",
                "first_name": "Jane",
                "last_name": "Smith",
                "sex": "female",
                "dob": "1980-06",
                "mrn": {"hospital": "H-991"},
            },
            reporter={
                "first_name": "Jacob",
                "last_name": "O'Neil",
                "country": "United States",
                "qualification": "physician",
            },
            products=[
                {"product": "PRD-17", "product_reported": "Aspirin 100 mg", "rank": 1},
                {"study_product": "SP-3", "rank": 2},
            ],
            events=[
                {"event_reported": "Severe headache", "meddra_pt_code": "10019211", "rank": 1},
                {"event_reported": "nausea", "rank": 2},
            ],
        )
    )


def clinical_trial() -> Facts:
    return facts_from_record(
        make_record(
            "II-Q2",
            study_type="clinical_trial",
            study_number="STU-001",
            blinded=True,
            patient={"initials": "AB", "edc_subject": "SUBJ-12", "mrn": {"investigation": "INV-4"}},
            products=[{"study_product": "SP-3", "rank": 1}],
        )
    )


def scope(src: Facts) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return scope_filter(src, exclude_ids=[src.record_id], match_inbox_items=True)


def tier(src: Facts, category: Category, *, profile: str = "enhanced", **options: Any) -> Any:
    """``tier_query`` for ``src`` under its usual scope (``options``: size, min_identifying)."""
    prof = get_profile(profile)
    return tier_query(
        possible_clauses(src, prof),
        prof,
        category,
        filters=scope(src)[0],
        must_not=scope(src)[1],
        scope=scope_prefix(src.organization, src.clinical_trial),
        country=src.country,
        study=fold_key(src.study_number) if src.study_number else None,
        **options,
    )


def golden(name: str, body: Any) -> None:
    path = GOLDEN / f"{name}.json"
    text = json.dumps(body, indent=2, sort_keys=True) + "\n"
    if UPDATE:
        GOLDEN.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"missing {path}; create it with CASEMATCH_UPDATE_GOLDEN=1"
    assert json.loads(path.read_text(encoding="utf-8")) == json.loads(text)


def test_id_query_golden() -> None:
    src = postmarketing()
    golden("id_query", id_query(src, *scope(src)))


def test_id_query_is_none_without_identifiers() -> None:
    src = facts_from_record(make_record("II-0", identifiers={}))
    assert id_query(src, *scope(src)) is None


def test_subject_query_golden() -> None:
    src = clinical_trial()
    golden("subject_query", subject_query(src, *scope(src)))


def test_scope_without_inbox_items_golden() -> None:
    src = postmarketing()
    filters, must_not = scope_filter(src, exclude_ids=["II-Q1", "C-1"], match_inbox_items=False)
    golden("scope_cases_only", {"filter": filters, "must_not": must_not})


@pytest.mark.parametrize("category", ["patient", "study", "reporter", "product", "event"])
@pytest.mark.parametrize("profile", ["enhanced", "deep_22r3"])
def test_tier_query_golden(profile: str, category: Category) -> None:
    src = postmarketing() if category != "study" else clinical_trial()
    golden(f"tier_{profile}_{category}", tier(src, category, profile=profile, size=135))


def test_tier_query_selective_level_golden() -> None:
    body = tier(postmarketing(), "product", size=50, min_identifying=3)
    golden("tier_enhanced_product_level3", body)


@pytest.mark.parametrize(
    ("level", "asks_own"),
    [(1, True), (2, True), (3, False), (4, False)],
    ids=["whole-tier", "count-within-lower", "count-implies-product", "all-four"],
)
def test_M14_tier_head_reads_its_own_keys_once_when_the_count_implies_them(
    level: int, asks_own: bool
) -> None:
    """The product tier of a source with two product and two event fields: from level 3 on,
    any record with that many matching fields matches a product field, so the "any product
    field" filter would only read the product keys a second time."""
    body = tier(postmarketing(), "product", size=50, min_identifying=level)
    filters = body["query"]["bool"]["filter"]
    own = [
        f
        for f in filters
        if "minimum_should_match" in f.get("bool", {}) and f["bool"]["minimum_should_match"] == 1
    ]
    assert bool(own) is asks_own
    counts = [f["bool"]["minimum_should_match"] for f in filters if "bool" in f]
    assert max(counts) == level


def test_possible_clauses_are_named_for_matched_queries() -> None:
    src = postmarketing()
    clauses = possible_clauses(src, get_profile("enhanced"))
    for key, clause in clauses.items():
        assert clause["bool"]["_name"] == key
    assert "patient.mrn_gp" not in clauses  # no value, no clause


def _unblinded_trial() -> Facts:
    return facts_from_record(
        make_record("II-Q3", study_type="clinical_trial", study_number="STU-001")
    )


def test_tier_query_study_head_golden() -> None:
    body = tier(_unblinded_trial(), "study", size=20, min_identifying=2)
    golden("tier_enhanced_study_level2", body)


@pytest.mark.parametrize("level", [2, 3, 4])
def test_M14_study_head_asks_lower_values_paired_with_the_study_number(level: int) -> None:
    """The study number alone matches every record of the study: a head never asks it."""
    body = tier(_unblinded_trial(), "study", size=20, min_identifying=level)
    keys = _key_values(body["query"])
    assert keys
    assert all("|in_study." in key and ":stu-001|" in key for key in keys), keys
    (count,) = [f for f in body["query"]["bool"]["filter"] if "bool" in f]
    assert count["bool"]["minimum_should_match"] == level - 1


def test_study_pairing_keeps_a_fuzzy_lookup_on_the_value() -> None:
    scope = "ORG-A|ct|"
    fuzzy = {
        "fuzzy": {
            "keys": {
                "value": f"{scope}reporter_last_name:smith",
                "fuzziness": 1,
                "prefix_length": len(scope) + len("reporter_last_name:") + 1,
            }
        }
    }
    paired = with_study(fuzzy, scope, "stu-001")["fuzzy"]["keys"]
    assert paired["value"] == f"{scope}in_study.reporter_last_name:stu-001|smith"
    head = paired["value"][: paired["prefix_length"]]
    assert head == f"{scope}in_study.reporter_last_name:stu-001|s"


def test_M8_blinded_source_never_asks_for_study_products() -> None:
    clauses = possible_clauses(clinical_trial(), get_profile("enhanced"))
    assert "product.study_product" not in clauses


def test_tier_queries_never_score_and_count_their_level_up_to_a_limit() -> None:
    body = tier(postmarketing(), "patient", size=10)
    assert body is not None
    assert body["track_total_hits"] == TIER_TOTAL_LIMIT
    assert [next(iter(s)) for s in body["sort"]] == ["new_info_date", "record_id", "kind"]
    assert "should" not in body["query"]["bool"]  # filter context only: nothing is scored


def _key_values(node: Any) -> list[str]:
    if isinstance(node, list):
        return [v for n in node for v in _key_values(n)]
    if not isinstance(node, dict):
        return []
    out: list[str] = []
    for name, value in node.items():
        if name == "keys":
            if isinstance(value, dict):
                out.append(value["value"])
            else:
                out.extend([value] if isinstance(value, str) else value)
        else:
            out.extend(_key_values(value))
    return out


@pytest.mark.parametrize("category", ["patient", "reporter", "product", "event"])
def test_M5_tiers_below_patient_ask_only_same_or_no_country_keys(category: Category) -> None:
    src = postmarketing()
    prof = get_profile("enhanced")
    body = tier_query(
        possible_clauses(src, prof),
        prof,
        category,
        filters=[],
        must_not=[],
        size=10,
        scope=scope_prefix(src.organization, src.clinical_trial),
        country=src.country,
    )
    assert body is not None
    own = _key_values(body["query"]["bool"]["filter"])
    assert own
    if category == "patient":
        assert not any("|@" in k for k in own)
    else:
        assert all(k.startswith(("ORG-A|pm|@-|", "ORG-A|pm|@US|")) for k in own)
