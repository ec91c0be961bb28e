"""The synthetic base population: realistic Cases, each a pure function of (seed, index).

Case ``i`` draws from its own random generator, derived from the population
seed and ``i`` alone (:func:`record_rng`), so a million Cases stream in
constant memory, any slice can be regenerated on its own, and chunking never
changes the data. Names, products and MedDRA terms come from the fixed tables
in ``service.sample.tables``. :mod:`service.sample` is the public
entry point; ``service.sample.queries`` builds labelled Inbox Items on
top of this module.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any, TypeVar

from unidecode import unidecode

from indexer.records import Record
from service.sample.tables import (
    COMPANY_CODES,
    CONCOMITANTS,
    CULTURES,
    PARTNER_SENDERS,
    PREFERRED_TERMS,
    PRODUCTS,
    REPORTER_ORGANIZATIONS,
    STUDY_ARMS,
    Culture,
)

DEFAULT_ORGANIZATIONS: tuple[str, ...] = ("ORG-A", "ORG-B", "ORG-C")
RecordDict = dict[str, Any]
T = TypeVar("T")

CASE_STREAM = 1
QUERY_STREAM = 2
_MASK64 = (1 << 64) - 1
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
PM_SOURCES = (("e2b", 0.35), ("intake_api", 0.25), ("manual", 0.30), ("as2", 0.10))
_SERIOUSNESS = (
    "hospitalization",
    "other_medically_important",
    "life_threatening",
    "disability",
)


def record_rng(seed: int, stream: int, index: int) -> random.Random:
    """The random generator of one record: a function of seed, stream and index only."""
    return random.Random(((seed & _MASK64) << 72) | (stream << 64) | (index & _MASK64))


def pick(rng: random.Random, seq: Sequence[T]) -> T:
    return seq[int(rng.random() * len(seq))]


def weighted(rng: random.Random, table: Sequence[tuple[str, float]]) -> str:
    x = rng.random()
    for value, weight in table:
        x -= weight
        if x < 0:
            return value
    return table[-1][0]


def iso_day(ordinal: int) -> str:
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


@lru_cache(maxsize=8192)
def initials_of(first: str, last: str) -> str:
    """Initials consistent with the names (``Jean-Pierre Lefèvre`` -> ``JPL``)."""
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
    rng = record_rng(seed, CASE_STREAM, index)
    r = rng.random
    today_ord = (today or date.today()).toordinal()
    org = organizations[int(r() * len(organizations))]
    code = company_code(org)

    receipt = today_ord - int(r() * 4 * 365)
    version = 1 if r() < 0.8 else 2 + int(r() * 2)
    new_info = receipt if version == 1 else min(today_ord, receipt + 14 + int(r() * 150))

    culture: Culture = pick(rng, CULTURES)
    country = pick(rng, culture.countries)
    x = r()
    sex = "female" if x < 0.48 else "male" if x < 0.96 else "unknown" if x < 0.98 else None
    first = pick(rng, culture.female if sex == "female" else culture.male)
    last = pick(rng, culture.last)

    onset = receipt - int(r() * 90)
    age = 1 + int(r() * 17) if r() < 0.12 else 18 + int(r() * 72)
    dob = onset - int(age * 365.25) - int(r() * 364)
    dob_date, onset_date = date.fromordinal(dob), date.fromordinal(onset)
    age = (
        onset_date.year
        - dob_date.year
        - ((onset_date.month, onset_date.day) < (dob_date.month, dob_date.day))
    )

    patient = _patient(rng, sex, first, last, dob_date, age)

    reporter = random_reporter(rng, culture, country)
    ct = r() < 0.15
    study = pick(rng, studies(org)) if ct else None
    products = _products(rng, study)
    events = _events(rng, onset, country, today_ord)

    ids = _identifiers(rng, index, code, country, receipt)

    record: RecordDict = {
        "id": f"CS-{index:07d}",
        "kind": "case",
        "organization": org,
        "state": weighted(rng, _CASE_STATES),
        "version": version,
        "receipt_date": iso_day(receipt),
        "new_info_date": iso_day(new_info),
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
        record["source"] = weighted(rng, PM_SOURCES)
    if r() < 0.6:
        record["narrative"] = (
            f"The reporter described {events[0]['event_reported']} after "
            f"{products[0]['product_reported']} was started."
        )
    return record


def _patient(
    rng: random.Random, sex: str | None, first: str, last: str, dob_date: date, age: int
) -> RecordDict:
    """A generated Case's patient: what is known of it, and what was withheld (draws from
    ``rng`` in a fixed order, so a seed's population never changes)."""
    r = rng.random
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
        ini = initials_of(first, last)
        y = r()
        patient["initials"] = ini if y < 0.7 else ".".join(ini) + "." if y < 0.9 else " ".join(ini)
    elif x < 0.88:
        patient["reason_omitted"]["initials"] = "privacy"
    elif x < 0.93:
        patient["initials"] = pick(rng, _NO_INFO_INITIALS)
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
    return patient


