"""The loopback ports of ``make dev``, in one place (the README, the CLI's ``--local`` and the
stack all read them here). Tests and ``make demo`` use free ports instead.

``make dev`` takes seven consecutive ports from 3000; ``CLAIMFLOW_DEV_PORT_BASE`` (``make dev
PORT_BASE=4000``) moves them all, and the CLI's ``--local`` follows the same variable.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["DEV_PORTS", "PORT_BASE_VARIABLE", "busy_ports", "dev_ports", "local_url"]

PORT_BASE_VARIABLE = "CLAIMFLOW_DEV_PORT_BASE"

#: Each service's offset from the base port (3000 unless moved).
_OFFSETS = MappingProxyType(
    {
        "token_endpoint": 0,  # POST /token with a token request (contract v1)
        "lambda": 1,  # the Lambda Invoke API (the emulator)
        "jwks": 2,  # the JWKS function's URL: JWKS and discovery
        "ssm": 3,  # the embedded SSM (moto)
        "third_party": 4,  # the seed's third-party API stand-in
        "oauth": 5,  # the example identity stack's OAuth token endpoint
        "hooks": 6,  # the issuer's URL: claims hooks for stacks that sign their own tokens
    }
)
_DEFAULT_BASE = 3000


def dev_ports(environ: Mapping[str, str] | None = None) -> Mapping[str, int]:
    """The ports ``make dev`` listens on: from ``CLAIMFLOW_DEV_PORT_BASE``, else 3000."""
    text = (os.environ if environ is None else environ).get(PORT_BASE_VARIABLE, "").strip()
    if text and not (text.isdigit() and 1024 <= int(text) <= 65535 - len(_OFFSETS)):
        raise ValueError(f"{PORT_BASE_VARIABLE}={text!r}: use a port number from 1024 to {65535 - len(_OFFSETS)}")
    base = int(text) if text else _DEFAULT_BASE
    return MappingProxyType({name: base + offset for name, offset in _OFFSETS.items()})


#: The default ports (base 3000), as the samconfig.toml local sections and the README name them.
DEV_PORTS = dev_ports({})


def local_url(service: str) -> str:
    return f"http://127.0.0.1:{dev_ports()[service]}"


def busy_ports(ports: Mapping[str, int]) -> list[tuple[str, int]]:
    """The (service, port) pairs something on 127.0.0.1 already listens on.

    Probed as the servers bind (``SO_REUSEADDR``): connections of a make dev that just stopped,
    still in TIME_WAIT, do not make a port busy; a listener does."""
    taken = []
    for name, port in ports.items():
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            if sys.platform != "win32":  # there SO_REUSEADDR would let two listeners share a port
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                taken.append((name, port))
    return taken
