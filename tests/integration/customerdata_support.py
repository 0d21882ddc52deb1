"""Helpers for customer data tests on moto: an import through the routes, its queue drained by the
worker (each message optionally twice, as SQS may deliver it)."""

from __future__ import annotations

from typing import Any

import boto3
from email_support import LambdaContext

from leadstream_local.inprocess import Call
from leadstream_local.lambda_events import sqs_record
from leadstream_local.template import StackTemplate


def take(stack: StackTemplate, logical: str) -> list[dict[str, Any]]:
    sqs, url = boto3.client("sqs"), str(stack.physical[logical]["Ref"])
    taken: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60).get(
            "Messages", []
        )
        if not messages:
            return taken
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        taken.extend(messages)


def run_worker(stack: StackTemplate, message: dict[str, Any]) -> dict[str, Any]:
    from handlers.import_worker import lambda_handler

    event = {"Records": [sqs_record(message, queue_arn=stack.physical["ImportQueue"]["Arn"])]}
    return lambda_handler(event, LambdaContext(function_name="ImportWorkerFunction"))  # type: ignore[arg-type]


def drain_imports(stack: StackTemplate, *, redeliver: bool = False) -> int:
    steps = 0
    while messages := take(stack, "ImportQueue"):
        for message in messages:
            assert run_worker(stack, message) == {"batchItemFailures": []}
            if redeliver:
                assert run_worker(stack, message) == {"batchItemFailures": []}
            steps += 1
    return steps


def bucket(stack: StackTemplate) -> str:
    return str(stack.physical["CustomerDataBucket"]["Ref"])


def create(call_api: Call, token: str, body: dict[str, Any]) -> Any:
    return call_api("POST", "/marketing/imports", body=body, token=token)


def upload(stack: StackTemplate, import_id: str, content: bytes) -> None:
    boto3.client("s3").put_object(Bucket=bucket(stack), Key=f"imports/{import_id}/upload", Body=content)


def run_import(
    stack: StackTemplate,
    call_api: Call,
    token: str,
    content: bytes,
    *,
    kind: str = "contacts",
    file_name: str = "contacts.csv",
    redeliver: bool = False,
    **options: Any,
) -> dict[str, Any]:
    """Create, upload, start, drain: the finished job as GET returns it."""
    reply = create(call_api, token, {"kind": kind, "fileName": file_name, "size": len(content), **options})
    assert reply.status == 201, reply.json()
    import_id = reply.json()["import"]["importId"]
    upload(stack, import_id, content)
    started = call_api("POST", f"/marketing/imports/{import_id}/start", token=token)
    assert started.status == 202, started.json()
    drain_imports(stack, redeliver=redeliver)
    got = call_api("GET", f"/marketing/imports/{import_id}", token=token)
    assert got.status == 200
    job: dict[str, Any] = got.json()
    return job


def error_file(stack: StackTemplate, import_id: str) -> str:
    body = boto3.client("s3").get_object(Bucket=bucket(stack), Key=f"imports/{import_id}/errors.csv")["Body"]
    return str(body.read().decode())
