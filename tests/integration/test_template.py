"""The SAM template is valid, lint-clean and builds for the python3.13 runtime."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from leadstream_local.template import REPO_ROOT, StackTemplate

SAM = Path(sys.executable).parent / "sam"
SAM_ENV = {**os.environ, "SAM_CLI_TELEMETRY": "0", "AWS_DEFAULT_REGION": "us-east-1"}


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


@pytest.mark.slow
def test_sam_build_packages_every_function(tmp_path: Path) -> None:
    result = _sam("build", "--build-dir", str(tmp_path / "build"), "--cache-dir", str(tmp_path / "cache"))
    assert result.returncode == 0, result.stdout + result.stderr
    for logical_id, function in StackTemplate.load().of_type("AWS::Serverless::Function").items():
        built = tmp_path / "build" / logical_id
        module = function["Properties"]["Handler"].rsplit(".", 1)[0].replace(".", "/") + ".py"
        assert (built / module).is_file(), f"{logical_id} lacks {module}"
        assert (built / "leadstream" / "events.py").is_file()
        assert (built / "pydantic_core").is_dir()


def test_every_function_gets_the_tables_it_needs(aws: StackTemplate) -> None:
    env = {fn.logical_id: fn.environment for fn in aws.functions()}
    assert env, "the template declares no function"
    for variables in env.values():
        assert {"EVENTS_TABLE", "MAIN_TABLE", "RETENTION_DAYS", "POWERTOOLS_SERVICE_NAME"} <= variables.keys()
