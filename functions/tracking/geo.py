"""Where a visitor is, from their IP address, at ingest: country, region, city and time zone.

The lookup is offline: a MaxMind DB format file that ships as a Python package (`maxminddb-geolite2`:
MaxMind's GeoLite2 City of July 2018, under CC BY-SA 4.0, GeoLite2's licence until the end of 2019;
57 MB) read with the `maxminddb` C extension (Apache 2.0). `GEOIP_DATABASE` may name another file in
the same format (a fresher GeoLite2 or DB-IP City Lite, in a layer). Nothing goes over the network. The
reader is opened on the first lookup and kept for the container (memory-mapped: opening costs
microseconds, importing the reader about 15 ms; docs/benchmarks.md).

What is stored on the event, in `context.geo`: `{country, region, city, timeZone}` (ISO 3166 codes for
country and region, an IANA zone), when the address is located. The address is the event's own
`context.ip` when it holds a valid one (a server-side source forwarding a browser's), stored truncated as
analytics tools do (the last octet of IPv4 zeroed: /24; IPv6 cut to its /48), never whole; else the
address the request came from, which is used for the lookup and not stored at all.
"""

from __future__ import annotations

import ipaddress
from collections.abc import MutableMapping
from typing import Any

from pydantic import Field

from leadstream import clock
from leadstream.caches import TtlCache, container_cache
from leadstream.models import Model
from leadstream.settings import load

# Recent answers per (database, address): a visitor's events come from one address, a batch from one
# browser holds many of them. Bounded (oldest out first); an answer never changes for one database file.
_recent: TtlCache[tuple[str | None, str], dict[str, str] | None] = TtlCache(now=clock.now, max_entries=4096)
KEEP_SECONDS = 24 * 3600.0


class GeoSettings(Model, frozen=True):
    database: str | None = Field(alias="GEOIP_DATABASE", default=None, min_length=1)


def truncate(address: str) -> str | None:
    """The address with its host part removed (/24 for IPv4, /48 for IPv6); None if not an address."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except (ValueError, AttributeError):
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address)


@container_cache
def _reader(path: str | None) -> Any:
    """The database, opened once per container (memory-mapped by the C extension)."""
    import maxminddb  # imported on first use: the ingest of an event without an address never pays it

    if path is None:
        from _maxminddb_geolite2 import geolite2_database  # type: ignore[import-untyped]

        path = geolite2_database()
    return maxminddb.open_database(path, maxminddb.MODE_AUTO)


def locate(address: str) -> dict[str, str] | None:
    """Country, region, city and time zone of an address (those the database knows); None for private,
    reserved, invalid or unknown addresses."""
    if not isinstance(address, str):
        return None
    database = load(GeoSettings).database
    found = _recent.get((database, address), lambda: _located(database, address), max_age=KEEP_SECONDS)
    return dict(found) if found else None  # a copy: the event that gets it may be changed later


def _located(database: str | None, address: str) -> dict[str, str] | None:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return None
    return _lookup(database, str(ip)) if ip.is_global else None


def _lookup(database: str | None, address: str) -> dict[str, str] | None:
    record = _reader(database).get(address)
    if not isinstance(record, dict):
        return None
    found: dict[str, str] = {}
    country = (record.get("country") or record.get("registered_country") or {}).get("iso_code")
    if country:
        found["country"] = str(country)
    subdivisions = record.get("subdivisions") or []
    if subdivisions and subdivisions[0].get("iso_code"):
        found["region"] = str(subdivisions[0]["iso_code"])
    city = (record.get("city") or {}).get("names", {}).get("en")
    if city:
        found["city"] = str(city)
    zone = (record.get("location") or {}).get("time_zone")
    if zone:
        found["timeZone"] = str(zone)
    return found or None


def enrich(raw: Any, client_ip: str | None) -> None:
    """Put the location of a raw event's address in `context.geo` and truncate a `context.ip` it sent (in
    place). The request's own address is used for the lookup only, never stored. Anything that is not an
    event object is left for validation to refuse; a `context.ip` that is not an address is kept as sent."""
    if not isinstance(raw, MutableMapping):
        return
    context = raw.get("context")
    if context is not None and not isinstance(context, MutableMapping):
        return
    given = context.get("ip") if context is not None else None
    truncated = truncate(given) if isinstance(given, str) else None
    address = given if truncated is not None else client_ip
    located = locate(address) if isinstance(address, str) and address else None
    if truncated is None and located is None:
        return  # nothing to change: the event is stored as sent
    context = raw["context"] = dict(context or {})  # a batch's items may share one context object
    if truncated is not None:
        context["ip"] = truncated
    if located is not None:
        context["geo"] = located
