"""The key design of both tables, in one place. docs/data-model.md explains every access pattern."""

from __future__ import annotations

import uuid
import zlib


def short_id(prefix: str, new_id: str | None = None) -> str:
    """The id of a new marketing document (`tpl-3f2a...`): `prefix`, then 16 hex digits of `new_id` (a
    UUID: a create retried with the same Idempotency-Key gets the same one), else of a random UUID."""
    return f"{prefix}-{(uuid.UUID(new_id) if new_id else uuid.uuid4()).hex[:16]}"


# Events table: one item per (source, messageId), so a resent message overwrites itself.
EVENT_SK = "EVENT"


def event_key(source_id: str, message_id: str) -> dict[str, str]:
    return {"pk": f"EVENT#{source_id}#{message_id}", "sk": EVENT_SK}


# Main table (single-table design).
def source_key(source_id: str) -> dict[str, str]:
    return {"pk": f"SOURCE#{source_id}", "sk": "SOURCE"}


def write_key_index(write_key: str) -> dict[str, str]:
    """GSI1 entry that finds a source by its write key."""
    return {"gsi1pk": f"WRITEKEY#{write_key}", "gsi1sk": "SOURCE"}


def form_key(form_id: str) -> dict[str, str]:
    return {"pk": f"FORM#{form_id}", "sk": "FORM"}


def profile_key(profile_id: str) -> dict[str, str]:
    return {"pk": f"PROFILE#{profile_id}", "sk": "PROFILE"}


def identity_key(kind: str, value: str) -> dict[str, str]:
    """An identity (anonymous id, user id, email) points at the profile it belongs to."""
    return {"pk": f"IDENTITY#{kind}#{value}", "sk": "IDENTITY"}


MERGE_SK_PREFIX = "MERGE#"
CONSENT_SK_PREFIX = "CONSENT#"


def consent_history_key(profile_id: str, at: str, suffix: str) -> dict[str, str]:
    """One change of a person's consent (the proof), in the profile's partition, oldest first by time."""
    return {"pk": f"PROFILE#{profile_id}", "sk": f"{CONSENT_SK_PREFIX}{at}#{suffix}"}


def topic_key(topic_id: str) -> dict[str, str]:
    """An email subscription topic (mail.topics)."""
    return {"pk": f"TOPIC#{topic_id}", "sk": "TOPIC"}


TOPIC_LIST = "TOPICS"


def topic_list_index(topic_id: str) -> dict[str, str]:
    return {"gsi1pk": TOPIC_LIST, "gsi1sk": topic_id}


def merge_key(survivor_id: str, absorbed_id: str) -> dict[str, str]:
    """Record that `absorbed_id` (an anonymous profile) was merged into `survivor_id`."""
    return {"pk": f"PROFILE#{survivor_id}", "sk": f"{MERGE_SK_PREFIX}{absorbed_id}"}


# CRM leads. GSI1 lists the leads sales may see, newest first; GSI2 lists a rep's own leads.
def lead_key(lead_id: str) -> dict[str, str]:
    return {"pk": f"LEAD#{lead_id}", "sk": "LEAD"}


def lead_indexes(
    *, visible_to_sales: bool, owner_id: str | None, created_at: str, lead_id: str
) -> dict[str, str]:
    """Index entries of a lead. A lead hidden from sales has no GSI1/GSI2 entry at all, so no sales
    query can return it, whatever its filters."""
    if not visible_to_sales:
        return {}
    entries = {"gsi1pk": "LEADS#SALES", "gsi1sk": f"{created_at}#{lead_id}"}
    if owner_id:
        entries |= {"gsi2pk": f"OWNER#{owner_id}#LEADS", "gsi2sk": f"{created_at}#{lead_id}"}
    return entries


# --- scoring, lifecycle and handoff (docs/scoring.md) ------------------------------------------------
# Profiles are listed by current score (GSI1) and by lifecycle stage (GSI2). Every profile write updates
# its entries, so each list is spread over PROFILE_INDEX_SHARDS partitions (by a hash of the profile id)
# that a reader queries together: no single index partition takes every profile write.
PROFILE_INDEX_SHARDS = 8
EVENTS_BY_IDENTITY_INDEX = "ByIdentity"
SCORING_CONFIG_PK = "CONFIG#SCORING"
HANDOFF_SK_PREFIX = "HANDOFF#"


