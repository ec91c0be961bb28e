"""The field registry: one declaration per compared or protected field, read by every stage.

Each :class:`FieldSpec` says, once, everything casematch does with one field:

- ``group``: the part of a record it belongs to (M14's categories, plus details
  and identifiers);
- ``comparator``: which M16-M17 rule compares it (``matcher.compare`` holds the
  functions; ``matcher.reference`` applies them by this name);
- ``keys``: the retrieval key kinds its values are indexed under; how each kind's
  values are made is :data:`KEY_VALUES` (where they are in an index document, and
  which producer of ``indexer.documents.KEY_PRODUCERS`` makes the keys: the value,
  folded, the dates a date lies within, product words, paired with the study, an
  event's text with its code). ``indexer.documents.retrieval_keys`` iterates the
  fields' kinds; a kind without a producer fails at import and in a test;
- ``view``: whether its value travels in the match view: ``indexer.documents.VIEW_LAYOUT``
  lays the view out in the order of :data:`FIELDS` (products' and events' fields as one
  list each), and ``matcher.facts`` writes its reader from that layout;
- ``row``: its comparison-table row (section, field; M19);
- ``phi``: whether its values are PHI, masked for callers without ``read_phi`` (M20);
- ``bar``: which status bar it lights (M18);
- ``ranked`` / ``identifying``: whether it counts for M13/M14, and whether a match on it
  alone identifies a record;
- ``profiles``: the detection profiles that compare it (``matcher.profiles.Profile.fields``):
  under any other profile it has no result in ranking (nor in M12's subject tiers or
  M24-M25's tags), no table row, lights no bar and retrieves nothing; left out, the
  identifiers make no ID Matches (M10). The reporter country stays M5's scope rule.

Every field is declared in all three profiles, and that is the reading of SPEC and the
seeds, not a default left in place. SPEC M23 makes ``enhanced`` "the rules above", whose
M14 lists the ranked fields; M24 says ``deep_22r1`` compares non-primary products and
events *too* (the same fields, deeper, tagged); M25 says ``deep_22r3`` lists a record
when *any* field matches. The seed's per-option field lists do differ - options 1 and 2
list neither the patient's names nor Product (Reported), 22R3's list lacks Study Product
and the event's country and onset - but SPEC M14 adds the first two for every profile,
22R3's own note that a blinded case's Study Product cannot be compared says it compares
it, and 22R3's list names what its *search* considers, not its comparison page. What
the profiles do differ in (product and event depth, tags, category order) is
``matcher.profiles``.

The index document builder, the query builder, ranking, the comparison table,
status bars, masking (record reads, tables, error excerpts) and the reference
ranking of the tests all derive from :data:`FIELDS`; the fast evaluation in
``matcher.evaluate`` is proved equal to the registry-driven one by a property
test. This module is data: it imports nothing of casematch.

    >>> [str(kind) for kind in FIELD_BY_KEY["patient.last_name"].keys]
    ['patient_last_name', 'patient_name_token']
    >>> KEY_VALUES[KeyKind.PATIENT_DOB_WITHIN]
    KeyValues(source='patient.dob.value', produce='dates_within')
    >>> is_phi_path("patient.mrn.gp"), is_phi_path("products.product")
    (True, False)
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

#: M14's categories of ranked fields.
Category = Literal["patient", "study", "reporter", "product", "event"]
Group = Category | Literal["details", "identifiers"]
#: M16-M17 rules by name (``matcher.compare.COMPARATORS`` maps each to its function).
Comparator = Literal[
    "exact",  # M16: equal normalized values
    "name",  # M17/N3: equal, similar, or similar across first/last (``compare_name_rows``)
    "dob",  # equal at the same precision, or one partial date containing the other
    "window_date",  # M17: equal, or within 30 days
    "product_text",  # M17: equal, or token-similar sharing a word
    "event_text",  # N7: equal verbatim text unless both events are coded differently
    "onset",  # M17: window date, or day and month swapped
]
Bar = Literal["patient", "country", "reporter", "products", "events"]
ProfileName = Literal["enhanced", "deep_22r1", "deep_22r3"]
ALL_PROFILES: frozenset[ProfileName] = frozenset({"enhanced", "deep_22r1", "deep_22r3"})

#: MRN kinds, in the order records, documents and tables list them.
MRN_KINDS: tuple[str, ...] = ("gp", "specialist", "hospital", "investigation")
#: Identifier kinds with one value per record (besides the list of case identifiers).
ID_KINDS: tuple[str, ...] = (
    "wwuid",
    "uid",
    "external_system_uid",
    "case_vault_global_id",
    "event_vault_global_id",
)


class KeyKind(StrEnum):
    """What a retrieval key holds: ``{scope}{kind}:{value}`` (``indexer.documents``)."""

    IDENTIFIER = "identifier"
    STUDY_NUMBER = "study_number"
    PATIENT_INITIALS = "patient_initials"
    PATIENT_FIRST_NAME = "patient_first_name"
    PATIENT_LAST_NAME = "patient_last_name"
    PATIENT_NAME_TOKEN = "patient_name_token"
    PATIENT_DOB = "patient_dob"
    #: A less precise date of birth a record's date lies within (``1980``, ``1980-06``).
    PATIENT_DOB_WITHIN = "patient_dob_within"
    MRN_GP = "mrn_gp"
    MRN_SPECIALIST = "mrn_specialist"
    MRN_HOSPITAL = "mrn_hospital"
    MRN_INVESTIGATION = "mrn_investigation"
    EDC_SUBJECT = "edc_subject"
    #: M12: study number and MRN-Investigation; study number and initials.
    STUDY_MRN_INVESTIGATION = "study_mrn_investigation"
    STUDY_INITIALS = "study_initials"
    REPORTER_FIRST_NAME = "reporter_first_name"
    REPORTER_LAST_NAME = "reporter_last_name"
    REPORTER_NAME_TOKEN = "reporter_name_token"
    PRODUCT = "product"
    STUDY_PRODUCT = "study_product"
    PRODUCT_REPORTED = "product_reported"
    #: A word of a reported product text (:func:`product_words`).
    PRODUCT_WORD = "product_word"
    MEDDRA_PT = "meddra_pt"
    EVENT_REPORTED = "event_reported"
    #: N7: an event's comparison key (``pt:<code>`` or ``txt:<text>``, ``indexer.normalize``).
    EVENT_KEY = "event_key"
    #: A coded event's verbatim text with its code (``text|code``).
    EVENT_REPORTED_CODED = "event_reported_coded"


#: A key kind paired with a study number (``indexer.documents.study_pair``) starts with this.
IN_STUDY = "in_study."

#: How a key kind's values are made from the values found at its source (the functions are
#: ``indexer.documents.KEY_PRODUCERS``).
Producer = Literal[
    "value",  # the normalized value as it is
    "folded",  # case and accents folded (study numbers, ``indexer.documents.fold_key``)
    "dates_within",  # the less precise dates a ``YYYY[-MM[-DD]]`` date lies within
    "words",  # the product words of a text (:func:`product_words`)
    "in_study",  # ``{folded study number}|{value}``: paired with the record's study (M12)
    "coded_text",  # ``{text}|{code}`` of a coded event (an event of the index document)
]


@dataclass(frozen=True, slots=True)
class KeyValues:
    """Where a key kind's values are in an index document, and how they are made."""

    #: A path in the index document (``patient.mrn.gp``); lists on the way (``products``,
    #: ``name_tokens``) are walked, each of their values is one source value.
    source: str
    produce: Producer = "value"


