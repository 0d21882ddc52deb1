"""Account rows: fields, match keys, domains, names, and what rejects a row."""

from __future__ import annotations

import pytest

from customerdata.account_rows import account_row, domain_of, name_key
from customerdata.imports import RowError, map_columns

HEADER = [
    "Company",
    "Website",
    "Employees",
    "Street",
    "ZIP",
    "Country",
    "Salesforce ID",
    "Zoho",
    "Account ID",
    "Tier",
]
COLUMNS = map_columns("accounts", HEADER, {"Zoho": "ext:zoho"})


def test_columns_of_an_account_file() -> None:
    assert COLUMNS == {
        "Company": "name",
        "Website": "domain",
        "Employees": "employees",
        "Street": "street",
        "ZIP": "postalCode",
        "Country": "country",
        "Salesforce ID": "salesforceId",
        "Zoho": "ext:zoho",
        "Account ID": "accountId",
        "Tier": "tier",
    }


def test_a_row_is_an_account_and_its_keys() -> None:
    row = account_row(
        {
            "Company": " Acme  Tools ",
            "Website": "HTTPS://www.Acme.test/x?y",
            "Employees": "1 200",
            "Street": "Main 1",
            "ZIP": "10115",
            "Country": "de",
            "Salesforce ID": "0015e00000AbCdEFGH",
            "Zoho": "z1",
            "Account ID": "",
            "Tier": "=gold",
        },
        COLUMNS,
    )
    assert row.fields == {
        "name": "Acme  Tools",
        "domain": "acme.test",
        "employees": 1200,
        "address": {"street": "Main 1", "postalCode": "10115", "country": "DE"},
        "customFields": {"tier": "=gold"},
    }
    assert row.keys == [
        ("ext", "salesforce:0015e00000AbCdEFGH"),
        ("ext", "zoho:z1"),
        ("domain", "acme.test"),
        ("name", "acme tools"),
    ]
    assert row.identifying == row.keys[:3]
    assert row.account_id is None
    named = account_row({"Company": "Acme"}, COLUMNS)
    assert named.identifying == [("name", "acme")]
    assert named.new_account_id() == account_row({"Company": "ACME"}, COLUMNS).new_account_id()


@pytest.mark.parametrize(
    ("values", "column", "says"),
    [
        ({"Website": "acme.test"}, "Company", "the name is empty"),
        ({"Company": "A", "Website": "not a domain"}, "Website", "is not a web domain"),
        ({"Company": "A", "Website": "localhost"}, "Website", "is not a web domain"),
        ({"Company": "A", "Employees": "lots"}, "Employees", "is not a number of employees"),
        ({"Company": "A", "Employees": "1e9"}, "Employees", "is not a number of employees"),
        ({"Company": "A", "Country": "Deutschland"}, "Country", "is not a country code"),
        ({"Company": "A", "Salesforce ID": "123"}, "Salesforce ID", "is not an id of salesforce"),
        ({"Company": "A", "Account ID": "../etc"}, "Account ID", "is not an account id"),
        ({"Company": "x" * 201}, "Company", "at most 200"),
    ],
)
def test_rows_that_are_not_accounts_are_rejected(values: dict[str, str], column: str, says: str) -> None:
    with pytest.raises(RowError) as raised:
        account_row(values, COLUMNS)
    assert raised.value.column == column
    assert says in raised.value.reason


def test_domains_and_names() -> None:
    assert domain_of("http://shop.Example.co.uk:8080/a", "c") == "shop.example.co.uk"
    assert domain_of("example.com.", "c") == "example.com"
    assert name_key("  ACME\tTools ") == "acme tools"