def profile_shard(profile_id: str) -> int:
    return zlib.crc32(profile_id.encode()) % PROFILE_INDEX_SHARDS


def score_index_partition(shard: int) -> str:
    return f"SCORES#{shard}"


def stage_index_partition(stage: str, shard: int) -> str:
    return f"STAGE#{stage}#{shard}"


def profile_indexes(
    *, profile_id: str, score_key: str | None, stage: str | None, stage_changed_at: str | None
) -> dict[str, str]:
    """Index entries of a profile: by score (known, live profiles) and by stage (newest change first).
    An absorbed profile (mergedInto) gets none: it is history, not a person to list."""
    shard = profile_shard(profile_id)
    entries: dict[str, str] = {}
    if score_key is not None:
        entries |= {"gsi1pk": score_index_partition(shard), "gsi1sk": f"{score_key}#{profile_id}"}
    if stage is not None:
        entries |= {
            "gsi2pk": stage_index_partition(stage, shard),
            "gsi2sk": f"{stage_changed_at or ''}#{profile_id}",
        }
    return entries


def tag_key(tag: str, profile_id: str) -> dict[str, str]:
    """A profile carries a tag: one item per (tag, profile), so a tag's profiles are one Query."""
    return {"pk": f"TAG#{tag}", "sk": f"PROFILE#{profile_id}"}


def handoff_key(profile_id: str, number: int) -> dict[str, str]:
    """The n-th handoff of a profile to sales and the steps done for it (owner, lead, email, event)."""
    return {"pk": f"PROFILE#{profile_id}", "sk": f"{HANDOFF_SK_PREFIX}{number:06d}"}


def scoring_rule_key(rule_id: str) -> dict[str, str]:
    """Scoring configuration lives in one partition, read whole with one Query."""
    return {"pk": SCORING_CONFIG_PK, "sk": f"RULE#{rule_id}"}


def assignment_rule_key(rule_id: str) -> dict[str, str]:
    return {"pk": SCORING_CONFIG_PK, "sk": f"ASSIGN#{rule_id}"}


def scoring_settings_key() -> dict[str, str]:
    return {"pk": SCORING_CONFIG_PK, "sk": "SETTINGS"}


def scoring_seeded_key() -> dict[str, str]:
    """Marks that the default rules were seeded once (deleting every rule does not bring them back)."""
    return {"pk": SCORING_CONFIG_PK, "sk": "SEEDED"}


def round_robin_key() -> dict[str, str]:
    """The position of round-robin lead assignment among the active sales users."""
    return {"pk": SCORING_CONFIG_PK, "sk": "ROUNDROBIN"}


def event_identity(kind: str, value: str) -> str:
    """The events table's `identity` attribute (GSI ByIdentity): whose event it is, as tracking saw it."""
    return f"{kind}:{value}"


