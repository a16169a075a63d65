"""Signing keys, a concern of their own beside the issuer: the key set and its JWKs
(``keyset``), the signer and the cached key provider the issuer signs through (``signer``), the
stored key set's rotation (``manager``; in AWS KMS: ``kms_keys``), the scheduled rotation
Lambda (``rotation``), and the public JWKS/discovery Lambda (``jwks``, ``discovery``).

The issuer imports this package; nothing here imports the issuer.
"""

from claimflow.keys.errors import SigningKeyError
from claimflow.keys.keyset import SUPPORTED_ALGORITHMS, KeyEntry, KeySet, generate_key
from claimflow.keys.signer import KeyProvider, RemoteSigning, Signer

__all__ = [
    "SUPPORTED_ALGORITHMS",
    "KeyEntry",
    "KeyProvider",
    "KeySet",
    "RemoteSigning",
    "Signer",
    "generate_key",
    # errors
    "SigningKeyError",
]
