"""The lake on moto: stream records -> LakeFeedFunction -> Firehose (moto) -> the local delivery's Parquet
-> the reports API (DuckDB over the bucket), and Athena's side of the reports API."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest
from lake_data import PERIOD, SPEND, events, main_table_writes
from scoring_support import LambdaContext

from leadstream import keys
from leadstream.store.dynamo import serialize
from leadstream_local.firehose import FirehoseDelivery
from leadstream_local.inprocess import Call
from leadstream_local.lambda_events import dynamodb_stream_event
from leadstream_local.template import StackTemplate


def _event_records(template: StackTemplate) -> dict[str, Any]:
    records = []
    for number, event in enumerate(events(), 1):
        item = event.to_item(keys.event_key(event.source_id, event.message_id), 2_000_000_000)
        records.append({
            "eventID": f"ev{number}", "eventName": "INSERT",
            "dynamodb": {"Keys": serialize({"pk": item["pk"], "sk": item["sk"]}), "NewImage": serialize(item),
                         "SequenceNumber": str(number).zfill(21), "StreamViewType": "NEW_IMAGE"},
        })  # fmt: skip
    return dynamodb_stream_event(records, stream_arn=template.physical["EventsTable"]["StreamArn"])


def _change_records(template: StackTemplate) -> dict[str, Any]:
    records = []
    for number, (old, new) in enumerate(main_table_writes(), 1):
        change: dict[str, Any] = {
            "Keys": serialize({"pk": new["pk"], "sk": new["sk"]}), "NewImage": serialize(new),
            "SequenceNumber": str(number).zfill(21), "StreamViewType": "NEW_AND_OLD_IMAGES",
            "ApproximateCreationDateTime": 1_772_323_200,  # 2026-03-01
        }  # fmt: skip
        if old is not None:
            change["OldImage"] = serialize(old)
        records.append(
            {"eventID": f"ch{number}", "eventName": "MODIFY" if old else "INSERT", "dynamodb": change}
        )
    return dynamodb_stream_event(records, stream_arn=template.physical["MainTable"]["StreamArn"])


def _feed(template: StackTemplate) -> None:
    from handlers.lake_feed import lambda_handler

    for event in (_event_records(template), _change_records(template)):
        assert lambda_handler(event, LambdaContext()) == {"batchItemFailures": []}


def _deliver(template: StackTemplate) -> FirehoseDelivery:
    delivery = FirehoseDelivery(template.delivery_streams(), s3_client=boto3.client("s3"))
    delivery.poll_once()
    return delivery


def _bucket(template: StackTemplate) -> str:
    return template.physical["LakeBucket"]["Ref"]


@pytest.fixture
def lake(aws: StackTemplate, monkeypatch: pytest.MonkeyPatch) -> StackTemplate:
    """The hand-checked data set, delivered twice through the feed and the local Firehose; DuckDB reports."""
    monkeypatch.setenv("LAKE_QUERY_ENGINE", "duckdb")
    _feed(aws)
    _feed(aws)  # every stream record delivered again
    _deliver(aws)
    return aws


def _report(call_api: Call, token: str, path: str, **query: str) -> Any:
    reply = call_api("GET", path, query=urlencode({**PERIOD, **query}), token=token)
    assert reply.status == 200, reply.body
    return reply.json()


def test_rows_land_as_parquet_by_day(lake: StackTemplate) -> None:
    listed = boto3.client("s3").list_objects_v2(Bucket=_bucket(lake))["Contents"]
    found = {entry["Key"].rsplit("/", 1)[0] for entry in listed}
    assert "events/day=2026-02-20" in found
    assert "changes/day=2026-03-20" in found
    assert not [key for key in found if key.startswith(("_firehose", "errors"))]
    assert all(e["Key"].endswith(".parquet") for e in listed)


def test_reports_over_the_delivered_lake(
    lake: StackTemplate, call_api: Call, token_for: Callable[..., str]
) -> None:
    token = token_for("marketing")
    for month, channel, amount in SPEND:
        reply = call_api("PUT", f"/marketing/spend/{month}/{channel}", body={"amount": amount}, token=token)
        assert reply.status == 200, reply.body
    linear = _report(call_api, token, "/marketing/reports/attribution", model="linear", outcome="revenue")
    assert {r["value"]: r["credit"] for r in linear["rows"] if r["dimension"] == "channel"} == {
        "paid": 400.0, "referral": 400.0, "email": 400.0,
    }  # fmt: skip
    funnel = _report(call_api, token, "/marketing/reports/funnel", by="all")
    assert [(r["stage"], r["people"]) for r in funnel["rows"]] == [
        ("lead", 3), ("marketing-qualified", 2), ("opportunity", 1), ("customer", 1),
    ]  # fmt: skip
    acquisition = _report(call_api, token, "/marketing/reports/acquisition")
    assert acquisition["rows"] == [
        {"month": "2026-03", "channel": "paid", "customers": 1, "revenue": 1500.0, "spend": 750.0,
         "cost_per_customer": 750.0, "value_per_customer": 1500.0, "lifetime_value": 3000.0,
         "value_to_cost": 4.0},
        {"month": "2026-03", "channel": "social", "customers": 0, "revenue": 0.0, "spend": 100.0,
         "cost_per_customer": None, "value_per_customer": None, "lifetime_value": None,
         "value_to_cost": None},
    ]  # fmt: skip
    assert acquisition["summary"]["nonRenewalRate"] == 0.5
    assert acquisition["summary"]["expectedLifetimeTerms"] == 2.0
    web = _report(call_api, token, "/marketing/reports/web")
    visitors = {r["value"]: r["views"] for r in web["rows"] if r["section"] == "visitors"}
    assert visitors == {"visitors": 3, "known": 2, "mql": 2, "customers": 1}
    performance = _report(call_api, token, "/marketing/reports/performance", campaignId="c1")
    assert [(r["date"], r["sends"], r["opens"], r["clicks"]) for r in performance["rows"]] == [
        ("2026-03-04", 2, 0, 0), ("2026-03-05", 0, 1, 1),
    ]  # fmt: skip


def test_csv_svg_and_the_page(lake: StackTemplate, call_api: Call, token_for: Callable[..., str]) -> None:
    token = token_for("admin")
    csv = call_api(
        "GET",
        "/marketing/reports/funnel",
        query=urlencode({**PERIOD, "by": "all", "format": "csv"}),
        token=token,
    )
    assert csv.status == 200
    assert csv.headers["content-type"].startswith("text/csv")
    lines = csv.body.decode().splitlines()
    assert lines[0] == "group,stage,stage_rank,people,moved_on,conversion_rate,median_days_in_stage"
    assert lines[1] == "all,lead,1,3,2,0.6667,5.0"
    svg = call_api(
        "GET",
        "/marketing/reports/attribution",
        query=urlencode({**PERIOD, "model": "first", "format": "svg"}),
        token=token,
    )
    assert svg.status == 200
    assert svg.headers["content-type"] == "image/svg+xml"
    assert b'data-label="paid" data-value="1200.0"' in svg.body
    page = call_api("GET", "/marketing/reports", query=urlencode(PERIOD), token=token)
    assert page.status == 200
    assert page.headers["content-type"].startswith("text/html")
    assert b'id="funnel-table"' in page.body
    assert b"<svg" in page.body


@pytest.mark.parametrize(
    ("path", "query", "field"),
    [
        ("/marketing/reports/attribution", {"model": "w-shaped"}, "model"),
        ("/marketing/reports/attribution", {"outcome": "likes"}, "outcome"),
        ("/marketing/reports/attribution", {"lookbackDays": "1e9"}, "lookbackDays"),
        ("/marketing/reports/funnel", {"from": "2026-02-30"}, "from"),
        ("/marketing/reports/funnel", {"from": "2026-04-01", "to": "2026-03-01"}, "from"),
        ("/marketing/reports/funnel", {"from": "1000-01-01"}, "from"),
        ("/marketing/reports/web", {"top": "NaN"}, "top"),
        ("/marketing/reports/web", {"format": "xml"}, "format"),
        ("/marketing/reports/web", {"tpo": "3"}, "tpo"),
        ("/marketing/reports/performance", {"campaignId": "x' OR 1=1 --"}, "campaignId"),
        ("/marketing/reports/funnel", {"to": "2026-03-01\u0000"}, "to"),
    ],
)
def test_bad_parameters_are_422_naming_them(
    aws: StackTemplate,
    call_api: Call,
    token_for: Callable[..., str],
    path: str,
    query: dict[str, str],
    field: str,
) -> None:
    reply = call_api("GET", path, query=urlencode(query), token=token_for("marketing"))
    assert reply.status == 422, reply.body
    assert reply.headers["content-type"] == "application/problem+json"
    assert field in json.dumps(reply.json())


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/marketing/spend/2026-13/paid", {"amount": "1"}),
        ("/marketing/spend/2026-03/Paid Search", {"amount": "1"}),
        ("/marketing/spend/2026-03/paid", {"amount": "NaN"}),
        ("/marketing/spend/2026-03/paid", {"amount": "-5"}),
        ("/marketing/spend/2026-03/paid", {"amount": "1e30"}),
        ("/marketing/spend/2026-03/paid", {"amount": "1.005"}),
        ("/marketing/spend/2026-03/paid", {"amount": "1", "currency": "dollars"}),
        ("/marketing/spend/2026-03/paid", {"amount": "1", "extra": {"a": [[[[]]]]}}),
    ],
)
def test_bad_spend_is_422(
    aws: StackTemplate, call_api: Call, token_for: Callable[..., str], path: str, body: dict[str, Any]
) -> None:
    reply = call_api("PUT", path, body=body, token=token_for("marketing"))
    assert reply.status == 422, reply.body


def test_spend_is_set_read_and_listed(
    aws: StackTemplate, call_api: Call, token_for: Callable[..., str]
) -> None:
    token = token_for("marketing")
    for _ in range(2):  # a PUT repeated sets the same value
        reply = call_api("PUT", "/marketing/spend/2026-03/paid", body={"amount": "750.5"}, token=token)
        assert reply.json()["amount"] == "750.50"
    assert call_api("GET", "/marketing/spend/2026-03/paid", token=token).json()["amount"] == "750.50"
    assert call_api("GET", "/marketing/spend/2026-04/paid", token=token).status == 404
    listed = call_api(
        "GET", "/marketing/spend", query=urlencode({"from": "2026-01", "to": "2026-12"}), token=token
    ).json()
    assert [(i["month"], i["channel"], i["amount"]) for i in listed["items"]] == [
        ("2026-03", "paid", "750.50")
    ]


def test_sales_may_not_see_reports(aws: StackTemplate, call_api: Call, token_for: Callable[..., str]) -> None:
    for path in ("/marketing/reports", "/marketing/reports/funnel", "/marketing/spend"):
        assert call_api("GET", path, token=token_for("sales")).status == 403


def test_reports_on_athena_start_a_query_once_and_read_its_results(
    aws: StackTemplate, call_api: Call, token_for: Callable[..., str]
) -> None:
    """moto's Athena answers every query at once, with the results queued in its backend."""
    from moto.athena.models import QueryResults, athena_backends
    from moto.core import DEFAULT_ACCOUNT_ID

    backend = athena_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    columns = [{"Name": n, "Type": t} for n, t in (("group", "varchar"), ("stage", "varchar"),
               ("stage_rank", "integer"), ("people", "bigint"), ("moved_on", "bigint"),
               ("conversion_rate", "double"), ("median_days_in_stage", "double"))]  # fmt: skip
    header = {"Data": [{"VarCharValue": c["Name"]} for c in columns]}
    row = {"Data": [{"VarCharValue": v} for v in ("all", "lead", "1", "3", "2", "0.6667", "5.0")]}
    backend.query_results_queue.append(QueryResults(rows=[header, row], column_info=columns))
    token = token_for("marketing")
    first = call_api(
        "GET", "/marketing/reports/funnel", query=urlencode({**PERIOD, "by": "all"}), token=token
    )
    assert first.status == 200, first.body
    body = first.json()
    assert body["engine"] == "athena"
    assert body["rows"] == [{"group": "all", "stage": "lead", "stage_rank": 1, "people": 3, "moved_on": 2,
                             "conversion_rate": 0.6667, "median_days_in_stage": 5.0}]  # fmt: skip
    executions = backend.executions
    assert len(executions) == 1
    (execution,) = executions.values()
    assert '"changes"' in execution.query
    assert "MAX_BY" in execution.query
    assert execution.workgroup.name.endswith("-lake") if hasattr(execution.workgroup, "name") else True
    again = call_api(
        "GET", "/marketing/reports/funnel", query=urlencode({**PERIOD, "by": "all"}), token=token
    )
    assert again.status == 200
    assert len(backend.executions) == 1  # the cached run answered: no second query, no second scan


