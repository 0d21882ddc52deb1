"""The HTTP API JWT authorizer, as API Gateway runs it, and the tokens `leadstream token` prints.

Tokens are real Cognito tokens issued by the embedded moto's user pool (signed with its RS256 key) and
verified here with PyJWT against that key's JWKS: issuer, audience (`aud`, or `client_id` on access
tokens), expiry and signature, as API Gateway checks them. A valid token's claims reach the handler in
`requestContext.authorizer.jwt`, in API Gateway's format (every claim a string; lists as "[a b]").
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from leadstream_local.template import JwtAuthorizerSpec, StackTemplate

ROLES = ("sales", "marketing", "admin")
LOCAL_PASSWORD = "Local-Password-1234"  # users exist only in the embedded, in-memory user pool
LOCAL_EMAIL_DOMAIN = "leadstream.local"


@cache
def _signing_keys() -> Any:
    """The public keys the embedded Cognito signs with (moto ships one RS256 key pair)."""
    import jwt
    from moto.utilities.utils import load_resource

    return jwt.PyJWKSet.from_dict(load_resource("cognitoidp/resources/jwks-public.json"))


def verify(spec: JwtAuthorizerSpec, headers: Mapping[str, str]) -> dict[str, Any] | None:
    """The token's claims if the request carries a valid one for this authorizer, else None."""
    import jwt

    raw = headers.get(spec.header, "").strip()
    token = raw[7:].strip() if raw[:7].lower() == "bearer " else raw
    if not token:
        return None
    try:
        key = _signing_keys()[jwt.get_unverified_header(token).get("kid", "")].key
        claims: dict[str, Any] = jwt.decode(
            token,
            key=key,
            algorithms=["RS256"],
            issuer=spec.issuer,
            options={"verify_aud": False, "require": ["exp", "iss"]},
        )
    except (jwt.PyJWTError, KeyError):
        return None
    audience = claims.get("aud", claims.get("client_id"))
    audiences = audience if isinstance(audience, list) else [audience]
    if spec.audience and not set(audiences) & set(spec.audience):
        return None
    return claims


def authorizer_context(claims: Mapping[str, Any]) -> dict[str, Any]:
    """`requestContext.authorizer` for payload 2.0, as API Gateway formats the claims."""
    scope = claims.get("scope")
    return {
        "jwt": {
            "claims": {name: _claim_text(value) for name, value in claims.items()},
            "scopes": str(scope).split() if scope else None,
        }
    }


def _claim_text(value: Any) -> str:
    if isinstance(value, list):
        return "[" + " ".join(str(item) for item in value) + "]"
    return str(value).lower() if isinstance(value, bool) else str(value)


def issue_token(template: StackTemplate, client: Any, *, role: str, user: str) -> str:
    """An access token of the template's user pool for `user` with exactly the group `role`."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    pool_id, client_id = _pool_and_client(template, client)
    username = user if "@" in user else f"{user}@{LOCAL_EMAIL_DOMAIN}"
    if not client.list_users(UserPoolId=pool_id, Filter=f'email = "{username}"')["Users"]:
        client.admin_create_user(
            UserPoolId=pool_id,
            Username=username,
            UserAttributes=[
                {"Name": "email", "Value": username},
                {"Name": "email_verified", "Value": "true"},
            ],
            MessageAction="SUPPRESS",
        )
        client.admin_set_user_password(
            UserPoolId=pool_id, Username=username, Password=LOCAL_PASSWORD, Permanent=True
        )
    groups = client.admin_list_groups_for_user(UserPoolId=pool_id, Username=username)["Groups"]
    for group in groups:
        if group["GroupName"] != role:
            client.admin_remove_user_from_group(
                UserPoolId=pool_id, Username=username, GroupName=group["GroupName"]
            )
    client.admin_add_user_to_group(UserPoolId=pool_id, Username=username, GroupName=role)
    result = client.admin_initiate_auth(
        UserPoolId=pool_id,
        ClientId=client_id,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": LOCAL_PASSWORD},
    )["AuthenticationResult"]
    return str(result["AccessToken"])


def _pool_and_client(template: StackTemplate, client: Any) -> tuple[str, str]:
    """Find the template's (first) user pool and app client in the running embedded AWS by name."""
    pools = template.of_type("AWS::Cognito::UserPool")
    if not pools:
        raise LookupError("template.yaml declares no Cognito user pool")
    logical, res = next(iter(pools.items()))
    name = template.resolve(res.get("Properties", {}).get("UserPoolName", logical))
    listed = client.list_user_pools(MaxResults=60)["UserPools"]
    pool_id = next((pool["Id"] for pool in listed if pool["Name"] == name), None)
    if pool_id is None:
        raise LookupError(f"user pool {name!r} not found: is `leadstream local` running?")
    clients = client.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]
    return pool_id, str(clients[0]["ClientId"])
