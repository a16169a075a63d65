"""Microsoft Entra ID's custom claims provider: a custom authentication extension on the
``OnTokenIssuanceStart`` event, from Microsoft's published docs:
https://learn.microsoft.com/en-us/entra/identity-platform/custom-claims-provider-reference
(request and response schema, supported data types, the 3 KB claims limit),
https://learn.microsoft.com/en-us/entra/identity-platform/custom-extension-overview ("Protect
your REST API": the bearer token's ``azp``/``appid``, ``aud`` and ``iss``),
https://learn.microsoft.com/en-us/entra/identity-platform/custom-extension-troubleshoot (the
two-second timeout, fail-closed behaviour, error codes 1003000-1003027) and
https://learn.microsoft.com/entra/identity-platform/reference-claims-mapping-policy-type (the
JWT restricted claim set, which no claims mapping may emit).

Entra POSTs ``{"type": "microsoft.graph.authenticationEvent.tokenIssuanceStart", "data":
{"tenantId", "authenticationContext": {"user", "clientServicePrincipal",
"resourceServicePrincipal", "client": {"ip"}, ...}}}`` with ``Authorization: Bearer <JWT>``,
a v2 access token Entra issued to its authentication events service for the extension's app
registration. It is verified before anything runs: RS256 against the tenant's signing keys
(the configured JWKS URL, fetched within one deadline and cached), ``iss`` the tenant's v2
issuer, ``aud`` the extension's app id, ``azp`` Entra's published caller
``99045fe1-7639-4a75-9d4a-577b6ca3810f``, ``tid`` the tenant, and its lifetime.

The "secret" at ``/claimflow/<stage>/hooks/entra/secret`` is that configuration, as a small
JSON object (nothing in it is secret): ``{"tenant_id", "app_id"}`` and optionally
``"jwks_url"`` (default the tenant's ``discovery/v2.0/keys``) and ``"issuer"`` (default
``https://login.microsoftonline.com/<tenant>/v2.0``; an external tenant's is
``https://<subdomain>.ciamlogin.com/<tenant>/v2.0``).

The answer is ``data.actions[0]`` of type ``microsoft.graph.tokenIssuanceStart.provideClaimsForToken``
with one ``claims`` bag: Entra maps its keys into whichever token the claims mapping policy
says, so it holds the access-token and ID-token claims together (one name with two values is a
failure). Values are strings or string arrays only: ``true`` becomes ``"true"``, numbers their
JSON text, a ``null`` claim is left out, an object is a failure naming the claim.

Entra has **no deny**. A ``deny_access`` workflow is answered 403 with the reason, which Entra
treats as a failed call: it fails closed, so the user gets a generic sign-in error and no token
(the reason is in claimflow's log; Entra's sign-in log shows the status). A ``stop`` failure is a
500 and ends the same way. The budget is 1.5 s, inside Entra's two seconds (set the extension's
``timeoutInMilliseconds`` to 2000).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import jwt
from jwt import PyJWK, PyJWKError

from claimflow.environment import Env, env_flag
from claimflow.errors import ClaimflowError, ClaimValueError, ConfigurationError, ContractError, FetchError
from claimflow.infra.http_client import HttpClient, HttpRequest
from claimflow.infra.logs import logger_for
from claimflow.issuer.errors import HookAuthenticationError
from claimflow.issuer.hooks.base import HookAnswer, denial_or_failure
from claimflow.issuer.hooks.limits import over_limit
from claimflow.issuer.policy import Merged
from claimflow.issuer.request import SignIn, TokenRequest
from claimflow.triggers import WorkflowTrigger

__all__ = [
    "ENTRA_CALLER_APP_ID",
    "ENTRA_LOCKED_CLAIMS",
    "ENTRA_MAX_CLAIMS_BYTES",
    "ENTRA_TIMEOUT_MS",
    "EntraBearerToken",
    "EntraCustomClaimsProvider",
    "EntraExtension",
    "EntraSigningKeys",
]

_log = logger_for("claimflow-claims-hooks")

#: The app id of Entra's authentication events service: the ``azp`` (v2) of every call's token.
ENTRA_CALLER_APP_ID = "99045fe1-7639-4a75-9d4a-577b6ca3810f"
ENTRA_TIMEOUT_MS = 2000  # timeoutInMilliseconds is at most 2000 (default 1000)
ENTRA_MAX_CLAIMS_BYTES = 3 * 1024  # "the sum of all the key and value pairs" (error 1003025)
EVENT_TYPE = "microsoft.graph.authenticationEvent.tokenIssuanceStart"
_ACTION = "microsoft.graph.tokenIssuanceStart.provideClaimsForToken"
_MAX_TOKEN_CHARS = 16 * 1024
#: The JWT restricted claim set: claims no claims mapping policy can emit (``xms_`` and ``extn.``
#: prefixes too, as reserved namespaces).
# fmt: off
ENTRA_LOCKED_CLAIMS = frozenset({
    "_claim_names", "_claim_sources", "aai", "access_token", "account_type", "acct", "acr", "acrs", "actor",
    "actortoken", "ageGroup", "aio", "altsecid", "amr", "app_chain", "app_displayname", "app_res", "appctx",
    "appctxsender", "appid", "appidacr", "assertion", "at_hash", "aud", "auth_data", "auth_time",
    "authorization_code", "azp", "azpacr", "bk_claim", "bk_enclave", "bk_pub", "brk_client_id", "brk_redirect_uri",
    "c_hash", "ca_enf", "ca_policy_result", "capolids", "capolids_latebind", "cc", "cert_token_use",
    "child_client_id", "child_redirect_uri", "client_id", "client_ip", "cloud_graph_host_name",
    "cloud_instance_host_name", "cloud_instance_name", "CloudAssignedMdmId", "cnf", "code", "controls",
    "controls_auds", "credential_keys", "csr", "csr_type", "ctry", "deviceid", "dns_names", "domain_dns_name",
    "domain_netbios_name", "e_exp", "email", "endpoint", "enfpolids", "exp", "expires_on", "fido_auth_data",
    "fido_ver", "fwd", "fwd_appidacr", "grant_type", "graph", "group_sids", "groups", "hasgroups", "hash_alg",
    "haswids", "home_oid", "home_puid", "home_tid", "iat", "identityprovider", "idp", "idtyp", "in_corp", "instance",
    "inviteTicket", "ipaddr", "isbrowserhostedapp", "iss", "isViral", "jwk", "key_id", "key_type", "login_hint",
    "mam_compliance_url", "mam_enrollment_url", "mam_terms_of_use_url", "mdm_compliance_url", "mdm_enrollment_url",
    "mdm_terms_of_use_url", "msgraph_host", "msproxy", "nameid", "nbf", "netbios_name", "nickname", "nonce", "oid",
    "on_prem_id", "onprem_sam_account_name", "onprem_sid", "openid2_id", "origin_header", "password", "platf",
    "polids", "pop_jwk", "preferred_username", "previous_refresh_token", "primary_sid", "prov_data", "puid",
    "pwd_exp", "pwd_url", "rdp_bt", "redirect_uri", "refresh_token", "refresh_token_issued_on", "refreshtoken",
    "request_nonce", "resource", "rh", "role", "roles", "rp_id", "rt_type", "scope", "scp", "secaud", "sid",
    "signature", "signin_state", "source_anchor", "src1", "src2", "sub", "target_deviceid", "tbid", "tbidv2",
    "tenant_ctry", "tenant_display_name", "tenant_id", "tenant_region_scope", "tenant_region_sub_scope",
    "thumbnail_photo", "tid", "tokenAutologonEnabled", "trustedfordelegation", "ttr", "unique_name", "upn",
    "user_agent", "user_setting_sync_url", "username", "uti", "ver", "verified_primary_email",
    "verified_secondary_email", "vnet", "vsm_binding_key", "wamcompat_client_info", "wamcompat_id_token",
    "wamcompat_scopes", "wids", "win_ver", "x5c_ca", "xcb2b_rclient", "xcb2b_rcloud", "xcb2b_rtenant", "ztdid",
})
# fmt: on


@dataclass(frozen=True)
class EntraExtension:
    """The custom authentication extension's facts a call is checked against."""

    tenant_id: str
    app_id: str
    jwks_url: str
    issuer: str

    @classmethod
    def from_text(cls, text: str) -> EntraExtension:
        return _parsed(text)


