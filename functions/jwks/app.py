"""The JWKS and OpenID discovery Lambda (public Function URL), from the claimflow layer."""

from claimflow.keys.jwks import lambda_handler

__all__ = ["lambda_handler"]
