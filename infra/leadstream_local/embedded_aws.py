"""The embedded AWS: moto's server on a local port, with one lock around every call into moto.

moto keeps each service's state in plain dicts and lists in module globals and is not thread-safe: one
DynamoDB TransactWriteItems deep-copies a table while another request adds an item to it, and the copy
fails with `RuntimeError: dictionary changed size during iteration`. The local stack calls moto from
many threads at once (the API's request threads, the stream and queue pollers, the schedules), and the
CLI calls it from other processes, so every call into moto holds `exclusive()`:

- every HTTP request to the embedded AWS: the functions' boto3 clients, the stack's own clients and
  `leadstream` commands all reach moto over HTTP, and `EmbeddedAws` serves each request under the lock;
- the pollers that read moto's models directly (SES's sent messages, Scheduler's schedules) take it
  for the read alone, never around a call of their own to the embedded AWS, which would wait for it.

moto is pure Python, so its requests never ran in parallel anyway (the GIL): the lock costs almost no
throughput. A request's body is read before the lock is taken and its answer is complete when the lock
is released, so a slow client does not hold up the others. The one place moto waits inside a request,
an SQS ReceiveMessage long poll, lets go of the lock while it waits (`_release_during_long_polls`).
"""

from __future__ import annotations

import io
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

# One lock per process, as moto's state is one per process (module globals), whichever stack serves it.
_lock = threading.Lock()
_owner = threading.local()  # `held` is True in the thread that holds _lock

# Any non-empty credentials satisfy moto; fixed ones make the printed CLI examples copy-pasteable.
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]


@contextmanager
def exclusive() -> Iterator[None]:
    """Hold the moto lock for this block; a block nested in this thread's own lock just runs."""
    if getattr(_owner, "held", False):
        yield
        return
    with _lock:
        _owner.held = True
        try:
            yield
        finally:
            _owner.held = False


@contextmanager
def _released() -> Iterator[None]:
    """Let other threads into moto for this block, if this thread holds the lock."""
    if not getattr(_owner, "held", False):
        yield
        return
    _owner.held = False
    _lock.release()
    try:
        yield
    finally:
        _lock.acquire()
        _owner.held = True


def serialised(app: WsgiApp) -> WsgiApp:
    """A WSGI app that runs `app` under the moto lock, the request read and the answer built in full."""

    def call(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        from werkzeug.wsgi import get_input_stream

        body = get_input_stream(environ).read()  # outside the lock: the client may be slow to send it
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        with exclusive():
            answer = app(environ, start_response)
            try:
                return [b"".join(answer)]
            finally:
                close = getattr(answer, "close", None)
                if close is not None:
                    close()

    return call


_patched = False


def _release_during_long_polls() -> None:
    """An SQS ReceiveMessage with WaitTimeSeconds waits in moto for a message to arrive; the message can
    only arrive through another request, so the wait must not hold the lock (a process-wide patch)."""
    global _patched  # noqa: PLW0603 - patches moto's class once per process
    if _patched:
        return
    from moto.sqs.models import Queue

    wait_for_messages = Queue.wait_for_messages

    def wait_unlocked(self: Any, timeout: int) -> None:
        with _released():
            wait_for_messages(self, timeout)

    Queue.wait_for_messages = wait_unlocked  # type: ignore[method-assign]
    _patched = True


class EmbeddedAws:
    """moto's server app, serialised, served from a background thread on `host`:`port` (0: any free)."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server, select_address_family

        _release_during_long_polls()
        app = serialised(DomainDispatcherApplication(create_backend_app))
        # Bound here, not by werkzeug, which prints and exits the process when the port is taken.
        try:
            listening = socket.create_server((host, port), family=select_address_family(host, port))
        except OSError as exc:
            message = f"cannot use {host}:{port} for the embedded AWS: {exc.strerror}"
            raise OSError(exc.errno, message) from exc
        with listening:  # werkzeug serves a duplicate of it
            self._server = make_server(
                host, port, app, threaded=True, request_handler=MotoRequestHandler, fd=listening.fileno()
            )
        self._thread = threading.Thread(target=self._server.serve_forever, name="embedded-aws", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = str(self._server.server_address[0]), self._server.server_address[1]
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join()
        self._server.server_close()
