"""Lake rows: one per event of every kind and per change of every kind, ids only, stable ids."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from lake_data import at, events, lake_rows_by_table, main_table_writes, page, record

from lake import rows as lake_rows
from lake.schema import CHANGE_KINDS, CHANGES, EVENTS, PARTITION, TABLES
from leadstream.events import TrackedEvent
from leadstream_local.template import StackTemplate

PERSONAL = ("jane@example.com", "sam@example.com", "x@example.net", "Jane", "Doe", "555", "203.0.113", "%40")


def _event(kind: str, **extra: object) -> TrackedEvent:
    base = {
        "source_id": "s", "message_id": f"m-{kind}", "type": kind, "anonymous_id": "a9", "user_id": "u9",
        "timestamp": datetime(2026, 3, 1, tzinfo=UTC), "received_at": datetime(2026, 3, 1, tzinfo=UTC),
        "context": {"ip": "203.0.113.7", "traits": {"email": "jane@example.com", "name": "Jane Doe"}},
        "traits": {"email": "jane@example.com", "phone": "+1 555 0100"},
        "properties": {"email": "jane@example.com", "url": "https://x.example/u/jane%40example.com?e=jane@example.com"},
    }  # fmt: skip
    return TrackedEvent.model_validate({**base, **extra})


@pytest.mark.parametrize("kind", ["track", "page", "screen", "identify", "group", "alias"])
def test_every_event_kind_becomes_one_row_of_ids(kind: str) -> None:
    extra = {"event": "Signed Up"} if kind == "track" else {"previous_id": "old"} if kind == "alias" else {}
    row = lake_rows.event_row(_event(kind, **extra))
    assert set(row) == {*EVENTS.column_names, PARTITION}
    assert row["type"] == kind
    assert row["identity"] == "user:u9"
    assert row[PARTITION] == "2026-03-01"
    text = json.dumps(row)
    for personal in PERSONAL:
        assert personal not in text, (kind, personal)


def test_every_change_kind_has_rows_and_no_personal_data() -> None:
    rows = lake_rows_by_table()
    kinds = {row["kind"] for row in rows["changes"]}
    assert kinds == set(CHANGE_KINDS) - {"merge"}
    merged = {"pk": "PROFILE#p9", "sk": "PROFILE", "profileId": "p9", "mergedInto": "p1", "version": 2}
    merge_rows = lake_rows.change_rows(
        merged, {**merged, "mergedInto": None, "version": 1}, merged, at("2026-03-02")
    )
    assert [r["kind"] for r in merge_rows] == ["merge"]
    assert merge_rows[0]["merged_into"] == "p1"
    for table in TABLES:
        for row in rows[table.name]:
            assert set(row) == {*table.column_names, PARTITION}
            text = json.dumps(row)
            for personal in PERSONAL:
                assert personal not in text, (row, personal)


def test_identities_are_anonymous_and_user_ids_never_emails() -> None:
    identities = {r["identity"] for r in lake_rows_by_table()["changes"] if r["kind"] == "identity"}
    assert identities == {"anon:a1", "anon:a2", "user:u2", "anon:a3"}


def test_the_same_fact_always_gets_the_same_id() -> None:
    first = lake_rows_by_table()
    again = lake_rows_by_table()
    assert [r["change_id"] for r in first["changes"]] == [r["change_id"] for r in again["changes"]]
    assert len({r["change_id"] for r in first["changes"]}) == len(first["changes"])
    # A profile written again with the same history gives no new stage rows.
    (_old, new) = main_table_writes()[1]
    rows = lake_rows.change_rows({"pk": new["pk"], "sk": new["sk"]}, new, new, at("2026-03-07"))
    assert rows == []


def test_a_deal_version_and_its_deletion() -> None:
    deal = record(
        "deal", "d7", 3, at("2026-03-10"), dealId="d7", contactId="k1", outcome="won", amount="12.5"
    )
    (row,) = lake_rows.change_rows({"pk": "DEAL#d7", "sk": "DEAL"}, None, deal, at("2026-03-10"))
    assert (row["kind"], row["version"], row["amount"], row["status"]) == ("deal", 3, 12.5, "won")
    (gone,) = lake_rows.change_rows({"pk": "DEAL#d7", "sk": "DEAL"}, deal, None, at("2026-03-11"))
    assert (gone["status"], gone["version"], gone[PARTITION]) == ("deleted", 4, "2026-03-11")
    assert gone["change_id"] != row["change_id"]


@pytest.mark.parametrize("amount", ["NaN", "Infinity", "1e400", "-1e20", "abc", True])
def test_unusable_amounts_are_left_out(amount: object) -> None:
    deal = record("deal", "d8", 1, at("2026-03-10"), dealId="d8", amount=amount)
    (row,) = lake_rows.change_rows({"pk": "DEAL#d8", "sk": "DEAL"}, None, deal, at("2026-03-10"))
    assert row["amount"] is None


def test_items_the_lake_does_not_keep_give_no_rows() -> None:
    for keys in ({"pk": "SOURCE#s", "sk": "SOURCE"}, {"pk": "DEAL#d", "sk": "HISTORY#0000000001"}):
        assert lake_rows.change_rows(keys, None, {**keys, "version": 1}, at("2026-03-01")) == []


def test_touches_and_channels() -> None:
    paid = lake_rows.event_row(
        page("x1", "a", at("2026-03-01"), "/", utm={"source": "google", "medium": "cpc"})
    )
    assert (paid["touch"], paid["channel"], paid["utm_source"]) == (True, "paid", "google")
    search = lake_rows.event_row(page("x2", "a", at("2026-03-01"), "/", referrer="https://www.google.com/"))
    assert (search["touch"], search["channel"], search["referrer_host"]) == (True, "search", "www.google.com")
    inside = lake_rows.event_row(
        page("x3", "a", at("2026-03-01"), "/b", referrer="https://www.example.com/a")
    )
    assert (inside["touch"], inside["channel"]) == (False, None)
    assert lake_rows.channel_of(None, None, None, None) == "direct"
    assert lake_rows.channel_of("email", None, None, None) == "email"
    assert lake_rows.channel_of(None, "linkedin", None, None) == "social"


def test_the_schema_is_the_templates_glue_tables() -> None:
    template = StackTemplate.load()
    for logical, table in (("LakeEventsTable", EVENTS), ("LakeChangesTable", CHANGES)):
        glue = template.resources[logical]["Properties"]["TableInput"]
        columns = [(c["Name"], c["Type"]) for c in glue["StorageDescriptor"]["Columns"]]
        assert columns == [(c.name, c.type) for c in table.columns]
        assert glue["PartitionKeys"] == [{"Name": PARTITION, "Type": "string"}]
        assert glue["Name"] == table.name


def test_rows_are_packed_into_records_of_json_lines() -> None:
    from lake.store import firehose

    rows = [lake_rows.event_row(e) for e in events()] * 300  # 1,500 rows
    records, too_large = firehose.pack(rows)
    assert too_large == set()
    assert [index for indexes, _ in records for index in indexes] == list(range(len(rows)))
    for indexes, data in records:
        assert len(indexes) <= firehose.MAX_ROWS_PER_RECORD
        assert len(data) <= firehose.MAX_RECORD_BYTES
        assert [json.loads(line) for line in data.decode().splitlines()] == [rows[i] for i in indexes]
    huge = {**rows[0], "page_path": "x" * (firehose.MAX_RECORD_BYTES + 1)}
    assert firehose.pack([huge, rows[1]])[1] == {0}
