"""Local Lambda emulation: the template's functions in warm sandboxes behind the Lambda
Invoke API and Function URLs on loopback."""

from claimflow_local.emulator.local_lambda import LambdaEmulator
from claimflow_local.emulator.pool import InvokeResult, ThrottledError

__all__ = ["InvokeResult", "LambdaEmulator", "ThrottledError"]
