"""The checks every IdP-signed JWT must pass, whoever accepts it (architecture §3, §14).

Shared by the API's bearer verification and the secret server's subject tokens.
Every decision comes from the accepting side's policy (issuer, audience,
algorithm allow-list), never from the token: the key comes from the issuer's
JWKS — ``jku``, ``x5u``, ``jwk`` and ``x5c`` headers are never looked at.
Failures raise ``Unauthorized`` with a message naming what was wrong; callers
speaking another error dialect (OAuth) translate it.
"""
from __future__ import annotations

from typing import Any, Callable, Protocol

from chalicelib.auth import claims as claim_paths
from chalicelib.auth.jwks import JwksUnavailable
from chalicelib.crypto import jose
from chalicelib.errors import ServiceUnavailable, Unauthorized

MAX_TOKEN_BYTES = 8192
MAX_KID_LENGTH = 256
# Keycloak marks access tokens "Bearer"; refresh and ID tokens must not pass.
ACCEPTED_TYP_CLAIMS = frozenset({"Bearer"})
ACCEPTED_TYP_HEADERS = frozenset({"JWT", "at+jwt", "application/at+jwt"})
# NumericDates beyond 2^53 are not interoperable JSON numbers (RFC 7493 §2.2) and no real expiry.
MAX_NUMERIC_DATE = 2 ** 53


class IssuerPolicy(Protocol):
    issuer: str
    audience: str
    audience_claim: str
    authorized_parties: list[str]
    authorized_party_claim: str
    algorithms: list[str]


KeyLookup = Callable[[str | None], Any]


def decode_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, payload) of a compact JWS, not yet verified — only to find issuer and key."""
    if len(token) > MAX_TOKEN_BYTES:
        raise Unauthorized("the token is too large")
    segments = token.split(".")
    if len(segments) != 3:
        raise Unauthorized("the token is not a compact JWS")
    return _decode_segment(segments[0], "header"), _decode_segment(segments[1], "payload")


def verify(token: str, header: dict[str, Any], policy: IssuerPolicy, key_for: KeyLookup, *,
           now: float, leeway: int) -> dict[str, Any]:
    """The verified claims of ``token`` (whose decoded header is ``header``) under ``policy``.

    ``key_for(kid)`` returns the issuer's key with that id, None if it has none, or
    raises ``JwksUnavailable`` (a 503: the issuer may be down, the token may be fine).
    """
    from joserfc.errors import JoseError

    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in policy.algorithms:
        raise Unauthorized("the token's algorithm is not allowed for its issuer")
    if "crit" in header:
        raise Unauthorized("the token has critical header parameters we do not understand")
    typ = header.get("typ")
    if typ is not None and (not isinstance(typ, str) or typ not in ACCEPTED_TYP_HEADERS):
        raise Unauthorized("the token's type is not an access token")
    kid = header.get("kid")
    if kid is not None and (not isinstance(kid, str) or len(kid) > MAX_KID_LENGTH):
        raise Unauthorized("the token's key id is malformed")
    try:
        key = key_for(kid)
    except JwksUnavailable:
        raise ServiceUnavailable("the identity provider's keys are unavailable, retry later") from None
    if key is None:
        raise Unauthorized("the token was not signed by a key of its issuer")
    try:
        valid = signature_is_valid(token, header, key)
    except (JoseError, ValueError, TypeError):
        valid = False
    if not valid:
        raise Unauthorized("the token's signature is invalid")
    claims = _decode_segment(token.split(".")[1], "payload")
    check_claims(policy, claims, now=now, leeway=leeway)
    return claims


def signature_is_valid(token: str, header: dict[str, Any], key: Any) -> bool:
    """Whether ``token`` is signed by ``key`` with its header's ``alg`` (which the caller allowed).

    ``token`` is a compact JWS that ``decode_unverified`` decoded into ``header``. joserfc's checks
    all run — segment sizes, strict base64url, the header's registry (``crit``, mistyped and
    unknown members), the algorithm's key checks (use, type, curve, size) and its signature
    check — on the segments as sent; only its parsing again of the header and payload, which
    ``decode_unverified`` had done, is left out (a third of a client assertion's check).
    Raises JoseError or ValueError for what joserfc refuses before the signature.
    """
    from joserfc.jws import JWSRegistry
    from joserfc.util import urlsafe_b64decode

    alg = header["alg"]
    registry = JWSRegistry(algorithms=[alg])
    header_segment, payload_segment, signature_segment = (part.encode() for part in token.split("."))
    registry.validate_header_size(header_segment)
    registry.validate_payload_size(payload_segment)
    registry.validate_signature_size(signature_segment)
    urlsafe_b64decode(header_segment)
    urlsafe_b64decode(payload_segment)
    registry.check_header(header)
    model = registry.get_alg(alg)
    model.check_key(key)
    return model.verify(header_segment + b"." + payload_segment, urlsafe_b64decode(signature_segment), key)


def check_claims(policy: IssuerPolicy, claims: dict[str, Any], *, now: float, leeway: int) -> None:
    exp = claims.get("exp")
    if not is_numeric_date(exp):
        raise Unauthorized("the token has no expiry (exp must be a NumericDate)")
    if now > exp + leeway:
        raise Unauthorized("the token has expired")
    # A claim that is present is checked, even as null: no value of the wrong type passes as absent.
    if "nbf" in claims and (not is_numeric_date(claims["nbf"]) or claims["nbf"] > now + leeway):
        raise Unauthorized("the token is not valid yet (nbf)")
    if "iat" in claims and (not is_numeric_date(claims["iat"]) or claims["iat"] > now + leeway):
        raise Unauthorized("the token was issued in the future (iat)")
    if claims.get("iss") != policy.issuer:
        raise Unauthorized("the token's issuer is not trusted")
    if policy.audience not in claim_paths.strings(claim_paths.value(claims, policy.audience_claim)):
        raise Unauthorized("the token is not meant for this service")
    if policy.authorized_parties and not set(policy.authorized_parties).intersection(
            claim_paths.strings(claim_paths.value(claims, policy.authorized_party_claim))):
        raise Unauthorized(f"the token was issued to a client that is not allowed ({policy.authorized_party_claim})")
    if "typ" in claims and (not isinstance(claims["typ"], str) or claims["typ"] not in ACCEPTED_TYP_CLAIMS):
        raise Unauthorized("the token is not an access token")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise Unauthorized("the token has no subject")


def is_numeric_date(value: Any) -> bool:
    """A JSON number of seconds since the epoch, within [0, 2^53).

    json.loads reads NaN (which compares false to everything and never expires), Infinity, 1e300
    and integers of any size (which math.isfinite cannot even convert): none of them is a date.
    """
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < MAX_NUMERIC_DATE


def _decode_segment(segment: str, name: str) -> dict[str, Any]:
    try:
        return jose.decode_segment(segment, f"the token's {name}")
    except ValueError as error:
        raise Unauthorized(str(error)) from None