@lru_cache(maxsize=8)
def _parsed(text: str) -> EntraExtension:
    where = "the entra hook's configuration (/claimflow/<stage>/hooks/entra/secret)"
    try:
        document = json.loads(text)
    except ValueError:
        raise ConfigurationError(f'{where} is not JSON: store {{"tenant_id": "<guid>", "app_id": "<guid>"}}') from None
    if not isinstance(document, dict):
        raise ConfigurationError(f"{where} must be a JSON object with tenant_id and app_id")
    missing = [name for name in ("tenant_id", "app_id") if not isinstance(document.get(name), str) or not document[name]]
    if missing:
        raise ConfigurationError(
            f"{where} has no {' or '.join(missing)}: the tenant's id and the extension app registration's id"
        )
    unknown = sorted(set(document) - {"tenant_id", "app_id", "jwks_url", "issuer"})
    if unknown:
        raise ConfigurationError(f"{where} has unknown keys {', '.join(unknown)}; it takes tenant_id, app_id, jwks_url, issuer")
    tenant = document["tenant_id"]
    return EntraExtension(
        tenant_id=tenant,
        app_id=document["app_id"],
        jwks_url=str(document.get("jwks_url") or f"https://login.microsoftonline.com/{tenant}/discovery/v2.0/keys"),
        issuer=str(document.get("issuer") or f"https://login.microsoftonline.com/{tenant}/v2.0"),
    )