# --- CRM records (crm/store/records.py writes them all) -------------------------------------
# Every CRM record is one item `<KIND>#<id>` / `<KIND>` (a lead is `LEAD#<id>` / `LEAD`, as above). Its
# change history lives in the same partition, one item per version, so a record's history is one Query.
#
# The three generic indexes serve the CRM's lists, the same way for every kind of record; each list is
# newest first (descending sort key) and its sort key starts with the kind's date, so a date range is a
# key condition, not a filter:
#
# | index | partition | sort key | which list |
# | --- | --- | --- | --- |
# | GSI1 | `<KIND>S` (leads: `LEADS#SALES`, sales-visible only) | `<date>#<id>` | every record of a kind |
# | GSI2 | `OWNER#<userId>#<KIND>S` | `<date>#<id>` | a rep's records of a kind ("my deals") |
# | GSI3 | `ACCOUNT#<accountId>#<KIND>S` | `<date>#<id>` | an account's records of a kind |
#
# (An account's records: its contacts, deals, activities, notes; for accounts, their child accounts.)
#
# The date is the kind's own: deals sort by close date, activities by due time, the rest by creation.
# Other filters (stage, status, type ...) are filter expressions on the chosen index's query.
#
# Per kind (the RecordType in functions/crm/resources/ says which fields feed the indexes):
# - account: GSI1 all accounts; GSI2 an owner's; GSI3 a parent account's children (`parentId`).
# - contact, deal, activity: GSI1 all; GSI2 an owner's; GSI3 an account's. Deals by close date
#   (the forecast reads GSI1 or GSI2 with the close-date range), activities by due time.
# - note: GSI1 all; GSI3 an account's (no owner list: the author is `createdBy`).
# - lead: lead_indexes above (GSI1 and GSI2 only, and only while sales may see the lead).
# - pipeline: GSI1 only. Quotes, orders, contracts, tickets, products: docs/commerce.md.
HISTORY_PREFIX = "HISTORY#"
TIMELINE_PREFIX = "TIMELINE#"
CRM_INDEXES = ("GSI1", "GSI2", "GSI3")


def record_key(kind: str, record_id: str) -> dict[str, str]:
    tag = kind.upper()
    return {"pk": f"{tag}#{record_id}", "sk": tag}


def history_key(kind: str, record_id: str, version: int) -> dict[str, str]:
    """The change that made `version` of a record: zero-padded, so the sort key orders versions."""
    return {"pk": f"{kind.upper()}#{record_id}", "sk": f"{HISTORY_PREFIX}{version:010d}"}


def timeline_key(account_id: str, at: str, kind: str, record_id: str, version: int) -> dict[str, str]:
    """An entry on an account's timeline, in the account's own partition, ordered by time."""
    return {
        "pk": f"ACCOUNT#{account_id}",
        "sk": f"{TIMELINE_PREFIX}{at}#{kind}#{record_id}#{version:010d}",
    }


def unique_key(kind: str, field: str, value: str) -> dict[str, str]:
    """Claims a unique value (a contact's email, a product's SKU) for one record."""
    return {"pk": f"UNIQUE#{kind}#{field}#{value}", "sk": "UNIQUE"}


def _kind_partition(kind: str) -> str:
    return "LEADS#SALES" if kind == "lead" else f"{kind.upper()}S"


def record_list_partition(
    kind: str, *, owner_id: str | None = None, account_id: str | None = None
) -> tuple[str, str]:
    """(index, partition value) of the list that holds a kind's records of one owner, one account, or
    all of them. An account is the narrower list when both are given."""
    if account_id:
        return "GSI3", f"ACCOUNT#{account_id}#{kind.upper()}S"
    if owner_id:
        return "GSI2", f"OWNER#{owner_id}#{kind.upper()}S"
    return "GSI1", _kind_partition(kind)


def record_indexes(
    kind: str, *, record_id: str, sort_value: str, owner_id: str | None, account_id: str | None
) -> dict[str, str]:
    """Index entries of a CRM record (not leads: lead_indexes keeps hidden leads out of every list)."""
    sort = f"{sort_value}#{record_id}"
    entries = {"gsi1pk": _kind_partition(kind), "gsi1sk": sort}
    if owner_id:
        entries |= {"gsi2pk": record_list_partition(kind, owner_id=owner_id)[1], "gsi2sk": sort}
    if account_id:
        entries |= {"gsi3pk": record_list_partition(kind, account_id=account_id)[1], "gsi3sk": sort}
    return entries


# --- Email (docs/email.md) ---------------------------------------------------------------------------
# A template is a head item (the latest version, listed newest-updated first on GSI1) plus one immutable
# item per version, so a queued send renders exactly the version it names, whatever happened since.
TEMPLATE_VERSION_PREFIX = "VERSION#"


def template_key(template_id: str) -> dict[str, str]:
    return {"pk": f"TEMPLATE#{template_id}", "sk": "TEMPLATE"}


