"""API-key authentication and the permission model (DESIGN "Security model").

Every ``/v1`` call carries an ``X-API-Key`` header. A key maps to a
:class:`~service.settings.ApiKey` (organizations + permissions) in
``Settings.api_keys``; the request then runs as a :class:`Principal`.

Permissions (decided here, documented in the README):

==================  ===========================================================
``read_matches``    read stored records, run duplicate checks, read results logs
``promote``         write records, promote and decide; implies ``read_matches``
``admin``           everything ``promote`` can do (it does **not** imply PHI)
``read_phi``        see PHI unmasked when ``mask_phi`` is on (M20); never
                    implied by another permission: PHI access is always explicit
==================  ===========================================================

    >>> p = Principal(key_id="demo", organizations=frozenset({"ORG-A"}),
    ...               permissions=frozenset({"promote"}))
    >>> p.can("read_matches"), p.can("read_phi"), p.may_access("ORG-B")
    (True, False, False)

401 = no key, an unknown key, or no keys configured at all (the message says
which); 403 = a known key without the permission or for another organization.
The key itself is never logged or echoed; :attr:`Principal.key_id` (the key's
configured ``name`` or a short hash) is what audit trails record.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Security
from fastapi.security import APIKeyHeader

from service.deps import SettingsDep
from service.errors import Forbidden, Unauthorized
from service.settings import ApiKey, Permission

API_KEY_HEADER = "X-API-Key"

#: Which held permissions satisfy a required one.
_IMPLIED_BY: dict[Permission, frozenset[Permission]] = {
    "read_matches": frozenset({"read_matches", "promote", "admin"}),
    "promote": frozenset({"promote", "admin"}),
    "admin": frozenset({"admin"}),
    "read_phi": frozenset({"read_phi"}),
}

api_key_header = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    description="An API key from CASEMATCH_API_KEYS.",
)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the organizations a key belongs to and what it may do."""

    key_id: str
    organizations: frozenset[str]
    permissions: frozenset[Permission]

    def can(self, permission: Permission) -> bool:
        return bool(self.permissions & _IMPLIED_BY[permission])

    def may_access(self, organization: str) -> bool:
        return organization in self.organizations

    def sees_phi(self, mask_phi: bool) -> bool:
        """Whether PHI is shown unmasked to this caller (M20)."""
        return not mask_phi or self.can("read_phi")

    def check_organization(self, organization: str) -> None:
        """Raise 403 unless this key belongs to ``organization``."""
        if not self.may_access(organization):
            raise Forbidden(f"this API key does not belong to organization {organization!r}")

    def narrowed(self, organization: str | None) -> Principal:
        """This principal acting within ``organization`` only (403 unless the key holds it);
        itself when none is named."""
        if organization is None:
            return self
        self.check_organization(organization)
        if self.organizations == frozenset({organization}):
            return self
        return Principal(
            key_id=self.key_id,
            organizations=frozenset({organization}),
            permissions=self.permissions,
        )


def key_id(key: str, api_key: ApiKey) -> str:
    """A non-secret name for a key (its configured name, else a short hash)."""
    if api_key.name:
        return api_key.name
    return "key-" + hashlib.sha256(key.encode()).hexdigest()[:10]


def resolve_key(presented: str | None, keys: dict[str, ApiKey]) -> Principal:
    """The principal for ``presented``; raises :class:`Unauthorized`.

    Every configured key is compared in constant time, and the loop does not
    stop at the first hit, so timing does not reveal how much of a key matched
    or which key it was.
    """
    if not keys:
        raise Unauthorized(
            "no API keys are configured on this server: set CASEMATCH_API_KEYS "
            "(or run `casematch serve --sample` for a local demo key)"
        )
    if not presented:
        raise Unauthorized(f"missing {API_KEY_HEADER} header")
    found: tuple[str, ApiKey] | None = None
    candidate = presented.encode()
    for key, api_key in keys.items():
        if hmac.compare_digest(candidate, key.encode()) and found is None:
            found = (key, api_key)
    if found is None:
        raise Unauthorized(f"invalid {API_KEY_HEADER}")
    key, api_key = found
    return Principal(
        key_id=key_id(key, api_key),
        organizations=frozenset(api_key.organizations),
        permissions=frozenset(api_key.permissions),
    )


def authenticate(
    settings: SettingsDep,
    presented: Annotated[str | None, Security(api_key_header)],
) -> Principal:
    """FastAPI dependency: the calling principal, or 401."""
    return resolve_key(presented, settings.api_keys)


#: The ``organization`` query parameter every ``/v1`` route takes (docs/api.md "Tenancy").
OrganizationParam = Annotated[
    str | None,
    Query(
        max_length=200,
        description="One of the key's organizations: the request acts within it only "
        "(needed when a key of several organizations names an id that more than one of "
        "them holds; 403 when the key lacks it)",
    ),
]


def require(*permissions: Permission) -> Callable[..., Principal]:
    """A dependency that admits principals holding every one of ``permissions``, narrowed
    to the ``organization`` the request names (:meth:`Principal.narrowed`)."""

    def dependency(
        principal: Annotated[Principal, Depends(authenticate)],
        organization: OrganizationParam = None,
    ) -> Principal:
        missing = [p for p in permissions if not principal.can(p)]
        if missing:
            raise Forbidden(f"this API key lacks the permission: {', '.join(missing)}")
        return principal.narrowed(organization)

    dependency.__name__ = f"require_{'_'.join(permissions) or 'key'}"
    return dependency


#: Any valid key.
AuthenticatedDep = Annotated[Principal, Depends(authenticate)]
#: Reading stored records and detections.
ReaderDep = Annotated[Principal, Depends(require("read_matches"))]
#: Writing records, promoting and deciding.
WriterDep = Annotated[Principal, Depends(require("promote"))]
#: Administration (reindex and the like).
AdminDep = Annotated[Principal, Depends(require("admin"))]