def _real_http() -> HttpClient:
    from claimflow.infra.guarded_http_client import RequestsHttpClient

    # Outside local mode: HTTPS to public addresses only (the egress guard); loopback in local mode.
    return RequestsHttpClient(allow_private=env_flag(Env.LOCAL_MODE), pool_maxsize=2)


@dataclass
class _KeySet:
    keys: dict[str, PyJWK]
    fetched: float  # when these keys were fetched
    tried: float  # when a fetch was last tried (a failed refresh waits min_refresh_s for the next)


@dataclass
class EntraSigningKeys:
    """The tenant's signing keys from its JWKS URL, cached per container.

    Bounded: each fetch is one deadline for connect, headers and body (``fetch_timeout_s``) and
    at most ``max_bytes``; at most ``max_keys`` keys and ``max_urls`` JWKS URLs are kept. Fresh
    for ``max_age_s``; a token naming a key the set lacks (a rollover) refetches it at most every
    ``min_refresh_s``, so made-up key ids cannot turn calls into fetches. When a refresh fails,
    the last set serves for up to ``stale_s`` more (logged); with no set at all the call cannot
    be checked and is refused as ``temporarily_unavailable``.
    """

    http: HttpClient | None = None
    clock: Callable[[], float] = time.monotonic
    max_age_s: float = 3600.0
    min_refresh_s: float = 60.0
    stale_s: float = 24 * 3600.0
    fetch_timeout_s: float = 1.0
    max_bytes: int = 64 * 1024
    max_keys: int = 32
    max_urls: int = 4
    _sets: dict[str, _KeySet] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    fetches: int = 0  # how many times the JWKS was fetched (for tests and benchmarks)

    def key(self, url: str, kid: str) -> PyJWK | None:
        """The key ``kid`` of the set at ``url``; None if the set (fresh or just refetched) has none."""
        with self._lock:
            now = self.clock()
            cached = self._sets.get(url)
            if cached is None:
                return self._refresh(url, None, now).keys.get(kid)
            may_try = now - cached.tried >= self.min_refresh_s
            if may_try and (now - cached.fetched >= self.max_age_s or kid not in cached.keys):
                cached = self._refresh(url, cached, now)
            return cached.keys.get(kid)

    def _refresh(self, url: str, cached: _KeySet | None, now: float) -> _KeySet:
        try:
            fetched = _KeySet(self._fetch(url), now, now)
        except FetchError as error:
            if cached is None or now - cached.fetched >= self.max_age_s + self.stale_s:
                raise
            cached.tried = now
            _log.warning("Entra's signing keys could not be refreshed; using the last set", extra={"cause": str(error)})
            return cached
        if url not in self._sets and len(self._sets) >= self.max_urls:
            self._sets.pop(next(iter(self._sets)))
        self._sets[url] = fetched
        return fetched

    def _fetch(self, url: str) -> dict[str, PyJWK]:
        if self.http is None:
            self.http = _real_http()
        self.fetches += 1
        response = self.http.send(
            HttpRequest(
                "GET", url, headers={"Accept": "application/json"}, timeout=self.fetch_timeout_s, max_bytes=self.max_bytes
            )
        )
        if response.status != 200:
            raise FetchError(url, f"the JWKS answered HTTP {response.status}")
        try:
            document = json.loads(response.body)
        except ValueError:
            raise FetchError(url, "the JWKS is not JSON") from None
        entries = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            raise FetchError(url, 'the JWKS has no "keys" list')
        keys: dict[str, PyJWK] = {}
        for entry in entries:
            usable = isinstance(entry, dict) and entry.get("kty") == "RSA" and entry.get("use", "sig") == "sig"
            if not usable or not isinstance(entry.get("kid"), str) or len(keys) >= self.max_keys:
                continue
            try:
                keys[entry["kid"]] = PyJWK(entry, algorithm="RS256")
            except PyJWKError:
                continue
        if not keys:
            raise FetchError(url, "the JWKS holds no RS256 signing key")
        return keys


