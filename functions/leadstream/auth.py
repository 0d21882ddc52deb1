"""Who is calling, and what each role may do: the access rules of the CRM and marketing APIs, in one place.

API Gateway's JWT authorizer has already verified the token (signature, issuer, audience, expiry) before
a handler runs; handlers only read the verified claims and apply the rules below.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from leadstream.errors import Forbidden, Unauthorized


class Role(StrEnum):
    SALES = "sales"
    MARKETING = "marketing"
    ADMIN = "admin"


# Route policies. Sales works the CRM; marketing reads the people in it (accounts, contacts) but never
# edits or sees deals, quotes, orders or contracts; marketing objects are marketing's. Admin does all.
CRM_WRITE = frozenset({Role.SALES, Role.ADMIN})
CRM_DEALS = frozenset({Role.SALES, Role.ADMIN})
CRM_PEOPLE_READ = frozenset({Role.SALES, Role.MARKETING, Role.ADMIN})
MARKETING = frozenset({Role.MARKETING, Role.ADMIN})
ADMIN_ONLY = frozenset({Role.ADMIN})


@dataclass(frozen=True)
class Principal:
    user_id: str  # the token's `sub`: stable, use it for ownership and audit
    username: str
    roles: frozenset[Role]

    def require(self, allowed: frozenset[Role]) -> Principal:
        if not self.roles & allowed:
            needed = " or ".join(sorted(role.value for role in allowed))
            raise Forbidden(f"This needs the {needed} role; you have {self._roles_text()}.")
        return self

    def has(self, role: Role) -> bool:
        return role in self.roles

    def _roles_text(self) -> str:
        return ", ".join(sorted(role.value for role in self.roles)) or "no role"


def parse_groups(raw: Any) -> frozenset[Role]:
    """`cognito:groups` as API Gateway passes it ("[sales admin]") or as a list; unknown groups ignored."""
    if isinstance(raw, str):
        names = raw.strip().strip("[]").replace(",", " ").split()
    elif isinstance(raw, list | tuple):
        names = [str(name) for name in raw]
    else:
        names = []
    return frozenset(Role(name) for name in names if name in Role._value2member_map_)


def principal_from_claims(claims: Mapping[str, Any] | None) -> Principal:
    if not claims or not claims.get("sub"):
        raise Unauthorized("Send a bearer token from the Leadstream user pool in the Authorization header.")
    return Principal(
        user_id=str(claims["sub"]),
        username=str(claims.get("username") or claims.get("cognito:username") or claims.get("email") or ""),
        roles=parse_groups(claims.get("cognito:groups")),
    )


def principal_of(event: Mapping[str, Any]) -> Principal:
    """The caller of an API Gateway HTTP API (payload 2.0) event."""
    authorizer = event.get("requestContext", {}).get("authorizer") or {}
    return principal_from_claims((authorizer.get("jwt") or {}).get("claims"))