def template_version_key(template_id: str, version: int) -> dict[str, str]:
    return {"pk": f"TEMPLATE#{template_id}", "sk": f"{TEMPLATE_VERSION_PREFIX}{version:010d}"}


TEMPLATE_LIST = "EMAILTEMPLATES"


def template_list_index(updated_at: str, template_id: str) -> dict[str, str]:
    """GSI1 entry of a live (not archived) template."""
    return {"gsi1pk": TEMPLATE_LIST, "gsi1sk": f"{updated_at}#{template_id}"}


def suppression_key(email: str) -> dict[str, str]:
    """An address marketing email must never go to (unsubscribed, bounced, complained, manual)."""
    return {"pk": f"SUPPRESSION#{email}", "sk": "SUPPRESSION"}


def send_key(message_id: str) -> dict[str, str]:
    """One email to one person: the send claim, then its outcome and what happened to it."""
    return {"pk": f"SEND#{message_id}", "sk": "SEND"}


def email_cap_key(profile_id: str, week: str) -> dict[str, str]:
    """A person's marketing-email counter for one ISO week (`2025-W07`); expires by TTL."""
    return {"pk": f"EMAILCAP#{profile_id}", "sk": f"WEEK#{week}"}


# --- Commerce: quotes, orders, contracts, tickets (docs/commerce.md) ------------------------------------
# Products, quotes, orders, contracts and tickets are CRM records (record_key / record_indexes above).
# These are the items around them.
QUOTE_REVISION_PREFIX = "REVISION#"
ATTACHMENT_PREFIX = "ATTACHMENT#"


def quote_revision_key(quote_id: str, revision: int) -> dict[str, str]:
    """A sent revision of a quote, kept as the customer received it when the quote was edited after."""
    return {"pk": f"QUOTE#{quote_id}", "sk": f"{QUOTE_REVISION_PREFIX}{revision:010d}"}


def attachment_key(parent_kind: str, parent_id: str, attachment_id: str) -> dict[str, str]:
    """A file's metadata, in the partition of the record it is attached to (listed by one Query)."""
    return {"pk": f"{parent_kind.upper()}#{parent_id}", "sk": f"{ATTACHMENT_PREFIX}{attachment_id}"}


def contract_timer_key(contract_id: str) -> dict[str, str]:
    """An active contract's one pending timer (renew, then expire), next to the contract."""
    return {"pk": f"CONTRACT#{contract_id}", "sk": "TIMER"}


def contract_timer_partition(month: str) -> str:
    """GSI1 partition of the timers due in one month (`2026-11`): sparse, timers only."""
    return f"CONTRACT-TIMERS#{month}"


def contract_timer_index(due: str, contract_id: str) -> dict[str, str]:
    return {"gsi1pk": contract_timer_partition(due[:7]), "gsi1sk": f"{due}#{contract_id}"}


def digest_claim_key(owner_id: str, day: str) -> dict[str, str]:
    """The daily digest of one owner on one day: claimed before it is sent, so it is sent once."""
    return {"pk": f"DIGEST#{owner_id}", "sk": f"DAY#{day}"}


# --- Campaigns and reports (docs/campaigns.md) ---------------------------------------------------------
CAMPAIGN_LIST = "CAMPAIGNS"
CONVERSION_GOALS_PK = "CONVERSIONGOALS"


def campaign_key(campaign_id: str) -> dict[str, str]:
    return {"pk": f"CAMPAIGN#{campaign_id}", "sk": "CAMPAIGN"}


def campaign_list_index(updated_at: str, campaign_id: str) -> dict[str, str]:
    """GSI1 entry of a campaign that is not deleted, listed last changed first."""
    return {"gsi1pk": CAMPAIGN_LIST, "gsi1sk": f"{updated_at}#{campaign_id}"}


def conversion_goal_key(kind: str, owner_id: str) -> dict[str, str]:
    """The conversion goal of a started campaign (`CAMPAIGN#<id>`) or a live journey (`JOURNEY#<id>`), in
    one small partition that conversions read whole (cached). A campaign's expires by TTL when its window
    is over; a journey's when it is retired (published without a goal, or archived) and its window is over."""
    return {"pk": CONVERSION_GOALS_PK, "sk": f"{kind.upper()}#{owner_id}"}


