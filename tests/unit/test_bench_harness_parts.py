"""Benchmark plumbing without an engine: FEBRL mapping, the audit link rule, query scoring,
size parsing and report rendering."""

from __future__ import annotations

import json
import math
from datetime import date
from pathlib import Path

import pytest
import typer

from benchmarks.cli import parse_sizes
from benchmarks.febrl import entity_of, febrl_record, parse_dob
from benchmarks.quality import aggregate, ranked_ids, score_query
from benchmarks.report import Report, fmt
from matcher.model import (
    ComparisonRow,
    Detection,
    DetectionRun,
    Header,
    Match,
    RecordRef,
    Sections,
    Status,
)

TODAY = date(2026, 1, 1)


# -- FEBRL -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rec_id", "entity"),
    [("rec-12-org", "12"), ("rec-12-dup-3", "12"), ("rec-0-dup-0", "0")],
    ids=["original", "duplicate", "zero"],
)
def test_entity_of_reads_the_febrl_record_id(rec_id: str, entity: str) -> None:
    assert entity_of(rec_id) == entity


def test_entity_of_refuses_a_foreign_id() -> None:
    with pytest.raises(ValueError, match="not a FEBRL rec_id"):
        entity_of("II-0001")


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("19530825", "1953-08-25"),
        ("19990231", None),
        ("2031", None),
        (None, None),
        ("20991231", None),
    ],
    ids=["valid", "impossible-day", "short", "missing", "future"],
)
def test_parse_dob_keeps_only_valid_past_dates(raw: str | None, want: str | None) -> None:
    parsed = parse_dob(raw, TODAY)
    assert (str(parsed) if parsed else None) == want


@pytest.mark.parametrize(
    ("use_ssid", "mrn"), [(True, "8223201"), (False, None)], ids=["with-ssid", "without-ssid"]
)
def test_febrl_record_maps_person_fields_onto_the_patient(use_ssid: bool, mrn: str | None) -> None:
    row = {
        "given_name": "jack",
        "surname": "brown",
        "date_of_birth": "19530825",
        "soc_sec_id": "8223201",
        "postcode": "2000",
    }
    rec = febrl_record(row, "rec-1-org", use_soc_sec_id=use_ssid, today=TODAY)
    assert (rec.id, rec.kind.value, rec.organization) == ("rec-1-org", "case", "ORG-FEBRL")
    assert (rec.patient.first_name, rec.patient.last_name, rec.patient.initials) == (
        "jack",
        "brown",
        "JB",
    )
    assert str(rec.patient.dob) == "1953-08-25"
    assert rec.patient.mrn.gp == mrn
    assert rec.reporter.country == "AU"


def test_febrl_record_without_names_has_no_initials() -> None:
    rec = febrl_record({"surname": None}, "rec-2-org", use_soc_sec_id=False, today=TODAY)
    assert rec.patient.initials is None


# -- detections built by hand --------------------------------------------------------


def _match(record_id: str, rank: int, top: str | None, rows: list[tuple[str, str]]) -> Match:
    return Match(
        record_type="case",
        record_id=record_id,
        rank=rank,
        status=Status(patient=top == "patient"),
        comparison=[
            ComparisonRow(section="patient", field=f, source="x", match="y", result=r)
            for f, r in rows
        ],  # type: ignore[arg-type]
        state="new",
        header=Header(source=RecordRef(), match=RecordRef(), state="new"),
        top_category=top,  # type: ignore[arg-type]
    )


def _run(
    ids: list[Match] = (), possible: list[Match] = (), retrieved: list[str] = ()
) -> DetectionRun:  # type: ignore[assignment]
    detection = Detection(
        source_id="S",
        organization="ORG-A",
        profile="enhanced",
        sections=Sections(id_matches=list(ids), possible_matches=list(possible)),
    )
    return DetectionRun(detection=detection, retrieved_ids=list(retrieved), matcher_cpu_ms=1.0)