#: Every key kind a non-generic field declares, with how its values are made. A generic
#: field (``FieldSpec.normalizer``) needs no entry: its first kind holds its normalized value.
KEY_VALUES: dict[KeyKind, KeyValues] = {
    KeyKind.IDENTIFIER: KeyValues("ids.all"),
    KeyKind.STUDY_NUMBER: KeyValues("study_number", "folded"),
    KeyKind.PATIENT_INITIALS: KeyValues("patient.initials"),
    KeyKind.PATIENT_FIRST_NAME: KeyValues("patient.first_name"),
    KeyKind.PATIENT_LAST_NAME: KeyValues("patient.last_name"),
    KeyKind.PATIENT_NAME_TOKEN: KeyValues("patient.name_tokens"),
    KeyKind.PATIENT_DOB: KeyValues("patient.dob.value"),
    KeyKind.PATIENT_DOB_WITHIN: KeyValues("patient.dob.value", "dates_within"),
    **{KeyKind(f"mrn_{kind}"): KeyValues(f"patient.mrn.{kind}") for kind in MRN_KINDS},
    KeyKind.EDC_SUBJECT: KeyValues("patient.edc_subject"),
    KeyKind.STUDY_MRN_INVESTIGATION: KeyValues("patient.mrn.investigation", "in_study"),
    KeyKind.STUDY_INITIALS: KeyValues("patient.initials", "in_study"),
    KeyKind.REPORTER_FIRST_NAME: KeyValues("reporter.first_name"),
    KeyKind.REPORTER_LAST_NAME: KeyValues("reporter.last_name"),
    KeyKind.REPORTER_NAME_TOKEN: KeyValues("reporter.name_tokens"),
    KeyKind.PRODUCT: KeyValues("products.product"),
    KeyKind.STUDY_PRODUCT: KeyValues("products.study_product"),
    KeyKind.PRODUCT_REPORTED: KeyValues("products.product_reported"),
    KeyKind.PRODUCT_WORD: KeyValues("products.product_text", "words"),
    KeyKind.MEDDRA_PT: KeyValues("events.meddra_pt_code"),
    KeyKind.EVENT_REPORTED: KeyValues("events.event_reported"),
    KeyKind.EVENT_KEY: KeyValues("events.key"),
    KeyKind.EVENT_REPORTED_CODED: KeyValues("events", "coded_text"),
}

