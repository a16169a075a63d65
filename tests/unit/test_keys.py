"""Key sets: each algorithm signs and verifies; rotation keeps old tokens valid until
their key is retired; the CLI writes private and public parts together."""

from __future__ import annotations

import contextlib
import json
import warnings

import jwt
import pytest
from joserfc.errors import SecurityWarning

from claimflow import ParameterStoreError
from claimflow.infra.parameters import InMemoryParameterStore
from claimflow.keys import KeySet, Signer, SigningKeyError
from claimflow.keys.manager import KeyManager
from claimflow_local.cli.keys import main
from tests.unit.issuing import PATHS

DAY = 86400


def verify(token: str, jwks: dict[str, object]) -> dict[str, object]:
    """Verified with joserfc, which knows RFC 9864's Ed25519 as well as the older names."""
    from joserfc import jwt as jose_jwt
    from joserfc.jwk import KeySet as JoseKeySet

    header = jwt.get_unverified_header(token)
    with warnings.catch_warnings():  # joserfc warns that RFC 9864 deprecates EdDSA: the point of Ed25519
        warnings.simplefilter("ignore", SecurityWarning)
        claims: dict[str, object] = jose_jwt.decode(token, JoseKeySet.import_key_set(jwks), algorithms=[header["alg"]]).claims
    return claims


@pytest.mark.parametrize("alg", ["RS256", "ES256", "Ed25519", "EdDSA"])
def test_every_supported_algorithm_signs_tokens_its_jwks_verifies(alg: str) -> None:
    keyset = KeySet.initial(alg, now=0)
    token = Signer(keyset).sign({"sub": "u"}, typ="at+jwt")
    assert jwt.get_unverified_header(token)["alg"] == alg
    assert verify(token, keyset.public_jwks()) == {"sub": "u"}
    assert all("d" not in key for key in keyset.public_jwks()["keys"])


def test_rotation_keeps_tokens_signed_before_it_valid_until_their_key_is_retired() -> None:
    keyset = KeySet.initial("RS256", now=0)
    old_token = Signer(keyset).sign({"sub": "before"}, typ="at+jwt")

    keyset = keyset.rotate(now=DAY, grace_seconds=3600, keep_previous=1)  # publish next
    assert Signer(keyset).kid == keyset.active.kid and keyset.pending is not None
    assert verify(old_token, keyset.public_jwks())["sub"] == "before"

    keyset = keyset.rotate(now=2 * DAY, grace_seconds=3600, keep_previous=1)  # promote
    new_token = Signer(keyset).sign({"sub": "after"}, typ="at+jwt")
    assert jwt.get_unverified_header(new_token)["kid"] != jwt.get_unverified_header(old_token)["kid"]
    assert verify(old_token, keyset.public_jwks())["sub"] == "before"

    keyset = keyset.rotate(now=3 * DAY, grace_seconds=3600, keep_previous=1)  # publish the third key
    keyset = keyset.rotate(now=4 * DAY, grace_seconds=3600, keep_previous=1)  # promote it; retire the first
    assert verify(new_token, keyset.public_jwks())["sub"] == "after"
    from joserfc.errors import InvalidKeyIdError

    with pytest.raises(InvalidKeyIdError):
        verify(old_token, keyset.public_jwks())


def test_a_next_key_is_not_promoted_before_its_grace_period() -> None:
    keyset = KeySet.initial("ES256", now=0).add_next(now=100)
    with pytest.raises(SigningKeyError, match="grace period 3600s"):
        keyset.promote(now=200, grace_seconds=3600)


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "{}",
        '{"version": 2, "keys": []}',
        '{"version": 1, "keys": []}',
        '{"version": 1, "keys": [{"kid": "a", "alg": "HS256", "status": "active", "created_at": 0, "jwk": {}}]}',
    ],
)
def test_a_malformed_key_set_is_refused(text: str) -> None:
    with pytest.raises(SigningKeyError):
        KeySet.from_json(text)


def test_the_cli_writes_the_private_set_as_secret_and_the_public_jwks_as_plain(capsys: pytest.CaptureFixture[str]) -> None:
    store = InMemoryParameterStore()
    assert main(["init", "--stage", "test", "--alg", "ES256"], store=store) == 0
    private, public = store.get(PATHS.signing_keyset), store.get(PATHS.public_jwks)
    assert private is not None and private.is_secret
    assert public is not None and not public.is_secret
    assert [k["kid"] for k in json.loads(public.value)["keys"]] == [k.kid for k in KeySet.from_json(private.value).keys]
    assert main(["init", "--stage", "test"], store=store) == 1
    assert "already exists" in capsys.readouterr().err
    assert main(["rotate", "--stage", "test"], store=store) == 0
    assert len(KeyManager(store, PATHS).load().keys) == 2  # type: ignore[union-attr]


# --- publish before use: a write that fails at any step leaves a safe state -------------------

STEPS = ["init", "add", "promote", "retire"]