def test_ranked_ids_reads_sections_in_order_without_the_source() -> None:
    run = _run(
        ids=[_match("C1", 1, None, [])],
        possible=[_match("S", 1, "patient", []), _match("C2", 2, "patient", [])],
    )
    assert ranked_ids(run.detection, exclude="S") == ["C1", "C2"]


def test_score_query_for_a_duplicate_found_second() -> None:
    run = _run(
        possible=[_match("X", 1, "patient", []), _match("C", 2, "patient", [])],
        retrieved=["X", "C", "Y"],
    )
    o = score_query(
        run,
        family="typo_name",
        expected=["C"],
        must_not_match=[],
        shares_identifier=False,
        near_miss=False,
    )
    assert (o.recall_at_1, o.recall_at_5, o.hit_at_1, o.reciprocal_rank) == (0.0, 1.0, False, 0.5)
    assert (o.found, o.first_in_section, o.retrieved, o.false_match) == (True, False, True, False)


def test_score_query_with_several_true_matches_needs_one_of_them_first() -> None:
    run = _run(
        possible=[
            _match("C1", 1, "patient", []),
            _match("X", 2, "patient", []),
            _match("C2", 3, "patient", []),
        ]
    )
    o = score_query(
        run,
        family="febrl",
        expected=["C1", "C2"],
        must_not_match=[],
        shares_identifier=False,
        near_miss=False,
    )
    assert (o.first_in_section, o.found, o.recall_at_1, o.hit_at_1) == (True, True, 0.5, True)


def test_score_query_for_a_duplicate_lost_in_retrieval() -> None:
    o = score_query(
        _run(),
        family="typo_name",
        expected=["C"],
        must_not_match=[],
        shares_identifier=False,
        near_miss=False,
    )
    assert (o.found, o.retrieved, o.reciprocal_rank) == (False, False, 0.0)


@pytest.mark.parametrize(
    ("top", "different_patient", "must_not", "false_match"),
    [
        ("product", ["B"], [], False),
        ("patient", ["B"], [], True),
        ("product", [], ["B"], True),
        ("product", [], ["Z"], False),
    ],
    ids=[
        "different-patient-listed-by-product",
        "different-patient-claimed-same-patient",
        "forbidden-record-returned",
        "forbidden-record-absent",
    ],
)
def test_score_query_false_match_on_near_misses(
    top: str, different_patient: list[str], must_not: list[str], false_match: bool
) -> None:
    run = _run(possible=[_match("B", 1, top, [])])
    o = score_query(
        run,
        family="f",
        expected=[],
        must_not_match=must_not,
        shares_identifier=False,
        near_miss=True,
        different_patient=different_patient,
    )
    assert o.false_match is false_match


@pytest.mark.parametrize(
    ("probability", "near_miss", "at_threshold"),
    [
        (0.95, True, True),
        (0.5, True, False),
        (None, True, False),
        (0.95, False, True),
        (0.5, False, False),
    ],
    ids=[
        "near-miss-scored-sure",
        "near-miss-scored-unsure",
        "no-model",
        "duplicate-sure",
        "duplicate-unsure",
    ],
)
def test_score_query_at_the_probability_threshold(
    probability: float | None, near_miss: bool, at_threshold: bool
) -> None:
    match = _match("B", 1, "patient", []).model_copy(update={"probability": probability})
    o = score_query(
        _run(possible=[match]),
        family="f",
        expected=[] if near_miss else ["B"],
        must_not_match=["B"] if near_miss else [],
        shares_identifier=False,
        near_miss=near_miss,
        threshold=0.9,
    )
    if near_miss:
        assert o.false_match and o.false_match_at_threshold is at_threshold
    else:
        assert o.found and o.found_at_threshold is at_threshold


