"""Detection profiles (M23-M25) and the compared fields, as data.

A profile says which categories rank in which order, how many products and
events per record are compared, and whether matches carry a likely/possible
tag. The fields themselves are declared once, in the field registry
(``indexer.fields``): their category (M14), whether they *identify* a record,
and under which profiles they are compared. A profile compares the fields whose
``profiles`` name it (``Profile.fields``): only those rank (M13/M14, M12's
subject tiers, tags, status bars), make ID Matches (identifiers, M10), show in
the comparison table and retrieve candidates.

Supporting fields (patient sex, reporter qualification) are compared, shown
and counted like the others, but a value shared by half the population
identifies no one: on its own a supporting field neither makes a candidate a
Possible Match (M13) nor lifts it into a higher category (M14), nor rescues a
different reporter country (M5). This is a deliberate reading of the seed,
which distinguishes "fields used to identify matches" from informational ones.

    >>> PROFILES["deep_22r3"].category_order
    ('patient', 'reporter', 'product', 'event', 'study')
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from indexer.fields import FIELDS, MRN_KINDS, RANKED_FIELDS, FieldSpec
from matcher.model import Category, ProfileName

#: The fields that count for M13/M14 and their category, declared in ``indexer.fields``
#: (re-exported here for the matcher).
__all__ = [
    "FIELD_BY_KEY",
    "MRN_KINDS",
    "PROFILES",
    "RANKED_FIELDS",
    "FieldSpec",
    "Profile",
    "get_profile",
    "profiles_for",
]
FIELD_BY_KEY: dict[str, FieldSpec] = {f.key: f for f in RANKED_FIELDS}


@dataclass(frozen=True)
class Profile:
    """One detection profile."""

    name: ProfileName
    #: M14 (enhanced) / M25 category order, highest first.
    category_order: tuple[Category, ...]
    #: Products and events compared per record, by rank (1 = primary).
    depth: int
    #: Whether matches carry a likely/possible tag, and only tagged ones are listed (M24).
    tags: bool
    #: M24: only candidates meeting the likely/possible criteria are listed.
    strict_tags: bool = False
    #: The fields this profile compares (``FieldSpec.profiles``): only they rank, show in
    #: the comparison table and retrieve (:func:`profiles_for` derives it from a registry).
    fields: frozenset[str] = frozenset(f.key for f in FIELDS)
    #: Positions in an Evaluation's ``values`` of the ranked fields it does not compare.
    skipped: tuple[int, ...] = field(init=False, default=(), compare=False)
    #: Whether it compares identifiers (M10's ID Matches) and EDC subjects (M12's first tier).
    ids: bool = field(init=False, default=True, compare=False)
    edc: bool = field(init=False, default=True, compare=False)

    def __post_init__(self) -> None:
        skipped = tuple(i for i, f in enumerate(RANKED_FIELDS) if f.key not in self.fields)
        object.__setattr__(self, "skipped", skipped)
        object.__setattr__(self, "ids", "identifiers.any" in self.fields)
        object.__setattr__(self, "edc", "patient.edc_subject" in self.fields)

    def category_rank(self, category: Category) -> int:
        return self.category_order.index(category)

    def compares(self, key: str) -> bool:
        """Whether this profile compares the field ``key`` (``patient.initials``, ...)."""
        return key in self.fields


_PROFILES: dict[str, Profile] = {
    # M23: the rules of §5; every Case Product and Adverse Event is compared (seed: "Case
    # Product", "Adverse Event", the table showing up to three matching ones).
    "enhanced": Profile(
        "enhanced", ("patient", "study", "reporter", "product", "event"), depth=1000, tags=False
    ),
    # M24: primary and up to 10 non-primary products and events, likely/possible tags.
    "deep_22r1": Profile(
        "deep_22r1",
        ("patient", "study", "reporter", "product", "event"),
        depth=11,
        tags=True,
        strict_tags=True,
    ),
    # M25: likely on identifier / MRN / study name, possible on any field; no Study rank.
    "deep_22r3": Profile(
        "deep_22r3", ("patient", "reporter", "product", "event", "study"), depth=11, tags=True
    ),
}


def profiles_for(registry: Iterable[FieldSpec]) -> dict[str, Profile]:
    """The profiles with the fields each compares in ``registry`` (its ``profiles``)."""
    registry = tuple(registry)
    out: dict[str, Profile] = {}
    for name, profile in _PROFILES.items():
        out[name] = replace(
            profile, fields=frozenset(f.key for f in registry if name in f.profiles)
        )
    return out


#: The detection profiles, comparing the fields the registry (``indexer.fields``) says.
PROFILES: dict[str, Profile] = profiles_for(FIELDS)


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(
            f"unknown detection profile {name!r}; expected one of {', '.join(PROFILES)}"
        ) from None
