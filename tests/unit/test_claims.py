"""Custom claims: reserved names refused where they are set, values must be JSON."""

import math

import pytest

from claimflow import RESERVED_CLAIMS, ClaimValueError, CustomClaims, ReservedClaimError, TokenKind
from claimflow.claims import check_patch

EVERY_RESERVED = [(token, claim) for token, claims in RESERVED_CLAIMS.items() for claim in sorted(claims)]


@pytest.mark.parametrize(("token", "claim"), EVERY_RESERVED)
def test_each_reserved_claim_is_refused_naming_claim_and_token(token: TokenKind, claim: str) -> None:
    claims = CustomClaims(token)
    with pytest.raises(ReservedClaimError, match=f"'{claim}' is a reserved claim of the {token.value}"):
        claims[claim] = "x"
    assert claims.patch == {}


def test_the_seeds_lists_are_all_reserved() -> None:
    every = {"azp", "exp", "iat", "iss", "nbf", "sid", "sub", "act", "aud"}
    assert every | {"jti", "scp"} <= RESERVED_CLAIMS[TokenKind.ACCESS]
    assert every | {"auth_time", "jti", "updated_at", "rat"} <= RESERVED_CLAIMS[TokenKind.ID]
    assert every | {"gty", "jti", "scp"} <= RESERVED_CLAIMS[TokenKind.M2M]


def test_attribute_assignment_sets_a_claim_as_in_the_seed() -> None:
    access_token = CustomClaims(TokenKind.ACCESS, {"existing": 1})
    access_token.lifetime_subscriber = True
    assert access_token["lifetime_subscriber"] is True
    assert access_token.existing == 1
    assert access_token.patch == {"lifetime_subscriber": True}


@pytest.mark.parametrize("value", [object(), {1, 2}, b"bytes", math.nan, math.inf, {"k": object()}, "lone \ud800 surrogate"])
def test_a_value_that_is_not_json_fails_where_it_is_set(value: object) -> None:
    claims = CustomClaims(TokenKind.ACCESS)
    with pytest.raises(ClaimValueError, match="claim 'bad' in the access_token"):
        claims["bad"] = value
    assert "bad" not in claims


def test_oversize_and_deeply_nested_values_are_refused() -> None:
    claims = CustomClaims(TokenKind.ID)
    with pytest.raises(ClaimValueError, match="bytes of JSON"):
        claims["big"] = "x" * 5000
    nested: object = "leaf"
    for _ in range(20):
        nested = [nested]
    with pytest.raises(ClaimValueError, match="nested"):
        claims["deep"] = nested


def test_a_stored_value_is_a_copy_so_later_mutation_cannot_bypass_checks() -> None:
    roles = ["admin"]
    claims = CustomClaims(TokenKind.ACCESS)
    claims["roles"] = roles
    roles.append({"iss": "evil"})  # type: ignore[arg-type]
    assert claims.patch == {"roles": ["admin"]}


def test_claims_cannot_be_deleted() -> None:
    claims = CustomClaims(TokenKind.ACCESS, {"a": 1})
    with pytest.raises(ClaimValueError, match="cannot be deleted"):
        del claims["a"]


@pytest.mark.parametrize("name", ["", "x" * 257, "bad\nname", 7])
def test_bad_claim_names_are_refused(name: object) -> None:
    with pytest.raises(ClaimValueError, match="claim name"):
        check_patch(TokenKind.ACCESS, {name: 1})  # type: ignore[dict-item]
