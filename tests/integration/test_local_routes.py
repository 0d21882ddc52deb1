"""API Gateway HTTP API behaviour of the local stack: route selection, the 2.0 event, response mapping."""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import pytest

from leadstream_local.routes import Router
from leadstream_local.runtime import LambdaFunction
from leadstream_local.server import ApiGateway
from leadstream_local.template import FunctionSpec, HttpRoute

ROUTES = [
    HttpRoute("GET", "/pets/{id}", "ById"),
    HttpRoute("GET", "/pets/dog", "Dog"),
    HttpRoute("ANY", "/pets/cat", "AnyCat"),
    HttpRoute("POST", "/pets/cat", "PostCat"),
    HttpRoute("GET", "/pets/{id}/toys/{toy}", "Toy"),
    HttpRoute("ANY", "/files/{proxy+}", "Files"),
    HttpRoute("GET", "/files/{name}", "OneFile"),
    HttpRoute("GET", "/", "Root"),
]


@pytest.fixture
def router() -> Router:
    return Router(ROUTES)


@pytest.mark.parametrize(
    ("method", "path", "function", "parameters"),
    [
        ("GET", "/pets/7", "ById", {"id": "7"}),
        ("GET", "/pets/dog", "Dog", {}),  # a literal segment beats a parameter
        ("POST", "/pets/cat", "PostCat", {}),  # an explicit method beats ANY
        ("DELETE", "/pets/cat", "AnyCat", {}),
        ("GET", "/pets/7/toys/ball", "Toy", {"id": "7", "toy": "ball"}),
        ("GET", "/files/a.txt", "OneFile", {"name": "a.txt"}),  # a full match beats a greedy one
        ("GET", "/files/a/b/c.txt", "Files", {"proxy": "a/b/c.txt"}),
        ("PUT", "/files/a.txt", "Files", {"proxy": "a.txt"}),
        ("GET", "/pets/hello%20world", "ById", {"id": "hello world"}),
        ("get", "/", "Root", {}),
    ],
)
def test_route_selection_follows_api_gateway(
    router: Router, method: str, path: str, function: str, parameters: dict[str, str]
) -> None:
    match = router.match(method, path)
    assert match is not None
    assert match.route.function == function
    assert match.path_parameters == parameters


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/pets/7"),  # method must match
        ("GET", "/pets"),  # a parameter needs a segment
        ("GET", "/pets/"),  # ... a non-empty one
        ("GET", "/pets/7/toys"),
        ("GET", "/files"),  # a greedy parameter needs at least one segment
        ("GET", "/nothing/here"),
        ("GET", "/pets/7/"),
    ],
)
def test_unmatched_requests_find_no_route(router: Router, method: str, path: str) -> None:
    assert router.match(method, path) is None


def test_default_route_catches_the_rest() -> None:
    router = Router([HttpRoute("GET", "/a", "A"), HttpRoute("ANY", "$default", "Fallback")])
    match = router.match("PATCH", "/anything/else")
    assert match is not None
    assert (match.route.function, match.route_key) == ("Fallback", "$default")


def test_greedy_variable_must_end_the_route() -> None:
    with pytest.raises(ValueError, match="greedy"):
        Router([HttpRoute("GET", "/{proxy+}/tail", "Bad")])


# --- the gateway: event in, response out ---------------------------------------------------------
def _function(logical_id: str, handler: Any) -> LambdaFunction:
    spec = FunctionSpec(
        logical_id, "unused.handler", {}, {}, timeout=3, memory_size=256, name=f"fn-{logical_id}"
    )
    return LambdaFunction(spec, handler=handler)


def _gateway(handler: Any, route: HttpRoute | None = None) -> ApiGateway:
    route = route or HttpRoute("POST", "/things/{thingId}", "Things")
    return ApiGateway([route], {route.function: _function(route.function, handler)})


