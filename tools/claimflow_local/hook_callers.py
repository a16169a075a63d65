r"""What each identity stack sends to prove a claims-hook call is its own, made at the moment of
use from the local stack's demo values (``local/settings.json`` ``hooks``): Ory Hydra's API key,
Okta's header secret, Zitadel's and the generic hook's HMAC signatures, Supabase's Standard
Webhooks signature (made with the Standard Webhooks library) and the bearer token Entra issues
its custom authentication extension (an RS256 JWT made with PyJWT, signed by the Entra stand-in's
key, ``claimflow_local.stack.entra_keys``).

A signature made once goes stale (Zitadel's and Supabase's timestamps allow five minutes, Entra's
token an hour), so the ``events/hooks.*`` samples carry placeholders where it goes, and whoever
uses a sample signs it here first: ``claimflow preview``, the sam local plugin
(``claimflow_local.sam_local_runtime``) and the tests. Every sample can then show claims being
added, as the stack would get them::

    PYTHONPATH=layers/claimflow:tools .venv/bin/python -m claimflow_local.hook_callers \
        events/hooks.zitadel-preaccesstoken.json > signed.json
    sam local invoke IssuerFunction -e signed.json
"""

from __future__ import annotations

import copy
import json
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from claimflow.issuer.hooks.authentication import sign_body
from claimflow.issuer.hooks.roster import HTTP_HOOKS

__all__ = ["CALLERS", "caller_headers", "entra_token", "hook_route", "send", "signed_event"]

Caller = Callable[[Mapping[str, Any], bytes, float], dict[str, str]]


def entra_token(entry: Mapping[str, Any], *, now: float, lifetime_s: int = 3600, **changes: Any) -> str:
    """The access token Entra gets for its authentication events service and sends the
    extension: v2, ``aud`` the extension's app, ``azp`` Entra's caller id. ``changes`` override
    claims (tests make wrong ones)."""
    import jwt

    from claimflow.issuer.hooks.entra import ENTRA_CALLER_APP_ID

    config, key = entry["config"], entry["caller_key"]
    tenant = config["tenant_id"]
    claims = {
        "iss": config.get("issuer") or f"https://login.microsoftonline.com/{tenant}/v2.0",
        "aud": config["app_id"],
        "azp": ENTRA_CALLER_APP_ID,
        "azpacr": "2",
        "idtyp": "app",
        "tid": tenant,
        "sub": "b5c4d3e2-f1a0-4b9c-8d7e-6f5a4b3c2d1e",
        "oid": "b5c4d3e2-f1a0-4b9c-8d7e-6f5a4b3c2d1e",
        "ver": "2.0",
        "iat": int(now),
        "nbf": int(now),
        "exp": int(now) + lifetime_s,
        **changes,
    }
    signing_key = jwt.PyJWK(key, algorithm="RS256").key
    return jwt.encode(
        {k: v for k, v in claims.items() if v is not None}, signing_key, algorithm="RS256", headers={"kid": key["kid"]}
    )


def _supabase(entry: Mapping[str, Any], body: bytes, now: float) -> dict[str, str]:
    from standardwebhooks import Webhook

    message_id = f"msg_{uuid.uuid4().hex}"
    at = datetime.fromtimestamp(now, tz=UTC)
    # Supabase shows the secret as "v1,whsec_<base64>"; the library takes it without "v1,".
    signature = Webhook(str(entry["secret"]).split("|")[0].removeprefix("v1,")).sign(message_id, at, body.decode())
    return {"webhook-id": message_id, "webhook-timestamp": str(int(now)), "webhook-signature": signature}


#: How each rostered stack proves a call is its own (a test keeps this table and the roster alike).
CALLERS: Mapping[str, Caller] = {
    "hydra": lambda entry, body, now: {"x-api-key": entry["secret"]},
    "zitadel": lambda entry, body, now: {"zitadel-signature": sign_body(entry["secret"], body, now=int(now))},
    "okta": lambda entry, body, now: {"authorization": entry["secret"]},
    "entra": lambda entry, body, now: {"authorization": f"Bearer {entra_token(entry, now=now)}"},
    "supabase": _supabase,
    "generic": lambda entry, body, now: {"x-claimflow-signature": sign_body(entry["secret"], body, now=int(now))},
}


def caller_headers(route: str, settings: Mapping[str, Any], body: bytes, *, now: float | None = None) -> dict[str, str]:
    """The headers ``route``'s stack sends with ``body``, for the hooks configured in ``settings``."""
    if route not in HTTP_HOOKS:
        raise KeyError(f"no claims hook /hooks/{route}; there are {', '.join(f'/hooks/{r}' for r in HTTP_HOOKS)}")
    entry = settings.get("hooks", {}).get(route)
    if entry is None:
        raise KeyError(f"local/settings.json has no hooks.{route}: add its secret to call /hooks/{route} locally")
    return CALLERS[route](entry, body, time.time() if now is None else now)


def hook_route(event: Mapping[str, Any]) -> str | None:
    """The route of a Function URL event at ``/hooks/<route>``, if it is one."""
    path = str(event.get("rawPath", ""))
    return path.removeprefix("/hooks/").strip("/") if path.startswith("/hooks/") else None


def _body(event: Mapping[str, Any]) -> bytes:
    import base64

    raw = str(event.get("body") or "")
    return base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode()


def signed_event(event: Mapping[str, Any], settings: Mapping[str, Any], *, now: float | None = None) -> dict[str, Any]:
    """``event`` (a Function URL call at ``/hooks/<route>``) with its stack's proof made now."""
    route = hook_route(event)
    if route is None:
        raise ValueError(f"not a claims-hook call (rawPath {event.get('rawPath')!r} is not /hooks/<route>)")
    fresh = caller_headers(route, settings, _body(event), now=now)
    signed = copy.deepcopy(dict(event))
    headers = {k: v for k, v in (event.get("headers") or {}).items() if k.lower() not in fresh}
    signed["headers"] = {**headers, **fresh}
    return signed


def send(event: Mapping[str, Any], base_url: str, *, timeout: float = 30) -> tuple[int, Any]:
    """POST a (signed) Function URL event to ``base_url`` as the stack would: (status, JSON body)."""
    import requests

    headers = {k: v for k, v in (event.get("headers") or {}).items() if k.lower() not in ("host", "content-length")}
    answer = requests.post(f"{base_url.rstrip('/')}{event['rawPath']}", data=_body(event), headers=headers, timeout=timeout)
    return answer.status_code, answer.json() if answer.content else None


def main(argv: list[str]) -> int:
    """``python -m claimflow_local.hook_callers EVENT|-``: the event, signed now, on stdout."""
    if len(argv) != 1:
        print("usage: python -m claimflow_local.hook_callers events/hooks.<stack>-….json (or - for stdin)", file=sys.stderr)
        return 2
    text = sys.stdin.read() if argv[0] == "-" else Path(argv[0]).read_text()
    settings = json.loads((Path(__file__).resolve().parents[2] / "local" / "settings.json").read_text())
    try:
        print(json.dumps(signed_event(json.loads(text), settings)))
    except (KeyError, ValueError) as error:
        print(f"hook_callers: {error.args[0] if error.args else error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
