"""DynamoDB Streams event source mappings: what Lambda's stream poller does, for the local stack.

One poller per DynamoDB event of a function. It reads every shard of the table's stream through the
dynamodbstreams API, applies the FilterCriteria, batches up to BatchSize (waiting at most
MaximumBatchingWindowInSeconds for a batch to fill) and invokes the function, one batch per shard at a
time, in order. Failures are handled as Lambda handles them:

- ReportBatchItemFailures: records before the lowest reported sequence number are done; the batch is
  retried from that record on (a retry).
- The handler raised: the batch is retried; with BisectBatchOnFunctionError it is first split in halves
  (splitting does not count as a retry).
- After MaximumRetryAttempts retries (-1: forever) the batch's description goes to the OnFailure
  destination (SQS) and the poller moves on.

Retries happen at the next poll, about every `poll_interval` seconds, not with Lambda's backoff.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from leadstream_local.filters import Pattern, compile_filters, passes
from leadstream_local.lambda_events import stream_record
from leadstream_local.polling import POLL_INTERVAL, BackgroundPoller

log = logging.getLogger("leadstream_local")
READ_LIMIT = 1000  # records per GetRecords call, the API's maximum
# Do not read further ahead of delivery than this: a stuck batch must not buffer the whole stream.
READ_AHEAD = 10_000
RETRY_ATTEMPTS_EXHAUSTED = "RetryAttemptsExhausted"

Invoke = Callable[[dict[str, Any]], Any]


@dataclass(frozen=True)
class StreamSource:
    """A function's DynamoDB event: the event source mapping Lambda would create for it."""

    function: str  # logical id
    event_name: str
    stream_arn: str
    batch_size: int = 100
    batching_window: float = 0.0
    starting_position: str = "TRIM_HORIZON"
    bisect_on_error: bool = False
    maximum_retry_attempts: int = -1  # -1: retry until the record expires
    report_item_failures: bool = False
    filters: tuple[Pattern, ...] = ()
    on_failure: str | None = None  # destination ARN

    @classmethod
    def from_properties(cls, function: str, event_name: str, props: Mapping[str, Any]) -> StreamSource:
        """From the event's Properties in the template, with intrinsics already resolved."""
        destination = props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        return cls(
            function=function,
            event_name=event_name,
            stream_arn=str(props["Stream"]),
            batch_size=int(props.get("BatchSize", 100)),
            batching_window=float(props.get("MaximumBatchingWindowInSeconds", 0)),
            starting_position=str(props.get("StartingPosition", "TRIM_HORIZON")),
            bisect_on_error=bool(props.get("BisectBatchOnFunctionError", False)),
            maximum_retry_attempts=int(props.get("MaximumRetryAttempts", -1)),
            report_item_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
            filters=tuple(compile_filters(props.get("FilterCriteria"))),
            on_failure=str(destination) if destination else None,
        )


@dataclass
class _Slice:
    """The batch at the head of a shard that is being retried: how many records, how many retries."""

    size: int
    attempts: int = 0


@dataclass
class _Shard:
    shard_id: str
    iterator: str | None
    last_sequence: str | None = None
    pending: list[dict[str, Any]] = field(default_factory=list)  # read, passed the filter, not yet done
    pending_since: float | None = None
    # Batches to deliver before normal batching resumes: a retried batch, or the halves of a bisected one.
    slices: list[_Slice] = field(default_factory=list)

    @property
    def closed(self) -> bool:
        return self.iterator is None


@dataclass(frozen=True)
class _Outcome:
    failed_at: int | None  # index of the first record to retry; None when the batch succeeded
    raised: bool = False


