"""The AWS region of every `leadstream` command, and of the local stack that `leadstream local` starts.

AWS_REGION, then AWS_DEFAULT_REGION, then the region of the AWS profile (AWS_PROFILE, or the default
one, in ~/.aws/config), then us-east-1. boto3 alone reads only the last three, so a shell with just
AWS_REGION failed with NoRegionError. The local stack runs in the same region, so `leadstream local` and
the commands that talk to it agree as long as they run with the same environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

DEFAULT_REGION = "us-east-1"
REGION_VARIABLES = ("AWS_REGION", "AWS_DEFAULT_REGION")
HELP = "AWS region: AWS_REGION, else AWS_DEFAULT_REGION, else the AWS profile's region, else us-east-1."


def resolve(environ: Mapping[str, str] = os.environ) -> str:
    for name in REGION_VARIABLES:
        if environ.get(name, "").strip():
            return environ[name].strip()
    return _profile_region() or DEFAULT_REGION


def _profile_region() -> str | None:
    import botocore.session
    from botocore.exceptions import ProfileNotFound

    try:
        region = botocore.session.Session().get_config_variable("region")
    except ProfileNotFound:
        return None  # the command's own AWS calls report the missing profile, if they need one
    return str(region) if region else None
