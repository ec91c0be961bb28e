"""Which organization a record named by id belongs to, for the calling key (docs/api.md
"Tenancy").

Record ids are unique per organization, not globally: ``ORG-A`` and ``ORG-B`` may
each hold an Inbox Item ``X``, and they are two records (stored as ``ORG-A|X`` and
``ORG-B|X``, :func:`indexer.records.doc_key`). Routes keep their URLs
(``/v1/inbox-items/{id}``): the organization comes from the API key.

* A key of one organization reads and writes that organization's records only; the
  same id elsewhere is never looked at, so no answer depends on it.
* A key of several organizations may name one with the ``organization`` query
  parameter (403 when the key lacks it; :meth:`~service.auth.Principal.narrowed`, applied
  by every route's permission dependency). Without it, the id is looked
  up in each of the key's organizations: one holder is the record, none is 404, more
  than one is 422 naming the ``organization`` parameter (:func:`locate`).

    >>> from service.auth import Principal
    >>> p = Principal("k", frozenset({"ORG-A", "ORG-B"}), frozenset({"promote"}))
    >>> sorted(p.narrowed("ORG-B").organizations), p.narrowed(None) is p
    (['ORG-B'], True)
    >>> choose(p, "inbox_item", "X", ["ORG-A"])
    'ORG-A'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from indexer.records import Kind
from indexer.store import RecordStore, StoredRecord
from service.auth import Principal
from service.errors import InvalidInput, NotFound

#: The query parameter a key of several organizations names one with.
ORGANIZATION_PARAM = "organization"


class AmbiguousRecord(InvalidInput):
    """422: the id exists in more than one of the key's organizations; name one."""

    def __init__(self, kind: str, record_id: str, organizations: Sequence[str]) -> None:
        super().__init__(
            [
                {
                    "field": ORGANIZATION_PARAM,
                    "value": None,
                    "error": (
                        f"{kind} {record_id!r} exists in several organizations of this API key "
                        f"({', '.join(organizations)}); name one with the query parameter "
                        f"?{ORGANIZATION_PARAM}="
                    ),
                }
            ]
        )


def choose(principal: Principal, kind: str, record_id: str, holders: Sequence[str]) -> str:
    """The organization of ``record_id`` among ``holders`` (those of the key's organizations
    that hold it): exactly one, else 404 (none) or 422 (several, :class:`AmbiguousRecord`)."""
    mine = sorted(o for o in holders if principal.may_access(o))
    if not mine:
        raise NotFound(kind, record_id)
    if len(mine) > 1:
        raise AmbiguousRecord(kind, record_id, mine)
    return mine[0]


def locate(
    principal: Principal,
    kind: str,
    record_id: str,
    holders: Callable[[list[str]], list[str]],
) -> str:
    """The organization whose record ``record_id`` the caller means.

    A key of one organization gets that organization without a lookup (whether the
    record exists is for the read that follows), so nothing another organization
    stores changes what such a key is answered. ``holders(organizations)`` says which
    of the key's organizations hold the id.
    """
    orgs = sorted(principal.organizations)
    if len(orgs) == 1:
        return orgs[0]
    return choose(principal, kind, record_id, holders(orgs))


def find(store: RecordStore, principal: Principal, kind: str, record_id: str) -> StoredRecord:
    """The record (a Case's latest version) the caller names by id; 404 when none of the
    key's organizations holds it, 422 when several do (:func:`locate`)."""
    organization = locate(
        principal, kind, record_id, lambda orgs: store.holders(Kind(kind), record_id, orgs)
    )
    stored = store.get(Kind(kind), organization, record_id)
    if stored is None:
        raise NotFound(kind, record_id)
    return stored