@dataclass
class EntraBearerToken:
    """Entra's call authentication: ``Authorization: Bearer <JWT>`` checked against the
    extension's configuration (the "secret" the endpoint reads, JSON)."""

    keys: EntraSigningKeys = field(default_factory=EntraSigningKeys)
    leeway_s: int = 60

    def verify(self, secret: str, headers: Mapping[str, str], body: bytes) -> None:
        extension = EntraExtension.from_text(secret)
        value = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
        scheme, _, token = (value or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise HookAuthenticationError("missing Authorization: Bearer <token Entra issued>")
        token = token.strip()
        if len(token) > _MAX_TOKEN_CHARS:
            raise HookAuthenticationError(f"the bearer token is over {_MAX_TOKEN_CHARS} characters")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise HookAuthenticationError("the bearer token is not a JWT") from None
        kid = header.get("kid")
        if header.get("alg") != "RS256" or not isinstance(kid, str):
            raise HookAuthenticationError("the bearer token is not an RS256 JWT naming its key (kid)")
        key = self.keys.key(extension.jwks_url, kid)
        if key is None:
            raise HookAuthenticationError(f"no key {kid!r} in the tenant's signing keys ({extension.jwks_url})")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                audience=extension.app_id,
                issuer=extension.issuer,
                leeway=self.leeway_s,
                options={"require": ["exp", "iat", "nbf", "iss", "aud", "azp", "tid"]},
            )
        except jwt.ExpiredSignatureError:
            raise HookAuthenticationError("the bearer token has expired") from None
        except jwt.InvalidAudienceError:
            raise HookAuthenticationError(f"the bearer token is not for the extension's app {extension.app_id} (aud)") from None
        except jwt.InvalidIssuerError:
            raise HookAuthenticationError(
                f"the bearer token's issuer is not {extension.issuer} (a v2 token of the tenant)"
            ) from None
        except jwt.PyJWTError as error:
            raise HookAuthenticationError(f"the bearer token is not valid: {error}") from None
        if claims["azp"] != ENTRA_CALLER_APP_ID:
            raise HookAuthenticationError(
                f"the bearer token's azp is not Entra's authentication events service ({ENTRA_CALLER_APP_ID})"
            )
        if claims["tid"] != extension.tenant_id:
            raise HookAuthenticationError(f"the bearer token is from tenant {claims['tid']}, not {extension.tenant_id}")


