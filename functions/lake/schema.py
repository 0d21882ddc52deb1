"""The lake's two tables: their columns, types and partition, in one place (docs/lake.md).

`events` has one row per stored tracking event; `changes` one row per fact a main-table write tells:
a stage move, an identity a profile claimed, a merge, a profile becoming known, a version of a lead,
contact, deal, order or contract, and each milestone of an email send (sent, opened, clicked,
converted). Both are Parquet on S3, partitioned by `day` (the UTC day the row happened), registered in
Glue with partition projection on `day`.

Rows carry ids, never personal data: no email, name, phone, IP, free text or full URL (a page is its
host and path; a referrer its host). Erasing a person later needs no rewrite of history: the ids lead
nowhere once the profile and its identities are gone.

Every row has a stable id (`event_id`, `change_id`) derived from what it describes, so a stream record
delivered twice, or a Firehose batch written twice, gives two identical rows with one id; every report
counts distinct ids.

The template's Glue tables (template.yaml, `LakeEventsTable` and `LakeChangesTable`) list the same
columns with the same types; a test compares them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PARTITION = "day"  # yyyy-mm-dd, the UTC day of `occurred_at` / `at`

GlueType = Literal["string", "timestamp", "boolean", "bigint", "decimal(18,2)", "date"]

# How the same types are spelled in DuckDB (the local engine and the bench).
DUCKDB_TYPES: dict[str, str] = {
    "string": "VARCHAR",
    "timestamp": "TIMESTAMP",
    "boolean": "BOOLEAN",
    "bigint": "BIGINT",
    "decimal(18,2)": "DECIMAL(18,2)",
    "date": "DATE",
}


@dataclass(frozen=True)
class Column:
    name: str
    type: GlueType
    doc: str

    @property
    def duckdb_type(self) -> str:
        return DUCKDB_TYPES[self.type]


@dataclass(frozen=True)
class LakeTable:
    name: str  # the Glue table name and the S3 prefix (`<name>/day=<yyyy-mm-dd>/`)
    id_column: str
    columns: tuple[Column, ...]  # without the partition column

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    def duckdb_columns(self) -> dict[str, str]:
        """name -> DuckDB type, the partition column included (for reading JSON rows)."""
        return {**{c.name: c.duckdb_type for c in self.columns}, PARTITION: "VARCHAR"}


EVENTS = LakeTable(
    name="events",
    id_column="event_id",
    columns=(
        Column("event_id", "string", "sha-256 of source id and messageId (hex, 32): one per stored event"),
        Column("source_id", "string", "the source (site or app) that sent it"),
        Column("type", "string", "track, page, screen, identify, group, alias"),
        Column("event_name", "string", "a track call's event name (page: the page's name)"),
        Column("identity", "string", "whose event: user:<userId>, else anon:<anonymousId>"),
        Column("anonymous_id", "string", "the browser's anonymous id"),
        Column("user_id", "string", "the site's user id, when known"),
        Column("occurred_at", "timestamp", "when it happened (the corrected timestamp), UTC"),
        Column("received_at", "timestamp", "when tracking received it, UTC"),
        Column("page_host", "string", "the page's host (no query, no fragment)"),
        Column("page_path", "string", "the page's path (no query, no fragment)"),
        Column("referrer_host", "string", "the referring page's host"),
        Column("utm_source", "string", "utm_source / context.campaign.source"),
        Column("utm_medium", "string", "utm_medium / context.campaign.medium"),
        Column("utm_campaign", "string", "utm_campaign / context.campaign.name"),
        Column("utm_content", "string", "utm_content / context.campaign.content"),
        Column("touch", "boolean", "a marketing touch: campaign tags, or arrival from another site"),
        Column("channel", "string", "the touch's channel: email, paid, social, search, referral, direct"),
    ),
)

ChangeKind = Literal[
    "stage", "identity", "merge", "known", "lead", "contact", "deal", "order", "contract", "send"
]
CHANGE_KINDS: tuple[str, ...] = ChangeKind.__args__  # type: ignore[attr-defined]

CHANGES = LakeTable(
    name="changes",
    id_column="change_id",
    columns=(
        Column("change_id", "string", "sha-256 (hex, 32) of what the row describes: one per fact"),
        Column("kind", "string", "stage, identity, merge, known, lead, contact, deal, order, contract, send"),
        Column("at", "timestamp", "when it happened, UTC"),
        Column("profile_id", "string", "the person (stage, identity, merge, known, lead, contact, send)"),
        Column("identity", "string", "identity rows: user:<userId> or anon:<anonymousId> (never an email)"),
        Column("merged_into", "string", "merge rows: the surviving profile"),
        Column("stage", "string", "stage rows: the stage reached"),
        Column("previous_stage", "string", "stage rows: the stage left"),
        Column("changed_by", "string", "stage rows: scoring, rule, sales, admin, journey ... (no user ids)"),
        Column("lead_id", "string", "lead rows, deal rows (the lead it came from)"),
        Column("contact_id", "string", "contact, deal, order and contract rows"),
        Column("account_id", "string", "contact, deal, order and contract rows"),
        Column("deal_id", "string", "deal rows; order rows (the deal it closed)"),
        Column("order_id", "string", "order rows; contract rows (the order it came from)"),
        Column("contract_id", "string", "contract rows; deal rows (the contract a renewal deal renews)"),
        Column("status", "string", "lead/order/contract status; deal outcome (open, won, lost)"),
        Column("pipeline_stage", "string", "deal rows: the pipeline stage id"),
        Column("amount", "decimal(18,2)", "deal amount, order total, contract value"),
        Column("currency", "string", "ISO 4217 code of `amount`"),
        Column("closed_at", "timestamp", "deal rows: when it was won or lost"),
        Column("end_date", "date", "contract rows: the contract's last day"),
        Column("version", "bigint", "CRM rows: the record's version (the latest wins)"),
        Column("send_id", "string", "send rows: the send (message) id"),
        Column("milestone", "string", "send rows: sent, opened, clicked, converted"),
        Column("campaign_id", "string", "send rows: the campaign"),
        Column("journey_id", "string", "send rows: the journey"),
        Column("step_id", "string", "send rows: the journey step"),
    ),
)

TABLES: tuple[LakeTable, ...] = (EVENTS, CHANGES)

# Fields that must never appear in a lake row, whatever the row; a test checks every kind of row.
PERSONAL_FIELDS = frozenset({"email", "name", "first_name", "last_name", "phone", "ip", "title", "address"})
