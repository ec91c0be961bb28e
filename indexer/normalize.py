"""Normalization rules N1-N7 as pure functions (SPEC §3).

Every function takes raw values and returns the normalized form, or ``None``
when the value carries no information (N5) and so must never match anything.
The same functions build index documents and compare fields, so an indexed
value and a compared value can never disagree.

    >>> normalize_text("J.-P. O'Néil")
    'jp oneil'
    >>> normalize_initials("J.S.")
    'js'
    >>> name_tokens("Smith", "Jacob") == name_tokens("Jacob Smith", None)
    True
    >>> normalize_country("United States"), normalize_country("USA")
    ('US', 'US')
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import pycountry
from unidecode import unidecode

#: Values that mean "no information" (N5), compared after :func:`normalize_text`.
NO_INFORMATION: frozenset[str] = frozenset(
    {
        "",
        "unknown",
        "unk",
        "privacy",
        "msk",
        "masked",
        "asku",
        "nask",
        "ni",
        "na",
        "n a",
        "none",
        "null",
        "not available",
        "not known",
        "not reported",
        "unspecified",
        "redacted",
        "xx",
        "xxx",
    }
)

#: Placeholder values written by promote-to-multiple (P8); they never match (N5).
PLACEHOLDER_PREFIX = "placeholder"

_PUNCT_DROP = re.compile(r"[.'`´’‘\"]")
_PUNCT_SPACE = re.compile(r"[^0-9a-z]+")
_SPACES = re.compile(r"\s+")


def fold(text: str) -> str:
    """Transliterate to ASCII and case-fold, nothing else (N1's first half)."""
    return unidecode(unicodedata.normalize("NFKC", text)).casefold()


#: Distinct texts whose :func:`normalize_text` is kept (names, products, events repeat:
#: a bulk run normalizes the same few thousand values again and again).
TEXT_CACHE_SIZE = 1 << 17


@lru_cache(maxsize=TEXT_CACHE_SIZE)
def normalize_text(value: str | None) -> str | None:
    """N1: ASCII, case-folded, punctuation without identity removed, white space collapsed.

    Apostrophes and dots join (``O'Neil`` -> ``oneil``, ``J.P.`` -> ``jp``); hyphens,
    slashes and other separators become spaces, except that a hyphen between two
    one-letter parts joins them (``J.-P.`` -> ``jp``). Returns ``None`` for
    no-information values (N5).
    """
    if value is None:
        return None
    text = fold(value)
    text = _PUNCT_DROP.sub("", text)
    text = re.sub(r"\b([a-z])\s*-\s*(?=[a-z]\b)", r"\1", text)
    text = _PUNCT_SPACE.sub(" ", text)
    text = _SPACES.sub(" ", text).strip()
    if is_no_information(text):
        return None
    return text


def is_no_information(normalized: str | None) -> bool:
    """N5: true for empty, unknown, masked, privacy and placeholder values."""
    if normalized is None:
        return True
    return normalized in NO_INFORMATION or normalized.startswith(PLACEHOLDER_PREFIX)


def normalize_initials(value: str | None) -> str | None:
    """N2: initials as a letter sequence without separators (``J.S.``, ``j s``, ``JS`` -> ``js``)."""
    text = normalize_text(value)
    if text is None:
        return None
    letters = text.replace(" ", "")
    if is_no_information(letters):
        return None
    return letters


def name_tokens(first: str | None, last: str | None) -> tuple[str, ...]:
    """N3: a person's name as a sorted tuple of tokens, order- and field-independent.

    ``("Jacob", "Smith")``, ``("Smith", "Jacob")`` and ``("Jacob Smith", None)`` are equal.
    A token that means no information on its own (``Smith UNK``) is dropped (N5), so
    how the words are split across the two fields never changes the result.
    """
    tokens: list[str] = []
    for part in (first, last):
        text = normalize_text(part)
        if text:
            tokens.extend(t for t in text.split() if not is_no_information(t))
    return tuple(sorted(tokens))


def normalize_name(value: str | None) -> str | None:
    """N1 for one name field (first or last), ``None`` when no information."""
    return normalize_text(value)


def normalize_id(value: str | None) -> str | None:
    """N4: identifiers are exact after trimming and case folding; nothing else changes."""
    if value is None:
        return None
    text = value.strip().casefold()
    if not text or text in {"unk", "unknown", "asku", "nask", "msk", "ni", "n/a", "na"}:
        return None
    return text


_COUNTRY_ALIASES: dict[str, str] = {
    "usa": "US",
    "u s a": "US",
    "u s": "US",
    "united states of america": "US",
    "america": "US",
    "uk": "GB",
    "u k": "GB",
    "great britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "south korea": "KR",
    "korea": "KR",
    "north korea": "KP",
    "russia": "RU",
    "iran": "IR",
    "vietnam": "VN",
    "czech republic": "CZ",
    "bolivia": "BO",
    "venezuela": "VE",
    "tanzania": "TZ",
    "syria": "SY",
    "laos": "LA",
    "moldova": "MD",
    "taiwan": "TW",
    "holland": "NL",
    "the netherlands": "NL",
    "ivory coast": "CI",
    "turkey": "TR",
    "swaziland": "SZ",
    "macedonia": "MK",
    "burma": "MM",
    "cape verde": "CV",
    "east timor": "TL",
    "vatican": "VA",
    "palestine": "PS",
    "brunei": "BN",
}


@lru_cache(maxsize=4096)
def normalize_country(value: str | None) -> str | None:
    """N6: an ISO 3166-1 alpha-2 code, from a code (alpha-2/alpha-3/numeric) or a name.

    Uses pycountry's maintained ISO 3166 tables; a handful of common English
    short forms (``UK``, ``Russia``) are aliases. Unknown text returns ``None``
    rather than a guess, so an unrecognised country never matches. A two-letter
    ISO code is read as a code before N5, so ``NI`` is Nicaragua and ``NA``
    Namibia (E2B carries null flavors apart from the value).
    """
    if value is not None and len(code := value.strip()) == 2 and code.isalpha():
        by_code = pycountry.countries.get(alpha_2=code.upper())
        if by_code is not None:
            return str(by_code.alpha_2)
    text = normalize_text(value)
    if text is None:
        return None
    if text in _COUNTRY_ALIASES:
        return _COUNTRY_ALIASES[text]
    compact = text.replace(" ", "").upper()
    found = None
    if len(compact) == 2:
        found = pycountry.countries.get(alpha_2=compact)
    elif len(compact) == 3:
        found = (
            pycountry.countries.get(numeric=compact)
            if compact.isdigit()
            else pycountry.countries.get(alpha_3=compact)
        )
    if found is not None:
        return str(found.alpha_2)
    return _country_by_name().get(text)


@lru_cache(maxsize=1)
def _country_by_name() -> dict[str, str]:
    names: dict[str, str] = {}
    for country in pycountry.countries:
        for attr in ("name", "official_name", "common_name"):
            raw = getattr(country, attr, None)
            if raw:
                key = normalize_text(raw)
                if key:
                    names.setdefault(key, country.alpha_2)
    return names


def normalize_meddra_code(value: str | None) -> str | None:
    """N7: a MedDRA PT code is eight digits; anything else is not a code."""
    if value is None:
        return None
    code = value.strip()
    return code if code.isdigit() and len(code) == 8 else None


def event_key(
    meddra_pt_code: str | None, event_reported: str | None, meddra_pt: str | None = None
) -> str | None:
    """N7: the value an event is compared by: ``pt:<code>`` when coded, else the verbatim text.

    Two events are equal when both are coded and the codes match, or when
    either is uncoded and the normalized verbatim texts (falling back to the
    PT term) match; see ``matcher`` for the comparison itself.
    """
    code = normalize_meddra_code(meddra_pt_code)
    if code:
        return f"pt:{code}"
    text = normalize_text(event_reported) or normalize_text(meddra_pt)
    return f"txt:{text}" if text else None


def normalize_product(value: str | None) -> str | None:
    """Product (Reported) text, N1-normalized; tokens are compared fuzzily by the matcher."""
    return normalize_text(value)


def normalize_code(value: str | None) -> str | None:
    """A coded value (company product id, study number, MRN, EDC subject): trimmed, case-folded."""
    return normalize_id(value)


#: Normalizers by the name a field declaration gives (``indexer.fields.FieldSpec.normalizer``):
#: stored JSON value in, normalized JSON value (or ``None`` for no information) out.
NORMALIZERS: dict[str, Callable[[Any], Any]] = {
    "code": lambda value: normalize_code(value) if isinstance(value, str) else None,
    "text": lambda value: normalize_text(value) if isinstance(value, str) else None,
}