def _identifiers(
    rng: random.Random, index: int, code: str, country: str, receipt: int
) -> RecordDict:
    """A generated Case's identifiers: its Case Identifier and WWUID, sometimes a UID and a
    partner's external UID."""
    r = rng.random
    number = f"{index:06d}"
    ids: RecordDict = {
        "case_identifiers": [f"{code}-{date.fromordinal(receipt).year}-{number}"],
        "wwuid": f"{country}-{code}-{number}",
    }
    if r() < 0.3:
        ids["uid"] = f"UID-{code}-{index:07d}"
    if r() < 0.15:
        partner = pick(rng, PARTNER_SENDERS)
        ids["external_system_uid"] = f"{country}-{partner}-E{index:07d}"
    return ids


def random_reporter(rng: random.Random, culture: Culture, country: str) -> RecordDict:
    r = rng.random
    qualification = weighted(rng, _QUALIFICATIONS)
    reporter: RecordDict = {"qualification": qualification, "reason_omitted": {}}
    if r() < 0.9:
        names = culture.female if r() < 0.5 else culture.male
        reporter["first_name"] = pick(rng, names)
        reporter["last_name"] = pick(rng, culture.last)
    else:
        reporter["reason_omitted"].update(first_name="privacy", last_name="privacy")
    if qualification != "consumer" and r() < 0.5:
        reporter["organization"] = pick(rng, REPORTER_ORGANIZATIONS)
    if r() < 0.96:
        reporter["country"] = country
    return reporter


def _products(rng: random.Random, study: Study | None) -> list[RecordDict]:
    r = rng.random
    primary = pick(rng, PRODUCTS)
    out: list[RecordDict] = [
        {
            "product": primary.code,
            "product_reported": pick(rng, primary.verbatims),
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
                    "product_reported": pick(rng, CONCOMITANTS),
                    "rank": rank,
                    "drug_role": "concomitant",
                }
            )
        else:
            other = pick(rng, PRODUCTS)
            role = "concomitant" if r() < 0.7 else "interacting"
            out.append(
                {
                    "product": other.code,
                    "product_reported": pick(rng, other.verbatims),
                    "rank": rank,
                    "drug_role": role,
                }
            )
    return out


def _events(rng: random.Random, onset: int, country: str, today: int) -> list[RecordDict]:
    """A Case's events; a later event's onset follows the first's by a few days, never past
    ``today`` (the product refuses a date after today, and a record received today may
    carry an onset on that very day)."""
    r = rng.random
    count = 1 + (r() < 0.35) + (r() < 0.12)
    seen: set[str] = set()
    out: list[RecordDict] = []
    for rank in range(1, count + 1):
        pt = pick(rng, PREFERRED_TERMS)
        if pt.code in seen:
            continue
        seen.add(pt.code)
        event: RecordDict = {"event_reported": pick(rng, pt.verbatims), "rank": rank}
        if r() < 0.92:
            event["meddra_pt_code"], event["meddra_pt"] = pt.code, pt.term
        if rank == 1 or r() < 0.5:
            day = min(onset + int(r() * 3) * (rank - 1), today)
            event["onset"] = iso_day(day) if r() < 0.9 else iso_day(day)[:7]
        if pt.term == "Death":
            event["seriousness"] = ["death"]
        elif r() < 0.2:
            event["seriousness"] = [pick(rng, _SERIOUSNESS)]
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
        record["study_arm"] = pick(rng, STUDY_ARMS[:2])
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
