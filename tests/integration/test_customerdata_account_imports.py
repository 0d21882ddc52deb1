"""Account imports on moto: rows become CRM accounts through the accounts resource's rules, matched by id,
external id, domain or name, so that the same file twice (or a redelivered chunk) creates nothing new."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from customerdata_support import create, error_file, run_import, upload

from leadstream_local.inprocess import Call
from leadstream_local.template import StackTemplate

ACCOUNTS = (
    b"Account Name,Website,Industry,Employees,City,Country,Salesforce ID,Tier\n"
    b'Acme,https://www.Acme.test/about,Tools,"1,200",Berlin,de,0015e00000AbCdEFGH,gold\n'
    b"Globex,globex.test,Energy,50,,,,silver\n"
    b"Initech,,Software,,Austin,US,,\n"
    b"Broken,not a domain,,,,,,\n"
    b"Nowhere,nowhere.test,,,,Germany,,\n"
    b",nameless.test,,,,,,\n"
)


def accounts(call_api: Call, token: str) -> dict[str, dict[str, Any]]:
    reply = call_api("GET", "/crm/accounts", query="limit=200", token=token)
    assert reply.status == 200, reply.json()
    return {item["name"]: item for item in reply.json()["items"]}


def test_accounts_are_made_once_and_matched_again(
    aws: StackTemplate, call_api: Call, token_for: Callable[..., str]
) -> None:
    admin, sales = token_for("admin", user="root"), token_for("sales")
    first = run_import(aws, call_api, admin, ACCOUNTS, kind="accounts", file_name="accounts.csv")
    assert first["status"] == "done"
    assert first["columns"] == {
        "Account Name": "name", "Website": "domain", "Industry": "industry", "Employees": "employees",
        "City": "city", "Country": "country", "Salesforce ID": "salesforceId", "Tier": "tier",
    }  # fmt: skip
    assert first["counts"] == {
        "rows": 6,
        "created": 3,
        "updated": 0,
        "merged": 0,
        "unchanged": 0,
        "rejected": 3,
    }
    errors = error_file(aws, first["importId"])
    assert "5,Website,'not a domain' is not a web domain (example.com)" in errors
    assert "6,Country,\"'Germany' is not a country code: write two letters (DE, US)\"" in errors
    assert "7,Account Name,the name is empty" in errors
    held = accounts(call_api, sales)
    assert set(held) == {"Acme", "Globex", "Initech"}
    acme = held["Acme"]
    assert (acme["domain"], acme["industry"], acme["employees"]) == ("acme.test", "Tools", 1200)
    assert {key: value for key, value in acme["address"].items() if value} == {
        "city": "Berlin",
        "country": "DE",
    }
    assert acme["customFields"] == {"tier": "gold"}
    assert acme["ownerId"]  # the importing user, as for any account created without an owner

    again = run_import(
        aws, call_api, admin, ACCOUNTS, kind="accounts", file_name="accounts.csv", redeliver=True
    )
    assert again["counts"] == {
        "rows": 6,
        "created": 0,
        "updated": 0,
        "merged": 0,
        "unchanged": 3,
        "rejected": 3,
    }
    assert accounts(call_api, sales).keys() == held.keys()

    # A later file: the Salesforce id finds Acme under another name and domain; the domain finds Globex;
    # a name alone finds Initech (spacing and case aside); a Leadstream id names an account outright.
    later = (
        b"Name,Domain,Salesforce ID,Industry,Account ID\n"
        b"ACME Group,acme-group.test,0015e00000AbCdEFGH,Hardware,\n"
        b"Globex Corporation,www.globex.test,,Energy,\n"
        b"  initech ,,,Software,\n"
        + f"Renamed,,,Media,{held['Initech']['accountId']}\n".encode()
        + b"Ghost,,,,no-such-account\n"
    )
    third = run_import(aws, call_api, admin, later, kind="accounts", file_name="later.csv")
    assert third["counts"] == {
        "rows": 5,
        "created": 0,
        "updated": 4,
        "merged": 0,
        "unchanged": 0,
        "rejected": 1,
    }
    assert "there is no account no-such-account" in error_file(aws, third["importId"])
    now = {item["accountId"]: item for item in accounts(call_api, sales).values()}
    assert len(now) == 3
    assert now[acme["accountId"]]["name"] == "ACME Group"
    assert now[acme["accountId"]]["industry"] == "Hardware"
    assert now[acme["accountId"]]["customFields"] == {"tier": "gold"}  # untouched: the file has no Tier
    assert now[held["Globex"]["accountId"]]["name"] == "Globex Corporation"
    assert (now[held["Initech"]["accountId"]]["name"], now[held["Initech"]["accountId"]]["industry"]) == (
        "Renamed",
        "Media",
    )
    initech = call_api("GET", f"/crm/accounts/{held['Initech']['accountId']}/history", token=sales).json()[
        "items"
    ]
    names = [
        [change["after"] for change in entry["changes"] if change["field"] == "name"] for entry in initech[:2]
    ]
    assert names == [
        ["Renamed"],
        ["initech"],
    ]  # matched by its name, then named by its id  # by name, then by id
    history = call_api("GET", f"/crm/accounts/{acme['accountId']}/history", token=sales).json()["items"]
    assert [entry["action"] for entry in history] == ["imported", "created"]


def test_a_dry_run_writes_no_account(
    aws: StackTemplate, call_api: Call, token_for: Callable[..., str]
) -> None:
    admin = token_for("admin", user="root")
    job = run_import(aws, call_api, admin, ACCOUNTS, kind="accounts", file_name="a.csv", dryRun=True)
    assert (job["counts"]["created"], job["counts"]["rejected"]) == (3, 3)
    assert accounts(call_api, admin) == {}


def test_accounts_need_a_name_column_and_the_admin_role(
    aws: StackTemplate, call_api: Call, token_for: Callable[..., str]
) -> None:
    body = {"kind": "accounts", "fileName": "a.csv", "size": 10}
    refused = create(call_api, token_for("marketing"), body)
    assert refused.status == 403
    assert "admin" in refused.json()["detail"]
    admin = token_for("admin", user="root")
    reply = create(call_api, admin, body)
    assert reply.status == 201
    import_id = reply.json()["import"]["importId"]
    upload(aws, import_id, b"Website,Industry\nacme.test,Tools\n")
    started = call_api("POST", f"/marketing/imports/{import_id}/start", token=admin)
    assert started.status == 422
    assert "no name column" in started.json()["detail"]


def test_a_chunk_that_died_before_its_commit_makes_nothing_twice(
    aws: StackTemplate, call_api: Call, token_for: Callable[..., str]
) -> None:
    """The chunk's rows were written, then the worker died before committing its counts: the redelivered
    chunk finds every account it had made (their ids derive from the rows' keys)."""
    from customerdata import account_import
    from customerdata.imports import ImportJob, map_columns
    from customerdata.reading import RawRow

    header = ["Name", "Domain", "HubSpot ID"]
    job = ImportJob.model_validate(
        {
            "importId": "imp_" + "a" * 32,
            "kind": "accounts",
            "status": "running",
            "fileName": "a.csv",
            "format": "csv",
            "encoding": "utf-8",
            "size": 1,
            "dryRun": False,
            "createdAt": "2026-01-01T00:00:00Z",
            "createdBy": "root",
            "columns": map_columns("accounts", header),
        }
    )
    rows = [
        RawRow(2, {"Name": "Acme", "Domain": "acme.test", "HubSpot ID": ""}),
        RawRow(3, {"Name": "Umbrella", "Domain": "", "HubSpot ID": "42"}),
        RawRow(4, {"Name": "Umbrella Corp", "Domain": "umbrella.test", "HubSpot ID": "42"}),
    ]
    first, _ = account_import.run_chunk(job, rows)
    assert (first.created, first.updated) == (2, 1)  # row 4 is row 3's company by its HubSpot id
    second, _ = account_import.run_chunk(job, rows)
    # Nothing new: Acme is unchanged; rows 3 and 4 name one company twice, so each sets its name again.
    assert (second.created, second.updated, second.unchanged) == (0, 2, 1)
    assert sorted(accounts(call_api, token_for("sales"))) == ["Acme", "Umbrella Corp"]
