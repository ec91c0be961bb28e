"""M1: which organization's record an id names for a key (``service.tenancy``), without an
engine: the holders are given."""

from __future__ import annotations

import pytest

from service.errors import Forbidden, NotFound
from service.tenancy import AmbiguousRecord, choose, locate
from tests.keys import principal

ONE = principal("promote", orgs=("ORG-A",))
TWO = principal("promote", orgs=("ORG-A", "ORG-B"))


@pytest.mark.parametrize(
    ("holders", "expected"),
    [
        (["ORG-A"], "ORG-A"),
        (["ORG-B"], "ORG-B"),
        (["ORG-B", "ORG-C"], "ORG-B"),  # another organization's holding never counts
        ([], NotFound),
        (["ORG-C"], NotFound),
        (["ORG-A", "ORG-B"], AmbiguousRecord),
    ],
    ids=["one-holder-a", "one-holder-b", "foreign-holder-ignored", "none", "only-foreign", "both"],
)
def test_M1_a_key_of_two_organizations_gets_the_one_that_holds_the_id(
    holders: list[str], expected: str | type[Exception]
) -> None:
    if isinstance(expected, str):
        assert choose(TWO, "inbox_item", "X", holders) == expected
    else:
        with pytest.raises(expected):
            choose(TWO, "inbox_item", "X", holders)


def test_M1_an_ambiguous_id_is_a_422_naming_the_organization_parameter() -> None:
    with pytest.raises(AmbiguousRecord) as err:
        choose(TWO, "case", "C-1", ["ORG-A", "ORG-B"])
    (detail,) = err.value.details
    assert detail["field"] == "organization" and "?organization=" in detail["error"]
    assert err.value.status_code == 422


def test_M1_a_key_of_one_organization_is_never_looked_up_elsewhere() -> None:
    def holders(orgs: list[str]) -> list[str]:
        raise AssertionError(f"looked up {orgs}")

    assert locate(ONE, "inbox_item", "X", holders) == "ORG-A"
    assert locate(TWO.narrowed("ORG-B"), "inbox_item", "X", holders) == "ORG-B"


def test_M1_naming_an_organization_narrows_the_key_or_is_403() -> None:
    assert TWO.narrowed("ORG-B").organizations == frozenset({"ORG-B"})
    assert TWO.narrowed(None) is TWO and ONE.narrowed("ORG-A") is ONE
    assert TWO.narrowed("ORG-A").key_id == TWO.key_id  # idempotency keys stay the key's
    with pytest.raises(Forbidden):
        ONE.narrowed("ORG-B")
