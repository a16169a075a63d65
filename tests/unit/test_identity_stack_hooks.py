"""Okta's token inline hook, Entra's custom claims provider and Supabase's custom access token
hook on in-process workflows: each call authenticated by its stack's own scheme (Okta's header
secret; a bearer JWT signed with PyJWT against a JWKS served by a stub; Standard Webhooks
signatures made with the Standard Webhooks library) before anything runs; the stack's request
becomes the seed event; claims, denials and failures come back in the stack's own shape; what
the stack locks and how much it takes back are enforced."""

from __future__ import annotations

import base64
import copy
import json
import time
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from standardwebhooks import Webhook

from claimflow.environment import SsmPaths
from claimflow.errors import ConfigurationError, FetchError
from claimflow.infra.http_client import HttpResponse, StubHttpClient
from claimflow.infra.parameters import InMemoryParameterStore
from claimflow.infra.secrets import SecretRegistry
from claimflow.issuer.errors import HookAuthenticationError
from claimflow.issuer.hooks.endpoint import HookEndpoint
from claimflow.issuer.hooks.entra import ENTRA_CALLER_APP_ID, EntraCustomClaimsProvider, EntraExtension, EntraSigningKeys
from claimflow.issuer.hooks.okta import OktaTokenHook
from claimflow.issuer.hooks.replay import InMemoryReplayStore
from claimflow.issuer.hooks.supabase import SupabaseAccessTokenHook
from tests.unit.issuing import failing, issuer_with, patching, reply

PATHS = SsmPaths(stage="test")
OKTA_SECRET = "Basic b2t0YS1ob29rLXRlc3Q6c2VjcmV0"  # Okta sends the admin's secret verbatim, scheme and all
SUPABASE_SECRET = "v1,whsec_" + base64.b64encode(b"supabase-hook-test-key-32-bytes!").decode()
TENANT, APP = "aaaabbbb-0000-cccc-1111-dddd2222eeee", "55554444-eeee-3333-dddd-2222cccc1111"
JWKS_URL = "https://login.example/keys"
ENTRA_CONFIG = json.dumps({"tenant_id": TENANT, "app_id": APP, "jwks_url": JWKS_URL})
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


class Counting:
    """A workflow handler that counts its runs (to prove a refused call ran nothing)."""

    def __init__(self, handler: Any) -> None:
        self.handler, self.runs, self.payloads = handler, 0, []

    def __call__(self, payload: dict[str, Any], context: Any) -> Any:
        self.runs += 1
        self.payloads.append(payload)
        return self.handler(payload, context)


def denying(workflow_id: str, reason: str) -> Any:
    return lambda payload, context: reply(workflow_id, "denied", reason=reason)


def jwks(*keys: tuple[str, Any]) -> bytes:
    return json.dumps(
        {"keys": [{**json.loads(RSAAlgorithm.to_jwk(k.public_key())), "kid": kid, "use": "sig"} for kid, k in keys]}
    ).encode()


class JwksServer:
    """The tenant's JWKS as a stub HTTP client serves it; counts fetches, can fail."""

    def __init__(self, *keys: tuple[str, Any]) -> None:
        self.body, self.status = jwks(*(keys or (("k1", KEY),))), 200
        self.http = StubHttpClient({("GET", JWKS_URL): lambda request: HttpResponse(self.status, {}, self.body)})


def entra_token(*, key: Any = KEY, kid: str = "k1", alg: str = "RS256", **changes: Any) -> str:
    now = int(time.time())
    claims = {"iss": f"https://login.microsoftonline.com/{TENANT}/v2.0", "aud": APP, "azp": ENTRA_CALLER_APP_ID, "tid": TENANT}
    claims |= {"iat": now, "nbf": now, "exp": now + 3600, "ver": "2.0", **changes}
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, key, algorithm=alg, headers={"kid": kid})