#: Comparators of dates: their values travel in a match view as ``YYYY[-MM[-DD]]`` text and
#: are read back as ``indexer.dates.PartialDate``.
DATE_COMPARATORS: frozenset[str] = frozenset({"dob", "window_date", "onset"})


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field: how it is compared, retrieved, shown, masked and counted."""

    #: ``{group}.{name}``: the field's result key in ranking (``Evaluation.results``).
    key: str
    group: Group
    comparator: Comparator
    #: Where the field's value is in a stored record (``patient.mrn.gp``; lists are walked).
    path: str
    #: Its value in ``matcher.facts.Facts`` (``products.product`` for each product's).
    fact: str
    #: The comparison-table row (section, field), if the table shows one.
    row: tuple[str, str] | None
    keys: tuple[KeyKind, ...] = ()
    phi: bool = False
    bar: Bar | None = None
    #: Counted for M13/M14 (one result per ranked field in an Evaluation).
    ranked: bool = True
    #: A match on it alone identifies a record (M13); sex and qualification do not.
    identifying: bool = True
    profiles: frozenset[ProfileName] = ALL_PROFILES
    #: M8: never compared when either record is blinded (study products of blinded cases).
    hidden_when_blinded: bool = False
    #: For a field ``matcher.facts.Facts`` has no attribute of its own: the name of the
    #: function (``indexer.normalize.NORMALIZERS``) that normalizes its stored value. The
    #: value then travels generically: in the match view's last element and in
    #: ``Facts.extra[key]``, compared by ``comparator``, shown in its table row, and
    #: retrieved by its first key kind when it identifies (exact values only).
    normalizer: str | None = None
    #: Whether its value travels in the match view (``indexer.documents.VIEW_LAYOUT``), which
    #: every candidate is read from. Receipt and New Info Date are compared only in the
    #: comparison table (M19), from the stored records of the listed matches.
    view: bool = True
    #: The match model (``matcher.linkage``) tells a near miss from a disagreement here: a
    #: model-only level ``close`` between ``none`` and ``partial`` for a typo the
    #: comparator does not credit (names: Jaro-Winkler; dates: one digit or day and month
    #: swapped; numbers: one character). Ranking and the comparison table never see it.
    typos: bool = False

    @property
    def category(self) -> Category:
        """M14's category of a ranked field (its group)."""
        if self.group == "details" or self.group == "identifiers":
            raise ValueError(f"{self.key} is not ranked: it has no M14 category")
        return self.group


def _f(
    key: str,
    comparator: Comparator,
    *,
    path: str | None = None,
    fact: str | None = None,
    row: tuple[str, str] | None = None,
    keys: tuple[KeyKind, ...] = (),
    phi: bool = False,
    bar: Bar | None = None,
    ranked: bool = True,
    identifying: bool = True,
    hidden_when_blinded: bool = False,
    normalizer: str | None = None,
    view: bool = True,
    typos: bool = False,
) -> FieldSpec:
    group, name = key.split(".", 1)
    section = {"product": "products", "event": "events"}.get(group, group)
    return FieldSpec(
        key=key,
        group=group,  # type: ignore[arg-type]
        comparator=comparator,
        path=path or key.replace("product.", "products.").replace("event.", "events."),
        fact=fact or name,
        row=row or (section, name),
        keys=keys,
        phi=phi,
        bar=bar,
        ranked=ranked,
        identifying=identifying,
        hidden_when_blinded=hidden_when_blinded,
        normalizer=normalizer,
        view=view,
        typos=typos,
    )


K = KeyKind