def _entra_value(name: str, value: Any) -> str | list[str] | None:
    """A claim value as Entra carries it (string or string array), or None to leave it out."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, int, float)):
        return json.dumps(value)
    if isinstance(value, list) and all(isinstance(v, (str, bool, int, float)) for v in value):
        return [v if isinstance(v, str) else json.dumps(v) for v in value]
    raise ClaimValueError(f"claim '{name}' is a {type(value).__name__}: Entra's claims are strings or string arrays")


def _claims_bytes(claims: Mapping[str, str | list[str]]) -> int:
    """Entra's measure, "the sum of all the key and value pairs": UTF-8 bytes of keys and strings."""
    return sum(len(k.encode()) + sum(len(s.encode()) for s in ([v] if isinstance(v, str) else v)) for k, v in claims.items())


class EntraCustomClaimsProvider:
    name = "Microsoft Entra ID"
    route = "entra"
    budget_ms = ENTRA_TIMEOUT_MS - 500  # answer before Entra's timeout (then it retries once, or fails the sign-in)
    locked_claims = ENTRA_LOCKED_CLAIMS
    reserved_namespaces: tuple[str, ...] = ("xms_", "extn.")

    def __init__(self, *, domain: str, keys: EntraSigningKeys | None = None) -> None:
        self.domain = domain
        self.authentication = EntraBearerToken(keys or EntraSigningKeys())

    def recognises(self, event: Any) -> bool:
        return (
            isinstance(event, Mapping)
            and event.get("type") == EVENT_TYPE
            and isinstance(event.get("data"), Mapping)
            and isinstance(event["data"].get("authenticationContext"), Mapping)
        )

    def token_request(self, event: Mapping[str, Any]) -> TokenRequest:
        if not self.recognises(event):
            raise ContractError(f"an Entra custom claims provider call has type {EVENT_TYPE} and data.authenticationContext")
        data = event["data"]
        context = data["authenticationContext"]
        subject = str((context.get("user") or {}).get("id") or "")
        client_id = str((context.get("clientServicePrincipal") or {}).get("appId") or "")
        if not subject or not client_id:
            raise ContractError("the Entra call has no authenticationContext.user.id or clientServicePrincipal.appId")
        resource = str((context.get("resourceServicePrincipal") or {}).get("appId") or "") or client_id
        tenant = str(data.get("tenantId") or "") or None
        return TokenRequest(
            trigger=WorkflowTrigger.UserTokenGeneration,
            client_id=client_id,
            audience=(resource,),
            domain=f"https://login.microsoftonline.com/{tenant}/v2.0" if tenant else self.domain,
            scope=("openid",),  # one claims bag for both tokens: the ID token's workflows run too
            subject=subject,
            organization=tenant,
            correlation_id=str(context.get("correlationId") or "") or None,
            sign_in=SignIn(ip=(context.get("client") or {}).get("ip")),
        )

    def reply(self, event: Mapping[str, Any], request: TokenRequest, merged: Merged) -> HookAnswer:
        claims: dict[str, str | list[str]] = {}
        try:
            for token in request.tokens:
                for name, value in merged.claims.get(token, {}).items():
                    converted = _entra_value(name, value)
                    if converted is None:
                        continue
                    if name in claims and claims[name] != converted:
                        raise ClaimValueError(
                            f"claim '{name}' has one value in the access token and another in the ID token; "
                            "Entra takes one claims bag for both"
                        )
                    claims[name] = converted
        except ClaimValueError as error:
            _log.warning(f"{self.name} claims refused", extra={"error": error.error_code, "cause": str(error)})
            return self.refusal(event, error)
        too_large = over_limit(self.name, "the claims (keys and values)", _claims_bytes(claims), ENTRA_MAX_CLAIMS_BYTES, merged)
        if too_large:
            return self.refusal(event, too_large)
        action = {"@odata.type": _ACTION, "claims": claims}
        return 200, {"data": {"@odata.type": "microsoft.graph.onTokenIssuanceStartResponseData", "actions": [action]}}

    def refusal(self, event: Mapping[str, Any], error: ClaimflowError) -> HookAnswer:
        denied, text = denial_or_failure(error)
        # Entra has no deny action: any answer but 200 fails the sign-in (closed), with a generic error.
        if denied:
            return 403, {"error": "access_denied", "error_description": text}
        return 500, {"error": error.error_code, "error_description": text}