def endpoint(workflows: list[tuple[str, Any, str]], *, keys: EntraSigningKeys | None = None, **issuer: Any) -> HookEndpoint:
    built = issuer_with(workflows, **issuer)
    store = InMemoryParameterStore(
        {
            PATHS.hook_secret("okta"): (OKTA_SECRET, True),
            PATHS.hook_secret("entra"): (ENTRA_CONFIG, True),
            PATHS.hook_secret("supabase"): (SUPABASE_SECRET, True),
        }
    )
    hooks = {
        "okta": OktaTokenHook(domain="https://issuer.test"),
        "entra": EntraCustomClaimsProvider(domain="https://issuer.test", keys=keys or EntraSigningKeys(http=JwksServer().http)),
        "supabase": SupabaseAccessTokenHook(domain="https://issuer.test"),
    }
    return HookEndpoint(
        hooks,
        built.workflows,
        store,
        replays=InMemoryReplayStore(),
        enabled=list(hooks),
        budget_ms=3000,
        paths=PATHS,
        secrets=SecretRegistry(),
    )


def call(hooks: HookEndpoint, route: str, raw: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    event = {
        "rawPath": f"/hooks/{route}",
        "requestContext": {"http": {"method": "POST"}},
        "headers": headers,
        "body": base64.b64encode(raw).decode(),
        "isBase64Encoded": True,
    }
    answer = hooks.handle(event)
    return answer["statusCode"], json.loads(answer["body"]) if answer["body"] else None


def raw(document: Any) -> bytes:
    return json.dumps(document).encode()


def patching_id(workflow_id: str, access: dict[str, Any], id_token: dict[str, Any]) -> Any:
    def handler(payload: dict[str, Any], context: Any) -> dict[str, Any]:
        patches = {"access_token": {"set": access, "reset": False}, "id_token": {"set": id_token, "reset": False}}
        return {**reply(workflow_id), "patches": patches}

    return handler


# --- Okta ------------------------------------------------------------------------------------

OKTA_CALL = {
    "eventType": "com.okta.oauth2.tokens.transform",
    "data": {
        "context": {
            "request": {"ipAddress": "203.0.113.7"},
            "protocol": {
                "request": {"scope": "openid profile", "grant_type": "authorization_code"},
                "issuer": {"uri": "https://example.okta.com/oauth2/aus1"},
                "client": {"id": "0oa-client", "name": "web", "type": "PUBLIC"},
            },
            "user": {"id": "00u-user", "profile": {"login": "user@example.com"}},
        },
        "identity": {"claims": {"sub": "00u-user", "nonce": "n", "auth_time": 1}, "token": {"lifetime": {"expiration": 3600}}},
        "access": {
            "claims": {
                "ver": 1,
                "cid": "0oa-client",
                "uid": "00u-user",
                "sub": "user@example.com",
                "aud": "api://default",
                "dept": "ops",
            },
            "scopes": {"openid": {"action": "GRANT"}, "profile": {"action": "GRANT"}},
        },
    },
}


def test_okta_with_its_header_secret_gets_patch_commands_for_both_tokens() -> None:
    workflow = Counting(patching_id("plan", {"plan": "pro", "a/b": 1}, {"tier": "gold"}))
    status, body = call(endpoint([("plan", workflow, "stop")]), "okta", raw(OKTA_CALL), {"Authorization": OKTA_SECRET})
    assert status == 200
    assert body["commands"] == [
        {
            "type": "com.okta.access.patch",
            "value": [{"op": "add", "path": "/claims/plan", "value": "pro"}, {"op": "add", "path": "/claims/a~1b", "value": 1}],
        },
        {"type": "com.okta.identity.patch", "value": [{"op": "add", "path": "/claims/tier", "value": "gold"}]},
    ]
    payload = workflow.payloads[0]
    assert payload["event"]["context"]["user"]["id"] == "00u-user"  # Okta's user id, not the access token's sub (the login)
    assert payload["event"]["context"]["application"]["clientId"] == "0oa-client"
    assert payload["tokens"]["access_token"] == {"dept": "ops"}  # Okta's custom claims are the current ones; its own are not


def test_okta_without_an_id_token_patches_only_the_access_token() -> None:
    call_without_identity = copy.deepcopy(OKTA_CALL)
    del call_without_identity["data"]["identity"]
    hooks = endpoint([("plan", patching_id("plan", {"plan": "pro"}, {"tier": "gold"}), "stop")])
    status, body = call(hooks, "okta", raw(call_without_identity), {"Authorization": OKTA_SECRET})
    assert status == 200 and [c["type"] for c in body["commands"]] == ["com.okta.access.patch"]


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Basic guess"}, {"Authorization": OKTA_SECRET + " "}, {"X-Other": OKTA_SECRET}]
)
def test_okta_without_its_exact_secret_is_401_and_runs_nothing(headers: dict[str, str]) -> None:
    workflow = Counting(patching("plan", {"plan": "pro"}))
    status, body = call(endpoint([("plan", workflow, "stop")]), "okta", raw(OKTA_CALL), headers)
    assert (status, body["error"], workflow.runs) == (401, "invalid_client", 0)