def kids_in(store: InMemoryParameterStore, name: str) -> set[str]:
    parameter = store.parameters.get(name)
    if parameter is None:
        return set()
    return {str(key["kid"]) for key in json.loads(parameter.value)["keys"]}


def signing_kids(store: InMemoryParameterStore) -> set[str]:
    """Keys the issuer may sign with now or after a promotion: active and next."""
    parameter = store.parameters.get(PATHS.signing_keyset)
    if parameter is None:
        return set()
    return {key.kid for key in KeySet.from_json(parameter.value).keys if key.status in ("active", "next")}


def run_step(manager: KeyManager, step: str, now: int) -> None:
    if step == "init":
        manager.init(alg="RS256", force=True, now=now)
    elif step == "add":
        manager.update("add", now=now)
    elif step == "promote":
        manager.update("promote", now=now, grace_seconds=0)
    else:
        manager.update("retire", keep_previous=0, now=now)


class FailsOnePut(InMemoryParameterStore):
    """Fails the ``nth`` write (from 0) of ``name`` once it is armed, as SSM failing mid-rotation would."""

    def __init__(self, name: str, nth: int) -> None:
        super().__init__()
        self.failing, self.nth, self.armed, self.writes = name, nth, False, 0

    def put(self, name: str, value: str, *, secret: bool = False, description: str = "", key_id: str | None = None) -> None:
        if self.armed and name == self.failing:
            self.writes += 1
            if self.writes == self.nth + 1:
                raise ParameterStoreError(f"PutParameter {name} failed (injected)")
        super().put(name, value, secret=secret, description=description, key_id=key_id)


@pytest.mark.parametrize("failing", [PATHS.public_jwks, PATHS.signing_keyset])
@pytest.mark.parametrize("nth", [0, 1])
@pytest.mark.parametrize("step", STEPS)
def test_each_write_of_a_rotation_failing_in_turn_never_lets_an_unpublished_key_sign(failing: str, nth: int, step: str) -> None:
    from tests.support import record_figure

    store = FailsOnePut(failing, nth)
    manager = KeyManager(store, PATHS)
    for earlier in STEPS[: STEPS.index(step)]:
        run_step(manager, earlier, now=1)
    store.armed = True
    with contextlib.suppress(ParameterStoreError):
        run_step(manager, step, now=10)
    assert signing_kids(store) <= kids_in(store, PATHS.public_jwks), f"{step}: a key that may sign is unpublished"
    if PATHS.signing_keyset in store.parameters:
        token = Signer(KeySet.from_json(store.parameters[PATHS.signing_keyset].value)).sign({"sub": "u"}, typ="at+jwt")
        assert jwt.get_unverified_header(token)["kid"] in kids_in(store, PATHS.public_jwks)
    record_figure("rotation_write_failures", {"step": step, "failing": failing.rsplit("/", 1)[1], "nth": nth, "unpublished": 0})


def test_a_next_key_that_never_reached_the_jwks_is_not_promoted() -> None:
    store = InMemoryParameterStore()
    manager = KeyManager(store, PATHS)
    manager.init(alg="RS256", now=0)
    keyset = manager.load()
    assert keyset is not None
    with_next = keyset.add_next(now=1)
    store.put(PATHS.signing_keyset, with_next.to_json(), secret=True)  # written past the publish step (an old tool, a hand edit)
    with pytest.raises(SigningKeyError, match="not in the published JWKS"):
        manager.update("promote", now=2, grace_seconds=0)
    manager.publish()
    assert manager.update("promote", now=2, grace_seconds=0).active.kid == with_next.pending.kid  # type: ignore[union-attr]


def test_a_key_claimflow_generated_loads_without_revalidation_and_still_signs_verifiably() -> None:
    from dataclasses import replace as replaced

    keyset = KeySet.initial("RS256", now=1_000)
    assert keyset.active.checked and '"checked":true' in keyset.to_json()
    token = Signer(KeySet.from_json(keyset.to_json())).sign({"sub": "u"}, typ="JWT")
    public = jwt.PyJWK({**keyset.active.public_jwk()}).key
    assert jwt.decode(token, public, algorithms=["RS256"]) == {"sub": "u"}
    legacy = KeySet((replaced(keyset.active, checked=False),))  # a key set written before the flag: validated as before
    assert "checked" not in legacy.to_json() and Signer(KeySet.from_json(legacy.to_json())).kid == keyset.active.kid


def test_a_corrupted_private_value_is_refused_before_any_token_is_signed() -> None:
    import base64

    document = json.loads(KeySet.initial("RS256", now=1_000).to_json())
    dp = bytearray(base64.urlsafe_b64decode(document["keys"][0]["jwk"]["dp"] + "=="))
    dp[-1] ^= 1  # one bit of a CRT exponent: signatures made with it would leak the key
    document["keys"][0]["jwk"]["dp"] = base64.urlsafe_b64encode(bytes(dp)).rstrip(b"=").decode()
    with pytest.raises(SigningKeyError, match="cannot be loaded"):
        Signer(KeySet.from_json(json.dumps(document)))
