import pytest

from leadstream.auth import CRM_PEOPLE_READ, CRM_WRITE, Role, parse_groups, principal_from_claims
from leadstream.errors import Forbidden, Unauthorized


@pytest.mark.parametrize(
    ("raw", "roles"),
    [
        ("[sales admin]", {Role.SALES, Role.ADMIN}),
        ("[marketing]", {Role.MARKETING}),
        (["sales"], {Role.SALES}),
        ("[sales something-else]", {Role.SALES}),
        (None, set()),
    ],
)
def test_groups_in_every_format_api_gateway_or_cognito_sends(raw: object, roles: set[Role]) -> None:
    assert parse_groups(raw) == roles


def test_no_claims_is_unauthorized() -> None:
    with pytest.raises(Unauthorized):
        principal_from_claims(None)


def test_marketing_reads_people_but_does_not_write_crm() -> None:
    marketing = principal_from_claims({"sub": "u-1", "username": "mia", "cognito:groups": "[marketing]"})
    assert marketing.require(CRM_PEOPLE_READ) is marketing
    with pytest.raises(Forbidden, match="admin or sales role; you have marketing"):
        marketing.require(CRM_WRITE)


def test_admin_passes_every_policy() -> None:
    admin = principal_from_claims({"sub": "u-2", "cognito:groups": "[admin]"})
    assert admin.require(CRM_WRITE).require(CRM_PEOPLE_READ) is admin