def test_okta_gets_an_error_object_for_a_denial_and_for_a_stop_failure_since_it_fails_open() -> None:
    denied = call(
        endpoint([("gate", denying("gate", "no seat left"), "stop")]), "okta", raw(OKTA_CALL), {"Authorization": OKTA_SECRET}
    )
    assert denied == (200, {"error": {"errorSummary": "no seat left"}})
    status, body = call(endpoint([("crm", failing("crm"), "stop")]), "okta", raw(OKTA_CALL), {"Authorization": OKTA_SECRET})
    assert (
        status == 200 and set(body) == {"error"} and "crm" in body["error"]["errorSummary"]
    )  # never a 5xx: Okta would issue anyway


def test_okta_issues_without_a_continue_workflow_that_failed() -> None:
    hooks = endpoint([("crm", failing("crm"), "continue"), ("plan", patching("plan", {"plan": "pro"}), "stop")])
    status, body = call(hooks, "okta", raw(OKTA_CALL), {"Authorization": OKTA_SECRET})
    assert status == 200 and body["commands"][0]["value"] == [{"op": "add", "path": "/claims/plan", "value": "pro"}]
    assert "crm failed" in body["debugContext"]["workflows"]


@pytest.mark.parametrize("claim", ["uid", "cid", "groups", "ver", "token_type"])
def test_a_claim_okta_reserves_is_refused_to_workflows(claim: str, capsys: pytest.CaptureFixture[str]) -> None:
    hooks = endpoint([("sneaky", patching("sneaky", {claim: "x"}), "stop")])
    status, body = call(hooks, "okta", raw(OKTA_CALL), {"Authorization": OKTA_SECRET})
    assert status == 200 and "sneaky" in body["error"]["errorSummary"]
    assert f"'{claim}' is a reserved claim of the access_token (Okta sets it)" in capsys.readouterr().out


def test_reset_claims_removes_the_custom_claims_okta_set() -> None:
    hooks = endpoint([("fresh", patching("fresh", {"plan": "pro"}, reset=True), "stop")])
    status, body = call(hooks, "okta", raw(OKTA_CALL), {"Authorization": OKTA_SECRET})
    assert status == 200
    assert body["commands"][0]["value"] == [
        {"op": "add", "path": "/claims/plan", "value": "pro"},
        {"op": "remove", "path": "/claims/dept"},
    ]


def test_an_okta_reply_of_256_kb_or_more_is_an_error_naming_the_heaviest_workflow() -> None:
    big = {f"c{i}": "x" * 3900 for i in range(70)}  # each claim under the 4 KB per-claim limit; together over 256 KB
    hooks = endpoint([("small", patching("small", {"s": 1}), "stop"), ("heavy", patching("heavy", big), "stop")])
    status, body = call(hooks, "okta", raw(OKTA_CALL), {"Authorization": OKTA_SECRET})
    summary = body["error"]["errorSummary"]
    assert status == 200 and "Okta takes at most 262143" in summary and "workflow 'heavy' added the most" in summary


def test_okta_client_credentials_run_the_m2m_trigger_and_patch_the_access_token() -> None:
    m2m = copy.deepcopy(OKTA_CALL)
    m2m["data"]["context"]["protocol"]["request"] = {"grant_type": "client_credentials", "scope": "reports:read"}
    m2m["data"]["access"]["scopes"] = {"reports:read": {"id": "scp1", "action": "GRANT"}}
    del m2m["data"]["context"]["user"], m2m["data"]["identity"]
    request = OktaTokenHook(domain="https://issuer.test").token_request(m2m)
    assert (request.trigger.value, request.client_id, request.scope) == ("m2m:token_generation", "0oa-client", ("reports:read",))
    assert request.claims == {"m2m_token": {"dept": "ops"}}