def report_key(kind: str, owner_id: str, group: str) -> dict[str, str]:
    """The counters of one report group: a campaign's variant, or a journey's step. One Query per report."""
    return {"pk": f"REPORT#{kind}#{owner_id}", "sk": f"GROUP#{group}"}


def report_partition(kind: str, owner_id: str) -> str:
    return f"REPORT#{kind}#{owner_id}"


def send_profile_index(profile_id: str, at: str, message_id: str) -> dict[str, str]:
    """GSI1 entry of a send record: a person's emails by time, so a conversion finds the emails that
    preceded it within a window with one Query."""
    return {"gsi1pk": f"PROFILESENDS#{profile_id}", "gsi1sk": f"{at}#{message_id}"}


# --- Journeys (docs/journeys.md) -------------------------------------------------------------------------
# A journey is a head item plus one immutable item per version, and per-step counters (sharded by person,
# so a big journey spreads its counter writes); each (journey, person) has a partition of its own with the
# enrollment (re-entry bookkeeping), one item per run and the claims of its owner notifications.
JOURNEY_LIST = "JOURNEYS"
LIVE_JOURNEYS = "JOURNEYS#LIVE"
JOURNEY_VERSION_PREFIX = "VERSION#"
JOURNEY_STATS_PREFIX = "STATS#"
JOURNEY_RUN_PREFIX = "RUN#"


def journey_key(journey_id: str) -> dict[str, str]:
    return {"pk": f"JOURNEY#{journey_id}", "sk": "JOURNEY"}


def journey_version_key(journey_id: str, version: int) -> dict[str, str]:
    return {"pk": f"JOURNEY#{journey_id}", "sk": f"{JOURNEY_VERSION_PREFIX}{version:010d}"}


def journey_list_index(updated_at: str, journey_id: str) -> dict[str, str]:
    """GSI1 entry of a journey that is not archived, listed last changed first."""
    return {"gsi1pk": JOURNEY_LIST, "gsi1sk": f"{updated_at}#{journey_id}"}


def live_journey_index(journey_id: str) -> dict[str, str]:
    """GSI3 entry of a live journey (sparse): the stream reads every live trigger with one Query."""
    return {"gsi3pk": LIVE_JOURNEYS, "gsi3sk": journey_id}


def journey_stats_key(journey_id: str, step_id: str, shard: int) -> dict[str, str]:
    """One shard of a step's counters (reached, waiting, exited); a report reads them with one Query."""
    return {"pk": f"JOURNEY#{journey_id}", "sk": f"{JOURNEY_STATS_PREFIX}{step_id}#{shard}"}


def journey_person_partition(journey_id: str, profile_id: str) -> str:
    return f"JRUN#{journey_id}#{profile_id}"


def enrollment_key(journey_id: str, profile_id: str) -> dict[str, str]:
    return {"pk": journey_person_partition(journey_id, profile_id), "sk": "ENROLLMENT"}


def journey_run_key(journey_id: str, profile_id: str, entry: int) -> dict[str, str]:
    return {"pk": journey_person_partition(journey_id, profile_id), "sk": f"{JOURNEY_RUN_PREFIX}{entry:06d}"}


def journey_run_list_index(journey_id: str, entered_at: str, run_id: str) -> dict[str, str]:
    """GSI1 entry of every run of a journey, newest first."""
    return {"gsi1pk": f"JOURNEYRUNS#{journey_id}", "gsi1sk": f"{entered_at}#{run_id}"}


def waiting_run_index(profile_id: str, run_id: str) -> dict[str, str]:
    """GSI2 entry of a run waiting for an event of this person (only while it waits): a profile change
    finds the runs it may wake with one Query, never a scan."""
    return {"gsi2pk": f"JWAIT#{profile_id}", "gsi2sk": run_id}


