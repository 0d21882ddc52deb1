"""The outbox reader against a stand-in for moto's `/moto-api/data.json`: a 500 now and then (moto walking
live objects under load) is asked again; one that persists, or any other error, is raised."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.error import HTTPError

import pytest

from leadstream_local import outbox

SENT = {
    "ses": {
        "Message": [
            {"id": "m-1", "source": "news@example.org", "destinations": {"ToAddresses": ["ada@example.org"]},
             "subject": "Welcome", "body": "Hello Ada"}
        ]
    }
}  # fmt: skip


class _Moto:
    """Answers `statuses` in turn (then 200 with SENT) and counts the requests."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.requests = 0


@pytest.fixture
def moto_api() -> Iterator[tuple[str, _Moto]]:
    state = _Moto([])

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests += 1
            status = state.statuses.pop(0) if state.statuses else 200
            body = json.dumps(SENT if status == 200 else {"error": "changed during iteration"}).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()


def test_a_passing_500_is_asked_again(moto_api: tuple[str, _Moto]) -> None:
    url, moto = moto_api
    moto.statuses = [500, 500]
    (email,) = outbox.read_outbox(url, to="ADA@example.org")
    assert (email.subject, email.body, email.to) == ("Welcome", "Hello Ada", ("ada@example.org",))
    assert moto.requests == 3


def test_a_500_every_time_is_raised(moto_api: tuple[str, _Moto]) -> None:
    url, moto = moto_api
    moto.statuses = [500] * outbox.DATA_ATTEMPTS
    with pytest.raises(HTTPError) as raised:
        outbox.read_outbox(url)
    assert raised.value.code == 500
    assert moto.requests == outbox.DATA_ATTEMPTS


def test_another_error_is_not_asked_again(moto_api: tuple[str, _Moto]) -> None:
    url, moto = moto_api
    moto.statuses = [404]
    with pytest.raises(HTTPError):
        outbox.read_outbox(url)
    assert moto.requests == 1