def test_aggregate_scores_duplicates_and_near_misses_separately() -> None:
    found = score_query(
        _run(possible=[_match("C", 1, "patient", [])], retrieved=["C"]),
        family="a",
        expected=["C"],
        must_not_match=[],
        shares_identifier=True,
        near_miss=False,
    )
    missed = score_query(
        _run(),
        family="a",
        expected=["D"],
        must_not_match=[],
        shares_identifier=True,
        near_miss=False,
    )
    miss = score_query(
        _run(possible=[_match("B", 1, "patient", [])]),
        family="m",
        expected=[],
        must_not_match=["B"],
        shares_identifier=False,
        near_miss=True,
    )
    agg = aggregate([found, missed, miss])
    assert (agg["recall"], agg["recall_at_1"], agg["mrr"], agg["false_match_rate"]) == (
        0.5,
        0.5,
        0.5,
        1.0,
    )
    assert agg["first_in_section"] == 0.5  # a missed duplicate is not first either
    assert math.isnan(aggregate([])["recall"])


# -- CLI and report ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("10000,100000", [10_000, 100_000]),
        ("100k, 10k", [10_000, 100_000]),
        ("1m", [1_000_000]),
        ("1_000", [1_000]),
        (None, [5]),
    ],
    ids=["plain", "suffix-k-sorted", "suffix-m", "underscore", "default"],
)
def test_parse_sizes(text: str | None, want: list[int]) -> None:
    assert parse_sizes(text, [5]) == want


@pytest.mark.parametrize("text", ["ten", "0", "-5"], ids=["word", "zero", "negative"])
def test_parse_sizes_refuses_bad_sizes(text: str) -> None:
    with pytest.raises(typer.BadParameter):
        parse_sizes(text, [])


@pytest.mark.parametrize(
    ("value", "want"),
    [
        (0.98765, "0.988"),
        (1.0, "1"),
        (12345.6, "12,346"),
        (float("nan"), "–"),
        (3, "3"),
        (True, "yes"),
        (0.00001, "1.0e-05"),
        ("x", "x"),
    ],
    ids=["rounds", "trims-zeros", "thousands", "nan", "int", "bool", "tiny", "text"],
)
def test_fmt(value: object, want: str) -> None:
    assert fmt(value) == want


def test_report_writes_json_and_markdown_with_the_machine_and_command(tmp_path: Path) -> None:
    report = Report(
        "demo",
        "Demo",
        method="Counted things.",
        params={"seed": 3},
        engine={"kind": "osmem", "version": "x"},
    )
    report.results = {"value": 1.5, "nan": float("nan")}
    report.add_table("Counts", ["n", "share"], [[1, 0.5]])
    report.add_plot("plot.png", "A plot")
    path = report.write(tmp_path)
    text = path.read_text()
    assert "## What was measured and how" in text and "Counted things." in text
    assert "shared 2-core machine" in text and "engine: kind osmem" in text
    assert "| 1 | 0.5 |" in text and "![A plot](plot.png)" in text
    data = json.loads((tmp_path / "result.json").read_text().replace("NaN", "null"))
    assert data["params"] == {"seed": 3} and data["results"]["value"] == 1.5
    assert data["machine"]["cpu_count_logical"] >= 1 and data["command"]


def test_summary_reads_the_headline_figures_from_result_files(tmp_path: Path) -> None:
    from benchmarks.summary import summary_markdown

    (tmp_path / "latency").mkdir()
    (tmp_path / "latency" / "result.json").write_text(
        json.dumps(
            {
                "command": "casematch bench latency",
                "results": {
                    "points": [{"size": 10000, "wall_ms": {"p50": 12.5, "p90": 20.0, "p99": 40.0}}],
                    "rank_cpu_ms_200_candidates": {"p50": 2.5},
                },
            }
        )
    )
    text = summary_markdown(tmp_path)
    assert (
        "| latency | duplicate check at 10,000 Cases: p50 / p90 / p99 ms | 12.5 / 20 / 40 |" in text
    )
    assert "| 2.5 | <= 3 | `casematch bench latency` |" in text
    assert "quality" not in text.split("\n", 2)[2]