def test_a_slow_stop_workflow_is_failed_before_okta_gives_up_and_issues_the_token_unmodified() -> None:
    hooks = endpoint([("slow", patching("slow", {"plan": "pro"}, sleep=3.5), "stop")], timeout_ms=10_000)
    started = time.monotonic()
    status, body = call(hooks, "okta", raw(OKTA_CALL), {"Authorization": OKTA_SECRET})
    assert time.monotonic() - started < 3.0  # Okta waits 3 s
    assert status == 200 and "slow" in body["error"]["errorSummary"]


# --- Entra -----------------------------------------------------------------------------------

ENTRA_CALL = {
    "type": "microsoft.graph.authenticationEvent.tokenIssuanceStart",
    "data": {
        "@odata.type": "microsoft.graph.onTokenIssuanceStartCalloutData",
        "tenantId": TENANT,
        "authenticationContext": {
            "correlationId": "aaaa0000-bb11-2222-33cc-444444dddddd",
            "client": {"ip": "203.0.113.7"},
            "clientServicePrincipal": {"appId": "client-app"},
            "resourceServicePrincipal": {"appId": "resource-app"},
            "user": {"id": "90847c2a-user", "mail": "casey@contoso.com"},
        },
    },
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_entra_with_a_token_it_issued_gets_one_claims_bag_of_strings() -> None:
    workflow = Counting(patching_id("plan", {"subscriber": True, "seats": 3, "roles_extra": ["a", 1]}, {"tier": "gold"}))
    status, body = call(endpoint([("plan", workflow, "stop")]), "entra", raw(ENTRA_CALL), bearer(entra_token()))
    assert (status, body) == (
        200,
        {
            "data": {
                "@odata.type": "microsoft.graph.onTokenIssuanceStartResponseData",
                "actions": [
                    {
                        "@odata.type": "microsoft.graph.tokenIssuanceStart.provideClaimsForToken",
                        "claims": {"subscriber": "true", "seats": "3", "roles_extra": ["a", "1"], "tier": "gold"},
                    }
                ],
            }
        },
    )
    event = workflow.payloads[0]["event"]
    assert (event["context"]["user"]["id"], event["context"]["application"]["clientId"]) == ("90847c2a-user", "client-app")
    assert event["context"]["organization"] == {"code": TENANT}


ENTRA_REFUSED = {
    "no header": lambda: {},
    "not bearer": lambda: {"Authorization": f"Basic {entra_token()}"},
    "not a JWT": lambda: bearer("not.a.jwt"),
    "expired": lambda: bearer(entra_token(iat=int(time.time()) - 7200, nbf=int(time.time()) - 7200, exp=int(time.time()) - 3600)),
    "wrong audience": lambda: bearer(entra_token(aud="another-app")),
    "not Entra's caller": lambda: bearer(entra_token(azp="11111111-2222-3333-4444-555555555555")),
    "v1 token (appid)": lambda: bearer(
        entra_token(azp=None, appid=ENTRA_CALLER_APP_ID, iss=f"https://sts.windows.net/{TENANT}/")
    ),
    "another tenant": lambda: bearer(entra_token(tid="ffffffff-0000-0000-0000-000000000000")),
    "another issuer": lambda: bearer(entra_token(iss="https://login.microsoftonline.com/other/v2.0")),
    "signed by another key": lambda: bearer(entra_token(key=OTHER_KEY)),
    "unknown key id": lambda: bearer(entra_token(kid="k9")),
    "tampered": lambda: bearer(_tampered(entra_token())),
    "HS256 with the public key": lambda: bearer(_hs256()),
}


def _tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["aud"] = APP + "-changed"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def _hs256() -> str:
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","kid":"k1","typ":"JWT"}').rstrip(b"=").decode()
    body = entra_token().split(".")[1]
    return f"{header}.{body}.c2lnbmF0dXJl"


@pytest.mark.parametrize("case", sorted(ENTRA_REFUSED))
def test_entra_calls_without_a_valid_token_from_entra_are_401_and_run_nothing(case: str) -> None:
    workflow = Counting(patching("plan", {"plan": "pro"}))
    status, body = call(endpoint([("plan", workflow, "stop")]), "entra", raw(ENTRA_CALL), ENTRA_REFUSED[case]())
    assert (status, body["error"], workflow.runs) == (401, "invalid_client", 0)


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"aud": "another-app"}, f"not for the extension's app {APP}"),
        ({"azp": "someone-else"}, "azp is not Entra's authentication events service"),
        ({"exp": -3600, "iat": -7200, "nbf": -7200}, "has expired"),  # seconds from now
        ({"tid": "other-tenant"}, f"not {TENANT}"),
    ],
)
def test_entra_refusals_say_what_was_wrong(changes: dict[str, Any], why: str) -> None:
    hook = EntraCustomClaimsProvider(domain="https://issuer.test", keys=EntraSigningKeys(http=JwksServer().http))
    now = int(time.time())
    timed = {k: now + v if k in ("exp", "iat", "nbf") else v for k, v in changes.items()}
    with pytest.raises(HookAuthenticationError, match=why):
        hook.authentication.verify(ENTRA_CONFIG, bearer(entra_token(**timed)), b"{}")


