"""LocalStack: the whole SAM template running in this process, over an embedded moto.

Start order: moto (leadstream_local.embedded_aws, serving one call at a time) and the AWS environment
variables that point boto3 at it; the template's tables and queues; the HTTP socket (so the API's URL is
known); each function's environment, resolved from the template; the API server; the seed data; the
stream pollers and schedules. `stop` undoes all of it, including every environment variable, so tests
can share the process.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from leadstream_local import environment, moto_speedups
from leadstream_local.embedded_aws import FAKE_CREDENTIALS, EmbeddedAws
from leadstream_local.firehose import FirehoseDelivery
from leadstream_local.outbox import OutboxEmail, read_outbox
from leadstream_local.polling import POLL_INTERVAL
from leadstream_local.queues import QueuePoller, QueueSource, subscribe_function
from leadstream_local.runtime import LambdaFunction
from leadstream_local.schedules import SCHEDULE_TYPES, Schedule, Scheduler
from leadstream_local.seed import DEFAULT_WRITE_KEY, Sent, seed_sales_user, seed_source, send_demo_traffic
from leadstream_local.server import ApiGateway, ApiServer
from leadstream_local.ses_events import SesEventPublisher
from leadstream_local.streams import StreamPoller, StreamSource, wait_idle
from leadstream_local.template import REGION, TEMPLATE_PATH, StackTemplate
from leadstream_local.timers import OneTimeSchedules

log = logging.getLogger("leadstream_local")

# Settings that would route some clients elsewhere or fail on a missing profile.
_DROPPED_AWS_VARIABLES = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN")
# How long tests wait for the stack to go idle. Generous on purpose: the wait ends as soon as every
# stream and queue is drained, and a busy two-core machine can take many times longer than a quiet one.
IDLE_TIMEOUT_SECONDS = 180.0


class _EnvironmentPatch:
    """Sets and removes environment variables, remembering the originals so `restore` is exact."""

    def __init__(self) -> None:
        self._original: dict[str, str | None] = {}

    def set(self, key: str, value: str | None) -> None:
        self._original.setdefault(key, os.environ.get(key))
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value

    def restore(self) -> None:
        for key, value in self._original.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._original.clear()


class LocalStack:
    """The template's routes, tables, queues, stream triggers and schedules, in-process.

    One LocalStack runs per process at a time: moto keeps its state in module globals.
    """

    _running_lock = threading.Lock()

    def __init__(
        self,
        *,
        port: int = 0,
        aws_port: int = 0,
        write_key: str = DEFAULT_WRITE_KEY,
        seed: bool = True,
        seed_demo: bool = False,
        host: str = "127.0.0.1",
        template_path: Path = TEMPLATE_PATH,
        poll_interval: float = POLL_INTERVAL,
        triggers: bool = True,
        region: str = REGION,
    ) -> None:
        self.write_key = write_key
        self._port = port
        self._aws_port = aws_port
        self._host = host
        self._seed = seed
        self._seed_demo = seed_demo
        self._poll_interval = poll_interval
        # Off only for measurements of the HTTP path alone (stream consumers would share its CPU).
        self._triggers = triggers
        self._env = _EnvironmentPatch()
        self._added_paths: list[str] = []
        self._moto: EmbeddedAws | None = None
        self._api: ApiServer | None = None
        self._pollers: list[StreamPoller] = []
        self._queue_pollers: list[QueuePoller] = []  # SQS event sources and SNS subscriptions
        self._ses_events: SesEventPublisher | None = None
        self._firehose: FirehoseDelivery | None = None
        self._scheduler: Scheduler | None = None
        self._timers: OneTimeSchedules | None = None
        self._werkzeug_level: int | None = None
        self._holds_lock = False
        # Webhooks may go to a receiver on this machine (docs/integrations.md); never so in AWS.
        self.template = StackTemplate.load(template_path, region=region, WebhookAllowLoopback="true")
        self.functions: dict[str, LambdaFunction] = {}
        self.demo_results: list[Sent] = []
        self.aws_url = ""
        self.url = ""

    # --- lifecycle -------------------------------------------------------------------------------
    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> LocalStack:
        if not LocalStack._running_lock.acquire(blocking=False):
            raise RuntimeError("another LocalStack is running in this process; stop it first")
        self._holds_lock = True
        try:
            self._start_aws()
            self._api = ApiServer(host=self._host, port=self._port)
            self.url = self._api.url
            self.template.register_functions()
            self.template.register_http_apis(self.url)
            self._load_functions()
            _clear_shared_caches()
            self._api.serve(
                ApiGateway(self.template.http_routes(), self.functions, self.template.jwt_authorizers())
            )
            if self._seed:
                seed_source(self.write_key)
                seed_sales_user(self.template, self._client("cognito-idp"))
            if self._triggers:
                self._start_triggers()
            if self._seed_demo:
                self.demo_results = send_demo_traffic(self.url, self.write_key)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop everything that was started and restore the process environment. Safe to call twice."""
        if not self._holds_lock:
            return  # never started (or already stopped): the process state belongs to someone else
        if self._scheduler is not None:
            self._scheduler.stop()
            self._scheduler = None
        if self._timers is not None:
            self._timers.stop()
            self._timers = None
        for poller in self._pollers:
            poller.stop()
        self._pollers = []
        for queue_poller in self._queue_pollers:
            queue_poller.stop()
        self._queue_pollers = []
        if self._ses_events is not None:
            self._ses_events.stop()
            self._ses_events = None
        if self._firehose is not None:
            self._firehose.stop()
            self._firehose = None
        if self._api is not None:
            self._api.stop()
            self._api = None
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        environment.uninstall()
        self._env.restore()
        for path in self._added_paths:
            if path in sys.path:
                sys.path.remove(path)
        self._added_paths = []
        if self._werkzeug_level is not None:
            logging.getLogger("werkzeug").setLevel(self._werkzeug_level)
            self._werkzeug_level = None
        _clear_shared_caches()
        self._holds_lock = False
        LocalStack._running_lock.release()

    @property
    def region(self) -> str:
        return self.template.region

    # --- what tests and benchmarks use -----------------------------------------------------------
    def wait_idle(self, timeout: float = IDLE_TIMEOUT_SECONDS) -> bool:
        """Wait until every stream record, visible queue message and SES event so far has been delivered
        (False on timeout). A queue message waiting out its visibility timeout after a failure is not
        visible, so it is not waited for."""
        ses = [self._ses_events] if self._ses_events is not None else []
        timers = [self._timers] if self._timers is not None else []
        firehose = [self._firehose] if self._firehose is not None else []
        return wait_idle([*self._pollers, *self._queue_pollers, *ses, *timers, *firehose], timeout)

    def advance_clock(self, delta: timedelta) -> datetime:
        """Move the local clock forward (functions' `leadstream.clock.now()` and the one-time schedules)
        and fire the timers that came due; returns the new local time. Wait with `wait_idle` for what
        they set off."""
        if self._timers is None:
            raise RuntimeError("the stack is not running")
        self._timers.advance(delta)
        return self._timers.now()

    def now(self) -> datetime:
        """The local clock: real time, plus however far `advance_clock` moved it."""
        return self._timers.now() if self._timers is not None else datetime.now(UTC)

    def trigger_schedule(self, function: str, event_name: str | None = None) -> Any:
        """Run a scheduled function now, as its schedule would, and return the handler's result."""
        if self._scheduler is None:
            raise RuntimeError("the stack is not running")
        return self._scheduler.trigger(function, event_name)

    def table_names(self) -> list[str]:
        return [self.template.physical[name]["Ref"] for name in self.template.of_type("AWS::DynamoDB::Table")]

    def outbox(self, to: str | None = None) -> list[OutboxEmail]:
        """The emails the stack's functions sent through the embedded SES (only those to `to`, if given)."""
        return read_outbox(self.aws_url, to=to)

    def queue_names(self) -> list[str]:
        return [
            self.template.physical[name]["QueueName"] for name in self.template.of_type("AWS::SQS::Queue")
        ]

    @property
    def stream_sources(self) -> list[StreamSource]:
        return [poller.source for poller in self._pollers]

    @property
    def queue_sources(self) -> list[QueueSource]:
        """The SQS event sources and SNS subscriptions the stack delivers."""
        return [poller.source for poller in self._queue_pollers]

    # --- steps -----------------------------------------------------------------------------------
    def _start_aws(self) -> None:
        moto_speedups.install()

        # moto logs every request it serves through werkzeug; that is noise next to our own log.
        werkzeug = logging.getLogger("werkzeug")
        self._werkzeug_level = werkzeug.level
        werkzeug.setLevel(logging.WARNING)
        self._moto = EmbeddedAws(host=self._host, port=self._aws_port)
        self.aws_url = self._moto.url
        # Start from an empty account even if an earlier stack (or test) left state in this process.
        urllib.request.urlopen(
            urllib.request.Request(f"{self.aws_url}/moto-api/reset", method="POST"), timeout=30
        ).close()
        for key in [*_DROPPED_AWS_VARIABLES, *(k for k in os.environ if k.startswith("AWS_ENDPOINT_URL_"))]:
            self._env.set(key, None)
        self._env.set("AWS_ENDPOINT_URL", self.aws_url)
        # Athena is not emulated: the reports run on DuckDB over the same Parquet files (docs/lake.md).
        self._env.set("LAKE_QUERY_ENGINE", "duckdb")
        self._env.set("AWS_REGION", self.region)
        self._env.set("AWS_DEFAULT_REGION", self.region)
        for key, value in FAKE_CREDENTIALS.items():
            self._env.set(key, value)
        self.template.create_resources(self._client)

    def _client(self, service: str) -> Any:
        import boto3

        return boto3.client(service, endpoint_url=self.aws_url, region_name=self.region)  # type: ignore[call-overload]

    def _load_functions(self) -> None:
        specs = self.template.functions()
        per_function = {
            spec.logical_id: {key: _env_text(value) for key, value in spec.environment.items()}
            for spec in specs
        }
        shared, layers = environment.split_shared(per_function)
        for key, value in shared.items():
            self._env.set(key, value)
        environment.install()
        for spec in specs:
            code_dir = str(spec.code_dir)
            if code_dir not in sys.path:
                sys.path.insert(0, code_dir)
                self._added_paths.append(code_dir)
            self.functions[spec.logical_id] = LambdaFunction(spec, environment_layer=layers[spec.logical_id])

    def _start_triggers(self) -> None:
        streams, sqs, sns = self._client("dynamodbstreams"), self._client("sqs"), self._client("sns")
        poll = self._poll_interval
        schedules: dict[Schedule, Callable[[Any], Any]] = {}
        for spec in self.template.functions():
            function = self.functions[spec.logical_id]
            for name, props in spec.events_of_type("DynamoDB").items():
                source = StreamSource.from_properties(spec.logical_id, name, self.template.resolve(props))
                self._pollers.append(
                    StreamPoller(
                        source,
                        function.invoke,
                        streams_client=streams,
                        sqs_client=sqs,
                        function_arn=spec.arn,
                        poll_interval=self._poll_interval,
                    )
                )
            for name, props in spec.events_of_type("SQS").items():
                resolved = self.template.resolve(props)
                queue_url = sqs.get_queue_url(QueueName=str(resolved["Queue"]).rsplit(":", 1)[1])["QueueUrl"]
                queue = QueueSource.from_properties(spec.logical_id, name, resolved, queue_url=queue_url)
                self._queue_pollers.append(
                    QueuePoller(queue, function.invoke, sqs_client=sqs, poll_interval=poll)
                )
            for name, props in spec.events_of_type("SNS").items():
                subscription = subscribe_function(
                    function=spec.logical_id,
                    event_name=name,
                    props=self.template.resolve(props),
                    sns_client=sns,
                    sqs_client=sqs,
                )
                self._queue_pollers.append(
                    QueuePoller(subscription, function.invoke, sqs_client=sqs, poll_interval=poll)
                )
            for event_type in SCHEDULE_TYPES:
                for name, props in spec.events_of_type(event_type).items():
                    resolved = self.template.resolve(props)
                    schedule = Schedule.from_properties(
                        spec.logical_id, name, event_type, resolved, self.region
                    )
                    schedules[schedule] = function.invoke
        for poller in self._pollers:
            poller.start()
        for queue_poller in self._queue_pollers:
            queue_poller.start()
        destinations = self.template.ses_event_destinations()
        if destinations:  # moto's SES publishes no events: the stack does (leadstream_local.ses_events)
            self._ses_events = SesEventPublisher(
                destinations, sns_client=sns, poll_interval=poll, now=self.now, region=self.region
            )
            self._ses_events.start()
        delivery_streams = self.template.delivery_streams()
        if delivery_streams:  # moto stages what Firehose gets; this writes it as Parquet by partition
            self._firehose = FirehoseDelivery(
                delivery_streams, s3_client=self._client("s3"), poll_interval=poll
            )
            self._firehose.start()
        self._scheduler = Scheduler(schedules, now=self.now)
        self._scheduler.start()
        self._timers = OneTimeSchedules(
            sqs_client=sqs,
            ssm_client=self._client("ssm"),
            on_offset=self._set_clock_offset,
            poll_interval=poll,
            region=self.region,
        )
        self._timers.start()

    def _set_clock_offset(self, offset: timedelta) -> None:
        from leadstream import clock  # the functions' package: importable once the stack has started

        self._env.set(clock.OFFSET_VARIABLE, repr(offset.total_seconds()) if offset else None)
        if self._scheduler is not None:
            self._scheduler.clock_moved()


def _env_text(value: Any) -> str:
    """Lambda environment values are strings; a resolved list (e.g. a CommaDelimitedList Ref) is joined."""
    if isinstance(value, list):
        return ",".join(str(part) for part in value)
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _clear_shared_caches() -> None:
    """Forget clients and settings built for a previous environment (another stack, or a test's moto)."""
    from leadstream import caches

    caches.clear_all()
