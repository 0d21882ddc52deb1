"""`leadstream smoke` against the local stack: every check passes on a working stack, and a check that
cannot pass fails the command."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from leadstream_local.auth import issue_token
from leadstream_local.cli import main
from leadstream_local.stack import LocalStack
from leadstream_local.template import REGION


def _token(stack: LocalStack, role: str) -> str:
    cognito = boto3.client("cognito-idp", endpoint_url=stack.aws_url, region_name=REGION)
    return issue_token(stack.template, cognito, role=role, user=f"smoke-{role}")


def _smoke(stack: LocalStack, token: str, *more: str) -> list[str]:
    return ["smoke", "--api-url", stack.url, "--write-key", stack.write_key, "--token", token, *more]


def test_every_check_passes_on_the_local_stack(local_stack: LocalStack, capsys: Any) -> None:
    assert main(_smoke(local_stack, _token(local_stack, "marketing"), "--timeout", "30")) == 0
    out = capsys.readouterr().out
    for check in ("event in", "profile scored", "CRM read", "OpenAPI"):
        assert f"passed  {check}: " in out, out
    assert "FAILED" not in out
    assert "Smoke test passed: all 4 checks." in out


def test_the_smoke_person_is_a_scored_profile(local_stack: LocalStack, capsys: Any) -> None:
    from leadstream.profiles import IdentityRef
    from leadstream.store.profiles import profile_of

    email = "success+leadstream-smoke-e2e@simulator.amazonses.com"
    assert main(_smoke(local_stack, _token(local_stack, "admin"), "--email", email)) == 0
    profile = profile_of(IdentityRef(kind="email", value=email))
    assert profile is not None
    assert profile.traits["leadstreamSmoke"] is True
    assert f"profile {profile.profile_id} after" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("role", "write_key", "failed"),
    [
        ("sales", None, "profile scored"),  # a sales user may not read profiles
        (None, None, "CRM read"),  # no token of the user pool at all
        ("marketing", "not-this-stacks-key", "event in"),
    ],
)
def test_a_check_that_fails_fails_the_command(
    local_stack: LocalStack, capsys: Any, role: str | None, write_key: str | None, failed: str
) -> None:
    token = _token(local_stack, role) if role else "not-a-token"
    argv = _smoke(local_stack, token, "--timeout", "5")
    if write_key:
        argv[argv.index("--write-key") + 1] = write_key
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert f"FAILED  {failed}: " in out, out
    assert "Smoke test failed: " in out
