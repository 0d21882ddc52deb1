"""The `aws` fixture's contract: every test gets the template's resources, empty, whatever an earlier test
in the same process wrote, changed or added (the resources are created once and restored from a snapshot).

The test runs twice in one process (a test file never leaves its process): each run finds the stack empty,
then leaves data of every kind behind for the next run to not find.
"""

from __future__ import annotations

import json
import os

import boto3
import pytest

from leadstream_local.template import LOCAL_SECRET_VALUE, StackTemplate

EXTRA_TABLE = "LeftBehindTable"


def _scan_count(table: str) -> int:
    return int(boto3.client("dynamodb").scan(TableName=table, Select="COUNT")["Count"])


def _stream_records(template: StackTemplate, logical: str) -> list[object]:
    streams = boto3.client("dynamodbstreams")
    arn = template.physical[logical]["StreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    return list(streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"])


def _queue_depth(url: str) -> int:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


def _sent_emails() -> int:
    from moto.ses.models import ses_backends

    return len(ses_backends["123456789012"]["us-east-1"].sent_messages)


def _archived_events(template: StackTemplate) -> int:
    from moto.events.models import events_backends

    archive = template.physical["LeadEventArchive"]["Ref"]
    return len(events_backends["123456789012"]["us-east-1"].archives[archive].events)


def _state(template: StackTemplate) -> dict[str, object]:
    """Everything a test could leave behind, read through the AWS APIs (and moto where AWS has no API)."""
    physical = template.physical
    pool = physical["UserPool"]["Ref"]
    secret = boto3.client("secretsmanager").get_secret_value(SecretId=physical["EmailLinkKeySecret"]["Ref"])
    schedules = boto3.client("scheduler").list_schedules(GroupName=physical["TimerScheduleGroup"]["Ref"])
    objects = boto3.client("s3").list_objects_v2(Bucket=physical["AttachmentsBucket"]["Ref"])
    return {
        "items": {logical: _scan_count(physical[logical]["Ref"]) for logical in ("MainTable", "EventsTable")},
        "stream records": {logical: _stream_records(template, logical) for logical in ("MainTable",)},
        "messages": _queue_depth(physical["EmailSendQueue"]["Ref"]),
        "emails sent": _sent_emails(),
        "archived events": _archived_events(template),
        "schedules": schedules["Schedules"],
        "users": boto3.client("cognito-idp").list_users(UserPoolId=pool)["Users"],
        "objects": objects.get("Contents", []),
        "secret": secret["SecretString"],
        "tables": sorted(boto3.client("dynamodb").list_tables()["TableNames"]),
    }


def _leave_everything_behind(template: StackTemplate) -> None:
    physical = template.physical
    boto3.client("dynamodb").put_item(
        TableName=physical["MainTable"]["Ref"], Item={"pk": {"S": "left"}, "sk": {"S": "behind"}}
    )
    boto3.client("sqs").send_message(QueueUrl=physical["EmailSendQueue"]["Ref"], MessageBody="left behind")
    boto3.client("sesv2").send_email(
        FromEmailAddress=physical["MarketingEmailIdentity"]["Ref"],
        Destination={"ToAddresses": ["someone@example.com"]},
        Content={"Simple": {"Subject": {"Data": "left"}, "Body": {"Text": {"Data": "behind"}}}},
    )
    boto3.client("events").put_events(
        Entries=[
            {
                "EventBusName": physical["LeadEventBus"]["Ref"],
                "Source": "leadstream.scoring",
                "DetailType": "LeadQualified",
                "Detail": json.dumps({"left": "behind"}),
            }
        ]
    )
    boto3.client("scheduler").create_schedule(
        Name="left-behind",
        GroupName=physical["TimerScheduleGroup"]["Ref"],
        ScheduleExpression="at(2030-01-01T00:00:00)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": physical["TimerQueue"]["Arn"], "RoleArn": physical["TimerSchedulerRole"]["Arn"]},
    )
    boto3.client("cognito-idp").admin_create_user(
        UserPoolId=physical["UserPool"]["Ref"], Username="left@example.com"
    )
    boto3.client("s3").put_object(Bucket=physical["AttachmentsBucket"]["Ref"], Key="left", Body=b"behind")
    boto3.client("secretsmanager").put_secret_value(
        SecretId=physical["EmailLinkKeySecret"]["Ref"], SecretString="changed by a test"
    )
    boto3.client("dynamodb").create_table(
        TableName=EXTRA_TABLE,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )


@pytest.mark.parametrize("run", ["first", "second"])
def test_each_test_gets_the_template_resources_empty(aws: StackTemplate, run: str) -> None:
    state = _state(aws)
    assert state["items"] == {"MainTable": 0, "EventsTable": 0}
    assert state["stream records"] == {"MainTable": []}
    assert (state["messages"], state["emails sent"], state["archived events"]) == (0, 0, 0)
    assert (state["schedules"], state["users"], state["objects"]) == ([], [], [])
    assert state["secret"] == f"{LOCAL_SECRET_VALUE}-EmailLinkKeySecret"
    assert state["tables"] == ["EventsTable", "IdempotencyTable", "MainTable"]
    assert os.environ["MAIN_TABLE"] == aws.physical["MainTable"]["Ref"]

    _leave_everything_behind(aws)

    after = _state(aws)  # what was left behind is really there, so the next run's checks mean something
    assert after["items"] == {"MainTable": 1, "EventsTable": 0}
    assert len(after["stream records"]["MainTable"]) == 1  # type: ignore[index]
    assert (after["messages"], after["emails sent"], after["archived events"]) == (1, 1, 1)
    assert after["secret"] == "changed by a test"
    assert EXTRA_TABLE in after["tables"]  # type: ignore[operator]
