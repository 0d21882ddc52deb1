"""The import queue: one message per step of an import (the split, each chunk, the finish)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from customerdata.config import customerdata_settings
from leadstream.aws import sqs

SQS_BATCH = 10


class EnqueueFailed(RuntimeError):
    """SQS refused some messages: the step that sends them fails and runs again (its steps are idempotent)."""


def enqueue(messages: Sequence[dict[str, Any]]) -> None:
    url = customerdata_settings().require_queue()
    client = sqs()
    for start in range(0, len(messages), SQS_BATCH):
        batch = messages[start : start + SQS_BATCH]
        response = client.send_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "MessageBody": json.dumps(body)} for i, body in enumerate(batch)],
        )
        if response.get("Failed"):
            raise EnqueueFailed(f"{len(response['Failed'])} import messages were not queued")
