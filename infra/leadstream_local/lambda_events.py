"""The AWS event shapes the local stack hands to handlers, and the mapping of their responses.

Each function builds exactly what AWS would deliver (API Gateway HTTP API payload 2.0, DynamoDB Streams
records), so a handler cannot tell the local stack from AWS. Tests build their events here too.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

TEXT_TYPES = (
    "text/",
    "application/json",
    "application/javascript",
    "application/xml",
    "application/x-www-form-urlencoded",
    "application/problem+json",
    "+json",
    "+xml",
)


def _is_text(content_type: str, content_encoding: str) -> bool:
    if content_encoding and content_encoding.lower() != "identity":
        return False
    ctype = content_type.split(";", 1)[0].strip().lower()
    return any(ctype.startswith(kind) or ctype.endswith(kind) for kind in TEXT_TYPES)


def http_api_event(
    *,
    method: str,
    path: str,
    route_key: str,
    headers: Iterable[tuple[str, str]] = (),
    query: str = "",
    body: bytes = b"",
    path_parameters: Mapping[str, str] | None = None,
    source_ip: str = "127.0.0.1",
    authorizer: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload format 2.0) event for one request."""
    merged: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        merged[key] = f"{merged[key]},{value}" if key in merged else value
    params: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        params[name] = f"{params[name]},{value}" if name in params else value
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query,
        "headers": merged,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": merged.get("host", "127.0.0.1"),
            "domainPrefix": "local",
            "http": {
                "method": method.upper(),
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": merged.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route_key,
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if authorizer is not None:
        event["requestContext"]["authorizer"] = dict(authorizer)
    if cookies:
        event["cookies"] = cookies
    if params:
        event["queryStringParameters"] = params
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if body:
        is_text = _is_text(merged.get("content-type", ""), merged.get("content-encoding", ""))
        text = _utf8_or_none(body) if is_text else None
        if text is not None:
            event["body"] = text
        else:
            # Bytes that are not UTF-8 cannot travel as text without loss (U+FFFD for each bad byte):
            # hand them over base64-encoded, as sent, so that the handler sees them and can refuse them.
            event["body"] = base64.b64encode(body).decode()
            event["isBase64Encoded"] = True
    return event


def _utf8_or_none(body: bytes) -> str | None:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def http_api_response(result: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """Map a handler's return value to (status, headers, body) as API Gateway HTTP API does."""
    if not (isinstance(result, dict) and "statusCode" in result):
        # Payload 2.0 lets a handler return any JSON value; API Gateway wraps it as a 200.
        text = result if isinstance(result, str) else json.dumps(result)
        return 200, [("content-type", "application/json")], text.encode()
    headers = [(name, str(value)) for name, value in (result.get("headers") or {}).items()]
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.extend((name, str(value)) for value in values)
    headers.extend(("set-cookie", cookie) for cookie in result.get("cookies") or [])
    raw = str(result.get("body") or "")
    payload = base64.b64decode(raw) if result.get("isBase64Encoded") else raw.encode()
    return int(result["statusCode"]), headers, payload


def dynamodb_stream_event(records: Iterable[Mapping[str, Any]], *, stream_arn: str) -> dict[str, Any]:
    """A Lambda event for DynamoDB Streams records as `dynamodbstreams.get_records` returns them."""
    return {"Records": [stream_record(record, stream_arn=stream_arn) for record in records]}


def stream_record(record: Mapping[str, Any], *, stream_arn: str) -> dict[str, Any]:
    """One record of a Lambda DynamoDB Streams event: JSON-safe, with the epoch time and source ARN."""
    change = {key: _json_safe(value) for key, value in record["dynamodb"].items()}
    created = change.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        change["ApproximateCreationDateTime"] = int(created.timestamp())
    return {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": record.get("eventVersion", "1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": record.get("awsRegion", "us-east-1"),
        "dynamodb": change,
        "eventSourceARN": stream_arn,
    }


def _json_safe(value: Any) -> Any:
    """boto3 decodes binary attributes (B, BS) to bytes; Lambda delivers them base64-encoded."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if isinstance(value, Mapping):
        return {key: _json_safe(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_json_safe(inner) for inner in value]
    return value


def insert_record(
    item: Mapping[str, Any],
    *,
    sequence_number: int,
    key_names: tuple[str, ...] = ("pk", "sk"),
    event_name: str = "INSERT",
) -> dict[str, Any]:
    """One stream record (get_records form) for an item written to a table with a NEW_IMAGE stream."""
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    image = {key: serializer.serialize(value) for key, value in item.items()}
    return {
        "eventID": uuid.uuid4().hex,
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": int(time.time()),
            "Keys": {key: image[key] for key in key_names if key in image},
            "NewImage": image,
            "SequenceNumber": str(sequence_number).zfill(21),
            "SizeBytes": len(json.dumps(image)),
            "StreamViewType": "NEW_IMAGE",
        },
    }


# --- SQS and SNS (email sender, SES events) ---------------------------------------------------------------
def sqs_record(message: Mapping[str, Any], *, queue_arn: str, region: str = "us-east-1") -> dict[str, Any]:
    """One record of a Lambda SQS event, from a message as `sqs.receive_message` returns it (with
    AttributeNames and MessageAttributeNames "All")."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: _lambda_message_attribute(value)
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def _lambda_message_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    """SQS's {StringValue, BinaryValue, DataType} as Lambda spells it (camelCase, binary base64)."""
    binary = value.get("BinaryValue")
    return {
        "stringValue": value.get("StringValue"),
        "binaryValue": base64.b64encode(binary).decode() if isinstance(binary, bytes) else binary,
        "stringListValues": list(value.get("StringListValues", [])),
        "binaryListValues": list(value.get("BinaryListValues", [])),
        "dataType": value.get("DataType", "String"),
    }


def sns_record(envelope: Mapping[str, Any], *, subscription_arn: str) -> dict[str, Any]:
    """One record of a Lambda SNS event, from the JSON envelope SNS delivers to an SQS or HTTP subscriber
    (the same fields; Lambda spells two of the URLs differently and types every message attribute)."""
    attributes = {
        name: {"Type": value.get("Type", "String"), "Value": value.get("Value")}
        for name, value in (envelope.get("MessageAttributes") or {}).items()
    }
    return {
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": subscription_arn,
        "Sns": {
            "Type": envelope.get("Type", "Notification"),
            "MessageId": envelope["MessageId"],
            "TopicArn": envelope["TopicArn"],
            "Subject": envelope.get("Subject"),
            "Message": envelope["Message"],
            "Timestamp": envelope.get("Timestamp"),
            "SignatureVersion": envelope.get("SignatureVersion", "1"),
            "Signature": envelope.get("Signature", ""),
            "SigningCertUrl": envelope.get("SigningCertURL", ""),
            "UnsubscribeUrl": envelope.get("UnsubscribeURL", ""),
            "MessageAttributes": attributes,
        },
    }


def sns_event(
    message: str, *, topic_arn: str, message_id: str | None = None, subject: str | None = None
) -> dict[str, Any]:
    """A Lambda SNS event delivering one `message` published to `topic_arn` (for tests)."""
    envelope = {
        "Type": "Notification",
        "MessageId": message_id or str(uuid.uuid4()),
        "TopicArn": topic_arn,
        "Subject": subject,
        "Message": message,
        "Timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
    }
    return {"Records": [sns_record(envelope, subscription_arn=f"{topic_arn}:{uuid.uuid4()}")]}