def journey_notify_key(journey_id: str, profile_id: str, entry: int, seq: int) -> dict[str, str]:
    """The claim of one owner notification of a run's step, so it is sent at most once."""
    return {"pk": journey_person_partition(journey_id, profile_id), "sk": f"NOTIFY#{entry:06d}#{seq:06d}"}


# --- Segments (docs/segments.md) ---------------------------------------------------------------------------
# A segment's partition holds its definition, one item per member (a page of members is one Query, in
# profile id order) and its member count, sharded like the profile indexes (each entry or exit adds to one
# shard in the same transaction as the member item; the count is the sum of one Query). Live segments are
# listed on GSI1, newest changed first (the API's list); the evaluators know them from one registry item.
SEGMENT_LIST = "SEGMENTS"
SEGMENT_MEMBER_PREFIX = "MEMBER#"
SEGMENT_COUNT_PREFIX = "COUNT#"


def segment_key(segment_id: str) -> dict[str, str]:
    return {"pk": f"SEGMENT#{segment_id}", "sk": "SEGMENT"}


def segment_registry_key() -> dict[str, str]:
    """The ids of the live segments and a revision token that every definition change replaces, in the same
    transaction: an evaluator reads it (consistently) to know whether the definitions it holds are current,
    and reads them again, by id, only when the revision moved."""
    return {"pk": "SEGMENTS", "sk": "REGISTRY"}


def segment_list_index(updated_at: str, segment_id: str) -> dict[str, str]:
    """GSI1 entry of a live (not archived) segment."""
    return {"gsi1pk": SEGMENT_LIST, "gsi1sk": f"{updated_at}#{segment_id}"}


def segment_member_key(segment_id: str, profile_id: str) -> dict[str, str]:
    return {"pk": f"SEGMENT#{segment_id}", "sk": f"{SEGMENT_MEMBER_PREFIX}{profile_id}"}


def segment_count_key(segment_id: str, shard: int) -> dict[str, str]:
    return {"pk": f"SEGMENT#{segment_id}", "sk": f"{SEGMENT_COUNT_PREFIX}{shard}"}


def segment_timer_key(profile_id: str) -> dict[str, str]:
    """When the person's one segment timer is set for (absent: none), next to the profile: the stream
    reads it with the memberships and calls the scheduler only when the time changes."""
    return {"pk": f"PROFILE#{profile_id}", "sk": "SEGMENT-TIMER"}


# --- The closed loop (docs/closed-loop.md) -------------------------------------------------------------
# Items the closed loop keeps beside profiles and accounts; none has sk PROFILE, so the profile stream's
# consumers never see them.
REVENUE_PREFIX = "REVENUE#"
ACCOUNT_PERSON_PREFIX = "PERSON#"


def loop_marker_key(change_id: str) -> dict[str, str]:
    """A CRM or profile change the closed loop has applied (`<pk of the record>#<version>`): written in the
    transaction of its effects, so a redelivered stream record finds it and changes nothing twice."""
    return {"pk": f"CLOSEDLOOP#{change_id}", "sk": "APPLIED"}


def open_deals_key(profile_id: str) -> dict[str, str]:
    """The person's open deals (a string set) and a revision that every change of the set bumps."""
    return {"pk": f"PROFILE#{profile_id}", "sk": "OPENDEALS"}


def revenue_key(scope: str, owner_id: str, currency: str) -> dict[str, str]:
    """Realized revenue of a person (`scope` PROFILE) or an account (ACCOUNT) in one currency."""
    return {"pk": f"{scope}#{owner_id}", "sk": f"{REVENUE_PREFIX}{currency}"}


def contact_link_key(profile_id: str) -> dict[str, str]:
    """The CRM contact of a profile (the reverse of the contact's `profileId`)."""
    return {"pk": f"PROFILE#{profile_id}", "sk": "CONTACT"}


def account_person_key(account_id: str, profile_id: str) -> dict[str, str]:
    """A person counted in an account's engagement, with why (`via`: contact:<id>, group:<groupId>)."""
    return {"pk": f"ACCOUNT#{account_id}", "sk": f"{ACCOUNT_PERSON_PREFIX}{profile_id}"}


