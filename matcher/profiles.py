"""Detection profiles (M23-M25) and the compared fields, as data.

A profile says which categories rank in which order, how many products and
events per record are compared, and whether matches carry a likely/possible
tag. The fields themselves are declared once, in the field registry
(``indexer.fields``): their category (M14), whether they *identify* a record,
and under which profiles they are compared.

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

from dataclasses import dataclass

from indexer.fields import MRN_KINDS, RANKED_FIELDS, FieldSpec
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

    def category_rank(self, category: Category) -> int:
        return self.category_order.index(category)


PROFILES: dict[str, Profile] = {
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


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(
            f"unknown detection profile {name!r}; expected one of {', '.join(PROFILES)}"
        ) from None
