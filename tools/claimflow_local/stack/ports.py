"""The fixed loopback ports of ``make dev``, in one place (the README, the CLI's ``--local``
and the stack all read them here). Tests and ``make demo`` use free ports instead."""

from __future__ import annotations

from types import MappingProxyType

__all__ = ["DEV_PORTS", "local_url"]

DEV_PORTS = MappingProxyType(
    {
        "token_endpoint": 3000,  # POST /token with a token request (contract v1)
        "lambda": 3001,  # the Lambda Invoke API (the emulator)
        "jwks": 3002,  # the JWKS function's URL: JWKS and discovery
        "ssm": 3003,  # the embedded SSM (moto)
        "third_party": 3004,  # the seed's third-party API stand-in
        "oauth": 3005,  # the example identity stack's OAuth token endpoint
    }
)


def local_url(service: str) -> str:
    return f"http://127.0.0.1:{DEV_PORTS[service]}"
