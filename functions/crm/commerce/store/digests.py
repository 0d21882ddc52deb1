"""The digest's outbox: a claim per (owner, day) in the main table, and the email itself through SES.

A claim is put only if absent, before sending: a rerun of the day's job, or an invocation EventBridge
retries, finds the claim and sends nothing. If the send fails the claim is deleted again, so the retry
sends it. (A crash between the claim and the send loses that day's digest rather than doubling it: a
digest is a reminder, a second copy of it is the worse failure.)
"""

from __future__ import annotations

from datetime import date

from botocore.exceptions import ClientError

from crm.commerce.digest import Email
from leadstream import clock, keys
from leadstream.aws import dynamodb, sesv2
from leadstream.settings import get_settings
from leadstream.store.dynamo import serialize


class DynamoDigestOutbox:
    def __init__(self, *, sender: str) -> None:
        self.sender = sender

    def claim(self, owner_id: str, day: date) -> bool:
        item = {
            **keys.digest_claim_key(owner_id, day.isoformat()),
            "ownerId": owner_id,
            "day": day.isoformat(),
            "claimedAt": clock.now().isoformat(timespec="seconds"),
        }
        try:
            dynamodb().put_item(
                TableName=get_settings().main_table,
                Item=serialize(item),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def release(self, owner_id: str, day: date) -> None:
        key = keys.digest_claim_key(owner_id, day.isoformat())
        dynamodb().delete_item(TableName=get_settings().main_table, Key=serialize(key))

    def send(self, to: str, email: Email) -> str:
        response = sesv2().send_email(
            FromEmailAddress=self.sender,
            Destination={"ToAddresses": [to]},
            Content={
                "Simple": {
                    "Subject": {"Data": email.subject, "Charset": "UTF-8"},
                    "Body": {
                        "Text": {"Data": email.text, "Charset": "UTF-8"},
                        "Html": {"Data": email.html, "Charset": "UTF-8"},
                    },
                }
            },
        )
        return str(response["MessageId"])
