"""Where a workflow may send requests: the SSRF guard, pure and testable without a network.

Outside local mode only HTTPS to public addresses; in local mode plain HTTP and private or
loopback addresses are allowed (that is where the stand-in services are), but cloud metadata
endpoints never are.

Two rules close the usual bypasses:
- one parser: the URL is read with urllib3's ``parse_url``, the parser the HTTP client itself
  connects with, and URLs that parsers read differently (a backslash, control characters or
  whitespace) are refused outright;
- explicit address ranges: the special-purpose registries of RFC 6890 are listed here rather
  than taken from the interpreter's ``is_private`` of the day, and IPv4 addresses embedded in
  IPv6 (mapped, compatible, 6to4, Teredo, NAT64) are checked as the IPv4 address they carry.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass

from claimflow.errors import EgressDeniedError

__all__ = ["METADATA_ADDRESSES", "CheckedUrl", "address_refusal", "check_url", "host_allowed"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),  # EC2/Lambda instance metadata (IMDS)
        ipaddress.ip_address("fd00:ec2::254"),  # IMDS over IPv6
        ipaddress.ip_address("169.254.170.2"),  # ECS task metadata / container credentials
        ipaddress.ip_address("169.254.170.23"),  # EKS Pod Identity agent
        ipaddress.ip_address("fd00:ec2::23"),  # EKS Pod Identity agent over IPv6 (unique-local: local mode allows those)
    }
)

_net = ipaddress.ip_network
_LOOPBACK = (_net("127.0.0.0/8"), _net("::1/128"))
_LINK_LOCAL = (_net("169.254.0.0/16"), _net("fe80::/10"))
#: Not public: RFC 6890's special-purpose ranges (and multicast, reserved, documentation).
_NOT_PUBLIC = tuple(
    _net(net)
    for net in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",  # carrier-grade NAT
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/128",
        "100::/64",  # discard
        "2001::/23",  # IETF protocol assignments (Teredo's embedded client is checked separately)
        "2001:db8::/32",
        "fc00::/7",  # unique local
        "fec0::/10",  # site-local (deprecated)
        "ff00::/8",
    )
)
_NAT64 = (_net("64:ff9b::/96"), _net("64:ff9b:1::/48"))

#: Characters on which URL parsers disagree (WHATWG folds a backslash into a slash; some
#: strip tabs and newlines, others keep them). A well-formed URL percent-encodes them.
_AMBIGUOUS = re.compile(r"[\x00-\x20\x7f\\]")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries: mapped, compatible, 6to4, Teredo, NAT64."""
    found: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)  # (server, client)
    packed = address.packed
    if any(address in net for net in _NAT64) or (packed[:12] == bytes(12) and int(address) > 1):  # NAT64, "compatible"
        found.append(ipaddress.IPv4Address(packed[12:]))
    return found


def _refusal_of(address: IPAddress, *, allow_private: bool) -> str | None:
    if address in METADATA_ADDRESSES:
        return f"{address} is a cloud metadata address"
    if allow_private:
        return None
    if any(address in net for net in _LOOPBACK if net.version == address.version):
        return f"{address} is a loopback address"
    if any(address in net for net in _LINK_LOCAL if net.version == address.version):
        return f"{address} is a link-local address"
    if any(address in net for net in _NOT_PUBLIC if net.version == address.version):
        return f"{address} is a private or non-public address"
    return None


def address_refusal(address: IPAddress, *, allow_private: bool) -> str | None:
    """Why ``address`` may not be reached, or None when it may. An IPv6 address that embeds an
    IPv4 address is refused when either is."""
    refusal = _refusal_of(address, allow_private=allow_private)
    if refusal or not isinstance(address, ipaddress.IPv6Address):
        return refusal
    for inner in _embedded_ipv4(address):
        inner_refusal = _refusal_of(inner, allow_private=allow_private)
        if inner_refusal:
            return f"{address} embeds {inner_refusal}"
    return None


def host_allowed(host: str, allowed_hosts: Sequence[str]) -> bool:
    """Exact names, or ``*.example.com`` for any sub-domain of example.com."""
    host = host.lower().rstrip(".")
    for pattern in allowed_hosts:
        pattern = pattern.lower().rstrip(".")
        if host == pattern or (pattern.startswith("*.") and host.endswith(pattern[1:])):
            return True
    return False


@dataclass(frozen=True)
class CheckedUrl:
    """A URL the guard accepted, as the HTTP client will read it."""

    scheme: str
    host: str
    port: int | None

    @property
    def origin(self) -> tuple[str, str, int]:
        return (self.scheme, self.host, self.port or (443 if self.scheme == "https" else 80))


def check_url(url: str, *, local_mode: bool, allowed_hosts: Sequence[str] = ()) -> CheckedUrl:
    """Refuse, before any connection, a URL a workflow may not fetch."""
    from urllib3.exceptions import LocationParseError
    from urllib3.util import parse_url  # the HTTP client's own parser; imported on the first fetch

    if not isinstance(url, str) or _AMBIGUOUS.search(url):
        raise EgressDeniedError(str(url)[:256], "refused: the URL holds a backslash, a space or a control character")
    try:
        parts = parse_url(url)
    except LocationParseError as error:
        raise EgressDeniedError(url, f"not a valid URL ({error})") from None
    schemes = ("https", "http") if local_mode else ("https",)
    scheme = (parts.scheme or "").lower()
    if scheme not in schemes:
        raise EgressDeniedError(url, f"scheme '{scheme}' refused; use {' or '.join(schemes)}")
    if parts.auth:
        raise EgressDeniedError(url, "credentials in the URL are refused; send them in a header")
    host = (parts.host or "").lower().strip("[]")
    if not host:
        raise EgressDeniedError(url, "the URL has no host")
    if allowed_hosts and not host_allowed(host, allowed_hosts):
        raise EgressDeniedError(url, f"host '{host}' is not in the url binding's allowedHosts")
    try:
        literal = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return CheckedUrl(scheme, host, parts.port)
    refusal = address_refusal(literal, allow_private=local_mode)
    if refusal:
        raise EgressDeniedError(url, f"refused: {refusal}")
    return CheckedUrl(scheme, host, parts.port)
