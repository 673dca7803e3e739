"""Exception classes of the client crypto layer.

Every failure the crypto layer reports is a :class:`KattaCryptoError`. Messages name what was
wrong (a field, a format, a limit) and never carry key material, plaintext or ciphertext.
"""

from __future__ import annotations

__all__ = [
    "KattaCryptoError",
    "InvalidFormat",
    "UnsafeParameter",
    "InvalidKey",
    "KeyMismatch",
    "DecryptionFailed",
    "SignatureInvalid",
]


class KattaCryptoError(Exception):
    """Base class of every error raised by ``katta_client.crypto``."""


class InvalidFormat(KattaCryptoError, ValueError):
    """The input is not a well-formed object of the expected format (JWE, JWS, UVF file, name ...)."""


class UnsafeParameter(InvalidFormat):
    """The input is well-formed but asks for something refused on purpose.

    Examples: a PBES2 ``p2c`` above the cap, a JWE ``zip`` parameter, an unknown critical header,
    an algorithm outside the allow-list.
    """


class InvalidKey(KattaCryptoError, ValueError):
    """Key material is malformed, on the wrong curve, or (for ``epk``) not a point on P-384."""


class KeyMismatch(KattaCryptoError):
    """A recovered private key does not belong to the public key it was expected to match."""


class DecryptionFailed(KattaCryptoError):
    """Authentication failed: wrong key, wrong password, or tampered/truncated ciphertext."""


class SignatureInvalid(KattaCryptoError):
    """A JWS signature (web of trust) did not verify, or its claims are not coherent."""
