"""The address of the client behind a request, read through the configured reverse proxies only.

Every throttle keys on this one helper (sign-in, public forms, portal, appointments, callbacks).
`X-Forwarded-For` is written by each proxy on the way: the right-most entries come from proxies we
run, anything further left may have been typed by the client. So the header is read only when the
request comes from a trusted proxy (`TRUSTED_PROXIES`), from the right, and the first address that
is not a trusted proxy is the client. With no trusted proxy, the client is `REMOTE_ADDR`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from django.conf import settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_LENGTH = 64  # as stored by the throttles


@lru_cache(maxsize=8)
def trusted_networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    """The networks of `TRUSTED_PROXIES` (an address alone is a network of one)."""
    return tuple(ipaddress.ip_network(proxy.strip(), strict=False) for proxy in proxies)


def _is_trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(meta: Mapping[str, Any]) -> str:
    """The client's address for this request's `META` (see the module docstring)."""
    remote = str(meta.get("REMOTE_ADDR", "") or "").strip()
    networks = trusted_networks(tuple(settings.TRUSTED_PROXIES))
    if not networks or not _is_trusted(remote, networks):
        return remote[:MAX_LENGTH]
    forwarded = [
        entry.strip()
        for entry in str(meta.get("HTTP_X_FORWARDED_FOR", "") or "").split(",")
        if entry.strip()
    ]
    for entry in reversed(forwarded):
        if not _is_trusted(entry, networks):
            return entry[:MAX_LENGTH]
    # Only proxies on the way (or no header): the farthest one is the best we know.
    return (forwarded[0] if forwarded else remote)[:MAX_LENGTH]