#: Every compared field, in comparison-table order (M19). The ranked ones, in this order,
#: are an Evaluation's ``values``.
FIELDS: tuple[FieldSpec, ...] = (
    #: M10: any identifier against any identifier (the table lists them per kind pair).
    FieldSpec(
        "identifiers.any",
        "identifiers",
        "exact",
        "identifiers",
        "ids_all",
        None,
        (K.IDENTIFIER,),
        ranked=False,
    ),
    _f("details.report_type", "exact", path="report_type", ranked=False),
    _f("details.receipt_date", "window_date", path="receipt_date", ranked=False, view=False),
    _f("details.new_info_date", "window_date", path="new_info_date", ranked=False, view=False),
    _f(
        "patient.initials",
        "exact",
        keys=(K.PATIENT_INITIALS, K.STUDY_INITIALS),
        phi=True,
        bar="patient",
    ),
    _f(
        "patient.first_name",
        "name",
        keys=(K.PATIENT_FIRST_NAME, K.PATIENT_NAME_TOKEN),
        phi=True,
        bar="patient",
        typos=True,
    ),
    _f(
        "patient.last_name",
        "name",
        keys=(K.PATIENT_LAST_NAME, K.PATIENT_NAME_TOKEN),
        phi=True,
        bar="patient",
        typos=True,
    ),
    _f("patient.sex", "exact", phi=True, identifying=False),
    _f(
        "patient.dob",
        "dob",
        keys=(K.PATIENT_DOB, K.PATIENT_DOB_WITHIN),
        phi=True,
        bar="patient",
        typos=True,
    ),
    _f(
        "patient.mrn_gp",
        "exact",
        path="patient.mrn.gp",
        keys=(K.MRN_GP,),
        phi=True,
        bar="patient",
        typos=True,
    ),
    _f(
        "patient.mrn_specialist",
        "exact",
        path="patient.mrn.specialist",
        keys=(K.MRN_SPECIALIST,),
        phi=True,
        bar="patient",
        typos=True,
    ),
    _f(
        "patient.mrn_hospital",
        "exact",
        path="patient.mrn.hospital",
        keys=(K.MRN_HOSPITAL,),
        phi=True,
        bar="patient",
        typos=True,
    ),
    _f(
        "patient.mrn_investigation",
        "exact",
        path="patient.mrn.investigation",
        keys=(K.MRN_INVESTIGATION, K.STUDY_MRN_INVESTIGATION),
        phi=True,
        bar="patient",
        typos=True,
    ),
    _f("patient.edc_subject", "exact", keys=(K.EDC_SUBJECT,), phi=True, ranked=False),
    _f("study.study_number", "exact", path="study_number", keys=(K.STUDY_NUMBER,)),
    _f(
        "reporter.first_name",
        "name",
        fact="reporter_first",
        keys=(K.REPORTER_FIRST_NAME, K.REPORTER_NAME_TOKEN),
        phi=True,
        bar="reporter",
        typos=True,
    ),
    _f(
        "reporter.last_name",
        "name",
        fact="reporter_last",
        keys=(K.REPORTER_LAST_NAME, K.REPORTER_NAME_TOKEN),
        phi=True,
        bar="reporter",
        typos=True,
    ),
    _f("reporter.qualification", "exact", bar="reporter", identifying=False),
    _f("reporter.country", "exact", fact="country", phi=True, bar="country", ranked=False),
    _f(
        "product.product_reported",
        "product_text",
        fact="products.product_reported",
        keys=(K.PRODUCT_REPORTED, K.PRODUCT_WORD),
        bar="products",
    ),
    _f("product.product", "exact", fact="products.product", keys=(K.PRODUCT,), bar="products"),
    _f(
        "product.study_product",
        "exact",
        fact="products.study_product",
        keys=(K.STUDY_PRODUCT,),
        hidden_when_blinded=True,
    ),
    _f(
        "event.event_reported",
        "event_text",
        fact="events.event_reported",
        keys=(K.EVENT_REPORTED, K.EVENT_KEY, K.EVENT_REPORTED_CODED),
        bar="events",
    ),
    _f(
        "event.meddra_pt",
        "exact",
        path="events.meddra_pt_code",
        fact="events.meddra_pt_code",
        keys=(K.MEDDRA_PT,),
        bar="events",
    ),
    _f("event.country", "exact", fact="events.country", ranked=False),
    _f("event.onset", "onset", fact="events.onset", phi=True, ranked=False),
)
FIELD_BY_KEY: dict[str, FieldSpec] = {f.key: f for f in FIELDS}
#: The fields that count for M13/M14, in the order of an Evaluation's ``values``.
RANKED_FIELDS: tuple[FieldSpec, ...] = tuple(f for f in FIELDS if f.ranked)
#: The fields whose values travel generically (``FieldSpec.normalizer``), in this order in
#: a match view's last element.
GENERIC_FIELDS: tuple[FieldSpec, ...] = tuple(f for f in FIELDS if f.normalizer)


