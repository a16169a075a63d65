"""The address guard checks every address a name resolves to, before any connection: a
public-looking name that resolves to metadata, private or loopback space is refused."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from claimflow import EgressDeniedError
from claimflow.infra.guarded_http_client import RequestsHttpClient
from claimflow.infra.http_client import HttpRequest

ANSWERS = {
    "metadata.attacker.example": ["169.254.169.254"],
    "metadata6.attacker.example": ["fd00:ec2::254"],
    "pod-identity6.attacker.example": ["fd00:ec2::23"],  # EKS Pod Identity agent, IPv6
    "intranet.attacker.example": ["10.1.2.3"],
    "rebind.attacker.example": ["93.184.215.14", "127.0.0.1"],  # one public answer does not launder a private one
    "mapped.attacker.example": ["::ffff:10.0.0.1"],
}


def resolve(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
    """A DNS that answers what an attacker's zone would."""
    if host not in ANSWERS:
        raise socket.gaierror(f"unknown host {host}")
    return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in ANSWERS[host]]


@pytest.mark.parametrize("host", sorted(ANSWERS))
def test_a_name_resolving_to_a_forbidden_address_is_refused_before_connecting(host: str) -> None:
    with pytest.raises(EgressDeniedError, match=f"{host} resolves, but .* address"):
        RequestsHttpClient(allow_private=False, resolve=resolve).send(HttpRequest("GET", f"https://{host}/latest/meta-data/"))


@pytest.mark.parametrize("host", ["metadata.attacker.example", "pod-identity6.attacker.example"])
def test_local_mode_still_refuses_metadata_by_name(host: str) -> None:
    with pytest.raises(EgressDeniedError, match="cloud metadata address"):
        RequestsHttpClient(allow_private=True, resolve=resolve).send(HttpRequest("GET", f"http://{host}/"))
