"""The key rotation Lambda (EventBridge Scheduler, hourly), from the claimflow layer."""

from claimflow.keys.rotation import lambda_handler

__all__ = ["lambda_handler"]