@dataclass(frozen=True, slots=True)
class ProtectedText:
    """Free text that carries patient data without being compared (M20's free text)."""

    path: str
    why: str


#: Stored-record text masked like the PHI fields above: SPEC M20 names the narrative and
#: EDC subject identifiers; E2B R3 lets a sender mask (nullFlavor MSK) the reporter's
#: name, organization and address as privacy data (C.2.r.1-C.2.r.2), which makes the
#: reporter's organization identifying too.
PROTECTED_TEXT: tuple[ProtectedText, ...] = (
    ProtectedText("narrative", "case narrative: free text about the patient (M20)"),
    ProtectedText("reporter.organization", "E2B C.2.r.2: privacy-protected reporter data"),
)

#: Every stored-record path whose values are PHI/PII (M20): masked in record reads,
#: comparison tables and error excerpts for callers without ``read_phi``, never logged.
PHI_PATHS: frozenset[str] = frozenset(
    {f.path for f in FIELDS if f.phi} | {t.path for t in PROTECTED_TEXT}
)
#: Comparison-table rows (section, field) whose values are PHI: the PHI fields' rows,
#: and the cross-field rows of PHI name fields (``first_name~last_name``).
PHI_ROWS: frozenset[tuple[str, str]] = frozenset(
    {f.row for f in FIELDS if f.phi and f.row is not None}
    | {
        (section, cross)
        for f in FIELDS
        if f.phi and f.comparator == "name" and f.row is not None
        for section in (f.row[0],)
        for cross in ("first_name~last_name", "last_name~first_name")
    }
)

MASK = "***"


def is_phi_path(path: str) -> bool:
    """Whether a record location (``patient.dob``, ``events.onset``; no list indices) is PHI.

    Reasons omitted for patient fields say which PHI a sender withheld: PHI too.
    """
    return (
        any(path == p or path.startswith(p + ".") for p in PHI_PATHS)
        or path.startswith("patient.reason_omitted")
        or path.startswith("patient.mrn")
    )


def mask_record(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of a stored record's JSON with every non-empty PHI value replaced by ``"***"``."""
    out = copy.deepcopy(data)
    for path in PHI_PATHS:
        _mask_path(out, path.split("."))
    return out


def _mask_path(node: Any, parts: list[str]) -> None:
    if isinstance(node, list):
        for item in node:
            _mask_path(item, parts)
        return
    if not isinstance(node, dict) or parts[0] not in node:
        return
    if len(parts) == 1:
        if node[parts[0]] not in (None, "", [], {}):
            node[parts[0]] = MASK
        return
    _mask_path(node[parts[0]], parts[1:])


#: The most characters of a non-PHI value an error body repeats.
EXCERPT_CHARS = 40


def masked_excerpt(path: str, value: Any) -> Any:
    """What an error body may repeat of ``value`` at ``path``: ``***`` for PHI, a short
    excerpt of other text (``…`` marks a cut), numbers and booleans as they are, nothing
    of lists and objects."""
    if value is None:
        return None
    if is_phi_path(path):
        return MASK
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict | list):
        return None
    text = str(value)
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"


def product_words(text: str) -> frozenset[str]:
    """The words of a reported product text that similar texts must share (M17) and that
    retrieval asks for: whitespace tokens of three letters or more, letters only."""
    return frozenset(t for t in text.split() if len(t) >= 3 and t.isalpha())


def kinds_of(groups: frozenset[Group]) -> frozenset[KeyKind]:
    """The key kinds of every field of ``groups``."""
    return frozenset(KeyKind(k) for f in FIELDS if f.group in groups for k in f.keys)


#: Key kinds below the Study tier (M14), which a record with a study number also holds
#: paired with it (``indexer.documents.study_pair``).
STUDY_PAIRED: frozenset[str] = frozenset(
    str(k) for k in kinds_of(frozenset({"reporter", "product", "event"}))
)
#: Key kinds of the fields below the Patient tier, also held per reporter country (M5).
COUNTRY_SCOPED: frozenset[str] = frozenset(
    {str(K.STUDY_NUMBER), *STUDY_PAIRED, *(IN_STUDY + kind for kind in STUDY_PAIRED)}
)
#: Key kinds of the single names fuzzy lookups compare (``indexer.names``): each name
#: field's own kind (its first; the others hold its tokens).
NAME_KINDS: frozenset[str] = frozenset(str(f.keys[0]) for f in FIELDS if f.comparator == "name")
