"""Where a workflow may send requests: the SSRF guard, pure and testable without a network.

Outside local mode only HTTPS to public addresses; in local mode plain HTTP and private or
loopback addresses are allowed (that is where the stand-in services are), but cloud
metadata endpoints never are.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from urllib.parse import SplitResult, urlsplit

from claimflow.errors import EgressDeniedError

__all__ = ["METADATA_ADDRESSES", "address_refusal", "check_url", "host_allowed"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),  # EC2/Lambda instance metadata (IMDS)
        ipaddress.ip_address("fd00:ec2::254"),  # IMDS over IPv6
        ipaddress.ip_address("169.254.170.2"),  # ECS task metadata / container credentials
    }
)


def address_refusal(address: IPAddress, *, allow_private: bool) -> str | None:
    """Why ``address`` may not be reached, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in METADATA_ADDRESSES:
        return f"{address} is a cloud metadata address"
    if allow_private:
        return None
    if address.is_loopback:
        return f"{address} is a loopback address"
    if address.is_link_local:
        return f"{address} is a link-local address"
    if address.is_private or address.is_reserved or address.is_multicast or address.is_unspecified or not address.is_global:
        return f"{address} is a private or non-public address"
    return None


def host_allowed(host: str, allowed_hosts: Sequence[str]) -> bool:
    """Exact names, or ``*.example.com`` for any sub-domain of example.com."""
    host = host.lower().rstrip(".")
    for pattern in allowed_hosts:
        pattern = pattern.lower().rstrip(".")
        if host == pattern or (pattern.startswith("*.") and host.endswith(pattern[1:])):
            return True
    return False


def check_url(url: str, *, local_mode: bool, allowed_hosts: Sequence[str] = ()) -> SplitResult:
    """Refuse, before any connection, a URL a workflow may not fetch."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as error:
        raise EgressDeniedError(url, f"not a valid URL ({error})") from None
    schemes = ("https", "http") if local_mode else ("https",)
    if parts.scheme not in schemes:
        raise EgressDeniedError(url, f"scheme '{parts.scheme}' refused; use {' or '.join(schemes)}")
    host = parts.hostname
    if not host:
        raise EgressDeniedError(url, "the URL has no host")
    if parts.username or parts.password:
        raise EgressDeniedError(url, "credentials in the URL are refused; send them in a header")
    if allowed_hosts and not host_allowed(host, allowed_hosts):
        raise EgressDeniedError(url, f"host '{host}' is not in the url binding's allowedHosts")
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        return parts
    refusal = address_refusal(literal, allow_private=local_mode)
    if refusal:
        raise EgressDeniedError(url, f"refused: {refusal}")
    return parts