def group_person_key(group_id: str, profile_id: str) -> dict[str, str]:
    """A person seen in a Segment `group` call of `group_id`, whether or not an account claims it yet."""
    return {"pk": f"GROUP#{group_id}", "sk": f"{ACCOUNT_PERSON_PREFIX}{profile_id}"}


def group_link_key(group_id: str) -> dict[str, str]:
    """The account that claims a Segment group id (its web domain, or customFields.groupId)."""
    return {"pk": f"GROUPLINK#{group_id.strip().lower()}", "sk": "GROUPLINK"}


# --- lake: marketing spend and report runs (docs/lake.md) ---------------------------------------------
SPEND_LIST = "SPEND"


def spend_key(month: str, channel: str) -> dict[str, str]:
    """What marketing spent on one channel in one month (yyyy-mm)."""
    return {"pk": f"SPEND#{month}", "sk": f"CHANNEL#{channel}"}


def spend_list_index(month: str, channel: str) -> dict[str, str]:
    """GSI1 entry of a spend: all spends, by month then channel (a range of months is one Query)."""
    return {"gsi1pk": SPEND_LIST, "gsi1sk": f"{month}#{channel}"}


def report_run_key(run_id: str) -> dict[str, str]:
    """A report's latest run for one set of parameters (its Athena query), reused while fresh."""
    return {"pk": f"REPORTRUN#{run_id}", "sk": "REPORTRUN"}


# --- customer data: imports (docs/customer-data.md) ------------------------------------------
def import_key(import_id: str) -> dict[str, str]:
    return {"pk": f"IMPORT#{import_id}", "sk": "IMPORT"}


def import_chunk_key(import_id: str, number: int) -> dict[str, str]:
    """A chunk's result, written once: its counts were added to the job's in the same transaction."""
    return {"pk": f"IMPORT#{import_id}", "sk": f"CHUNK#{number:06d}"}


def import_list_index(created_at: str, import_id: str) -> dict[str, str]:
    return {"gsi1pk": "IMPORTS", "gsi1sk": f"{created_at}#{import_id}"}


# --- customer data: erasures (docs/customer-data.md, Erasure) ------------------------------------
def erasure_key(erasure_id: str) -> dict[str, str]:
    return {"pk": f"ERASURE#{erasure_id}", "sk": "ERASURE"}


def erasure_list_index(created_at: str, erasure_id: str) -> dict[str, str]:
    return {"gsi1pk": "ERASURES", "gsi1sk": f"{created_at}#{erasure_id}"}


def erasure_step_key(erasure_id: str, step: str, page: int) -> dict[str, str]:
    """One page of one step of an erasure, written once with the counts it added to the receipt."""
    return {"pk": f"ERASURE#{erasure_id}", "sk": f"STEP#{step}#{page:06d}"}


def erased_subject_key(subject_hash: str) -> dict[str, str]:
    """The erasure of a person (a salted hash of their profile id or address): the same person asked for
    again finds it."""
    return {"pk": f"ERASED#{subject_hash}", "sk": "ERASED"}


def hashed_suppression_key(address_hash: str) -> dict[str, str]:
    """An erased address, still suppressed: only its salted hash is kept (leadstream.privacy)."""
    return {"pk": f"SUPPRESSION#HASH#{address_hash}", "sk": "SUPPRESSION"}


# --- customer data: exports and account imports (docs/customer-data.md) ----------------------------
def export_key(export_id: str) -> dict[str, str]:
    return {"pk": f"EXPORT#{export_id}", "sk": "EXPORT"}


def export_list_index(created_at: str, export_id: str) -> dict[str, str]:
    return {"gsi1pk": "EXPORTS", "gsi1sk": f"{created_at}#{export_id}"}


def account_match_key(kind: str, value: str) -> dict[str, str]:
    """Which CRM account an import matched by an external id, a domain or a name (`kind`), normalised."""
    return {"pk": f"ACCOUNTMATCH#{kind}#{value}", "sk": "ACCOUNTMATCH"}
