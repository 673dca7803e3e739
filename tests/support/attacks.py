"""The attacker's tools for the attack catalog (tests/test_attacks.py, docs/attack-catalog.md).

Nothing here is a test. Every builder returns what an attacker would put on the wire:
forged JWS (signed by hand, so no library check stands between the attacker and the
verifier), hostile JWE headers, and Wycheproof-style invalid elliptic-curve points.
A ``Recipe`` says how a surface's genuine token is made; each attack changes one thing.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from joserfc.jwk import ECKey
from joserfc.jws import JWSRegistry

ATTACKER_URL = "https://attacker.test"
# One key for every forgery: it is in no JWKS we trust.
ATTACKER_KEY = ECKey.generate_key("P-256", parameters={"kid": "attacker", "alg": "ES256", "use": "sig"})


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64u_json(value: Any) -> str:
    return b64u(json.dumps(value, separators=(",", ":")).encode())


def segment_json(token: str, index: int) -> Any:
    return json.loads(unb64u(token.split(".")[index]))


# -- JWS forging ------------------------------------------------------------------------------

def sign(header: dict[str, Any], claims: dict[str, Any], key: Any) -> str:
    """A compact JWS with exactly ``header``, signed with ``key`` under ``header["alg"]``."""
    signing_input = f"{b64u_json(header)}.{b64u_json(claims)}"
    signature = JWSRegistry.algorithms[header["alg"]].sign(signing_input.encode(), key)
    return f"{signing_input}.{b64u(signature)}"


def sign_text(header: str, claims: str, key: Any, alg: str) -> str:
    """A compact JWS over exactly this header and claims JSON text (duplicate members and all)."""
    signing_input = f"{b64u(header.encode())}.{b64u(claims.encode())}"
    return f"{signing_input}.{b64u(JWSRegistry.algorithms[alg].sign(signing_input.encode(), key))}"


def with_decoy(members: dict[str, Any], name: str, decoy: Any) -> str:
    """JSON text of ``members`` in which ``name`` comes first as ``decoy``: a last-wins parser reads the genuine value."""
    rest = json.dumps(members, separators=(",", ":"))
    return "{" + json.dumps(name) + ":" + json.dumps(decoy) + "," + rest[1:]


def hmac_signed(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    """HS256 over any bytes as the key — the algorithm-confusion forgery."""
    signing_input = f"{b64u_json({**header, 'alg': 'HS256'})}.{b64u_json(claims)}"
    return f"{signing_input}.{b64u(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"


def unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{b64u_json(header)}.{b64u_json(claims)}."


def public_key_forms(key: Any) -> dict[str, bytes]:
    """The public key as a verifier might hold it, each usable as an HMAC secret by a confused verifier."""
    public = key.raw_value.public_key() if hasattr(key.raw_value, "public_key") else key.raw_value
    info = serialization.PublicFormat.SubjectPublicKeyInfo
    return {
        "pem": public.public_bytes(serialization.Encoding.PEM, info),
        "der": public.public_bytes(serialization.Encoding.DER, info),
        "jwk": json.dumps(key.as_dict(private=False), separators=(",", ":")).encode(),
    }


def self_signed_certificate(key: Any) -> str:
    """base64 DER of a certificate for ``key`` (an ``x5c`` entry), signed by itself."""
    private = key.raw_value
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "attacker")])
    now = dt.datetime.now(dt.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                   .public_key(private.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
                   .sign(private, hashes.SHA256()))
    return base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()


def _alg_of(key: Any) -> str:
    if key.get("alg"):
        return key.get("alg")
    if key.key_type == "RSA":
        return "RS256"
    return {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}[key.get("crv")]


@dataclass
class Recipe:
    """How a surface's genuine token is made; the attacks start from it.

    ``foreign`` makes the other side's token: ours where an IdP's is expected, or an IdP's
    where ours is. ``retype`` makes a genuinely signed token of the wrong kind (ID token,
    another token of ours), None where a surface has no token types.
    """

    key: Any
    claims: Callable[[], dict[str, Any]]
    foreign: Callable[[], str]
    header: dict[str, Any] = field(default_factory=dict)
    retype: Callable[["Recipe"], str] | None = None
    leeway: int = 60

    def token(self, *, claims: dict[str, Any] | None = None, header: dict[str, Any] | None = None,
              key: Any = None, drop: tuple[str, ...] = ()) -> str:
        body = {**self.claims(), **(claims or {})}
        for name in drop:
            body.pop(name, None)
        key = key or self.key
        return sign({"alg": _alg_of(key), "kid": key.kid, **self.header, **(header or {})}, body, key)

    def base_header(self) -> dict[str, Any]:
        return {"alg": _alg_of(self.key), "kid": self.key.kid, **self.header}


def _confused(recipe: Recipe, form: str) -> str:
    return hmac_signed(recipe.base_header(), recipe.claims(), public_key_forms(recipe.key)[form])


def _by_attacker(recipe: Recipe, **header: Any) -> str:
    return recipe.token(key=ATTACKER_KEY, header=header)


def _serialized(recipe: Recipe, general: bool) -> str:
    protected, payload, signature = recipe.token().split(".")
    if general:
        return json.dumps({"payload": payload, "signatures": [{"protected": protected, "signature": signature}]})
    return json.dumps({"protected": protected, "payload": payload, "signature": signature})


def _duplicated(recipe: Recipe, *, header: str | None = None, claim: str | None = None, decoy: Any) -> str:
    """The genuine token, genuinely signed, with one member named twice (the decoy first)."""
    head, body = recipe.base_header(), recipe.claims()
    head_text = with_decoy(head, header, decoy) if header else json.dumps(head, separators=(",", ":"))
    body_text = with_decoy(body, claim, decoy) if claim else json.dumps(body, separators=(",", ":"))
    return sign_text(head_text, body_text, recipe.key, head["alg"])


def _later(recipe: Recipe) -> int:
    return int(time.time()) + recipe.leeway + 30


KID_TRAVERSAL = "../../../../../../../dev/null"
KID_SQL = "x' UNION SELECT 'attacker' -- "

# Attack name -> forged token for a recipe. Names are the test ids and the rows of docs/attack-catalog.md.
JWS_ATTACKS: dict[str, Callable[[Recipe], str]] = {
    "alg-none": lambda r: unsigned({**r.base_header(), "alg": "none"}, r.claims()),
    "alg-None": lambda r: unsigned({**r.base_header(), "alg": "None"}, r.claims()),
    "alg-NONE": lambda r: unsigned({**r.base_header(), "alg": "NONE"}, r.claims()),
    "hs256-public-key-pem": lambda r: _confused(r, "pem"),
    "hs256-public-key-der": lambda r: _confused(r, "der"),
    "hs256-public-key-jwk": lambda r: _confused(r, "jwk"),
    # The classic kid injections pair a kid that a naive key store resolves to known bytes
    # (an empty file, a row the attacker selects) with an HMAC under those bytes.
    "kid-path-traversal-hs256": lambda r: hmac_signed({**r.base_header(), "kid": KID_TRAVERSAL}, r.claims(), b""),
    "kid-sql-injection-hs256": lambda r: hmac_signed({**r.base_header(), "kid": KID_SQL}, r.claims(), b"attacker"),
    # The same kids under an allowed algorithm, so that the key lookup itself is what refuses them.
    "kid-path-traversal": lambda r: _by_attacker(r, kid=KID_TRAVERSAL),
    "kid-sql-injection": lambda r: _by_attacker(r, kid=KID_SQL),
    "kid-huge": lambda r: r.token(header={"kid": "k" * 4096}),
    "kid-not-a-string": lambda r: r.token(header={"kid": {"$ne": None}}),
    "jku-header": lambda r: _by_attacker(r, jku=ATTACKER_URL + "/jwks.json"),
    "x5u-header": lambda r: _by_attacker(r, x5u=ATTACKER_URL + "/cert.pem"),
    "jwk-header": lambda r: _by_attacker(r, jwk=ATTACKER_KEY.as_dict(private=False)),
    "jwk-header-with-trusted-kid": lambda r: _by_attacker(r, kid=r.key.kid, jwk=ATTACKER_KEY.as_dict(private=False)),
    "x5c-header": lambda r: _by_attacker(r, x5c=[self_signed_certificate(ATTACKER_KEY)]),
    "expired": lambda r: r.token(claims={"iat": int(time.time()) - 600,
                                         "exp": int(time.time()) - r.leeway - 30}),
    "not-yet-valid": lambda r: r.token(claims={"nbf": _later(r)}),
    "iat-in-the-future": lambda r: r.token(claims={"iat": _later(r)}),
    "no-exp": lambda r: r.token(drop=("exp",)),
    "wrong-iss": lambda r: r.token(claims={"iss": ATTACKER_URL}),
    "wrong-aud": lambda r: r.token(claims={"aud": "someone-else"}),
    "foreign-token": lambda r: r.foreign(),
    "wrong-token-type": lambda r: r.retype(r),
    "five-segments": lambda r: r.token() + "." + b64u(b"extra") + "." + b64u(b"segments"),
    "json-flattened": lambda r: _serialized(r, general=False),
    "json-general": lambda r: _serialized(r, general=True),
    "oversized-token": lambda r: r.token(claims={"padding": "A" * 9000}),
    # Found by review: values of the wrong JSON type reached checks that assumed strings or numbers.
    "typ-not-a-string": lambda r: r.token(header={"typ": ["JWT"]}),
    "exp-nan": lambda r: r.token(claims={"exp": float("nan")}),
    "nested-json-header": lambda r: ".".join([b64u(b"[" * 5000), b64u_json(r.claims()), b64u(b"sig")]),
    # Found by the attack run of issue 16: out-of-range numbers and unhashable values were 500s,
    # and duplicate member names were read last-wins.
    "exp-huge-integer": lambda r: r.token(claims={"exp": 10 ** 400}),
    "exp-huge-float": lambda r: r.token(claims={"exp": 1e300}),
    "exp-boolean": lambda r: r.token(claims={"exp": True}),
    "typ-claim-a-list": lambda r: r.token(claims={"typ": ["Bearer"]}),
    "alg-a-list": lambda r: sign_text(json.dumps({**r.base_header(), "alg": [r.base_header()["alg"]]}),
                                      json.dumps(r.claims()), r.key, r.base_header()["alg"]),
    "duplicate-header-alg": lambda r: _duplicated(r, header="alg", decoy="none"),
    "duplicate-claim-sub": lambda r: _duplicated(r, claim="sub", decoy="mallory"),
}


# -- JWE forging ------------------------------------------------------------------------------

def forged_jwe(header: dict[str, Any], *, encrypted_key: bool = True) -> str:
    """A compact JWE with ``header`` and random key, IV, ciphertext and tag of the right sizes.

    It cannot decrypt; a surface that refuses it for its header says so with its own
    error, one that tries to decrypt fails later with a decryption error instead.
    """
    key = b64u(os.urandom(40)) if encrypted_key else ""
    return ".".join([b64u_json(header), key, b64u(os.urandom(12)), b64u(os.urandom(64)), b64u(os.urandom(16))])


def with_protected(compact: str, **changes: Any) -> str:
    """``compact`` with members of its protected header replaced (tag no longer matches)."""
    parts = compact.split(".")
    parts[0] = b64u_json({**json.loads(unb64u(parts[0])), **changes})
    return ".".join(parts)


def pbes2_header(**extra: Any) -> dict[str, Any]:
    """PBES2 with p2c = 2**31: deriving that key would take hours; it must be refused unread."""
    return {"alg": "PBES2-HS512+A256KW", "enc": "A256GCM", "p2c": 2 ** 31, "p2s": b64u(os.urandom(16)), **extra}


@dataclass(frozen=True)
class Curve:
    name: str
    p: int
    b: int
    size: int
    crypto: ec.EllipticCurve


P256 = Curve("P-256", 2 ** 256 - 2 ** 224 + 2 ** 192 + 2 ** 96 - 1,
             0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B, 32, ec.SECP256R1())
P384 = Curve("P-384", 2 ** 384 - 2 ** 128 - 2 ** 96 + 2 ** 32 - 1,
             0xB3312FA7E23EE7E4988E056BE3F82D19181D9C6EFE8141120314088F5013875AC656398D8A2ED19D2A85C8EDD3EC2AEF,
             48, ec.SECP384R1())


def _small_point(curve: Curve) -> tuple[int, int]:
    """A valid point with a tiny x, so that x + p still fits the coordinate size (y^2 = x^3 - 3x + b)."""
    for x in range(1, 1000):
        rhs = (x ** 3 - 3 * x + curve.b) % curve.p
        y = pow(rhs, (curve.p + 1) // 4, curve.p)  # both primes are 3 mod 4
        if y * y % curve.p == rhs:
            return x, y
    raise AssertionError("no small point found")


def _jwk(curve: Curve, x: int, y: int, size: int | None = None) -> dict[str, str]:
    size = size or curve.size
    return {"kty": "EC", "crv": curve.name, "x": b64u(x.to_bytes(size, "big")), "y": b64u(y.to_bytes(size, "big"))}


def invalid_epks(curve: Curve) -> dict[str, dict[str, str]]:
    """Wycheproof-style ``epk`` values that a recipient on ``curve`` must refuse before any ECDH."""
    valid = ec.generate_private_key(curve.crypto).public_key().public_numbers()
    small_x, small_y = _small_point(curve)
    other = P256 if curve is P384 else P384
    foreign = ec.generate_private_key(other.crypto).public_key().public_numbers()
    return {
        "epk-off-curve": _jwk(curve, valid.x, (valid.y + 1) % curve.p),
        "epk-point-at-infinity": _jwk(curve, 0, 0),
        # (x + p, y) is the valid point (x, y) written with an out-of-range coordinate.
        "epk-x-at-least-p": _jwk(curve, small_x + curve.p, small_y),
        # y + p rarely fits the coordinate size; y = p is out of range (and is y = 0 if reduced).
        "epk-y-at-least-p": _jwk(curve, small_x, curve.p),
        "epk-wrong-curve": _jwk(other, foreign.x, foreign.y),
        "epk-wrong-curve-relabelled": _jwk(curve, foreign.x, foreign.y, other.size),
    }


def valid_small_point_jwk(curve: Curve) -> dict[str, str]:
    """The in-range form of the point the ``at-least-p`` cases disguise (a control: it is valid)."""
    return _jwk(curve, *_small_point(curve))
