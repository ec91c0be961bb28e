"""ICH E2B(R3) identifiers, code systems and code lists, as data.

The OIDs and codes come from the ICH E2B(R3) Implementation Guide (HL7 v3
ICSR, code system ``2.16.840.1.113883.3.989.2.1.1.*`` and identifier roots
``2.16.840.1.113883.3.989.2.1.3.*``). Each mapping turns an ICH code into the
value the record model (``indexer.records``) uses; an unknown code maps to
nothing rather than to a guess.

    >>> QUALIFICATIONS["1"], DRUG_ROLES["2"], quantity_unit("a")
    ('physician', 'concomitant', 'year')
"""

from __future__ import annotations

_ICH_ROOT = "2.16.840.1.113883.3.989.2.1.3"
_ICH_CS = "2.16.840.1.113883.3.989.2.1.1"

# -- identifier roots (id/@root) ------------------------------------------------------
#: C.1.1 Sender's (case) safety report unique identifier (also N.2.r.1 at message level).
ROOT_SENDER_REPORT_ID = f"{_ICH_ROOT}.1"
#: C.1.8.1 Worldwide unique case identification number (also C.1.10.r linked reports).
ROOT_WWUID = f"{_ICH_ROOT}.2"
#: C.1.9.1.r.2 Other case identifiers in previous transmissions.
ROOT_OTHER_CASE_ID = f"{_ICH_ROOT}.3"
#: C.5.3 Sponsor study number.
ROOT_STUDY_NUMBER = f"{_ICH_ROOT}.5"

# -- code systems (code/@codeSystem) ---------------------------------------------------
CS_REPORT_TYPE = f"{_ICH_CS}.2"
CS_OBSERVATION = f"{_ICH_CS}.19"
CS_ORGANIZER = f"{_ICH_CS}.20"
CS_REPORT_RELATION = f"{_ICH_CS}.22"
CS_INVESTIGATION_CHARACTERISTIC = f"{_ICH_CS}.23"
CS_MEDDRA = "2.16.840.1.113883.6.163"

# -- observation codes (code system CS_OBSERVATION) ------------------------------------
OBS_AGE = "3"  # D.2.2
OBS_AGE_GROUP = "4"  # D.2.3
OBS_BLINDED = "6"  # G.k.2.5
OBS_WEIGHT = "7"  # D.3
OBS_GESTATION = "16"  # D.2.2.1
OBS_HEIGHT = "17"  # D.4
OBS_DRUG_ROLE = "20"  # G.k.1 (interventionCharacterization)
OBS_REACTION = "29"  # E.i
OBS_REACTION_TRANSLATION = "30"  # E.i.1.2

#: E.i.3.2a-f seriousness criteria: observation code -> Seriousness value.
SERIOUSNESS: dict[str, str] = {
    "34": "death",
    "21": "life_threatening",
    "33": "hospitalization",
    "35": "disability",
    "12": "congenital_anomaly",
    "26": "other_medically_important",
}

#: HL7 null flavors that say why a value is absent -> ReasonOmitted.
NULL_FLAVORS: dict[str, str] = {
    "MSK": "masked",
    "ASKU": "asked_but_unknown",
    "NASK": "not_asked",
    "UNK": "unknown",
    "NI": "no_information",
}

#: C.1.3 Type of report.
REPORT_TYPES: dict[str, str] = {
    "1": "spontaneous",
    "2": "study",
    "3": "other",
    "4": "not_available_to_sender",
}

#: C.5.4 Study type where reaction(s) / event(s) were observed.
STUDY_TYPES: dict[str, str] = {
    "1": "clinical_trial",
    "2": "individual_patient_use",
    "3": "other_studies",
}

#: C.2.r.4 Qualification.
QUALIFICATIONS: dict[str, str] = {
    "1": "physician",
    "2": "pharmacist",
    "3": "other_health_professional",
    "4": "lawyer",
    "5": "consumer",
}

#: D.5 Sex (ISO/IEC 5218). 9 "not applicable" maps to nothing.
SEXES: dict[str, str] = {"0": "unknown", "1": "male", "2": "female"}

#: D.2.3 Patient age group (as per reporter).
AGE_GROUPS: dict[str, str] = {
    "0": "foetus",
    "1": "neonate",
    "2": "infant",
    "3": "child",
    "4": "adolescent",
    "5": "adult",
    "6": "elderly",
}

#: D.1.1.1-4 Source of the medical record number -> Mrn field.
MRN_KINDS: dict[str, str] = {"1": "gp", "2": "specialist", "3": "hospital", "4": "investigation"}

#: G.k.1 Characterisation of drug role.
DRUG_ROLES: dict[str, str] = {
    "1": "suspect",
    "2": "concomitant",
    "3": "interacting",
    "4": "drug_not_administered",
}

#: UCUM time units used by E2B(R3) ages and durations.
_TIME_UNITS: dict[str, str] = {
    "10.a": "decade",
    "a": "year",
    "mo": "month",
    "wk": "week",
    "d": "day",
    "h": "hour",
    "min": "minute",
}


def quantity_unit(ucum: str) -> str:
    """A UCUM unit as the record spells it: time units by name, others (kg, cm) as given."""
    return _TIME_UNITS.get(ucum, ucum)
