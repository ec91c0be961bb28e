"""Seeded synthetic Cases and labelled Inbox Items for the demo, the tests and the benchmarks.

Three entry points, one per user:

- :func:`generate_cases` streams a realistic base population of Cases over
  several organizations. Record ``i`` is a pure function of ``(seed, i,
  organizations, today)`` (its random generator is derived from the seed and
  the index), so a million records stream in constant memory, any slice can be
  regenerated on its own, and chunking never changes the data.
- :func:`generate_queries` builds labelled Inbox Items from that population:
  true duplicates and follow-ups in many disguises (name-order swaps,
  transliterations, typos, partial dates, cross-field identifiers...) and near
  misses the rules must exclude (other organization M1, clinical trial vs
  postmarketing M3, other reporter country without a patient match M5, New Info
  Date older than two years M6). Each query names the records detection must
  return (``expected``) and those it must never return (``must_not_match``).
- :func:`sample_dataset` is a small fixed data set (300 Cases, 30 Inbox Items)
  for ``casematch demo`` and ``serve --sample``.

:func:`write_ndjson` writes records (or plain dicts) as NDJSON for bulk loads.
``python -m benchmarks.generator --help`` writes files and measures the rate.

    >>> pop = Population(seed=1, n=1000, today=date(2026, 1, 15))
    >>> pop.case(42) == next(generate_cases(1, 1, start_index=42, today=date(2026, 1, 15)))
    True
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import orjson
from unidecode import unidecode

from benchmarks.generator_tables import (
    COMPANY_CODES,
    CONCOMITANTS,
    CULTURES,
    CYRILLIC,
    GERMAN_TRANSLIT,
    PARTNER_SENDERS,
    PREFERRED_TERMS,
    PRODUCTS,
    REPORTER_ORGANIZATIONS,
    STUDY_ARMS,
    CatalogProduct,
    Culture,
)
from indexer.normalize import normalize_country, normalize_initials
from indexer.records import Record

DEFAULT_ORGANIZATIONS: tuple[str, ...] = ("ORG-A", "ORG-B", "ORG-C")
RecordDict = dict[str, Any]
T = TypeVar("T")

_CASE_STREAM = 1
_QUERY_STREAM = 2
_MASK64 = (1 << 64) - 1
#: Possible Matches exclude candidates older than two years (M6); keep a margin either side.
_M6_DAYS = 730
_M6_MARGIN = 30

_PRODUCT_BY_CODE: dict[str, CatalogProduct] = {p.code: p for p in PRODUCTS}
_NO_INFO_INITIALS = ("UNK", "Unknown", "PRIVACY", "MSK", "ASKU", "N/A")
_CASE_STATES = (
    ("new", 0.12),
    ("in_progress", 0.33),
    ("medical_review", 0.15),
    ("approved", 0.20),
    ("closed", 0.13),
    ("void", 0.04),
    ("nullified", 0.03),
)
_QUALIFICATIONS = (
    ("physician", 0.40),
    ("pharmacist", 0.10),
    ("other_health_professional", 0.15),
    ("consumer", 0.32),
    ("lawyer", 0.03),
)
_PM_SOURCES = (("e2b", 0.35), ("intake_api", 0.25), ("manual", 0.30), ("as2", 0.10))
_SERIOUSNESS = (
    "hospitalization",
    "other_medically_important",
    "life_threatening",
    "disability",
)


def _rng(seed: int, stream: int, index: int) -> random.Random:
    """The random generator of one record: a function of seed, stream and index only."""
    return random.Random(((seed & _MASK64) << 72) | (stream << 64) | (index & _MASK64))


def _pick(rng: random.Random, seq: Sequence[T]) -> T:
    return seq[int(rng.random() * len(seq))]


def _weighted(rng: random.Random, table: Sequence[tuple[str, float]]) -> str:
    x = rng.random()
    for value, weight in table:
        x -= weight
        if x < 0:
            return value
    return table[-1][0]


def _iso(ordinal: int) -> str:
    return date.fromordinal(ordinal).isoformat()


def company_code(organization: str) -> str:
    """The company short name used in identifiers (``ORG-A`` -> ``ACME``)."""
    known = COMPANY_CODES.get(organization)
    if known:
        return known
    letters = "".join(ch for ch in organization.upper() if ch.isalnum())
    return letters or "COMPANY"


@dataclass(frozen=True, slots=True)
class Study:
    """A clinical-trial study of an organization."""

    number: str
    name: str
    blinded: bool


def studies(organization: str) -> tuple[Study, ...]:
    """The three studies each organization runs (two blinded, one open label)."""
    code = company_code(organization)
    return (
        Study(f"{code}-101", f"{code} 101 phase III efficacy study", True),
        Study(f"{code}-202", f"{code} 202 long-term safety extension", True),
        Study(f"{code}-303", f"{code} 303 open-label pharmacokinetics study", False),
    )


def _initials(first: str, last: str) -> str:
    parts = [p for p in first.replace("-", " ").split() if p]
    letters = "".join(unidecode(p)[0] for p in parts) + unidecode(last)[0]
    return letters.upper()


def _age_group(age: int) -> str:
    if age < 2:
        return "infant"
    if age < 12:
        return "child"
    if age < 18:
        return "adolescent"
    if age < 65:
        return "adult"
    return "elderly"


# -- the base population -------------------------------------------------------------


def case_dict(
    seed: int,
    index: int,
    *,
    organizations: Sequence[str] = DEFAULT_ORGANIZATIONS,
    today: date | None = None,
) -> RecordDict:
    """Case ``index`` of the population ``seed`` as Intake-API JSON (not yet validated)."""
    rng = _rng(seed, _CASE_STREAM, index)
    r = rng.random
    today_ord = (today or date.today()).toordinal()
    org = organizations[int(r() * len(organizations))]
    code = company_code(org)

    receipt = today_ord - int(r() * 4 * 365)
    version = 1 if r() < 0.8 else 2 + int(r() * 2)
    new_info = receipt if version == 1 else min(today_ord, receipt + 14 + int(r() * 150))

    culture: Culture = _pick(rng, CULTURES)
    country = _pick(rng, culture.countries)
    x = r()
    sex = "female" if x < 0.48 else "male" if x < 0.96 else "unknown" if x < 0.98 else None
    first = _pick(rng, culture.female if sex == "female" else culture.male)
    last = _pick(rng, culture.last)

    onset = receipt - int(r() * 90)
    age = 1 + int(r() * 17) if r() < 0.12 else 18 + int(r() * 72)
    dob = onset - int(age * 365.25) - int(r() * 364)
    dob_date, onset_date = date.fromordinal(dob), date.fromordinal(onset)
    age = (
        onset_date.year
        - dob_date.year
        - ((onset_date.month, onset_date.day) < (dob_date.month, dob_date.day))
    )

    patient: RecordDict = {"sex": sex, "mrn": {}, "reason_omitted": {}}
    x = r()
    if x < 0.66:
        patient["dob"] = dob_date.isoformat()
    elif x < 0.80:
        patient["dob"] = dob_date.isoformat()[:7]
    elif x < 0.90:
        patient["dob"] = dob_date.isoformat()[:4]
    if r() < 0.7 or "dob" not in patient:
        patient["age"] = {"value": age, "unit": "year"}
        patient["age_group"] = _age_group(age)
    x = r()
    if x < 0.80:
        ini = _initials(first, last)
        y = r()
        patient["initials"] = ini if y < 0.7 else ".".join(ini) + "." if y < 0.9 else " ".join(ini)
    elif x < 0.88:
        patient["reason_omitted"]["initials"] = "privacy"
    elif x < 0.93:
        patient["initials"] = _pick(rng, _NO_INFO_INITIALS)
    x = r()
    if x < 0.35:
        patient["first_name"], patient["last_name"] = first, last
    elif x < 0.45:
        patient["reason_omitted"].update(first_name="privacy", last_name="privacy")
    if r() < 0.2:
        patient["mrn"]["hospital"] = f"H-{int(r() * 1e6):06d}"
    if r() < 0.08:
        patient["mrn"]["gp"] = f"GP{int(r() * 1e7):07d}"
    if r() < 0.4 and age >= 12:
        patient["weight"] = {"value": round(40 + r() * 70, 1), "unit": "kg"}

    reporter = _reporter(rng, culture, country)
    ct = r() < 0.15
    study = _pick(rng, studies(org)) if ct else None
    products = _products(rng, study)
    events = _events(rng, onset, country)

    number = f"{index:06d}"
    ids: RecordDict = {
        "case_identifiers": [f"{code}-{date.fromordinal(receipt).year}-{number}"],
        "wwuid": f"{country}-{code}-{number}",
    }
    if r() < 0.3:
        ids["uid"] = f"UID-{code}-{index:07d}"
    if r() < 0.15:
        partner = _pick(rng, PARTNER_SENDERS)
        ids["external_system_uid"] = f"{country}-{partner}-E{index:07d}"

    record: RecordDict = {
        "id": f"CS-{index:07d}",
        "kind": "case",
        "organization": org,
        "state": _weighted(rng, _CASE_STATES),
        "version": version,
        "receipt_date": _iso(receipt),
        "new_info_date": _iso(new_info),
        "localization": culture.localization if r() < 0.3 else "global",
        "identifiers": ids,
        "patient": patient,
        "reporter": reporter,
        "products": products,
        "events": events,
    }
    if study is not None:
        _make_clinical_trial(rng, record, study, index)
    else:
        record["study_type"] = "postmarketing"
        x = r()
        record["report_type"] = (
            "spontaneous" if x < 0.75 else "literature" if x < 0.87 else "solicited"
        )
        record["source"] = _weighted(rng, _PM_SOURCES)
    if r() < 0.6:
        record["narrative"] = (
            f"The reporter described {events[0]['event_reported']} after "
            f"{products[0]['product_reported']} was started."
        )
    return record


def _reporter(rng: random.Random, culture: Culture, country: str) -> RecordDict:
    r = rng.random
    qualification = _weighted(rng, _QUALIFICATIONS)
    reporter: RecordDict = {"qualification": qualification, "reason_omitted": {}}
    if r() < 0.9:
        names = culture.female if r() < 0.5 else culture.male
        reporter["first_name"] = _pick(rng, names)
        reporter["last_name"] = _pick(rng, culture.last)
    else:
        reporter["reason_omitted"].update(first_name="privacy", last_name="privacy")
    if qualification != "consumer" and r() < 0.5:
        reporter["organization"] = _pick(rng, REPORTER_ORGANIZATIONS)
    if r() < 0.96:
        reporter["country"] = country
    return reporter


def _products(rng: random.Random, study: Study | None) -> list[RecordDict]:
    r = rng.random
    primary = _pick(rng, PRODUCTS)
    out: list[RecordDict] = [
        {
            "product": primary.code,
            "product_reported": _pick(rng, primary.verbatims),
            "rank": 1,
            "drug_role": "suspect",
        }
    ]
    if study is not None:
        out[0].update(
            study_product=f"{study.number}-IP",
            study_product_role="investigational",
            blinded=study.blinded,
        )
    for rank in (2, 3):
        if r() >= (0.35 if rank == 2 else 0.3):
            break
        if r() < 0.5:
            out.append(
                {
                    "product_reported": _pick(rng, CONCOMITANTS),
                    "rank": rank,
                    "drug_role": "concomitant",
                }
            )
        else:
            other = _pick(rng, PRODUCTS)
            role = "concomitant" if r() < 0.7 else "interacting"
            out.append(
                {
                    "product": other.code,
                    "product_reported": _pick(rng, other.verbatims),
                    "rank": rank,
                    "drug_role": role,
                }
            )
    return out


def _events(rng: random.Random, onset: int, country: str) -> list[RecordDict]:
    r = rng.random
    count = 1 + (r() < 0.35) + (r() < 0.12)
    seen: set[str] = set()
    out: list[RecordDict] = []
    for rank in range(1, count + 1):
        pt = _pick(rng, PREFERRED_TERMS)
        if pt.code in seen:
            continue
        seen.add(pt.code)
        event: RecordDict = {"event_reported": _pick(rng, pt.verbatims), "rank": rank}
        if r() < 0.92:
            event["meddra_pt_code"], event["meddra_pt"] = pt.code, pt.term
        if rank == 1 or r() < 0.5:
            day = onset + int(r() * 3) * (rank - 1)
            event["onset"] = _iso(day) if r() < 0.9 else _iso(day)[:7]
        if pt.term == "Death":
            event["seriousness"] = ["death"]
        elif r() < 0.2:
            event["seriousness"] = [_pick(rng, _SERIOUSNESS)]
        if r() < 0.6:
            event["country"] = country
        out.append(event)
    return out


def _make_clinical_trial(rng: random.Random, record: RecordDict, study: Study, index: int) -> None:
    r = rng.random
    site, subject = 1 + int(r() * 40), 1 + int(r() * 600)
    record.update(
        study_type="clinical_trial",
        report_type="study",
        study=study.name,
        study_number=study.number,
        blinded=study.blinded,
        source="edc" if r() < 0.6 else "e2b",
    )
    if not study.blinded:
        record["study_arm"] = _pick(rng, STUDY_ARMS[:2])
    patient = record["patient"]
    if r() < 0.7:
        patient["mrn"]["investigation"] = f"INV-{site:03d}-{subject:04d}"
    if record["source"] == "edc":
        patient["edc_subject"] = f"{study.number}-{site:03d}-{subject:04d}"
        record["identifiers"]["case_vault_global_id"] = f"VV-CASE-{index:08d}"
        record["identifiers"]["event_vault_global_id"] = f"VV-EVT-{index:08d}"


def generate_case_dicts(
    seed: int,
    n: int,
    *,
    organizations: Sequence[str] = DEFAULT_ORGANIZATIONS,
    start_index: int = 0,
    today: date | None = None,
) -> Iterator[RecordDict]:
    """Cases ``start_index .. start_index + n - 1`` as JSON dicts (the fast path for NDJSON)."""
    today = today or date.today()
    for i in range(start_index, start_index + n):
        yield case_dict(seed, i, organizations=organizations, today=today)


def generate_cases(
    seed: int,
    n: int,
    *,
    organizations: Sequence[str] = DEFAULT_ORGANIZATIONS,
    start_index: int = 0,
    today: date | None = None,
) -> Iterator[Record]:
    """Cases ``start_index .. start_index + n - 1`` as validated :class:`Record` s, streamed."""
    for data in generate_case_dicts(
        seed, n, organizations=organizations, start_index=start_index, today=today
    ):
        yield Record.model_validate(data)


@dataclass(frozen=True, slots=True)
class Population:
    """The parameters of a base population; any Case can be regenerated from them alone."""

    seed: int
    n: int
    organizations: tuple[str, ...] = DEFAULT_ORGANIZATIONS
    today: date = field(default_factory=date.today)
    start_index: int = 0

    def case_dict(self, index: int) -> RecordDict:
        return case_dict(self.seed, index, organizations=self.organizations, today=self.today)

    def case(self, index: int) -> Record:
        return Record.model_validate(self.case_dict(index))

    def indices(self) -> range:
        return range(self.start_index, self.start_index + self.n)

    def __iter__(self) -> Iterator[Record]:
        return generate_cases(
            self.seed,
            self.n,
            organizations=self.organizations,
            start_index=self.start_index,
            today=self.today,
        )


# -- labelled queries ------------------------------------------------------------------

#: Families whose source is a true duplicate or follow-up of its base Case.
DUPLICATE_FAMILIES: tuple[str, ...] = (
    "exact_duplicate",
    "follow_up",
    "id_cross_field",
    "name_order_swap",
    "transliterated_name",
    "typo_name",
    "partial_dob",
    "onset_day_month_swap",
    "reporter_name_variant",
    "product_verbatim_variant",
    "no_identifier_duplicate",
)
#: Families whose base Case looks similar but must not be reported as a duplicate.
NEAR_MISS_FAMILIES: tuple[str, ...] = (
    "different_organization",
    "ct_vs_postmarketing",
    "different_reporter_country_no_patient",
    "different_patient_same_product_event",
    "old_new_info_date",
)
FAMILIES: tuple[str, ...] = DUPLICATE_FAMILIES + NEAR_MISS_FAMILIES
#: The SPEC rule each near miss exercises.
FAMILY_RULES: dict[str, str] = {
    "different_organization": "M1",
    "ct_vs_postmarketing": "M3",
    "different_reporter_country_no_patient": "M5",
    "old_new_info_date": "M6",
}
_ID_FAMILIES = frozenset(
    {"exact_duplicate", "follow_up", "id_cross_field", "different_organization"}
)


@dataclass(frozen=True, slots=True)
class LabelledQuery:
    """An Inbox Item with the detection outcome the rules require for it.

    ``expected``: ids of the records that are true duplicates / follow-ups the
    rules allow detection to find. ``must_not_match``: ids the rules forbid
    returning at all (M1, M3, M5, M6). ``base_id``: the Case the item was built from.
    """

    source: Record
    expected: list[str]
    family: str
    shares_identifier: bool
    base_id: str
    must_not_match: list[str] = field(default_factory=list)

    @property
    def rule(self) -> str | None:
        return FAMILY_RULES.get(self.family)

    def as_dict(self) -> RecordDict:
        return {
            "source": self.source.model_dump(mode="json", exclude_none=True),
            "expected": self.expected,
            "family": self.family,
            "shares_identifier": self.shares_identifier,
            "base_id": self.base_id,
            "must_not_match": self.must_not_match,
            "rule": self.rule,
        }


class _UnsuitableError(Exception):
    """The drawn Case cannot carry this family (e.g. no names for a name variant)."""


@dataclass(frozen=True, slots=True)
class _Ctx:
    rng: random.Random
    query: int
    item_id: str
    today: int
    organizations: tuple[str, ...]


Family = Callable[[RecordDict, _Ctx], tuple[RecordDict, bool]]


def _copy(data: RecordDict) -> RecordDict:
    copied: RecordDict = orjson.loads(orjson.dumps(data))
    return copied


def _inbox_item(case: RecordDict, ctx: _Ctx, *, keep_ids: bool, days_later: int = -1) -> RecordDict:
    """The case re-reported as an Inbox Item: same content, new or same identifiers."""
    rng = ctx.rng
    item = _copy(case)
    for key in ("case_id", "version", "state"):
        item.pop(key, None)
    item.update(id=ctx.item_id, kind="inbox_item", state="new")
    if item.get("source") != "edc":
        item["source"] = _weighted(rng, _PM_SOURCES)
    received = date.fromisoformat(case["receipt_date"]).toordinal()
    shift = int(rng.random() * 10) if days_later < 0 else days_later
    received = min(ctx.today, received + shift)
    item["receipt_date"] = item["new_info_date"] = _iso(received)
    if not keep_ids:
        item["identifiers"] = _fresh_ids(case, ctx)
        for key in ("gp", "specialist", "hospital"):
            item["patient"]["mrn"].pop(key, None)
    country = item["reporter"].get("country")
    if country and rng.random() < 0.25:
        item["reporter"]["country"] = _country_spelling(rng, country)
    return item


def _fresh_ids(case: RecordDict, ctx: _Ctx) -> RecordDict:
    partner = _pick(ctx.rng, PARTNER_SENDERS)
    country = case["identifiers"]["wwuid"].split("-", 1)[0]
    year = case["receipt_date"][:4]
    return {
        "case_identifiers": [f"{partner}-{year}-Q{ctx.query:07d}"],
        "wwuid": f"{country}-{partner}-Q{ctx.query:07d}",
    }


def _country_spelling(rng: random.Random, code: str) -> str:
    """Another spelling of an ISO country that N6 maps back to the same code."""
    import pycountry

    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return code
    spelling = str(country.name if rng.random() < 0.5 else country.alpha_3)
    return spelling if normalize_country(spelling) == code else code


def _need(condition: object) -> None:
    if not condition:
        raise _UnsuitableError


def _patient_names(case: RecordDict) -> tuple[str, str]:
    p = case["patient"]
    first, last = p.get("first_name"), p.get("last_name")
    _need(first and last)
    return str(first), str(last)


def _fam_exact_duplicate(case: RecordDict, ctx: _Ctx) -> tuple[RecordDict, bool]:
    item = _inbox_item(case, ctx, keep_ids=True, days_later=0)
    item["reporter"]["country"] = case["reporter"].get("country")
    return item, True


def _fam_follow_up(case: RecordDict, ctx: _Ctx) -> tuple[RecordDict, bool]:
    rng = ctx.rng
    last_info = date.fromisoformat(case["new_info_date"]).toordinal()
    _need(last_info < ctx.today - 5)
    later = last_info + 5 + int(rng.random() * min(120, ctx.today - last_info - 5))
    item = _inbox_item(case, ctx, keep_ids=True)
    item["receipt_date"] = item["new_info_date"] = _iso(later)
    item["identifiers"] = {
        "case_identifiers": list(case["identifiers"]["case_identifiers"]),
        "wwuid": case["identifiers"]["wwuid"],
    }
    item["events"][0]["seriousness"] = sorted(
        {*item["events"][0].get("seriousness", []), "hospitalization"}
    )
    if rng.random() < 0.5:
        pt = _pick(rng, PREFERRED_TERMS)
        if all(e.get("meddra_pt_code") != pt.code for e in item["events"]):
            item["events"].append(
                {
                    "event_reported": pt.verbatims[0],
                    "meddra_pt_code": pt.code,
                    "meddra_pt": pt.term,
                    "rank": len(item["events"]) + 1,
                }
            )
    item["narrative"] = "Follow-up information received: patient was hospitalized."
    return item, True


def _fam_id_cross_field(case: RecordDict, ctx: _Ctx) -> tuple[RecordDict, bool]:
    ids = case["identifiers"]
    options = [("external_system_uid", ids["wwuid"]), ("uid", ids["case_identifiers"][0])]
    if ids.get("external_system_uid"):
        options.append(("wwuid", ids["external_system_uid"]))
        options.append(("wwuid", ids["external_system_uid"]))
    kind, value = _pick(ctx.rng, options)
    item = _inbox_item(case, ctx, keep_ids=False)
    fresh = item["identifiers"]
    if kind == "wwuid":
        fresh["wwuid"] = value
    else:
        fresh[kind] = value
    return item, True


def _fam_name_order_swap(case: RecordDict, ctx: _Ctx) -> tuple[RecordDict, bool]:
    first, last = _patient_names(case)
    item = _inbox_item(case, ctx, keep_ids=False)
    p = item["patient"]
    if ctx.rng.random() < 0.7:
        p["first_name"], p["last_name"] = last, first
    else:  # N3: the full name in one field
        p.pop("first_name")
        p["last_name"] = f"{first} {last}" if ctx.rng.random() < 0.5 else f"{last} {first}"
    return item, False


def _transliterate(rng: random.Random, name: str) -> str:
    if name in CYRILLIC:
        return CYRILLIC[name]
    if any(ch in GERMAN_TRANSLIT for ch in name) and rng.random() < 0.5:
        return "".join(GERMAN_TRANSLIT.get(ch, ch) for ch in name)
    return str(unidecode(name))


def _fam_transliterated_name(case: RecordDict, ctx: _Ctx) -> tuple[RecordDict, bool]:
    first, last = _patient_names(case)
    new_first, new_last = _transliterate(ctx.rng, first), _transliterate(ctx.rng, last)
    _need((new_first, new_last) != (first, last))
    item = _inbox_item(case, ctx, keep_ids=False)
    item["patient"]["first_name"], item["patient"]["last_name"] = new_first, new_last
    return item, False


def _typo(rng: random.Random, word: str) -> str:
    i = 1 + int(rng.random() * (len(word) - 2))
    op = int(rng.random() * 4)
    if op == 0:  # transpose two neighbours
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if op == 1:  # drop a letter
        return word[:i] + word[i + 1 :]
    if op == 2:  # double a letter
        return word[:i] + word[i] + word[i:]
    replacement = "aeiou"[int(rng.random() * 5)]
    if replacement == word[i]:
        replacement = "y"
    return word[:i] + replacement + word[i + 1 :]


def _fam_typo_name(case: RecordDict, ctx: _Ctx) -> tuple[RecordDict, bool]:
    first, last = _patient_names(case)
    field_name, word = ("last_name", last) if ctx.rng.random() < 0.7 else ("first_name", first)
    _need(len(word) >= 4)
    typo = _typo(ctx.rng, word)
    _need(typo != word)
    item = _inbox_item(case, ctx, keep_ids=False)
    item["patient"][field_name] = typo
    return item, False


def _fam_partial_dob(case: RecordDict, ctx: _Ctx) -> tuple[RecordDict, bool]:
    dob = case["patient"].get("dob")
    _need(dob and len(dob) == 10)
    item = _inbox_item(case, ctx, keep_ids=False)
    item["patient"]["dob"] = dob[:7] if ctx.rng.random() < 0.5 else dob[:4]
    return item, False


def _fam_onset_day_month_swap(case: RecordDict, ctx: _Ctx) -> tuple[RecordDict, bool]:
    onset = case["events"][0].get("onset")
    _need(onset and len(onset) == 10)
    year, month, day = (int(x) for x in onset.split("-"))
    _need(day <= 12 and day != month)
    swapped = date(year, day, month)
    _need(swapped.toordinal() <= ctx.today)
    item = _inbox_item(case, ctx, keep_ids=False)
    item["events"][0]["onset"] = swapped.isoformat()
    return item, False


def _fam_reporter_name_variant(case: RecordDict, ctx: _Ctx) -> tuple[RecordDict, bool]:
    rep = case["reporter"]
    first, last = rep.get("first_name"), rep.get("last_name")
    _need(first and last)
    item = _inbox_item(case, ctx, keep_ids=False)
    out = item["reporter"]
    x = ctx.rng.random()
    if x < 0.3:
        out["first_name"], out["last_name"] = last, first
    elif x < 0.55:
        out.pop("first_name")
        out["last_name"] = (
            f"Dr. {first} {last}" if rep.get("qualification") == "physician" else f"{first} {last}"
        )
    elif x < 0.8:
        out["first_name"], out["last_name"] = unidecode(first).upper(), unidecode(last).upper()
    else:
        out["first_name"] = f"{first[0]}."
    return item, False


def _fam_product_verbatim_variant(case: RecordDict, ctx: _Ctx) -> tuple[RecordDict, bool]:
    primary = case["products"][0]
    catalog = _PRODUCT_BY_CODE[primary["product"]]
    others = [v for v in catalog.verbatims if v != primary["product_reported"]]
    item = _inbox_item(case, ctx, keep_ids=False)
    prod = item["products"][0]
    prod["product_reported"] = _pick(ctx.rng, others)
    if ctx.rng.random() < 0.5:
        prod.pop("product")
    return item, False


def _fam_no_identifier_duplicate(case: RecordDict, ctx: _Ctx) -> tuple[RecordDict, bool]:
    p = case["patient"]
    _need(normalize_initials(p.get("initials")) or p.get("dob"))
    item = _inbox_item(case, ctx, keep_ids=False)
    item["patient"].pop("first_name", None)
    item["patient"].pop("last_name", None)
    event = item["events"][0]
    if event.get("meddra_pt_code"):
        pt = next(t for t in PREFERRED_TERMS if t.code == event["meddra_pt_code"])
        event["event_reported"] = _pick(ctx.rng, pt.verbatims)
    if ctx.rng.random() < 0.5:  # a second reporter (the patient) reports the same event
        country = item["reporter"].get("country")
        item["reporter"] = {"qualification": "consumer", "reason_omitted": {}}
        if country:
            item["reporter"]["country"] = country
    return item, False


def _fam_different_organization(case: RecordDict, ctx: _Ctx) -> tuple[RecordDict, bool]:
    others = [o for o in ctx.organizations if o != case["organization"]]
    item = _inbox_item(case, ctx, keep_ids=True, days_later=0)
    item["organization"] = _pick(ctx.rng, others) if others else f"{case['organization']}-OTHER"
    return item, True


def _fam_ct_vs_postmarketing(case: RecordDict, ctx: _Ctx) -> tuple[RecordDict, bool]:
    item = _inbox_item(case, ctx, keep_ids=False)
    if item.get("study_type") == "clinical_trial":
        for key in ("study", "study_number", "study_arm"):
            item.pop(key, None)
        item.update(study_type="postmarketing", report_type="spontaneous", blinded=False)
        item["source"] = _weighted(ctx.rng, _PM_SOURCES)
        item["patient"]["mrn"].pop("investigation", None)
        item["patient"].pop("edc_subject", None)
        for prod in item["products"]:
            for key in ("study_product", "study_product_role", "blinded"):
                prod.pop(key, None)
    else:
        study = _pick(ctx.rng, studies(item["organization"]))
        item.update(
            study_type="clinical_trial",
            report_type="study",
            study=study.name,
            study_number=study.number,
            blinded=study.blinded,
        )
    return item, False


def _fam_different_reporter_country(case: RecordDict, ctx: _Ctx) -> tuple[RecordDict, bool]:
    country = normalize_country(case["reporter"].get("country"))
    _need(country)
    item = _inbox_item(case, ctx, keep_ids=False)
    choices = [c for culture in CULTURES for c in culture.countries if c != country]
    item["reporter"]["country"] = _pick(ctx.rng, choices)
    item["patient"] = {"initials": _other_initials(case), "reason_omitted": {}}
    return item, False


def _other_initials(case: RecordDict) -> str:
    mine = normalize_initials(case["patient"].get("initials")) or ""
    return "QX" if mine != "qx" else "ZV"


def _fam_different_patient(case: RecordDict, ctx: _Ctx) -> tuple[RecordDict, bool]:
    rng = ctx.rng
    item = _inbox_item(case, ctx, keep_ids=False)
    culture = _pick(rng, CULTURES)
    sex = "male" if case["patient"].get("sex") == "female" else "female"
    first = _pick(rng, culture.female if sex == "female" else culture.male)
    last = _pick(rng, culture.last)
    initials = _initials(first, last)
    if initials.lower() == normalize_initials(case["patient"].get("initials")):
        initials = _other_initials(case)
    dob = case["patient"].get("dob")
    other_year = (int(dob[:4]) if dob else 1970) - 7 - int(rng.random() * 20)
    item["patient"] = {
        "initials": initials,
        "sex": sex,
        "dob": f"{other_year:04d}-{1 + int(rng.random() * 12):02d}-15",
        "reason_omitted": {},
    }
    country = item["reporter"].get("country")
    item["reporter"] = _reporter(rng, culture, country or _pick(rng, culture.countries))
    if country:
        item["reporter"]["country"] = country
    item["products"] = item["products"][:1]
    item["events"] = item["events"][:1]
    return item, False


def _fam_old_new_info_date(case: RecordDict, ctx: _Ctx) -> tuple[RecordDict, bool]:
    return _inbox_item(case, ctx, keep_ids=False), False


_FAMILIES: dict[str, Family] = {
    "exact_duplicate": _fam_exact_duplicate,
    "follow_up": _fam_follow_up,
    "id_cross_field": _fam_id_cross_field,
    "name_order_swap": _fam_name_order_swap,
    "transliterated_name": _fam_transliterated_name,
    "typo_name": _fam_typo_name,
    "partial_dob": _fam_partial_dob,
    "onset_day_month_swap": _fam_onset_day_month_swap,
    "reporter_name_variant": _fam_reporter_name_variant,
    "product_verbatim_variant": _fam_product_verbatim_variant,
    "no_identifier_duplicate": _fam_no_identifier_duplicate,
    "different_organization": _fam_different_organization,
    "ct_vs_postmarketing": _fam_ct_vs_postmarketing,
    "different_reporter_country_no_patient": _fam_different_reporter_country,
    "different_patient_same_product_event": _fam_different_patient,
    "old_new_info_date": _fam_old_new_info_date,
}


def _age_fits(family: str, case: RecordDict, today: int) -> bool:
    """M6: possible-match families need a recent base; ``old_new_info_date`` an old one."""
    age = today - date.fromisoformat(case["new_info_date"]).toordinal()
    if family == "old_new_info_date":
        return age > _M6_DAYS + _M6_MARGIN
    if family in _ID_FAMILIES:
        return True
    return age < _M6_DAYS - _M6_MARGIN


class _ListPopulation:
    def __init__(self, cases: Sequence[Record]) -> None:
        self._cases = cases

    def case_dict(self, index: int) -> RecordDict:
        data: RecordDict = self._cases[index].model_dump(mode="json", exclude_none=True)
        return data

    def indices(self) -> range:
        return range(len(self._cases))


def generate_queries(
    seed: int,
    base: Population | Sequence[Record],
    n_queries: int,
    *,
    families: Sequence[str] = FAMILIES,
    start_index: int = 0,
    id_prefix: str = "II",
    today: date | None = None,
) -> Iterator[LabelledQuery]:
    """Labelled Inbox Items built from ``base``, families taken in turn.

    ``base`` is a :class:`Population` (Cases are regenerated by index, nothing
    is held in memory) or the Cases themselves. Query ``q`` is a pure function
    of ``(seed, q, base)``. Raises ``ValueError`` for an unknown family or when
    no Case of ``base`` can carry a family (e.g. a population of ten Cases).
    """
    unknown = [f for f in families if f not in _FAMILIES]
    if unknown:
        raise ValueError(f"unknown query families {unknown}; known: {', '.join(FAMILIES)}")
    if isinstance(base, Population):
        pop: Population | _ListPopulation = base
        organizations, ref_day = base.organizations, today or base.today
    else:
        pop = _ListPopulation(base)
        organizations = tuple(sorted({c.organization for c in base})) or DEFAULT_ORGANIZATIONS
        ref_day = today or date.today()
    indices = pop.indices()
    if not indices:
        raise ValueError("the base population is empty")
    for q in range(start_index, start_index + n_queries):
        family = families[q % len(families)]
        rng = _rng(seed, _QUERY_STREAM, q)
        ctx = _Ctx(rng, q, f"{id_prefix}-{q:07d}", ref_day.toordinal(), organizations)
        yield _build_query(family, pop, indices, ctx)


def _build_query(
    family: str, pop: Population | _ListPopulation, indices: range, ctx: _Ctx
) -> LabelledQuery:
    for _ in range(2000):
        case = pop.case_dict(indices[int(ctx.rng.random() * len(indices))])
        if case.get("state") == "superseded" or not _age_fits(family, case, ctx.today):
            continue
        try:
            item, shares = _FAMILIES[family](case, ctx)
        except _UnsuitableError:
            continue
        base_id = str(case.get("case_id") or case["id"])
        expected: list[str]
        must_not: list[str]
        if family in FAMILY_RULES:
            expected, must_not = [], [base_id]
        elif family == "different_patient_same_product_event":
            expected, must_not = [], []
        else:
            expected, must_not = [base_id], []
        source = Record.model_validate(item)
        return LabelledQuery(source, expected, family, shares, base_id, must_not)
    raise ValueError(f"no Case in the base population can carry the family {family!r}")


# -- the sample data set and files -----------------------------------------------------

SAMPLE_CASES = 300
SAMPLE_ITEMS = 30


def sample_population(seed: int = 7, today: date | None = None) -> Population:
    return Population(seed=seed, n=SAMPLE_CASES, today=today or date.today())


def sample_queries(seed: int = 7, today: date | None = None) -> list[LabelledQuery]:
    """The 30 labelled Inbox Items of :func:`sample_dataset`, every family present."""
    return list(generate_queries(seed, sample_population(seed, today), SAMPLE_ITEMS))


def sample_dataset(seed: int = 7, today: date | None = None) -> tuple[list[Record], list[Record]]:
    """300 Cases and 30 Inbox Items with planted duplicates, for the demo and ``serve --sample``."""
    cases = list(sample_population(seed, today))
    items = [q.source for q in sample_queries(seed, today)]
    return cases, items


def write_ndjson(records: Iterable[Record | Mapping[str, Any]], path: str | Path) -> int:
    """Write one JSON object per line; return how many were written."""
    count = 0
    with Path(path).open("wb") as fh:
        for record in records:
            data = (
                record.model_dump(mode="json", exclude_none=True)
                if isinstance(record, Record)
                else record
            )
            fh.write(orjson.dumps(data, option=orjson.OPT_APPEND_NEWLINE))
            count += 1
    return count


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.generator",
        description="Write a synthetic population (cases.ndjson) and labelled queries "
        "(queries.ndjson), and report the generation rate.",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=0)
    parser.add_argument(
        "--out", type=Path, help="directory for the NDJSON files (omit to only measure)"
    )
    parser.add_argument(
        "--no-validate", action="store_true", help="skip pydantic validation (raw dicts)"
    )
    args = parser.parse_args(argv)

    today = date.today()
    stream: Iterable[Record | RecordDict] = (
        generate_case_dicts(args.seed, args.cases, today=today)
        if args.no_validate
        else generate_cases(args.seed, args.cases, today=today)
    )
    started = time.perf_counter()
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        count = write_ndjson(stream, args.out / "cases.ndjson")
    else:
        count = sum(1 for _ in stream)
    elapsed = time.perf_counter() - started
    print(f"cases: {count} in {elapsed:.2f} s = {count / elapsed:,.0f} records/s")
    if args.queries:
        pop = Population(args.seed, args.cases, today=today)
        started = time.perf_counter()
        queries = generate_queries(args.seed, pop, args.queries)
        if args.out:
            n = write_ndjson((q.as_dict() for q in queries), args.out / "queries.ndjson")
        else:
            n = sum(1 for _ in queries)
        elapsed = time.perf_counter() - started
        print(f"queries: {n} in {elapsed:.2f} s = {n / elapsed:,.0f} queries/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
