"""Journey conversions on moto, the whole path: a journey with a goal (through the API) sends its email
(the profile stream, the engine, the sender), the person then does the goal activity (the profile stream
again) and the step's report counts one conversion, however often the stream delivers it; publishing a
version without a goal, or archiving, retires the goal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest
from email_support import LambdaContext, person, raw_event, run_sender, template, unpaced

from campaigns.store import get_conversion_goal
from leadstream import clock, keys
from leadstream.profiles import Profile
from leadstream.store.dynamo import serialize
from leadstream.store.profiles import profile_item
from leadstream_local.inprocess import Call
from leadstream_local.lambda_events import dynamodb_stream_event
from leadstream_local.template import StackTemplate
from mail.sends import SendRequest
from mail.store.sends import get_send

pytestmark = pytest.mark.usefixtures("unpaced")
__all__ = ["unpaced"]

SIGNED_UP = "Signed Up"
BOUGHT = "Order Completed"


def definition(template_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "name": "Welcome",
        "trigger": {"type": "event", "event": SIGNED_UP},
        "start": "hello",
        "steps": {
            "hello": {"type": "send_email", "templateId": template_id, "next": "pause"},
            "pause": {"type": "wait", "duration": {"days": 2}, "next": "done"},
            "done": {"type": "exit"},
        },
        **fields,
    }


class ProfileStream:
    """The main table's stream as the AudienceFunction receives it (profile items, old and new image)."""

    def __init__(self, stack: StackTemplate) -> None:
        self.arn = stack.physical["MainTable"]["StreamArn"]
        self.sequence = 0

    def did(self, profile: Profile, activity_key: str) -> tuple[Profile, dict[str, Any]]:
        """The person after doing `activity_key` once more (as the Scorer counts it), and its record."""
        day = clock.now().date().isoformat()
        counts = profile.activity.get(activity_key, {})
        new = profile.model_copy(
            update={
                "version": profile.version + 1,
                "activity": {**profile.activity, activity_key: {**counts, day: counts.get(day, 0) + 1}},
            }
        )
        self.sequence += 1
        record = {
            "eventID": f"e{self.sequence}",
            "eventName": "MODIFY",
            "dynamodb": {
                "Keys": serialize(keys.profile_key(new.profile_id)),
                "OldImage": serialize(profile_item(profile)),
                "NewImage": serialize(profile_item(new)),
                "SequenceNumber": str(self.sequence).zfill(21),
                "StreamViewType": "NEW_AND_OLD_IMAGES",
            },
        }
        return new, record

    def deliver(self, *records: dict[str, Any]) -> None:
        from handlers.audience_stream import lambda_handler

        event = dynamodb_stream_event(records, stream_arn=self.arn)
        assert (
            lambda_handler(event, LambdaContext(function_name="AudienceFunction"))["batchItemFailures"] == []
        )  # type: ignore[arg-type]


def send_requests(stack: StackTemplate) -> list[SendRequest]:
    """Every send request on the email send queue (read away)."""
    url = stack.physical["EmailSendQueue"]["Ref"]
    found: list[SendRequest] = []
    sqs = boto3.client("sqs")
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        found += [SendRequest.model_validate_json(message["Body"]) for message in messages]
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return found


def test_a_journey_email_converts_once_in_its_steps_report(
    aws: StackTemplate, call_api: Call, token_for: Callable[..., str]
) -> None:
    token = token_for("marketing")
    tpl = template()
    goal = {"activityKey": BOUGHT, "windowDays": 3}
    created = call_api(
        "POST", "/marketing/journeys", body=definition(tpl.template_id, conversion=goal), token=token
    )
    assert created.status == 201, created.body
    journey_id = created.json()["journeyId"]
    path = f"/marketing/journeys/{journey_id}"
    assert call_api("GET", path, token=token).json()["conversion"] == goal
    assert call_api("POST", f"{path}/publish", body={"version": 1}, token=token).status == 200

    stream = ProfileStream(aws)
    ada = person("ada@example.com")
    signed_up, signing_up = stream.did(ada, SIGNED_UP)
    stream.deliver(signing_up)
    (hello,) = send_requests(aws)
    assert (hello.journey_id, hello.step_id) == (journey_id, "hello")
    run_sender(raw_event([hello]))
    assert get_send(hello.message_id).sent_at is not None  # type: ignore[union-attr]

    bought, buying = stream.did(signed_up, BOUGHT)
    stream.deliver(buying)
    stream.deliver(buying)  # the stream delivers the record again
    _, buying_again = stream.did(bought, BOUGHT)
    stream.deliver(buying_again)  # a second order converts the same email no more

    report = call_api("GET", f"{path}/report", token=token).json()
    step = next(step for step in report["steps"] if step["stepId"] == "hello")
    assert (step["email"]["sent"], step["email"]["converted"]) == (1, 1)
    assert get_send(hello.message_id).converted_at is not None  # type: ignore[union-attr]


def test_a_version_without_a_goal_or_archiving_retires_the_journeys_goal(
    aws: StackTemplate, call_api: Call, token_for: Callable[..., str]
) -> None:
    token = token_for("marketing")
    tpl = template()
    goal = {"activityKey": BOUGHT}
    journey_id = call_api(
        "POST", "/marketing/journeys", body=definition(tpl.template_id, conversion=goal), token=token
    ).json()["journeyId"]
    path = f"/marketing/journeys/{journey_id}"
    assert get_conversion_goal("journey", journey_id) is None  # a draft publishes nothing
    call_api("POST", f"{path}/publish", body={"version": 1}, token=token)
    live = get_conversion_goal("journey", journey_id)
    assert live is not None
    assert (live.activity_key, live.window_days, live.retired_at) == (BOUGHT, 7, None)

    changed = call_api(
        "PUT", path, body=definition(tpl.template_id), token=token, headers=[("if-match", '"1"')]
    )
    assert changed.status == 200, changed.body
    assert changed.json()["conversion"] is None
    call_api("POST", f"{path}/publish", body={"version": 2}, token=token)
    retired = get_conversion_goal("journey", journey_id)
    assert retired is not None
    assert retired.retired_at is not None

    call_api("POST", f"{path}/publish", body={"version": 1}, token=token)  # the goal is back
    again = get_conversion_goal("journey", journey_id)
    assert again is not None
    assert again.retired_at is None

    assert call_api("DELETE", path, token=token, headers=[("if-match", '"2"')]).status == 204
    archived = get_conversion_goal("journey", journey_id)
    assert archived is not None
    assert archived.retired_at is not None
    item = boto3.client("dynamodb").get_item(
        TableName=aws.physical["MainTable"]["Ref"],
        Key=serialize(keys.conversion_goal_key("journey", journey_id)),
    )["Item"]
    assert int(item["ttl"]["N"]) > int(archived.retired_at.timestamp()) + 7 * 86400