class StreamPoller(BackgroundPoller):
    """Delivers one table stream to one function; `poll_once` runs one cycle, `start` a thread of them."""

    def __init__(
        self,
        source: StreamSource,
        invoke: Invoke,
        *,
        streams_client: Any,
        sqs_client: Any = None,
        function_arn: str = "",
        poll_interval: float = POLL_INTERVAL,
    ) -> None:
        super().__init__(f"stream poller for {source.function} ({source.event_name})", poll_interval)
        self.source = source
        self._invoke = invoke
        self._streams = streams_client
        self._sqs = sqs_client
        self._function_arn = function_arn
        self._shards: dict[str, _Shard] = {}
        self._finished: set[str] = set()  # closed shards fully delivered
        self._failure_queue_url: str | None = None
        if source.on_failure and ":sqs:" not in source.on_failure:
            log.warning("%s: only SQS on-failure destinations are emulated", source.event_name)

    def cycle(self) -> bool:
        idle, progressed = self._cycle()
        return idle or not progressed

    def poll_once(self) -> bool:
        """One cycle: read every shard, deliver what is ready. True when there was nothing to do."""
        return self._cycle()[0]

    def _cycle(self) -> tuple[bool, bool]:
        with self._lock:
            started = time.monotonic()
            self._discover_shards()
            read = progressed = False
            for shard in list(self._shards.values()):
                if not shard.closed and len(shard.pending) < READ_AHEAD:
                    read = self._read(shard) or read
                progressed = self._deliver(shard) or progressed
                if shard.closed and not shard.pending:
                    self._finished.add(shard.shard_id)
                    del self._shards[shard.shard_id]
            idle = not read and not any(shard.pending for shard in self._shards.values())
            if idle:
                self.idle_cycle_started = started
            return idle, progressed or read

    # --- reading ---------------------------------------------------------------------------------
    def _discover_shards(self) -> None:
        first_discovery = not self._shards and not self._finished
        described = list(self._describe_shards())
        open_ids = {shard["ShardId"] for shard in described} - self._finished
        for shard in described:
            shard_id = shard["ShardId"]
            if shard_id in self._shards or shard_id in self._finished:
                continue
            parent = shard.get("ParentShardId")
            if parent and parent in open_ids:
                continue  # a child shard waits until its parent is fully delivered, as in Lambda
            position = self.source.starting_position if first_discovery else "TRIM_HORIZON"
            iterator = self._streams.get_shard_iterator(
                StreamArn=self.source.stream_arn, ShardId=shard_id, ShardIteratorType=position
            )["ShardIterator"]
            self._shards[shard_id] = _Shard(shard_id, iterator)

    def _describe_shards(self) -> Iterable[dict[str, Any]]:
        request: dict[str, Any] = {"StreamArn": self.source.stream_arn}
        while True:
            description = self._streams.describe_stream(**request)["StreamDescription"]
            yield from description.get("Shards", [])
            last = description.get("LastEvaluatedShardId")
            if not last:
                return
            request["ExclusiveStartShardId"] = last

    def _read(self, shard: _Shard) -> bool:
        try:
            response = self._streams.get_records(ShardIterator=shard.iterator, Limit=READ_LIMIT)
        except self._streams.exceptions.ExpiredIteratorException:
            shard.iterator = self._iterator_after(shard)
            return False
        shard.iterator = response.get("NextShardIterator")
        records = response.get("Records", [])
        for record in records:
            shard.last_sequence = record["dynamodb"]["SequenceNumber"]
            shaped = stream_record(record, stream_arn=self.source.stream_arn)
            if passes(self.source.filters, shaped):
                if not shard.pending:
                    shard.pending_since = time.monotonic()
                shard.pending.append(shaped)
        self.activity += len(records)
        return bool(records)

    def _iterator_after(self, shard: _Shard) -> str:
        position: dict[str, Any] = {"ShardIteratorType": "TRIM_HORIZON"}
        if shard.last_sequence is not None:
            position = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": shard.last_sequence}
        response = self._streams.get_shard_iterator(
            StreamArn=self.source.stream_arn, ShardId=shard.shard_id, **position
        )
        return str(response["ShardIterator"])

    # --- delivering ------------------------------------------------------------------------------
    def _deliver(self, shard: _Shard) -> bool:
        """Deliver batches from the head of the shard until one fails or none is ready."""
        progressed = False
        while shard.pending and self._ready(shard):
            head = (
                shard.slices[0] if shard.slices else _Slice(min(self.source.batch_size, len(shard.pending)))
            )
            batch = shard.pending[: head.size]
            outcome = self._invoke_batch(batch)
            if outcome.failed_at is None:
                self._done(shard, len(batch))
                if shard.slices:
                    shard.slices.pop(0)
                progressed = True
                continue
            retry = self._after_failure(shard, head, outcome)
            if retry is None:
                progressed = True
                continue
            if shard.slices:
                shard.slices[0:1] = retry
            else:
                shard.slices = retry
            return progressed  # retry at the next poll
        return progressed

    def _after_failure(self, shard: _Shard, head: _Slice, outcome: _Outcome) -> list[_Slice] | None:
        """The slices to retry next, or None when the batch was given up (sent to OnFailure)."""
        failed_at = outcome.failed_at or 0
        self._done(shard, failed_at)
        remaining = head.size - failed_at
        if outcome.raised and self.source.bisect_on_error and remaining > 1:
            half = remaining // 2
            return [_Slice(remaining - half, head.attempts), _Slice(half, head.attempts)]
        attempts = head.attempts + 1
        limit = self.source.maximum_retry_attempts
        if limit < 0 or attempts <= limit:
            return [_Slice(remaining, attempts)]
        self._give_up(shard, shard.pending[:remaining], attempts, raised=outcome.raised)
        self._done(shard, remaining)
        if shard.slices:
            shard.slices.pop(0)
        return None

    def _ready(self, shard: _Shard) -> bool:
        """A retried batch goes at once; a new one when full, or when its batching window has passed."""
        if shard.slices or shard.closed or len(shard.pending) >= self.source.batch_size:
            return True
        waited = time.monotonic() - (shard.pending_since or 0.0)
        return waited >= self.source.batching_window

    def _done(self, shard: _Shard, count: int) -> None:
        del shard.pending[:count]
        if not shard.pending:
            shard.pending_since = None

    def _invoke_batch(self, batch: Sequence[dict[str, Any]]) -> _Outcome:
        self.activity += 1
        try:
            response = self._invoke({"Records": list(batch)})
        except Exception:
            log.exception("%s raised on a batch of %d stream records", self.source.function, len(batch))
            return _Outcome(failed_at=0, raised=True)
        finally:
            self.activity += 1  # its writes may have fed another stream; wait_idle must notice
        if not self.source.report_item_failures:
            return _Outcome(failed_at=None)
        return _Outcome(failed_at=_first_failure(response, batch))

    def _give_up(
        self, shard: _Shard, records: Sequence[dict[str, Any]], attempts: int, *, raised: bool
    ) -> None:
        description = self._failure_description(shard, records, attempts, raised=raised)
        info = description["DDBStreamBatchInfo"]
        log.error(
            "%s: giving up on stream records %s..%s after %d attempts",
            self.source.function,
            info["startSequenceNumber"],
            info["endSequenceNumber"],
            attempts,
        )
        if self.source.on_failure and ":sqs:" in self.source.on_failure and self._sqs is not None:
            self._sqs.send_message(QueueUrl=self._queue_url(), MessageBody=json.dumps(description))

    def _queue_url(self) -> str:
        if self._failure_queue_url is None:
            name = str(self.source.on_failure).rsplit(":", 1)[1]
            self._failure_queue_url = str(self._sqs.get_queue_url(QueueName=name)["QueueUrl"])
        return self._failure_queue_url

    def _failure_description(
        self, shard: _Shard, records: Sequence[dict[str, Any]], attempts: int, *, raised: bool
    ) -> dict[str, Any]:
        """The message Lambda sends to an on-failure destination for a stream batch."""
        first, last = records[0]["dynamodb"], records[-1]["dynamodb"]
        return {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": self._function_arn,
                "condition": RETRY_ATTEMPTS_EXHAUSTED,
                "approximateInvokeCount": attempts,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                **({"functionError": "Unhandled"} if raised else {}),
            },
            "version": "1.0",
            "timestamp": _iso_now(),
            "DDBStreamBatchInfo": {
                "shardId": shard.shard_id,
                "startSequenceNumber": first["SequenceNumber"],
                "endSequenceNumber": last["SequenceNumber"],
                "approximateArrivalOfFirstRecord": _iso_epoch(first.get("ApproximateCreationDateTime")),
                "approximateArrivalOfLastRecord": _iso_epoch(last.get("ApproximateCreationDateTime")),
                "batchSize": len(records),
                "streamArn": self.source.stream_arn,
            },
        }


