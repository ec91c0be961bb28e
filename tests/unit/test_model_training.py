"""Training a match model from records (``matcher.training``), its calibration on labelled
generated data (``service.calibration``), scores in Detections and the report."""

from __future__ import annotations

import dataclasses
import functools
from collections import Counter
from pathlib import Path

import pytest

from matcher import audit
from matcher.linkage import EXACT, MODEL_FIELDS, NULL, MatchModel
from matcher.model import Detection, DetectionOptions
from matcher.rank import rank_reference
from matcher.training import TrainingRecord, sample_records, train, training_record
from service.calibration import MIN_PAIRS_PER_BIN, CalibrationBin, LabelledSet, calibrate
from service.model_report import write_report
from tests.factories import blank, record


def _people() -> list[TrainingRecord]:
    """Six records: C-1/II-1 the same report (shared identifier), C-2/C-3 share a DOB only."""
    return [
        training_record(r)
        for r in (
            record("C-1", kind="case", identifiers={"case_identifiers": ["X-1"]}),
            record("II-1", identifiers={"case_identifiers": ["X-1"]}),
            blank("C-2", patient={"dob": "1970-01-01", "initials": "AB"}),
            blank("C-3", patient={"dob": "1970-01-01", "initials": "CD"}),
            blank("C-4", patient={"initials": "EF"}),
            blank("C-5"),
        )
    ]


def test_model_train_and_the_audit_train_one_recipe() -> None:
    """``casematch model train`` fits exactly the model ``casematch audit`` fits on the
    same records: one recipe, one probability scale."""
    _, data, _ = _calibration()
    trained = train(data.records, organization="ORG-A", version=4, trained_at="t", seed=3)
    run = audit.audit_in_memory(
        ((r.facts, r.keys) for r in data.records), organization="ORG-A", trained_at="t", seed=3
    )
    assert trained == dataclasses.replace(run.model, version=4)


SAMPLE_CASES = [("all-kept", 6, 6), ("sampled", 4, 4), ("two", 2, 2)]


@pytest.mark.parametrize(
    ("max_records", "kept"), [c[1:] for c in SAMPLE_CASES], ids=[c[0] for c in SAMPLE_CASES]
)
def test_sample_records_draws_uniformly_in_order(max_records: int, kept: int) -> None:
    people = _people()
    chosen = sample_records(people, max_records, seed=1)
    assert len(chosen) == kept
    assert [people.index(r) for r in chosen] == sorted(people.index(r) for r in chosen)
    assert chosen == sample_records(people, max_records, seed=1)


def test_sample_records_refuses_fewer_than_two() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        sample_records(_people(), 1, seed=1)


def test_a_uniform_sample_keeps_the_prior() -> None:
    """Matches per pair do not change when records are sampled uniformly."""
    model, data, _ = _calibration()
    half = train(
        data.records, organization="ORG-A", version=1, trained_at="t", seed=1, max_records=1600
    )
    assert half.training.records == 1600
    assert half.prior == pytest.approx(model.prior, rel=0.35)


def test_train_refuses_records_that_share_no_key() -> None:
    lonely = [training_record(blank(f"C-{i}", patient={"initials": f"A{i}"})) for i in range(3)]
    with pytest.raises(ValueError, match="share"):
        train(lonely, organization="ORG-A", version=1, trained_at="t")


def test_train_refuses_too_few_records() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        train(_people()[:1], organization="ORG-A", version=1, trained_at="t")


@functools.cache
def _calibration() -> tuple[MatchModel, LabelledSet, list[CalibrationBin]]:
    """One calibration run shared by the tests below (a few seconds)."""
    return calibrate(seed=1, cases=2000, items=400)


def test_calibration_on_labelled_generated_data() -> None:
    """In bins of predicted probability with at least MIN_PAIRS_PER_BIN pairs, the observed
    share of true matches is within 0.05 of the bin's mean prediction; the lowest and the
    highest bin are among them."""
    _, _, bins = _calibration()
    checked = [b for b in bins if b.checked]
    assert checked[0].lower == 0.0 and checked[-1].upper == 1.0
    for b in checked:
        assert abs(b.observed - b.mean_predicted) <= 0.05, b
    assert all(b.pairs >= MIN_PAIRS_PER_BIN for b in checked)