def test_entra_has_no_deny_so_a_denial_is_a_403_and_a_failure_a_500_both_failing_the_sign_in() -> None:
    denied = call(endpoint([("gate", denying("gate", "suspended"), "stop")]), "entra", raw(ENTRA_CALL), bearer(entra_token()))
    assert denied == (403, {"error": "access_denied", "error_description": "suspended"})
    status, body = call(endpoint([("crm", failing("crm"), "stop")]), "entra", raw(ENTRA_CALL), bearer(entra_token()))
    assert status == 500 and body["error"] == "server_error" and "crm" in body["error_description"]


@pytest.mark.parametrize("claim", ["roles", "upn", "tid", "xms_cc", "extn.department"])
def test_a_claim_entra_restricts_is_refused_to_workflows(claim: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, _ = call(
        endpoint([("sneaky", patching("sneaky", {claim: "x"}), "stop")]), "entra", raw(ENTRA_CALL), bearer(entra_token())
    )
    assert (
        status == 500
        and f"'{claim}' is a reserved claim of the access_token (Microsoft Entra ID sets it" in capsys.readouterr().out
    )


def test_entra_claims_over_3_kb_or_of_an_object_are_refused_by_name() -> None:
    heavy = endpoint([("heavy", patching("heavy", {f"c{i}": "x" * 1000 for i in range(4)}), "stop")])
    status, body = call(heavy, "entra", raw(ENTRA_CALL), bearer(entra_token()))
    assert status == 500 and "Microsoft Entra ID takes at most 3072" in body["error_description"]
    nested = endpoint([("nested", patching("nested", {"address": {"city": "Oslo"}}), "stop")])
    status, body = call(nested, "entra", raw(ENTRA_CALL), bearer(entra_token()))
    assert status == 500 and "claim 'address' is a dict: Entra's claims are strings or string arrays" in body["error_description"]


def test_one_claim_with_two_values_in_the_two_tokens_is_refused_since_entra_has_one_bag() -> None:
    hooks = endpoint([("split", patching_id("split", {"tier": "gold"}, {"tier": "silver"}), "stop")])
    status, body = call(hooks, "entra", raw(ENTRA_CALL), bearer(entra_token()))
    assert status == 500 and "claim 'tier' has one value in the access token and another" in body["error_description"]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_tenants_keys_are_fetched_once_and_a_new_key_id_refetches_at_most_once_a_minute() -> None:
    server, clock = JwksServer(("k1", KEY)), Clock()
    keys = EntraSigningKeys(http=server.http, clock=clock)
    hook = EntraCustomClaimsProvider(domain="https://issuer.test", keys=keys)
    for _ in range(5):
        hook.authentication.verify(ENTRA_CONFIG, bearer(entra_token()), b"{}")
    assert keys.fetches == 1
    for _ in range(5):  # made-up key ids cannot turn calls into fetches
        with pytest.raises(HookAuthenticationError, match="no key 'k2'"):
            hook.authentication.verify(ENTRA_CONFIG, bearer(entra_token(kid="k2")), b"{}")
    assert keys.fetches == 1
    server.body, clock.now = jwks(("k1", KEY), ("k2", OTHER_KEY)), clock.now + 61  # Entra rolled a key in
    hook.authentication.verify(ENTRA_CONFIG, bearer(entra_token(kid="k2", key=OTHER_KEY)), b"{}")
    assert keys.fetches == 2
    clock.now += 3600  # the set ages out: fetched again
    hook.authentication.verify(ENTRA_CONFIG, bearer(entra_token()), b"{}")
    assert keys.fetches == 3


def test_when_the_jwks_cannot_be_read_the_last_keys_serve_and_with_none_the_call_cannot_be_checked() -> None:
    server, clock = JwksServer(), Clock()
    keys = EntraSigningKeys(http=server.http, clock=clock)
    hook = EntraCustomClaimsProvider(domain="https://issuer.test", keys=keys)
    hook.authentication.verify(ENTRA_CONFIG, bearer(entra_token()), b"{}")
    server.status, clock.now = 503, clock.now + 3700
    hook.authentication.verify(ENTRA_CONFIG, bearer(entra_token()), b"{}")  # stale keys, logged
    cold = EntraCustomClaimsProvider(domain="https://issuer.test", keys=EntraSigningKeys(http=server.http))
    with pytest.raises(FetchError, match="the JWKS answered HTTP 503") as unavailable:
        cold.authentication.verify(ENTRA_CONFIG, bearer(entra_token()), b"{}")
    assert unavailable.value.error_code == "temporarily_unavailable"


@pytest.mark.parametrize(
    ("config", "why"),
    [
        ("not json", "is not JSON"),
        (json.dumps({"tenant_id": TENANT}), "has no app_id"),
        (json.dumps({"tenant_id": TENANT, "app_id": APP, "audience": "x"}), "unknown keys audience"),
    ],
)
def test_a_wrong_entra_configuration_names_what_to_fix(config: str, why: str) -> None:
    with pytest.raises(ConfigurationError, match=why):
        EntraExtension.from_text(config)


def test_the_entra_configuration_defaults_to_the_tenants_own_issuer_and_keys() -> None:
    extension = EntraExtension.from_text(json.dumps({"tenant_id": TENANT, "app_id": APP}))
    assert extension.issuer == f"https://login.microsoftonline.com/{TENANT}/v2.0"
    assert extension.jwks_url == f"https://login.microsoftonline.com/{TENANT}/discovery/v2.0/keys"


# --- Supabase --------------------------------------------------------------------------------

SUPABASE_CALL = {
    "metadata": {"ip_address": "203.0.113.7", "name": "customize-access-token"},
    "user_id": "8ccaa7af-user",
    "claims": {
        "iss": "https://ref.supabase.co/auth/v1",
        "aud": "authenticated",
        "exp": 1_800_003_600,
        "iat": 1_800_000_000,
        "sub": "8ccaa7af-user",
        "email": "user@example.com",
        "phone": "",
        "app_metadata": {"provider": "email"},
        "user_metadata": {},
        "role": "authenticated",
        "aal": "aal1",
        "amr": [{"method": "password", "timestamp": 1_800_000_000}],
        "session_id": "4b938a09-session",
        "is_anonymous": False,
    },
    "authentication_method": "password",
}


def webhook_headers(
    body: bytes, *, secret: str = SUPABASE_SECRET, at: float | None = None, message: str = "msg_1"
) -> dict[str, str]:
    when = datetime.fromtimestamp(time.time() if at is None else at, tz=UTC)
    signature = Webhook(secret.removeprefix("v1,")).sign(message, when, body.decode())
    return {"webhook-id": message, "webhook-timestamp": str(int(when.timestamp())), "webhook-signature": signature}


def test_supabase_signed_with_standard_webhooks_gets_the_whole_claims_object_back() -> None:
    workflow = Counting(patching("plan", {"plan": "pro", "user_role": "admin"}))
    body = raw(SUPABASE_CALL)
    status, answer = call(endpoint([("plan", workflow, "stop")]), "supabase", body, webhook_headers(body))
    assert (status, answer) == (200, {"claims": {**SUPABASE_CALL["claims"], "plan": "pro", "user_role": "admin"}})
    event = workflow.payloads[0]["event"]
    assert (event["context"]["user"]["id"], event["context"]["application"]["clientId"]) == ("8ccaa7af-user", "supabase")
    assert workflow.payloads[0]["tokens"]["access_token"] == {"app_metadata": {"provider": "email"}, "user_metadata": {}}


SUPABASE_REFUSED = {
    "no headers": lambda body: {},
    "stale": lambda body: webhook_headers(body, at=time.time() - 600),
    "from the future": lambda body: webhook_headers(body, at=time.time() + 600),
    "another secret": lambda body: webhook_headers(body, secret="v1,whsec_" + base64.b64encode(b"x" * 32).decode()),
    "tampered body": lambda body: webhook_headers(body.replace(b"8ccaa7af-user", b"8ccaa7af-root")),
    "another message id": lambda body: {**webhook_headers(body), "webhook-id": "msg_2"},
    "malformed signature": lambda body: {**webhook_headers(body), "webhook-signature": "v1"},
    "not base64": lambda body: {**webhook_headers(body), "webhook-signature": "v1,***"},
}


@pytest.mark.parametrize("case", sorted(SUPABASE_REFUSED))
def test_supabase_calls_without_a_good_standard_webhooks_signature_are_401_and_run_nothing(case: str) -> None:
    workflow = Counting(patching("plan", {"plan": "pro"}))
    body = raw(SUPABASE_CALL)
    status, answer = call(endpoint([("plan", workflow, "stop")]), "supabase", body, SUPABASE_REFUSED[case](body))
    assert (status, answer["error"], workflow.runs) == (401, "invalid_client", 0)


def test_a_replayed_supabase_call_is_refused_and_a_retry_with_a_new_webhook_id_is_answered() -> None:
    workflow = Counting(patching("plan", {"plan": "pro"}))
    hooks = endpoint([("plan", workflow, "stop")])
    body = raw(SUPABASE_CALL)
    captured = webhook_headers(body, message="msg_7")
    assert call(hooks, "supabase", body, captured)[0] == 200
    status, answer = call(hooks, "supabase", body, captured)  # the same call again: a replay
    assert (status, answer, workflow.runs) == (401, {"error": "invalid_client"}, 1)
    assert call(hooks, "supabase", body, webhook_headers(body, message="msg_8"))[0] == 200  # Supabase's retry: a new id
    assert workflow.runs == 2


def test_supabase_signatures_joined_as_supabase_joins_them_during_a_rotation_are_accepted() -> None:
    old = "v1,whsec_" + base64.b64encode(b"o" * 32).decode()
    body = raw(SUPABASE_CALL)
    headers = webhook_headers(body)
    headers["webhook-signature"] = f"{webhook_headers(body, secret=old)['webhook-signature']}, {headers['webhook-signature']}"
    hook = SupabaseAccessTokenHook(domain="https://issuer.test")
    hook.authentication.verify(SUPABASE_SECRET, headers, body)  # Supabase signs with both; we hold the new one
    hook.authentication.verify(f"{old}|{SUPABASE_SECRET}", webhook_headers(body), body)  # we hold both; Supabase the new one


def test_supabase_gets_its_error_object_for_a_denial_and_a_failure() -> None:
    body = raw(SUPABASE_CALL)
    denied = call(endpoint([("gate", denying("gate", "staging is for staff"), "stop")]), "supabase", body, webhook_headers(body))
    assert denied == (200, {"error": {"http_code": 403, "message": "staging is for staff"}})
    status, answer = call(endpoint([("crm", failing("crm"), "stop")]), "supabase", body, webhook_headers(body))
    assert status == 200 and answer["error"]["http_code"] == 500 and "crm" in answer["error"]["message"]


@pytest.mark.parametrize("claim", ["role", "aal", "session_id", "is_anonymous", "email", "amr"])
def test_a_claim_supabase_requires_is_refused_to_workflows(claim: str, capsys: pytest.CaptureFixture[str]) -> None:
    body = raw(SUPABASE_CALL)
    status, answer = call(
        endpoint([("sneaky", patching("sneaky", {claim: "x"}), "stop")]), "supabase", body, webhook_headers(body)
    )
    assert status == 200 and answer["error"]["http_code"] == 500
    assert f"'{claim}' is a reserved claim of the access_token (Supabase sets it)" in capsys.readouterr().out


def test_a_supabase_reply_over_20_kb_is_an_error_naming_the_heaviest_workflow() -> None:
    body = raw(SUPABASE_CALL)
    heavy = endpoint([("heavy", patching("heavy", {f"c{i}": "x" * 3000 for i in range(8)}), "stop")])
    status, answer = call(heavy, "supabase", body, webhook_headers(body))
    assert status == 200 and answer["error"]["http_code"] == 500
    assert "Supabase takes at most 20480" in answer["error"]["message"] and "'heavy'" in answer["error"]["message"]
