"""Running a template function in-process: lazy import of its handler, a Lambda context, its environment.

Each function behaves like one warm Lambda container: its invocations run one at a time (a handler
module may keep per-invocation state, as Powertools' resolvers and batch processors do), while different
functions run concurrently.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from leadstream_local import environment
from leadstream_local.template import FunctionSpec

log = logging.getLogger("leadstream_local")

Handler = Callable[[Any, Any], Any]


@dataclass
class LambdaContext:
    """What a handler's `context` argument offers in AWS (the attributes Powertools reads)."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    timeout_seconds: float
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    _started: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"
        self.log_stream_name = self.log_stream_name or f"local/[$LATEST]{uuid.uuid4().hex}"

    def get_remaining_time_in_millis(self) -> int:
        elapsed = time.monotonic() - self._started
        return max(0, int((self.timeout_seconds - elapsed) * 1000))


class LambdaFunction:
    """One function of the template, invoked in this process."""

    def __init__(
        self,
        spec: FunctionSpec,
        *,
        environment_layer: Mapping[str, str] | None = None,
        handler: Handler | None = None,
    ) -> None:
        self.spec = spec
        self._layer = dict(environment_layer or {})
        self._handler = handler  # tests pass a callable; normally imported from spec.handler
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.spec.name or self.spec.logical_id

    def invoke(self, event: Any) -> Any:
        """Call the handler with `event` and a fresh context, as one Lambda invocation."""
        context = LambdaContext(
            function_name=self.name,
            memory_limit_in_mb=self.spec.memory_size,
            invoked_function_arn=self.spec.arn,
            aws_request_id=str(uuid.uuid4()),
            timeout_seconds=self.spec.timeout,
        )
        with self._lock, environment.layered(self._layer):
            handler = self._load()
            started = time.monotonic()
            try:
                return handler(event, context)
            finally:
                elapsed = time.monotonic() - started
                if elapsed > self.spec.timeout:
                    # A thread cannot be stopped; AWS would have ended this invocation as timed out.
                    log.warning(
                        "%s ran %.1f s, longer than its Timeout of %d s: AWS would have stopped it",
                        self.name,
                        elapsed,
                        self.spec.timeout,
                    )

    def _load(self) -> Handler:
        """Import the handler on first use, inside the function's environment, as a cold start would."""
        if self._handler is None:
            # The stack puts the function's code directory (CodeUri) on sys.path, as Lambda does.
            module_name, _, attribute = self.spec.handler.rpartition(".")
            # A handler's logger binds to sys.stdout when its module is imported. That must be the
            # process's own stream, never one a caller swapped in for a while (a test capturing output):
            # once that one closes, every later log line of the function would fail.
            with contextlib.redirect_stdout(sys.__stdout__ or sys.stdout):
                module = importlib.import_module(module_name)
            self._handler = getattr(module, attribute)
        return self._handler