def test_request_becomes_a_payload_2_event_with_a_lambda_context() -> None:
    seen: list[tuple[dict[str, Any], Any]] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.append((event, context))
        return {"statusCode": 201, "headers": {"content-type": "text/plain"}, "body": "made"}

    status, headers, body = _gateway(handler).handle(
        "POST",
        "/things/t-1?color=red&color=blue",
        [("Content-Type", "application/json"), ("Cookie", "a=1; b=2"), ("Host", "127.0.0.1:8787")],
        b'{"x": 1}',
    )
    assert (status, body) == (201, b"made")
    assert ("content-type", "text/plain") in headers
    event, context = seen[0]
    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /things/{thingId}"
    assert event["rawPath"] == "/things/t-1"
    assert event["pathParameters"] == {"thingId": "t-1"}
    assert event["queryStringParameters"] == {"color": "red,blue"}
    assert event["cookies"] == ["a=1", "b=2"]
    assert json.loads(event["body"]) == {"x": 1}
    assert event["isBase64Encoded"] is False
    assert event["requestContext"]["http"]["method"] == "POST"
    assert context.function_name == "fn-Things"
    assert context.memory_limit_in_mb == 256
    assert context.invoked_function_arn.endswith(":function:fn-Things")
    assert context.aws_request_id
    assert 0 < context.get_remaining_time_in_millis() <= 3000


def test_binary_bodies_travel_base64_both_ways() -> None:
    def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
        received = base64.b64decode(event["body"]) if event["isBase64Encoded"] else b""
        return {
            "statusCode": 200,
            "headers": {"content-type": "image/gif"},
            "isBase64Encoded": True,
            "body": base64.b64encode(received[::-1]).decode(),
            "cookies": ["seen=1; Path=/"],
        }

    status, headers, body = _gateway(handler).handle(
        "POST", "/things/1", [("content-type", "application/octet-stream")], b"\x00\x01\x02"
    )
    assert (status, body) == (200, b"\x02\x01\x00")
    assert ("set-cookie", "seen=1; Path=/") in headers


def test_a_plain_return_value_becomes_a_json_200() -> None:
    status, headers, body = _gateway(lambda _event, _context: {"ok": True}).handle(
        "POST", "/things/1", [], b""
    )
    assert (status, json.loads(body)) == (200, {"ok": True})
    assert ("content-type", "application/json") in headers


def test_no_route_is_api_gateways_404() -> None:
    gateway = _gateway(lambda _event, _context: {"statusCode": 200})
    for method, target in [("GET", "/things/1"), ("POST", "/other")]:
        status, _headers, body = gateway.handle(method, target, [], b"")
        assert (status, json.loads(body)) == (404, {"message": "Not Found"})


def test_a_raising_handler_is_a_500_with_the_traceback_logged(caplog: pytest.LogCaptureFixture) -> None:
    def handler(_event: Any, _context: Any) -> Any:
        raise RuntimeError("kaput")

    with caplog.at_level(logging.ERROR, logger="leadstream_local"):
        status, _headers, body = _gateway(handler).handle("POST", "/things/1", [], b"")
    assert (status, json.loads(body)) == (500, {"message": "Internal Server Error"})
    assert any(record.exc_info and "kaput" in str(record.exc_info[1]) for record in caplog.records)


def test_routes_must_name_existing_functions() -> None:
    with pytest.raises(ValueError, match="Ghost"):
        ApiGateway([HttpRoute("GET", "/x", "Ghost")], {})


def test_http_functions_resolve_one_request_at_a_time() -> None:
    """Powertools keeps the request being resolved on a class attribute every resolver shares; in one
    process, two HTTP functions resolving at once would read each other's request. The gateway serialises
    them (in AWS each function is its own process)."""
    import threading

    in_flight, most = [0], [0]
    count = threading.Lock()
    both_started = threading.Barrier(2, timeout=5)

    def handler(_event: dict[str, Any], _context: Any) -> dict[str, Any]:
        with count:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        # Wait a moment for the other request to arrive while this one is being resolved.
        threading.Event().wait(0.2)
        with count:
            in_flight[0] -= 1
        return {"statusCode": 200, "body": "ok"}

    routes = [HttpRoute("GET", "/a", "A"), HttpRoute("GET", "/b", "B")]
    gateway = ApiGateway(routes, {name: _function(name, handler) for name in ("A", "B")})

    def call(path: str) -> None:
        both_started.wait()
        gateway.handle("GET", path, [], b"")

    threads = [threading.Thread(target=call, args=(path,)) for path in ("/a", "/b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert most[0] == 1