def test_a_report_athena_has_not_finished_is_202_with_a_status_url(
    aws: StackTemplate, call_api: Call, token_for: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto's Athena moves a query from QUEUED to RUNNING to SUCCEEDED one status read at a time."""
    from moto.moto_api import state_manager

    monkeypatch.setenv("LAKE_REPORT_WAIT_SECONDS", "0")
    state_manager.set_transition("athena::execution", {"progression": "manual", "times": 1})
    try:
        token = token_for("marketing")
        query = urlencode({**PERIOD, "model": "first"})
        first = call_api("GET", "/marketing/reports/attribution", query=query, token=token)
        assert first.status == 202, first.body
        location = first.headers["location"]
        assert first.json()["statusUrl"] == location
        assert location.startswith("/marketing/reports/runs/")
        answers = [call_api("GET", location, token=token) for _ in range(3)]
        assert [a.status for a in answers][-1] == 200
        assert answers[-1].json()["report"] == "attribution"
        assert answers[-1].json()["parameters"]["model"] == "first"
        assert call_api("GET", "/marketing/reports/runs/" + "0" * 32, token=token).status == 404
        assert call_api("GET", "/marketing/reports/runs/not-a-run", token=token).status == 422
    finally:
        state_manager.unset_transition("athena::execution")


def test_a_report_over_the_bytes_limit_is_a_422_and_is_not_cached(
    aws: StackTemplate, call_api: Call, token_for: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Athena cancels a query over the workgroup's bytes-scanned limit; moto gives no reason, so its
    answer is given the one Athena gives."""
    from moto.athena.models import athena_backends
    from moto.athena.responses import AthenaResponse
    from moto.core import DEFAULT_ACCOUNT_ID

    original = AthenaResponse.get_query_execution

    def cancelled(self: AthenaResponse) -> str:
        answer = json.loads(original(self))
        answer["QueryExecution"]["Status"].update(
            State="CANCELLED", StateChangeReason="Query cancelled! : Bytes scanned limit was exceeded"
        )
        return json.dumps(answer)

    tokens: list[str] = []
    start = AthenaResponse.start_query_execution

    def started_with_token(self: AthenaResponse) -> str:
        tokens.append(str(self._get_param("ClientRequestToken")))
        return start(self)

    monkeypatch.setattr(AthenaResponse, "get_query_execution", cancelled)
    monkeypatch.setattr(AthenaResponse, "start_query_execution", started_with_token)
    backend = athena_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    token = token_for("marketing")
    query = urlencode({**PERIOD, "top": "5"})
    first = call_api("GET", "/marketing/reports/web", query=query, token=token)
    assert first.status == 422, first.body
    assert first.headers["content-type"] == "application/problem+json"
    assert "narrow" in first.json()["detail"]
    assert {error["field"] for error in first.json()["errors"]} == {"from", "to"}
    started = len(backend.executions)
    assert started >= 1
    again = call_api("GET", "/marketing/reports/web", query=query, token=token)
    assert again.status == 422
    assert len(backend.executions) == started + 1  # a cancelled run is not reused: the next asks again
    # ... with a request token of its own: Athena answers a repeated token with the query it started.
    assert len(tokens) == 2
    assert tokens[0] != tokens[1]


class _Throttling:
    """Firehose answering `FailedPutCount` for some records (throttling), as it does under load."""

    def __init__(self, real: Any, refuse: Callable[[bytes, int], bool]) -> None:
        self.real, self.refuse, self.calls = real, refuse, 0

    def put_record_batch(self, DeliveryStreamName: str, Records: list[dict[str, bytes]]) -> dict[str, Any]:
        self.calls += 1
        accepted = [r for r in Records if not self.refuse(r["Data"], self.calls)]
        if accepted:
            self.real.put_record_batch(DeliveryStreamName=DeliveryStreamName, Records=accepted)
        responses = [
            {"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "slow down"}
            if self.refuse(r["Data"], self.calls) else {"RecordId": "r"}
            for r in Records
        ]  # fmt: skip
        return {"FailedPutCount": sum("ErrorCode" in r for r in responses), "RequestResponses": responses}


def test_refused_rows_are_sent_again_and_what_keeps_failing_is_a_partial_batch_failure(
    aws: StackTemplate, monkeypatch: pytest.MonkeyPatch
) -> None:
    from handlers.lake_feed import lambda_handler
    from lake.store import firehose

    real = boto3.client("firehose")
    monkeypatch.setattr(firehose.time, "sleep", lambda _seconds: None)
    flaky = _Throttling(real, lambda _data, call: call == 1)
    monkeypatch.setattr(firehose.aws, "firehose", lambda: flaky)
    assert lambda_handler(_event_records(aws), LambdaContext()) == {"batchItemFailures": []}
    assert flaky.calls == 2  # the refused rows went again, once

    m3 = next(e for e in events() if e.message_id == "m3")
    m3_id = lake_rows_event_id(m3)
    # Two rows per record: [m1 m2] [m3 m4] [m5]; the record holding m3 is refused every time.
    monkeypatch.setattr(firehose, "MAX_ROWS_PER_RECORD", 2)
    stubborn = _Throttling(real, lambda data, _call: m3_id.encode() in data)
    monkeypatch.setattr(firehose.aws, "firehose", lambda: stubborn)
    _deliver(aws)  # what the first, flaky delivery wrote
    s3 = boto3.client("s3")
    for entry in s3.list_objects_v2(Bucket=_bucket(aws), Prefix="events/")["Contents"]:
        s3.delete_object(Bucket=_bucket(aws), Key=entry["Key"])
    result = lambda_handler(_event_records(aws), LambdaContext())
    failed = [{"itemIdentifier": str(n).zfill(21)} for n in (3, 4)]  # m3's and m4's stream records
    assert result == {"batchItemFailures": failed}
    _deliver(aws)
    rows = s3.list_objects_v2(Bucket=_bucket(aws), Prefix="events/")["Contents"]
    assert {entry["Key"].split("/")[1] for entry in rows} == {
        "day=2026-02-20",
        "day=2026-03-02",
        "day=2026-03-04",
    }


def lake_rows_event_id(event: Any) -> str:
    from lake.rows import event_row

    return str(event_row(event)["event_id"])