def test_prior_is_near_the_true_share_of_matches() -> None:
    model, data, _ = _calibration()
    n = len(data.records)
    # Each copy with its original, and two copies of one original with each other.
    copies = Counter(o for i, o in enumerate(data.origin) if o != i)
    true_pairs = sum(c + c * (c - 1) // 2 for c in copies.values())
    assert model.prior == pytest.approx(true_pairs / (n * (n - 1) / 2), rel=0.25)


def test_learned_weights_point_the_right_way() -> None:
    model, _, _ = _calibration()
    for key in ("patient.dob", "patient.last_name", "reporter.last_name", "product.product"):
        i = model.fields.index(key)
        assert model.m[i][EXACT] > model.u[i][EXACT], key


def test_ranking_is_the_same_with_and_without_a_model() -> None:
    """Scores sit beside the seeds' ranking: the same records in the same order."""
    model, _, _ = _calibration()
    source = record("II-9")
    candidates = [
        record("C-1", kind="case"),
        record("C-2", kind="case", patient={"initials": "XY"}),
        blank("C-3", products=[{"product": "PRD-17", "rank": 1}]),
        blank("C-4", reporter={"first_name": "Jacob", "last_name": "Smith", "country": "US"}),
    ]
    plain = rank_reference(source, candidates, DetectionOptions())
    scored = rank_reference(source, candidates, DetectionOptions(match_model=model))

    def order(d: Detection) -> list[tuple[str, int]]:
        return [(m.record_id, m.rank) for m in d.sections.all()]

    assert order(plain) == order(scored) and len(order(plain)) == 4
    assert all(m.probability is None and not m.bayes_factors for m in plain.sections.all())
    by_id = {m.record_id: m for m in scored.sections.all()}
    assert by_id["C-1"].probability is not None and by_id["C-1"].probability > 0.99
    assert by_id["C-3"].probability is not None and by_id["C-3"].probability < 0.5
    rows = by_id["C-1"].bayes_factors
    assert [(r.section, r.field) for r in rows] == [spec.row for spec in MODEL_FIELDS]


def test_M20_bayes_factors_carry_levels_never_values() -> None:
    model, _, _ = _calibration()
    detection = rank_reference(
        record("II-9"),
        [record("C-1", kind="case")],
        DetectionOptions(match_model=model, mask_phi=True),
    )
    (match,) = detection.sections.all()
    dumped = str([r.model_dump() for r in match.bayes_factors])
    for value in ("JS", "Smith", "Jacob", "1980", "female"):
        assert value not in dumped
    levels = {(r.section, r.field): r.level for r in match.bayes_factors}
    assert levels[("patient", "initials")] == "exact"
    assert levels[("patient", "first_name")] == "null"
    assert levels[("reporter", "first_name")] == "exact"


def test_report_writes_markdown_and_charts(tmp_path: Path) -> None:
    model, _, bins = _calibration()
    files = write_report(model, tmp_path, bins=bins)
    text = files.markdown.read_text(encoding="utf-8")
    assert "| patient.dob | exact |" in text and "Reliability" in text
    assert {p.name for p in files.charts} == {
        "match_weights.png",
        "waterfall.png",
        "reliability.png",
    }
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in files.charts)


def test_report_without_charts_says_so(tmp_path: Path) -> None:
    model, _, _ = _calibration()
    files = write_report(model, tmp_path, charts=False)
    assert files.charts == [] and files.missing and files.markdown.exists()


def test_model_json_round_trips_after_training() -> None:
    model, _, _ = _calibration()
    again = MatchModel.from_json(model.to_json())
    assert again == model and again.training.sessions == model.training.sessions
    assert NULL not in again.m[0]
