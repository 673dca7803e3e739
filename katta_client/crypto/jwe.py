"""The JOSE layer of the client: safe wrappers around joserfc for Katta's JWE formats.

joserfc does the JWE work (key management, Concat KDF, AES-KW, AES-GCM). This module decides
*what is allowed* before joserfc sees a token, and maps every failure to a
:mod:`katta_client.crypto.errors` class:

* only ``enc`` ``A256GCM`` and, per call, an explicit list of ``alg`` values;
* ``zip`` is refused (compression before encryption leaks, and Katta never uses it);
* PBES2 ``p2c`` must be within [``PBES2_MIN_ITERATIONS``, ``PBES2_MAX_ITERATIONS``], checked
  before any key derivation (a huge ``p2c`` is a CPU denial of service);
* ECDH-ES ``epk`` must be a public P-384 point that is on the curve (invalid-curve attacks);
* ``crit`` may only name parameters the caller understands (``uvf.spec.version`` for vault.uvf);
  other header members are checked strictly in compact JWEs, while vault.uvf readers ignore
  members they do not know unless ``crit`` names them (RFC 7516 §4), as real writers differ;
* IVs are 12 bytes and tags 16 bytes, with one narrow, documented exception (see
  :func:`_normalize_tag`).
"""

from __future__ import annotations

import functools
import json
import warnings
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any, Optional

from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jwe as _jwe
from joserfc.errors import (
    DecodeError,
    InvalidExchangeKeyError,
    InvalidKeyCurveError,
    InvalidKeyTypeError,
    JoseError,
    KeyParameterError,
    MissingCritHeaderError,
    SecurityWarning,
    UnsupportedAlgorithmError,
    UnsupportedHeaderError,
)
from joserfc.jwa import AESAlgKeyWrapping, ECDHESAlgKeyAgreement, PBES2HSAlgKeyEncryption
from joserfc.jwk import ECKey, OctKey
from joserfc.registry import HeaderParameter
from joserfc.util import json_b64encode

# joserfc keeps its Concat KDF (RFC 7518 §4.6.2) in a private module; reusing it keeps the KDF
# joserfc's own. The version is pinned in requirements.txt and the vectors test this path.
from joserfc._rfc7518.derive_key import derive_key_for_concat_kdf

from ._encoding import b64url_decode, b64url_encode, json_object, json_segment
from .ec import public_key_from_jwk
from .errors import (
    DecryptionFailed,
    InvalidFormat,
    InvalidKey,
    KattaCryptoError,
    UnsafeParameter,
)

__all__ = [
    "ENC",
    "ALG_PBES2",
    "ALG_ECDH_ES",
    "ALG_ECDH_ES_A256KW",
    "ALG_A256KW",
    "ECDH_ALGS",
    "PBES2_ITERATIONS",
    "PBES2_MIN_ITERATIONS",
    "PBES2_MAX_ITERATIONS",
    "MAX_JWE_LENGTH",
    "UVF_CRITICAL_PARAMS",
    "parse_compact_header",
    "encrypt_pbes2",
    "decrypt_pbes2",
    "encrypt_ecdh_es",
    "decrypt_ecdh_es",
    "encrypt_a256kw",
    "decrypt_a256kw",
    "encrypt_general_json",
    "decrypt_general_json",
]

ENC = "A256GCM"
ALG_PBES2 = "PBES2-HS512+A256KW"
ALG_ECDH_ES = "ECDH-ES"
ALG_ECDH_ES_A256KW = "ECDH-ES+A256KW"
ALG_A256KW = "A256KW"

#: What Katta writes (and what we write) for the account-key JWE.
PBES2_ITERATIONS = 1_000_000
#: RFC 7518 §4.8.1.2 recommends at least 1000; anything lower is a downgrade we never write.
PBES2_MIN_ITERATIONS = 1_000
#: Decrypt cap: 10x what Katta writes. Larger values are refused before any derivation.
PBES2_MAX_ITERATIONS = 10_000_000

#: Upper bound for a compact JWE or a JSON JWE document, in characters.
MAX_JWE_LENGTH = 96 * 1024

#: Critical header parameters the vault.uvf reader understands (UVF vault metadata spec).
UVF_CRITICAL_PARAMS = frozenset({"uvf.spec.version"})

_IV_LEN = 12
_TAG_LEN = 16
_MAX_RECIPIENTS = 16
#: Both ECDH forms: Hub's web client writes ECDH-ES+A256KW, Katta's Java client ECDH-ES.
ECDH_ALGS = (ALG_ECDH_ES, ALG_ECDH_ES_A256KW)


