"""The issuer Lambda. All of it lives in the claimflow layer; it never imports workflow code."""

from claimflow.issuer.app import lambda_handler

__all__ = ["lambda_handler"]
