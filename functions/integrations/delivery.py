"""One HTTP POST to a receiver, on an address that was checked (integrations.addresses).

The connection goes to the checked IP address; the URL's host name is kept for the Host header and for
TLS (SNI and certificate check), so the request reaches exactly the address that passed the guard. No
redirect is followed (a redirect could point anywhere), no proxy is used, and the answer is read only up
to a kilobyte.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import urllib3

from integrations.addresses import IpAddress, Target

KEEP_BYTES = 1024


@dataclass(frozen=True)
class Response:
    status: int | None  # None: no HTTP answer
    error: str | None = None


def post(
    target: Target, resolved: Sequence[IpAddress], headers: Mapping[str, str], body: str, timeout: float
) -> Response:
    """POST `body`; tries the checked addresses in turn until one answers. Never raises for the network."""
    host_header = target.host if target.port in (80, 443) else f"{target.host}:{target.port}"
    last_error = "no address"
    for address in resolved:
        pool: urllib3.HTTPConnectionPool
        limit = urllib3.Timeout(connect=min(timeout, 5.0), read=timeout)
        if target.scheme == "https":
            pool = urllib3.HTTPSConnectionPool(
                str(address),
                port=target.port,
                timeout=limit,
                retries=False,
                maxsize=1,
                server_hostname=target.host,
                assert_hostname=target.host,
            )
        else:
            pool = urllib3.HTTPConnectionPool(
                str(address), port=target.port, timeout=limit, retries=False, maxsize=1
            )
        try:
            response = pool.urlopen(
                "POST",
                target.path,
                body=body.encode(),
                headers={**headers, "host": host_header},
                redirect=False,
                preload_content=False,
                assert_same_host=False,
            )
            try:
                response.read(KEEP_BYTES, decode_content=False)
            finally:
                response.release_conn()
            status = int(response.status)
            return Response(status, None if 200 <= status < 300 else f"HTTP {status}")
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            last_error = f"{type(exc).__name__}: {exc}"[:500]
        finally:
            pool.close()
    return Response(None, last_error)