# --------------------------------------------------------------------------------------------
# joserfc algorithm models with Katta's policy built in


def _check_p2c(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidFormat("PBES2 p2c must be an integer")
    if value < PBES2_MIN_ITERATIONS:
        raise UnsafeParameter(f"PBES2 p2c below {PBES2_MIN_ITERATIONS} is refused")
    if value > PBES2_MAX_ITERATIONS:
        raise UnsafeParameter(f"PBES2 p2c above {PBES2_MAX_ITERATIONS} is refused")
    return value


def _validate_p2c_header(value: object) -> None:
    # joserfc's own validator caps p2c at 300,000, below what Katta writes (1,000,000).
    try:
        _check_p2c(value)
    except KattaCryptoError as err:
        raise ValueError(str(err)) from None


class _CappedPBES2(PBES2HSAlgKeyEncryption):
    more_header_registry = {
        "p2s": HeaderParameter("PBES2 Salt Input", "str", True),
        "p2c": HeaderParameter("PBES2 Count", _validate_p2c_header, True),
    }

    def decrypt_cek(self, recipient):  # type: ignore[no-untyped-def]
        _check_p2c(recipient.headers().get("p2c"))  # defence in depth: never derive above the cap
        return super().decrypt_cek(recipient)


class _StrictECDHES(ECDHESAlgKeyAgreement):
    """ECDH-ES(+A256KW) whose ``epk`` import is strict and tolerant of WebCrypto's extras.

    WebCrypto exports the ephemeral key with ``"key_ops": [], "ext": true``; joserfc would then
    refuse to use it for key agreement. We rebuild the key from its validated P-384 coordinates
    only (which also refuses off-curve points and other curves) and derive exactly as joserfc does.
    """

    def decrypt_agreed_upon_key(self, enc, recipient):  # type: ignore[no-untyped-def]
        headers = recipient.headers()
        epk = ECKey.import_key(public_key_from_jwk(headers.get("epk")))
        recipient_key = recipient.recipient_key
        self.check_key_type(recipient_key)
        if not isinstance(recipient_key, ECKey) or recipient_key.curve_name != "P-384":
            raise InvalidKey("recipient key is not a P-384 key")
        shared_key = recipient_key.exchange_derive_key(epk)
        return derive_key_for_concat_kdf(shared_key, headers, enc.cek_size, self.key_size)


_ALG_MODELS = {
    ALG_PBES2: _CappedPBES2(512, AESAlgKeyWrapping(256)),
    ALG_ECDH_ES: _StrictECDHES(),
    ALG_ECDH_ES_A256KW: _StrictECDHES(AESAlgKeyWrapping(256)),
    ALG_A256KW: AESAlgKeyWrapping(256),
}

_BASE_EXTRA_HEADERS = {
    # Katta's Java client (Nimbus) writes empty apu/apv on every JWE, not only on ECDH-ES ones.
    "apu": HeaderParameter("Agreement PartyUInfo", "str"),
    "apv": HeaderParameter("Agreement PartyVInfo", "str"),
}

_UVF_EXTRA_HEADERS = {
    **_BASE_EXTRA_HEADERS,
    "uvf.spec.version": HeaderParameter("UVF spec version", "int"),
    # Katta's writers name the vault.uvf URL "cloud.katta.origin", Hub's web client "origin".
    "cloud.katta.origin": HeaderParameter("Katta vault.uvf origin", "str"),
    "origin": HeaderParameter("Hub vault.uvf origin", "str"),
    # vault.uvf carries "jku": "jwks.json", a URL relative to the origin. It is never
    # fetched by this layer; the recipient key always comes from the caller.
    "jku": HeaderParameter("JWK Set URL (relative)", "str"),
}


class _Registry(_jwe.JWERegistry):
    def __init__(self, algs: tuple[str, ...], uvf: bool) -> None:
        super().__init__(
            header_registry=dict(_UVF_EXTRA_HEADERS if uvf else _BASE_EXTRA_HEADERS),
            algorithms=[*algs, ENC],
            verify_all_recipients=True,
            # vault.uvf: an unknown member outside crit is ignored (RFC 7516 §4); it sits in the
            # authenticated protected header or is unused, and crit is checked before joserfc.
            strict_check_header=not uvf,
            max_recipients=_MAX_RECIPIENTS,
        )
        # An instance-level table: only the algorithms of this call, with our policy models,
        # and no compression at all.
        self.algorithms = {
            "alg": {name: _ALG_MODELS[name] for name in algs},
            "enc": {ENC: _jwe.JWERegistry.algorithms["enc"][ENC]},
            "zip": {},
        }


@functools.lru_cache(maxsize=None)
def _registry(algs: tuple[str, ...], uvf: bool = False) -> _Registry:
    return _Registry(algs, uvf)


# --------------------------------------------------------------------------------------------
# parsing and policy checks (run before joserfc sees anything)


def _as_text(value: object, what: str) -> str:
    if isinstance(value, bytes):
        try:
            value = value.decode("ascii")
        except UnicodeDecodeError:
            raise InvalidFormat(f"{what} is not ASCII") from None
    if not isinstance(value, str):
        raise InvalidFormat(f"{what} must be a string")
    if len(value) > MAX_JWE_LENGTH:
        raise InvalidFormat(f"{what} exceeds {MAX_JWE_LENGTH} characters")
    return value.strip()


def _check_crit(protected: Mapping[str, Any], understood: Collection[str]) -> None:
    if "crit" not in protected:
        return
    crit = protected["crit"]
    if not isinstance(crit, list) or not crit or not all(isinstance(c, str) for c in crit):
        raise InvalidFormat("crit must be a non-empty list of strings")
    for name in crit:
        if name not in understood:
            raise UnsafeParameter(f"unsupported critical header parameter {name!r}")
        if name not in protected:
            raise InvalidFormat(f"critical header parameter {name!r} is missing")


def _check_key_management(header: Mapping[str, Any], allowed_algs: Collection[str]) -> str:
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise InvalidFormat("JWE alg is missing")
    if alg not in allowed_algs:
        raise UnsafeParameter(f"JWE alg {alg!r} is not allowed here")
    if alg == ALG_PBES2:
        _check_p2c(header.get("p2c"))
        salt = b64url_decode(header.get("p2s"), "PBES2 p2s")
        if len(salt) < 8:
            raise InvalidFormat("PBES2 p2s is too short")
    if alg in ECDH_ALGS:
        public_key_from_jwk(header.get("epk"), "epk")
    return alg


def _check_no_zip(header: Mapping[str, Any]) -> None:
    if "zip" in header:
        raise UnsafeParameter("JWE compression (zip) is refused")


def _normalize_tag(ciphertext: bytes, tag: bytes) -> tuple[bytes, bytes]:
    """Return (ciphertext, 16-byte tag), accepting one known writer quirk.

    Quirk: two of Katta's published vectors (a vault.uvf and an ECDH-ES+A256KW access token
    written by Katta's web client) carry a 32-byte tag member. Katta's Java client (Nimbus) reads
    them because it concatenates ciphertext || tag and lets AES-GCM take the *last* 16 bytes as
    the tag, so the first 16 bytes of that member are really the end of the ciphertext. We do
    the same, only for exactly 32 bytes with enc A256GCM (the only enc we accept); the result is
    still fully authenticated by GCM. Every other tag length is refused; our writers always
    emit standard 16-byte tags.
    """
    if len(tag) == _TAG_LEN:
        return ciphertext, tag
    if len(tag) == 2 * _TAG_LEN:
        return ciphertext + tag[:_TAG_LEN], tag[_TAG_LEN:]
    raise InvalidFormat("JWE authentication tag must be 16 bytes")


def _check_iv(iv: bytes) -> None:
    if len(iv) != _IV_LEN:
        raise InvalidFormat("JWE initialization vector must be 12 bytes")


def parse_compact_header(token: object) -> dict[str, Any]:
    """Parse (not decrypt) a compact JWE and return its protected header.

    Checks the shape: five base64url segments, a JSON-object header, a 12-byte IV and a 16-byte
    (or the documented 32-byte) tag. Raises :class:`InvalidFormat` otherwise.
    """
    header, _ = _parse_compact(token)
    return header


def _parse_compact(token: object) -> tuple[dict[str, Any], str]:
    text = _as_text(token, "compact JWE")
    parts = text.split(".")
    if len(parts) != 5:
        raise InvalidFormat("compact JWE must have five segments")
    if not parts[0] or not parts[2] or not parts[4]:
        raise InvalidFormat("compact JWE has an empty header, IV or tag segment")
    raw = [b64url_decode(p, "compact JWE segment") for p in parts]
    header = json_object(raw[0], "JWE protected header")
    _check_iv(raw[2])
    ciphertext, tag = _normalize_tag(raw[3], raw[4])
    if len(raw[4]) != _TAG_LEN:
        parts[3] = b64url_encode(ciphertext)
        parts[4] = b64url_encode(tag)
    return header, ".".join(parts)


def _check_compact_policy(header: Mapping[str, Any], allowed_algs: Collection[str]) -> str:
    _check_no_zip(header)
    if header.get("enc") != ENC:
        raise UnsafeParameter(f"JWE enc must be {ENC}")
    _check_crit(header, ())  # no compact Katta format has critical parameters
    return _check_key_management(header, allowed_algs)


def _map_error(err: BaseException, what: str) -> KattaCryptoError:
    if isinstance(err, KattaCryptoError):
        return err
    if isinstance(err, (DecodeError, InvalidExchangeKeyError)):
        return DecryptionFailed(f"{what} could not be decrypted (wrong key or tampered data)")
    if isinstance(err, (UnsupportedAlgorithmError, UnsupportedHeaderError, MissingCritHeaderError)):
        return UnsafeParameter(f"{what} uses a refused parameter ({err.error})")
    if isinstance(err, (InvalidKeyTypeError, InvalidKeyCurveError, KeyParameterError)):
        return InvalidKey(f"{what}: the key does not fit the JWE ({err.error})")
    if isinstance(err, JoseError):
        return InvalidFormat(f"{what} is malformed ({err.error})")
    return DecryptionFailed(f"{what} could not be decrypted")


def _payload_json(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(dict(payload), separators=(",", ":"), ensure_ascii=True).encode("ascii")


def _decrypt_compact(token: object, key: Any, algs: tuple[str, ...], what: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, normalized = _parse_compact(token)
    _check_compact_policy(header, algs)
    try:
        obj = _jwe.decrypt_compact(normalized, key, registry=_registry(algs))
        plaintext = obj.plaintext
    except Exception as err:  # noqa: BLE001 - every failure becomes a KattaCryptoError
        raise _map_error(err, what) from None
    if plaintext is None:
        raise DecryptionFailed(f"{what} could not be decrypted")
    return header, json_object(plaintext, f"{what} payload")


def _encrypt_compact(payload: Mapping[str, Any], header: dict[str, Any], key: Any, algs: tuple[str, ...]) -> str:
    try:
        return _jwe.encrypt_compact(header, _payload_json(payload), key, registry=_registry(algs))
    except KattaCryptoError:
        raise
    except JoseError as err:
        raise InvalidFormat(f"JWE could not be built ({err.error})") from None


# --------------------------------------------------------------------------------------------
# public helpers for the compact formats


def _password_key(password: str) -> OctKey:
    if not isinstance(password, str) or not password:
        raise InvalidKey("password must be a non-empty string")
    with warnings.catch_warnings():
        # joserfc warns about short passwords; PBES2 is the password-stretching step here.
        warnings.simplefilter("ignore", SecurityWarning)
        return OctKey.import_key(password.encode("utf-8"))


def _ec_key(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> ECKey:
    if not isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        raise InvalidKey("expected an EC key")
    if not isinstance(key.curve, ec.SECP384R1):
        raise InvalidKey("expected a P-384 key")
    return ECKey.import_key(key)


def _oct_key(key: bytes) -> OctKey:
    if not isinstance(key, (bytes, bytearray)) or len(key) != 32:
        raise InvalidKey("A256KW key must be 32 bytes")
    return OctKey.import_key(bytes(key))


def encrypt_pbes2(payload: Mapping[str, Any], password: str, kid: str | None = None,
                  iterations: int = PBES2_ITERATIONS) -> str:
    """Compact JWE ``PBES2-HS512+A256KW`` / ``A256GCM`` with a 16-byte random salt."""
    _check_p2c(iterations)
    header: dict[str, Any] = {"alg": ALG_PBES2, "enc": ENC, "p2c": iterations}
    if kid is not None:
        header["kid"] = kid
    return _encrypt_compact(payload, header, _password_key(password), (ALG_PBES2,))


def decrypt_pbes2(token: object, password: str) -> dict[str, Any]:
    """Decrypt a PBES2 compact JWE; ``p2c`` is checked against the cap before any derivation."""
    return _decrypt_compact(token, _password_key(password), (ALG_PBES2,), "PBES2 JWE")[1]


def encrypt_ecdh_es(payload: Mapping[str, Any], recipient_public_key: ec.EllipticCurvePublicKey,
                    kid: str | None = None, alg: str = ALG_ECDH_ES) -> str:
    """Compact JWE ``ECDH-ES`` (or ``ECDH-ES+A256KW``) / ``A256GCM`` to a P-384 public key."""
    if alg not in ECDH_ALGS:
        raise UnsafeParameter(f"JWE alg {alg!r} is not an ECDH-ES algorithm")
    header: dict[str, Any] = {"alg": alg, "enc": ENC}
    if kid is not None:
        header["kid"] = kid
    return _encrypt_compact(payload, header, _ec_key(recipient_public_key), (alg,))


def decrypt_ecdh_es(token: object, private_key: ec.EllipticCurvePrivateKey,
                    algs: Iterable[str] = (ALG_ECDH_ES,), what: str = "ECDH-ES JWE") -> dict[str, Any]:
    """Decrypt a compact ECDH-ES(+A256KW) JWE with a P-384 private key."""
    allowed = tuple(algs)
    if not allowed or any(a not in ECDH_ALGS for a in allowed):
        raise UnsafeParameter("only ECDH-ES algorithms may be allowed here")
    return _decrypt_compact(token, _ec_key(private_key), allowed, what)[1]


def encrypt_a256kw(payload: Mapping[str, Any], key: bytes, kid: str | None = None) -> str:
    """Compact JWE ``A256KW`` / ``A256GCM`` under a 32-byte key."""
    header: dict[str, Any] = {"alg": ALG_A256KW, "enc": ENC}
    if kid is not None:
        header["kid"] = kid
    return _encrypt_compact(payload, header, _oct_key(key), (ALG_A256KW,))


def decrypt_a256kw(token: object, key: bytes) -> dict[str, Any]:
    """Decrypt a compact ``A256KW`` / ``A256GCM`` JWE."""
    return _decrypt_compact(token, _oct_key(key), (ALG_A256KW,), "A256KW JWE")[1]


# --------------------------------------------------------------------------------------------
# JWE JSON general serialization (vault.uvf)

_JSON_MEMBERS = frozenset({"protected", "unprotected", "recipients", "aad", "iv", "ciphertext", "tag"})


def encrypt_general_json(protected: Mapping[str, Any], payload: Mapping[str, Any],
                         recipients: Iterable[tuple[Mapping[str, Any], Any]]) -> dict[str, Any]:
    """JWE JSON general serialization; ``recipients`` are (per-recipient header, key) pairs.

    Keys: 32-byte ``bytes`` for ``A256KW``, a P-384 public key for ``ECDH-ES+A256KW``.
    """
    protected = dict(protected)
    protected.setdefault("enc", ENC)
    if protected["enc"] != ENC:
        raise UnsafeParameter(f"JWE enc must be {ENC}")
    _check_no_zip(protected)
    _check_crit(protected, UVF_CRITICAL_PARAMS)
    obj = _jwe.GeneralJSONEncryption(protected, _payload_json(payload))
    algs: list[str] = []
    for header, key in recipients:
        alg = header.get("alg")
        if alg == ALG_A256KW:
            jose_key: Any = _oct_key(key)
        elif alg == ALG_ECDH_ES_A256KW:
            jose_key = _ec_key(key)
        else:
            raise UnsafeParameter(f"JWE alg {alg!r} is not allowed for JSON recipients")
        algs.append(alg)
        obj.add_recipient(dict(header), jose_key)
    if not algs:
        raise InvalidFormat("at least one recipient is required")
    try:
        return dict(_jwe.encrypt_json(obj, None, registry=_registry(tuple(sorted(set(algs))), True)))
    except KattaCryptoError:
        raise
    except JoseError as err:
        raise InvalidFormat(f"JWE could not be built ({err.error})") from None


def _load_json_document(document: object) -> dict[str, Any]:
    if isinstance(document, Mapping):
        return dict(document)
    text = _as_text(document, "JWE JSON document") if isinstance(document, (str, bytes)) else None
    if text is None:
        raise InvalidFormat("JWE JSON document must be a string, bytes or a mapping")
    return json_object(text.encode("utf-8"), "JWE JSON document")


def decrypt_general_json(document: object, key: Any, alg: str, kid: str | None = None,
                         understood_crit: Collection[str] = UVF_CRITICAL_PARAMS,
                         what: str = "JWE JSON",
                         check_protected: Optional[Callable[[dict[str, Any]], None]] = None,
                         ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Decrypt a JWE JSON (general or flattened) serialization for the recipient ``alg``/``kid``.

    Returns (protected header, payload). Only recipients using ``alg`` are tried; one whose
    ``kid`` equals ``kid`` is tried first. ``key`` is 32 bytes for ``A256KW`` or a P-384
    private key for ``ECDH-ES+A256KW``. ``check_protected`` validates the protected header
    before any key is used.
    """
    if alg == ALG_A256KW:
        jose_key: Any = _oct_key(key)
    elif alg == ALG_ECDH_ES_A256KW:
        jose_key = _ec_key(key)
    else:
        raise UnsafeParameter(f"JWE alg {alg!r} is not allowed for JSON recipients")

    data = _load_json_document(document)
    unknown = set(data) - _JSON_MEMBERS - {"header", "encrypted_key"}
    if unknown:
        raise InvalidFormat("JWE JSON document has unknown members")
    protected_b64 = data.get("protected")
    if not isinstance(protected_b64, str) or not protected_b64:
        raise InvalidFormat("JWE JSON protected header is missing")
    protected = json_segment(protected_b64, "JWE protected header")
    _check_no_zip(protected)
    if protected.get("enc") != ENC:
        raise UnsafeParameter(f"JWE enc must be {ENC}")
    _check_crit(protected, understood_crit)
    if check_protected is not None:
        check_protected(protected)
    unprotected = data.get("unprotected")
    if unprotected is not None:
        if not isinstance(unprotected, dict):
            raise InvalidFormat("JWE unprotected header must be an object")
        _check_no_zip(unprotected)
        if "crit" in unprotected:
            raise InvalidFormat("crit must be integrity protected")
    # joserfc authenticates JSON serializations against its own re-encoding of the protected
    # header, so only a canonically encoded header (compact JSON, as Katta's writers emit) can be
    # authenticated. Refuse others explicitly rather than report a misleading tag failure.
    if json_b64encode(protected).decode("ascii") != protected_b64.rstrip("="):
        raise InvalidFormat("JWE protected header is not canonically encoded (not supported)")

    if "recipients" in data:
        recipients = data["recipients"]
        if not isinstance(recipients, list) or not recipients or len(recipients) > _MAX_RECIPIENTS:
            raise InvalidFormat("JWE recipients must be a non-empty list of at most 16 entries")
        if "header" in data or "encrypted_key" in data:
            raise InvalidFormat("JWE JSON document mixes general and flattened members")
    else:
        recipients = [{k: data[k] for k in ("header", "encrypted_key") if k in data}]

    candidates: list[dict[str, Any]] = []
    for recipient in recipients:
        if not isinstance(recipient, dict) or set(recipient) - {"header", "encrypted_key"}:
            raise InvalidFormat("JWE recipient is malformed")
        header = recipient.get("header", {})
        if not isinstance(header, dict):
            raise InvalidFormat("JWE recipient header must be an object")
        if "crit" in header:
            raise InvalidFormat("crit must be integrity protected")
        _check_no_zip(header)
        merged = {**protected, **(unprotected or {}), **header}
        if merged.get("alg") == alg:
            _check_key_management(merged, (alg,))
            candidates.append(recipient)
    if not candidates:
        raise DecryptionFailed(f"{what} has no recipient for {alg}")
    if kid is not None:
        candidates.sort(key=lambda r: 0 if r.get("header", {}).get("kid") == kid else 1)

    iv = b64url_decode(data.get("iv"), "JWE iv")
    _check_iv(iv)
    ciphertext, tag = _normalize_tag(b64url_decode(data.get("ciphertext"), "JWE ciphertext"),
                                     b64url_decode(data.get("tag"), "JWE tag"))
    base = {k: v for k, v in data.items() if k in ("protected", "unprotected", "aad")}
    base["iv"] = b64url_encode(iv)
    base["ciphertext"] = b64url_encode(ciphertext)
    base["tag"] = b64url_encode(tag)

    last_error: KattaCryptoError = DecryptionFailed(f"{what} could not be decrypted")
    for recipient in candidates:
        single = dict(base)
        single["recipients"] = [recipient]
        try:
            obj = _jwe.decrypt_json(single, jose_key, registry=_registry((alg,), True))  # type: ignore[arg-type]
            plaintext = obj.plaintext
        except Exception as err:  # noqa: BLE001 - every failure becomes a KattaCryptoError
            last_error = _map_error(err, what)
            continue
        if plaintext is None:
            continue
        return protected, json_object(plaintext, f"{what} payload")
    raise last_error