def _first_failure(response: Any, batch: Sequence[dict[str, Any]]) -> int | None:
    """Index of the lowest reported failure; a malformed report fails the whole batch, as in Lambda."""
    if not isinstance(response, Mapping) or not response.get("batchItemFailures"):
        return None
    positions = {record["dynamodb"]["SequenceNumber"]: index for index, record in enumerate(batch)}
    failures = response["batchItemFailures"]
    if not isinstance(failures, list):
        return 0
    indexes = []
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, Mapping) else None
        if identifier not in positions:
            log.warning("batchItemFailures names %r, not in the batch: retrying all of it", identifier)
            return 0
        indexes.append(positions[identifier])
    return min(indexes)


class Pollable(Protocol):
    """What wait_idle reads of a poller (stream, queue or SES events)."""

    idle_cycle_started: float
    activity: int


def wait_idle(pollers: Sequence[Pollable], timeout: float) -> bool:
    """Wait until every record written to the pollers' streams so far has been delivered.

    Done when, for some moment T, every poller has since completed a cycle that found nothing to read or
    deliver, and nothing happened on any poller after T (so no handler fed another stream meanwhile).
    """
    deadline = time.monotonic() + timeout
    while True:
        mark = time.monotonic()
        activity = sum(poller.activity for poller in pollers)
        while not all(poller.idle_cycle_started >= mark for poller in pollers):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        if sum(poller.activity for poller in pollers) == activity:
            return True


def _iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _iso_epoch(epoch: Any) -> str | None:
    if not isinstance(epoch, int | float):
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
