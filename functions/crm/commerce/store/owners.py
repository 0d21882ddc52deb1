"""The owners a digest goes to: the user pool's sales and admin users (owner ids are their `sub`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from crm.commerce.digest import Owner
from leadstream.aws import cognito_idp

OWNER_GROUPS = ("sales", "admin")


def pool_owners(user_pool_id: str, client: Any = None) -> Iterator[Owner]:
    """Every enabled user of the owner groups, once each, with an email address to write to."""
    cognito = client or cognito_idp()
    seen: set[str] = set()
    for group in OWNER_GROUPS:
        pages = cognito.get_paginator("list_users_in_group").paginate(
            UserPoolId=user_pool_id, GroupName=group
        )
        for page in pages:
            for user in page.get("Users", []):
                owner = _owner(user)
                if owner is not None and owner.user_id not in seen:
                    seen.add(owner.user_id)
                    yield owner


def _owner(user: dict[str, Any]) -> Owner | None:
    if not user.get("Enabled", True):
        return None
    attributes = {attribute["Name"]: attribute["Value"] for attribute in user.get("Attributes", [])}
    if not attributes.get("sub") or not attributes.get("email"):
        return None
    name = attributes.get("given_name") or attributes.get("name") or ""
    return Owner(user_id=attributes["sub"], email=attributes["email"], name=name)
