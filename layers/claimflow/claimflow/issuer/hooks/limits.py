"""What an identity stack takes back from a claims hook is bounded by the stack (Okta: a reply
under 256 KB; Entra: 3 KB of claim keys and values; Supabase: a 20 KB reply). A reply over its
stack's bound would be refused there, and not always loudly (Okta issues the token
*unmodified*), so a hook checks its reply first and answers a failure that names the bound and
the workflow whose claims weigh most: no token, never a partial one, as when the issuer's own
token is too large.
"""

from __future__ import annotations

import json
from typing import Any

from claimflow.errors import ClaimValueError
from claimflow.infra.logs import logger_for
from claimflow.issuer.policy import Merged

__all__ = ["json_size", "over_limit"]

_log = logger_for("claimflow-claims-hooks")


def json_size(document: Any) -> int:
    """Bytes of ``document`` as the endpoint sends it (compact JSON, UTF-8)."""
    return len(json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode())


def _heaviest(merged: Merged) -> str | None:
    weights = {workflow: json_size({k.value: v for k, v in patches.items()}) for workflow, patches in merged.patches.items()}
    return max(weights, key=lambda workflow: weights[workflow]) if weights else None


def over_limit(stack: str, what: str, size: int, limit: int, merged: Merged) -> ClaimValueError | None:
    """The failure to answer when ``what`` is ``size`` bytes against ``stack``'s ``limit``; None if it fits."""
    if size <= limit:
        return None
    heaviest = _heaviest(merged)
    blame = f"; workflow '{heaviest}' added the most" if heaviest else ""
    error = ClaimValueError(
        f"{what} would be {size} bytes; {stack} takes at most {limit}{blame}. "
        "Store large data elsewhere and put a reference in the token"
    )
    _log.warning(f"{stack} claims refused", extra={"error": error.error_code, "cause": str(error)})
    return error
