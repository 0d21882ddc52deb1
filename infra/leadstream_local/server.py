"""The HTTP side of the local stack: API Gateway HTTP API (payload 2.0) in front of in-process functions."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from leadstream_local.auth import authorizer_context, verify
from leadstream_local.lambda_events import http_api_event, http_api_response
from leadstream_local.routes import Router
from leadstream_local.runtime import LambdaFunction
from leadstream_local.template import HttpRoute, JwtAuthorizerSpec

log = logging.getLogger("leadstream_local")

JSON = [("content-type", "application/json")]
# API Gateway's own answers, byte for byte.
NOT_FOUND = b'{"message":"Not Found"}'
INTERNAL_ERROR = b'{"message":"Internal Server Error"}'
TOO_LARGE = b'{"message":"Request Entity Too Large"}'
BAD_REQUEST = b'{"message":"Bad Request"}'
UNAUTHORIZED = b'{"message":"Unauthorized"}'
MAX_BODY_BYTES = 10 * 1024 * 1024  # HTTP API payload quota
# Headers the server sets itself; a handler's copy would contradict the bytes actually sent.
HOP_BY_HOP = frozenset({"content-length", "connection", "keep-alive", "transfer-encoding", "date"})

Response = tuple[int, list[tuple[str, str]], bytes]

# Powertools keeps the request a resolver is serving on a class attribute that every resolver in the
# process shares (BaseRouter.current_event). In AWS each function is its own process and serves one
# request at a time; here every HTTP function shares one process, so two of them resolving at once would
# read each other's request. The gateway therefore runs one HTTP invocation at a time.
_RESOLVING = threading.Lock()


class ApiGateway:
    """Route selection, event building and response mapping, without sockets (the server wraps it)."""

    def __init__(
        self,
        routes: Iterable[HttpRoute],
        functions: Mapping[str, LambdaFunction],
        authorizers: Mapping[str, JwtAuthorizerSpec] | None = None,
    ) -> None:
        routes = list(routes)
        missing = {route.function for route in routes} - functions.keys()
        if missing:
            raise ValueError(f"routes name functions that do not exist: {sorted(missing)}")
        self._authorizers = dict(authorizers or {})
        unknown = {route.authorizer for route in routes if route.authorizer} - self._authorizers.keys()
        if unknown:
            raise ValueError(f"routes name authorizers that do not exist: {sorted(unknown)}")
        self._router = Router(routes)
        self._functions = dict(functions)

    def handle(
        self,
        method: str,
        target: str,
        headers: Iterable[tuple[str, str]],
        body: bytes,
        *,
        source_ip: str = "127.0.0.1",
    ) -> Response:
        path, _, query = target.partition("?")
        match = self._router.match(method, path)
        if match is None:
            return 404, list(JSON), NOT_FOUND
        function = self._functions[match.route.function]
        headers = list(headers)
        authorizer = None
        if match.route.authorizer:
            spec = self._authorizers[match.route.authorizer]
            claims = verify(spec, {name.lower(): value for name, value in headers})
            if claims is None:
                return 401, list(JSON), UNAUTHORIZED  # the function is never invoked, as in AWS
            authorizer = authorizer_context(claims)
        event = http_api_event(
            method=method,
            path=path,
            route_key=match.route_key,
            headers=headers,
            query=query,
            body=body,
            path_parameters=match.path_parameters,
            source_ip=source_ip,
            authorizer=authorizer,
        )
        request_id = event["requestContext"]["requestId"]
        started = time.monotonic()
        try:
            with _RESOLVING:
                status, response_headers, payload = http_api_response(function.invoke(event))
        except Exception:
            # A handler that raises (or returns something API Gateway cannot map) is a 500 in AWS too.
            log.exception("%s failed on %s %s", function.name, method, path)
            status, response_headers, payload = 500, list(JSON), INTERNAL_ERROR
        log.info(
            "%s %s -> %d (%s, %.0f ms)",
            method,
            path,
            status,
            function.name,
            (time.monotonic() - started) * 1e3,
        )
        return status, [*response_headers, ("apigw-requestid", request_id)], payload


class _BadBody(Exception):
    def __init__(self, status: int, message: bytes) -> None:
        super().__init__(status)
        self.status = status
        self.message = message


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as SDK sessions expect
    server_version = "leadstream-local"
    sys_version = ""
    # An idle keep-alive connection is closed after this many seconds (API Gateway idles out at 30).
    timeout = 30
    # Headers and body go out as separate writes; with Nagle's algorithm on, the body then waits for the
    # client's delayed ACK (~40 ms on Linux) on every keep-alive request.
    disable_nagle_algorithm = True
    server: _Server

    def _dispatch(self) -> None:
        try:
            body = self._read_body()
        except _BadBody as bad:
            # The rest of the body is unread, so the connection cannot carry another request.
            self.close_connection = True
            self._send(bad.status, list(JSON), bad.message)
            return
        headers = list(self.headers.items())
        headers += [
            ("x-forwarded-for", self.client_address[0]),
            ("x-forwarded-proto", "http"),
            ("x-forwarded-port", str(self.server.server_address[1])),
        ]
        assert self.server.gateway is not None, "requests are accepted only once serve() was called"
        response = self.server.gateway.handle(
            self.command, self.path, headers, body, source_ip=self.client_address[0]
        )
        self._send(*response)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _dispatch

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            return self._read_chunked()
        raw_length = self.headers.get("content-length")
        if raw_length is None:
            return b""  # an HTTP/1.1 request without either header has no body
        try:
            length = int(raw_length)
        except ValueError:
            raise _BadBody(400, BAD_REQUEST) from None
        if length < 0:
            raise _BadBody(400, BAD_REQUEST)
        if length > MAX_BODY_BYTES:
            raise _BadBody(413, TOO_LARGE)
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes:
        body = bytearray()
        while True:
            size_line = self.rfile.readline(1024).split(b";", 1)[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                raise _BadBody(400, BAD_REQUEST) from None
            if size == 0:
                while self.rfile.readline(1024).strip():  # trailers, up to the blank line
                    pass
                return bytes(body)
            if len(body) + size > MAX_BODY_BYTES:
                raise _BadBody(413, TOO_LARGE)
            body += self.rfile.read(size)
            self.rfile.readline(1024)  # the CRLF after each chunk

    def _send(self, status: int, headers: list[tuple[str, str]], payload: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http: " + format, *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Do not wait for open keep-alive connections on shutdown: their threads are daemons.
    block_on_close = False
    gateway: ApiGateway | None = None


class ApiServer:
    """A ThreadingHTTPServer bound to `host`:`port` (0 picks a free port) at once, so that its URL is known
    before the functions' environment is resolved; `serve` starts answering through an ApiGateway."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        try:
            self._server = _Server((host, port), _RequestHandler)
        except OSError as exc:
            raise OSError(exc.errno, f"cannot use {host}:{port} for the API: {exc.strerror}") from exc
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def serve(self, gateway: ApiGateway) -> None:
        self._server.gateway = gateway
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, name="local-api", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()
