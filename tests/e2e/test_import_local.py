"""`leadstream import` against the local stack, as a user runs it: the file uploaded to the presigned URL,
split into chunks that the ImportWorkerFunction takes from its queue, a progress bar while it runs, a
summary at the end; the same file again creates nothing."""

from __future__ import annotations

import csv
import io
import re
import time
import urllib.request
from pathlib import Path

import pytest
from stack_client import StackClient

from leadstream.profiles import IdentityRef
from leadstream.store.profiles import profile_of
from leadstream_local.cli import main
from leadstream_local.stack import LocalStack

pytestmark = pytest.mark.e2e
ROWS = 1200  # three chunks of 500


def _cli(stack: LocalStack, *args: str) -> list[str]:
    return ["import", *args, "--api-url", stack.url, "--aws-url", stack.aws_url]


def test_import_contacts_with_progress_and_summary(
    local_stack: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    contacts = tmp_path / "contacts.csv"
    lines = ["Email;Vorname;Firma"] + [f"cli{i}@example.com;Name {i};Firma {i % 7}" for i in range(ROWS)]
    lines.append("broken-address;Nobody;None")
    contacts.write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
    errors = tmp_path / "errors.csv"

    assert main(_cli(local_stack, "contacts", str(contacts), "--errors", str(errors))) == 0
    out, err = capsys.readouterr()
    bars = [line for line in err.splitlines() if line.startswith("[")]
    assert bars, err
    final = bars[-1]
    assert re.match(r"^\[#{30}\] 1,201/1,201 rows  [\d,]+ rows/s  0:00 left$", final), final
    # While it ran: part of the bar, the rows so far, their rate and the time left at that rate.
    assert any(
        re.match(r"^\[#+\.+\] [\d,]+/1,201 rows  [1-9][\d,]* rows/s  \d+:\d\d left$", b) for b in bars
    ), bars
    assert f"contacts.csv: {ROWS + 1:,} rows imported in" in out
    assert re.search(rf"created\s+{ROWS:,}$", out, re.M), out
    assert re.search(r"rejected\s+1$", out, re.M), out
    assert errors.read_text().splitlines() == [
        "row,column,reason",
        f"{ROWS + 2},Email,'broken-address' is not an email address",
    ]
    person = profile_of(IdentityRef(kind="email", value="cli7@example.com"))
    assert person is not None
    assert person.traits["firstName"] == "Name 7"
    assert person.traits["company"] == "Firma 0"

    assert main(_cli(local_stack, "contacts", str(contacts))) == 0
    out, _ = capsys.readouterr()
    assert re.search(rf"unchanged\s+{ROWS:,}$", out, re.M), out
    assert re.search(r"created\s+0$", out, re.M), out


def test_a_file_without_an_email_column_is_refused_clearly(
    local_stack: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    contacts = tmp_path / "names.csv"
    contacts.write_text("Name,Company\nAda,Analytical\n")
    assert main(_cli(local_stack, "contacts", str(contacts))) == 1
    _, err = capsys.readouterr()
    assert "422" in err
    assert "no email column" in err


def test_accounts_imported_by_the_cli_come_back_out_as_a_crm_export(
    local_stack: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Companies in with one command (matched again on a re-run), then the accounts list out as CSV: the
    export's job on the import queue, its file downloaded from the presigned URL."""
    companies = tmp_path / "companies.csv"
    companies.write_text(
        "Company,Website,Industry,Tier\n"
        "E2E Alpha,alpha-e2e.test,Tools,=gold\n"
        "E2E Beta,beta-e2e.test,Energy,\n"
    )
    assert main(_cli(local_stack, "accounts", str(companies))) == 0
    out, _ = capsys.readouterr()
    assert re.search(r"created\s+2$", out, re.M), out
    assert main(_cli(local_stack, "accounts", str(companies))) == 0
    out, _ = capsys.readouterr()
    assert re.search(r"unchanged\s+2$", out, re.M), out

    sales = StackClient(local_stack, role="sales", user="sid")
    body = {
        "resource": "accounts",
        "filters": {"industry": "Tools"},
        "columns": ["name", "domain", "customFields.tier"],
    }
    export = sales.ok("POST", "/crm/exports", body)
    for _ in range(300):
        job = sales.ok("GET", f"/crm/exports/{export['exportId']}")
        if job["status"] in ("done", "failed"):
            break
        time.sleep(0.1)
    assert job["status"] == "done", job
    with urllib.request.urlopen(job["downloadUrl"], timeout=30) as response:
        text = response.read().decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(text, newline=""))) == [
        ["name", "domain", "customFields.tier"],
        ["E2E Alpha", "alpha-e2e.test", "'=gold"],
    ]
