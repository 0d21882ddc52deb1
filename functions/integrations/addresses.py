"""Where a webhook may go: the guard against server-side request forgery.

A receiver URL must be https with a host name or address that resolves only to public (global) addresses;
private, loopback, link-local (the instance metadata service, 169.254.169.254 and fd00:ec2::254),
carrier-grade NAT, multicast, reserved and unspecified addresses are refused. Loopback (127.0.0.0/8, ::1,
`localhost`) over plain http is allowed only where `WEBHOOK_ALLOW_LOOPBACK` is set: the local stack and
tests. The check runs twice: when a subscription is saved (a 422 that says why) and before every attempt,
on the addresses the name resolves to then; the connection goes to the address that was checked, so a
name that resolves elsewhere between the check and the request (DNS rebinding) cannot slip through.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2048

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressRefused(ValueError):
    """The URL may not be called; the message says why (and is shown to the admin)."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as written (a name, or an address)
    port: int
    path: str  # path and query


def parse(url: str, *, allow_loopback: bool) -> Target:
    """The parts of a receiver URL, or AddressRefused naming what is wrong with it."""
    if len(url) > MAX_URL_LENGTH:
        raise AddressRefused(f"the URL is longer than {MAX_URL_LENGTH} characters")
    if any(ord(char) < 0x21 or ord(char) == 0x7F for char in url):
        raise AddressRefused("the URL holds spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise AddressRefused(f"the URL is not valid ({exc})") from None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if scheme not in ("https", "http"):
        raise AddressRefused("the URL must start with https://")
    if not host:
        raise AddressRefused("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise AddressRefused("the URL may not hold a user name or password; authenticate with the signature")
    if scheme == "http" and not (allow_loopback and _is_loopback_name(host)):
        raise AddressRefused("the URL must use https (plain http is allowed only for a local receiver)")
    if port == 0:
        raise AddressRefused("the URL's port must be between 1 and 65535")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(scheme, host, port or (443 if scheme == "https" else 80), path)


def _is_loopback_name(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_address(address: IpAddress, *, allow_loopback: bool) -> None:
    """Refuse an address that is not public (loopback only where allowed)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:  # an IPv4 address reached through IPv6: judge the IPv4 one
            check_address(embedded, allow_loopback=allow_loopback)
            if address.ipv4_mapped is not None:
                return
    if address.is_loopback:
        if allow_loopback:
            return
        raise AddressRefused(f"{address} is a loopback address")
    if address.is_link_local:
        raise AddressRefused(f"{address} is a link-local address (such as the instance metadata service)")
    if not address.is_global or address.is_multicast:
        raise AddressRefused(f"{address} is a private or reserved address, not a public one")


NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address inside an IPv4-mapped, NAT64, 6to4 or Teredo IPv6 address."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None


def resolve(target: Target, *, allow_loopback: bool) -> list[IpAddress]:
    """Every address the host resolves to now, each checked; AddressRefused if any is not allowed."""
    try:
        literal = ipaddress.ip_address(target.host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses: list[IpAddress] = [literal]
    else:
        try:
            infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise AddressRefused(f"the host {target.host!r} does not resolve ({exc})") from None
        addresses = list(
            dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos)
        )
        if not addresses:
            raise AddressRefused(f"the host {target.host!r} does not resolve")
    for address in addresses:
        check_address(address, allow_loopback=allow_loopback)
    return addresses


def checked(url: str, *, allow_loopback: bool) -> tuple[Target, list[IpAddress]]:
    target = parse(url, allow_loopback=allow_loopback)
    return target, resolve(target, allow_loopback=allow_loopback)
