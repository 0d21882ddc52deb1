"""The SAM template is valid, lint-clean and builds for the python3.13 runtime."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from leadstream_local.template import REPO_ROOT, StackTemplate

SAM = Path(sys.executable).parent / "sam"
SAM_ENV = {**os.environ, "SAM_CLI_TELEMETRY": "0", "AWS_DEFAULT_REGION": "us-east-1"}
# Kept from one run to the next (.aws-sam is SAM's own directory, ignored by git): SAM's incremental build
# then downloads the dependencies again only when functions/requirements.txt changes (or after another
# build in this checkout replaced them in .aws-sam/deps), and copies the code afresh every time. A new
# directory per run downloaded them every time.
SAM_BUILD_ROOT = REPO_ROOT / ".aws-sam" / "test-build"


def _sam(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SAM), *args], cwd=cwd, env=SAM_ENV, capture_output=True, text=True, timeout=600, check=False
    )


@pytest.mark.slow
def test_sam_validate_lint_reports_no_finding() -> None:
    result = _sam("validate", "--lint", "--template", "template.yaml")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "is a valid SAM Template" in output
    # cfn-lint findings are printed as rule ids (E3002, W3011, I3042 ...); there must be none.
    assert not any(line[:1] in "EWI" and line[1:5].isdigit() for line in output.splitlines()), output


def _package_of(function: dict[str, Any], defaults: dict[str, Any]) -> tuple[str, ...]:
    """What SAM builds a function's package from: functions that agree on it get copies of one build."""
    properties = function.get("Properties", {})
    chosen = ("CodeUri", "Runtime", "Architectures", "PackageType", "Layers")
    return (*(str(properties.get(key, defaults.get(key))) for key in chosen), str(function.get("Metadata")))


@pytest.mark.slow
def test_sam_build_packages_every_function() -> None:
    template = StackTemplate.load()
    functions = template.of_type("AWS::Serverless::Function")
    defaults = template.body.get("Globals", {}).get("Function", {})
    # Every function is one package (SAM builds it once and copies it into each function's directory, 45 MB
    # each), so building it for one function shows what every function gets, at a twelfth of the copying.
    assert len({_package_of(function, defaults) for function in functions.values()}) == 1, (
        "the functions no longer share one package: build each of them here"
    )
    first, *others = functions
    build = SAM_BUILD_ROOT / "build"
    excluded = [option for other in others for option in ("--exclude", other)]
    cache = ["--cached", "--cache-dir", str(SAM_BUILD_ROOT / "cache")]
    result = _sam("build", "--build-dir", str(build), *cache, *excluded)
    assert result.returncode == 0, result.stdout + result.stderr
    built = build / first
    for logical_id, function in functions.items():
        module = function["Properties"]["Handler"].rsplit(".", 1)[0].replace(".", "/") + ".py"
        assert (built / module).is_file(), f"{logical_id} lacks {module}"
    assert (built / "leadstream" / "events.py").is_file()
    assert (built / "pydantic_core").is_dir()


def test_every_function_gets_the_tables_it_needs(aws: StackTemplate) -> None:
    env = {fn.logical_id: fn.environment for fn in aws.functions()}
    assert env, "the template declares no function"
    for variables in env.values():
        assert {"EVENTS_TABLE", "MAIN_TABLE", "RETENTION_DAYS", "POWERTOOLS_SERVICE_NAME"} <= variables.keys()
