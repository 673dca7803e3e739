"""The dev IdP's state and rules: users, keys, tokens and the four grants.

Nothing here knows about HTTP; :mod:`devstack.idp.server` maps requests onto these methods and
renders :class:`OAuthError` as RFC 6749 JSON. Tests use :class:`DevIdP` directly to mint tokens
and to approve or decline device codes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping
from urllib.parse import urlsplit

from joserfc import jwt
from joserfc.jwk import KeySet

from .keys import SigningKey, coerce_key, generate_key, load_or_create_key

if TYPE_CHECKING:
    from .server import ServerHandle

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8180
DEFAULT_REALM = "katta"
DEFAULT_ISSUER = f"http://{DEFAULT_HOST}:{DEFAULT_PORT}/realms/{DEFAULT_REALM}"

#: Public clients. ``katta-cli`` is the desktop/CLI client; ``katta`` is the hub's own client id
#: (the audience of every access token), accepted as a client id too.
CLIENT_IDS = ("katta-cli", "katta")
DEFAULT_CLIENT_ID = "katta-cli"
#: Audience of every access token, as Keycloak's audience mapper + account client would produce.
ACCESS_TOKEN_AUDIENCE = ("katta", "account")

#: Origins whose pages may call the JSON endpoints with credentials: the local stack's API (which
#: serves the web client). Never ``*``: browsers refuse it with credentials.
DEFAULT_ALLOWED_ORIGINS = ("http://127.0.0.1:8000", "http://localhost:8000")
#: Where the authorization answer goes: ``fragment`` is keycloak-js's default, ``query`` OAuth's.
RESPONSE_MODES = ("query", "fragment")

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
GRANT_TYPES = ("authorization_code", "refresh_token", "password", DEVICE_CODE_GRANT)
#: Scopes every token carries (Keycloak's default client scopes).
DEFAULT_SCOPES = ("profile", "email")

#: Namespace of the deterministic user ids: ``sub = uuid5(USER_ID_NAMESPACE, username)``.
USER_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:katta:devstack:idp:users")

# RFC 8628 §6.1: user codes from a consonant alphabet, no vowels (no words) and nothing ambiguous.
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
_PKCE_RE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


def user_id(username: str) -> str:
    """The stable ``sub`` of ``username`` (a UUID derived from the name)."""
    return str(uuid.uuid5(USER_ID_NAMESPACE, username))


class OAuthError(Exception):
    """An RFC 6749 §5.2 error: ``error`` code, human ``description`` and the HTTP status."""

    def __init__(self, error: str, description: str = "", status: int = 400,
                 extra: Mapping[str, Any] | None = None):
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error
        self.description = description
        self.status = status
        self.extra = dict(extra or {})  # further members of the JSON body (slow_down: interval)

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.error}
        if self.description:
            body["error_description"] = self.description
        body.update(self.extra)
        return body


class InvalidToken(Exception):
    """A bearer token the IdP did not issue, or that is no longer valid."""


class ManualClock:
    """A clock for tests: ``DevIdP(clock=clock)``, then ``clock.advance(seconds)``."""

    def __init__(self, start: float | None = None):
        self._now = float(time.time() if start is None else start)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    @property
    def now(self) -> float:
        return self()

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, now: float) -> None:
        with self._lock:
            self._now = float(now)


@dataclass
class User:
    username: str
    password: str
    sub: str
    name: str
    given_name: str
    family_name: str
    email: str
    roles: list[str] = field(default_factory=lambda: ["user"])
    groups: list[str] = field(default_factory=list)
    enabled: bool = True
    email_verified: bool = True
    #: Extra claims put into this user's access and id tokens (after the standard ones).
    claims: dict[str, Any] = field(default_factory=dict)


# (username, given name, family name, roles)
SEED_USERS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("alice", "Alice", "Adams", ("user", "create-vaults")),
    ("bob", "Bob", "Baker", ("user", "create-vaults")),
    ("carol", "Carol", "Clark", ("user", "create-vaults")),
    ("dave", "Dave", "Davis", ("user",)),
    ("admin", "Ada", "Admin", ("user", "admin")),
)


@dataclass
class _Session:
    username: str
    client_id: str
    scopes: tuple[str, ...]
    sid: str
    auth_time: int


@dataclass
class _RefreshToken:
    session: _Session
    expires_at: float


@dataclass
class _SsoSession:
    """A browser's sign-in, named by the secret in its cookie; its ``sid`` is every token's ``sid``."""
    username: str
    sid: str
    auth_time: int
    expires_at: float


@dataclass
class _AuthCode:
    session: _Session
    redirect_uri: str
    code_challenge: str
    nonce: str | None
    expires_at: float


@dataclass
class _DeviceGrant:
    device_code: str
    user_code: str
    client_id: str
    scopes: tuple[str, ...]
    expires_at: float
    interval: int
    status: str = "pending"  # pending | approved | denied
    username: str | None = None
    auth_time: int | None = None
    last_poll: float | None = None


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def pkce_challenge(verifier: str) -> str:
    """RFC 7636 S256: ``BASE64URL(SHA256(ASCII(code_verifier)))``."""
    return _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def normalize_user_code(user_code: str) -> str:
    """``abcd efgh``, ``ABCDEFGH`` and ``ABCD-EFGH`` are the same code (RFC 8628 §6.1)."""
    chars = "".join(ch for ch in user_code.upper() if ch.isalnum())
    return f"{chars[:4]}-{chars[4:]}" if len(chars) == 8 else chars


def is_loopback_redirect_uri(uri: str) -> bool:
    """Only ``http://127.0.0.1:<port>/...`` and ``http://localhost:<port>/...`` (RFC 8252 §7.3)."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return False
    return (
        parts.scheme == "http"
        and parts.hostname in ("127.0.0.1", "localhost")
        and port is not None
        and "@" not in parts.netloc
        and not parts.fragment
        # The netloc must be exactly host:port (rejects odd spellings like "127.0.0.1.:80").
        and parts.netloc.lower() in (f"127.0.0.1:{port}", f"localhost:{port}")
    )


def check_origin(origin: str) -> str:
    """An allowed CORS origin must be exactly ``scheme://host[:port]``, as browsers send it."""
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc or origin != f"{parts.scheme}://{parts.netloc}":
        raise ValueError(f"an allowed origin must be scheme://host[:port], not {origin!r}")
    return origin


def parse_scope(scope: str | None) -> tuple[str, ...]:
    """The granted scopes: ``openid`` first if requested, the defaults, then any others requested."""
    requested = [s for s in (scope or "").split(" ") if s]
    out: list[str] = ["openid"] if "openid" in requested else []
    for s in (*DEFAULT_SCOPES, *requested):
        if s not in out:
            out.append(s)
    return tuple(out)


class DevIdP:
    """A development OIDC identity provider, shaped like a Keycloak realm.

    ``DevIdP()`` has the seeded users and a fresh in-memory ES256 key. Give ``state_dir`` to load
    (or create and persist) the key there instead, or ``key`` to bring one. Without an explicit
    ``issuer`` the issuer follows the address :meth:`serve` binds, so ``serve(port=0)`` yields an
    issuer with the real port.
    """

    def __init__(
        self,
        issuer: str | None = None,
        *,
        key: Any = None,
        alg: str | None = None,
        state_dir: str | Path | None = None,
        realm: str = DEFAULT_REALM,
        access_token_lifetime: int = 300,
        id_token_lifetime: int | None = None,
        refresh_token_lifetime: int = 1800,
        sso_session_lifetime: int = 36000,
        allowed_origins: Iterable[str] = DEFAULT_ALLOWED_ORIGINS,
        auth_code_lifetime: int = 60,
        device_code_lifetime: int = 600,
        device_poll_interval: int = 5,
        clock: Callable[[], float] = time.time,
        seed_users: bool = True,
    ):
        if key is not None:
            self._key, self.alg = coerce_key(key, alg)
        elif state_dir is not None:
            self.alg = alg or "ES256"
            self._key = load_or_create_key(state_dir, self.alg)
        else:
            self.alg = alg or "ES256"
            self._key = generate_key(self.alg)
        self.kid: str = self._key.kid  # type: ignore[assignment]
        self._issuer_fixed = issuer is not None
        self.realm = realm
        self.issuer = issuer.rstrip("/") if issuer else f"http://{DEFAULT_HOST}:{DEFAULT_PORT}/realms/{realm}"
        self.access_token_lifetime = access_token_lifetime
        self.id_token_lifetime = id_token_lifetime if id_token_lifetime is not None else access_token_lifetime
        self.refresh_token_lifetime = refresh_token_lifetime
        self.sso_session_lifetime = sso_session_lifetime
        self.allowed_origins: tuple[str, ...] = tuple(check_origin(o) for o in allowed_origins)
        self.auth_code_lifetime = auth_code_lifetime
        self.device_code_lifetime = device_code_lifetime
        self.device_poll_interval = device_poll_interval
        self.clock = clock
        self.client_ids: tuple[str, ...] = CLIENT_IDS

        self._lock = threading.RLock()
        self._users: dict[str, User] = {}
        self._refresh_tokens: dict[str, _RefreshToken] = {}  # by the refresh token's jti
        self._sso_sessions: dict[str, _SsoSession] = {}  # by the cookie's secret
        self._auth_codes: dict[str, _AuthCode] = {}
        self._device_grants: dict[str, _DeviceGrant] = {}
        self._user_codes: dict[str, str] = {}  # user_code -> device_code
        self._opaque_tokens: dict[str, tuple[dict[str, Any], float]] = {}
        if seed_users:
            for username, given, family, roles in SEED_USERS:
                self.add_user(username, roles=roles, given_name=given, family_name=family)

    # ------------------------------------------------------------------ issuer and endpoints

    @property
    def issuer_path(self) -> str:
        """The path every endpoint lives under, e.g. ``/realms/katta``."""
        return urlsplit(self.issuer).path.rstrip("/")

    def _set_served_address(self, host: str, port: int) -> None:
        if self._issuer_fixed:
            return
        if host in ("", "0.0.0.0"):
            host = DEFAULT_HOST
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        self.issuer = f"http://{host}:{port}/realms/{self.realm}"

    @property
    def authorization_endpoint(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/auth"

    @property
    def token_endpoint(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/token"

    @property
    def userinfo_endpoint(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/userinfo"

    @property
    def jwks_uri(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/certs"

    @property
    def device_authorization_endpoint(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/auth/device"

    @property
    def revocation_endpoint(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/revoke"

    @property
    def end_session_endpoint(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/logout"

    @property
    def verification_uri(self) -> str:
        return f"{self.issuer}/device"

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def discovery(self) -> dict[str, Any]:
        """The OpenID Provider Metadata document."""
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.authorization_endpoint,
            "token_endpoint": self.token_endpoint,
            "userinfo_endpoint": self.userinfo_endpoint,
            "jwks_uri": self.jwks_uri,
            "device_authorization_endpoint": self.device_authorization_endpoint,
            "revocation_endpoint": self.revocation_endpoint,
            "end_session_endpoint": self.end_session_endpoint,
            "grant_types_supported": list(GRANT_TYPES),
            "response_types_supported": ["code"],
            "response_modes_supported": list(RESPONSE_MODES),
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [self.alg],
            "userinfo_signing_alg_values_supported": ["none"],
            "token_endpoint_auth_methods_supported": ["none"],
            "revocation_endpoint_auth_methods_supported": ["none"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["openid", "profile", "email"],
            "claims_supported": [
                "iss", "sub", "aud", "exp", "iat", "auth_time", "jti", "typ", "azp", "sid", "nonce",
                "preferred_username", "name", "given_name", "family_name", "email", "email_verified",
                "groups", "realm_access",
            ],
            "claims_parameter_supported": False,
            "request_parameter_supported": False,
            "request_uri_parameter_supported": False,
        }

    def serve(self, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> "ServerHandle":
        """Serve over HTTP in a background thread; ``port=0`` picks a free port.

        Unless an issuer was given to the constructor, the issuer becomes
        ``http://<host>:<actual port>/realms/<realm>`` (tokens minted earlier keep the old one).
        """
        from .server import serve

        return serve(self, host, port)

    # ------------------------------------------------------------------ keys

    def jwks(self) -> dict[str, Any]:
        """The public JWKS (what ``/protocol/openid-connect/certs`` serves)."""
        return {"keys": [self._key.as_dict(private=False)]}

    def key_set(self) -> KeySet:
        """The public JWKS as a joserfc :class:`KeySet`, for verifying tokens in tests."""
        return KeySet.import_key_set(self.jwks())  # type: ignore[arg-type]

    @property
    def signing_key(self) -> SigningKey:
        return self._key

    def sign(self, claims: Mapping[str, Any], headers: Mapping[str, Any] | None = None) -> str:
        """Sign arbitrary ``claims`` with the IdP key (header ``alg``, ``kid``, ``typ: JWT``)."""
        header: dict[str, Any] = {"alg": self.alg, "kid": self.kid, "typ": "JWT"}
        header.update(headers or {})
        return jwt.encode(header, dict(claims), self._key, algorithms=[header["alg"]])

    def verify(self, token: str, *, typ: str | None = "Bearer", expired_ok: bool = False) -> dict[str, Any]:
        """Verify a token this IdP signed (signature, ``iss``, ``exp``, ``typ``); return its claims.

        ``expired_ok`` skips the expiry check only (an ``id_token_hint`` may be expired, OIDC
        RP-Initiated Logout §2). Raises :class:`InvalidToken`.
        """
        try:
            decoded = jwt.decode(token, self._key, algorithms=[self.alg])
        except Exception as exc:  # noqa: BLE001 - any decoding problem is an invalid token
            raise InvalidToken("token signature or format is invalid") from exc
        claims = decoded.claims
        if decoded.header.get("kid") != self.kid:
            raise InvalidToken("unknown key id")
        if claims.get("iss") != self.issuer:
            raise InvalidToken("token was issued by another issuer")
        exp = claims.get("exp")
        if not isinstance(exp, (int, float)) or (exp <= self.clock() and not expired_ok):
            raise InvalidToken("token is expired")
        if typ is not None and claims.get("typ") != typ:
            raise InvalidToken(f"token is not of type {typ}")
        return claims

    # ------------------------------------------------------------------ users

    def add_user(
        self,
        username: str,
        password: str | None = None,
        *,
        roles: Iterable[str] = ("user",),
        groups: Iterable[str] = (),
        name: str | None = None,
        given_name: str | None = None,
        family_name: str | None = None,
        email: str | None = None,
        email_verified: bool = True,
        enabled: bool = True,
        sub: str | None = None,
        claims: Mapping[str, Any] | None = None,
    ) -> User:
        """Add a user (password defaults to the user name, ``sub`` to :func:`user_id`)."""
        if not username or any(ch.isspace() for ch in username):
            raise ValueError("user names must be non-empty and contain no whitespace")
        given = given_name if given_name is not None else username[:1].upper() + username[1:]
        family = family_name if family_name is not None else ""
        user = User(
            username=username,
            password=username if password is None else password,
            sub=sub or user_id(username),
            name=name if name is not None else " ".join(p for p in (given, family) if p),
            given_name=given,
            family_name=family,
            email=email if email is not None else f"{username}@katta.local",
            roles=list(roles),
            groups=list(groups),
            enabled=enabled,
            email_verified=email_verified,
            claims=dict(claims or {}),
        )
        with self._lock:
            if username in self._users:
                raise ValueError(f"user {username!r} exists")
            if any(u.sub == user.sub for u in self._users.values()):
                raise ValueError(f"sub {user.sub!r} is taken")
            self._users[username] = user
        return user

    def update_user(self, username: str, **changes: Any) -> User:
        """Change fields of a user, e.g. ``update_user("bob", roles=["user"], enabled=False)``."""
        with self._lock:
            user = self._get_user(username)
            for name in ("roles", "groups"):
                if name in changes:
                    changes[name] = list(changes[name])
            new = replace(user, **changes)
            self._users[username] = new
            return new

    def set_groups(self, username: str, groups: Iterable[str]) -> User:
        return self.update_user(username, groups=list(groups))

    def set_roles(self, username: str, roles: Iterable[str]) -> User:
        return self.update_user(username, roles=list(roles))

    def disable_user(self, username: str) -> User:
        return self.update_user(username, enabled=False)

    def enable_user(self, username: str) -> User:
        return self.update_user(username, enabled=True)

    def remove_user(self, username: str) -> None:
        with self._lock:
            self._get_user(username)
            del self._users[username]

    def user(self, username: str) -> User:
        """The user named ``username`` (``KeyError`` if unknown)."""
        with self._lock:
            return self._get_user(username)

    def users(self) -> list[User]:
        with self._lock:
            return list(self._users.values())

    def user_by_sub(self, sub: str) -> User | None:
        with self._lock:
            return next((u for u in self._users.values() if u.sub == sub), None)

    def _get_user(self, username: str) -> User:
        try:
            return self._users[username]
        except KeyError:
            raise KeyError(f"no user {username!r} in the dev IdP") from None

    def authenticate(self, username: str, password: str) -> User:
        """Check a user name and password; raises ``invalid_grant`` like Keycloak does."""
        with self._lock:
            user = self._users.get(username)
        # Compare even for unknown users so that timing does not tell them apart (habit, not need).
        expected = user.password if user else secrets.token_hex(16)
        ok = hmac.compare_digest(password.encode(), expected.encode())
        if user is None or not ok:
            raise OAuthError("invalid_grant", "Invalid user credentials")
        if not user.enabled:
            raise OAuthError("invalid_grant", "Account disabled")
        return user

    # ------------------------------------------------------------------ token minting

    def _now(self) -> int:
        return int(self.clock())

    def _access_claims(self, user: User, client_id: str, scopes: Iterable[str], sid: str,
                       auth_time: int, lifetime: int) -> dict[str, Any]:
        now = self._now()
        claims: dict[str, Any] = {
            "exp": now + lifetime,
            "iat": now,
            "auth_time": auth_time,
            "jti": str(uuid.uuid4()),
            "iss": self.issuer,
            "aud": list(ACCESS_TOKEN_AUDIENCE),
            "sub": user.sub,
            "typ": "Bearer",
            "azp": client_id,
            "sid": sid,
            "acr": "1",
            "realm_access": {"roles": list(user.roles)},
            "resource_access": {"account": {"roles": ["manage-account", "view-profile"]}},
            "scope": " ".join(scopes),
            "email_verified": user.email_verified,
            "name": user.name,
            "groups": list(user.groups),
            "preferred_username": user.username,
            "given_name": user.given_name,
            "family_name": user.family_name,
            "email": user.email,
        }
        claims.update(user.claims)
        return claims

    def _id_token_claims(self, user: User, client_id: str, sid: str, auth_time: int,
                         nonce: str | None, access_token: str | None) -> dict[str, Any]:
        now = self._now()
        claims: dict[str, Any] = {
            "exp": now + self.id_token_lifetime,
            "iat": now,
            "auth_time": auth_time,
            "jti": str(uuid.uuid4()),
            "iss": self.issuer,
            "aud": client_id,
            "sub": user.sub,
            "typ": "ID",
            "azp": client_id,
            "sid": sid,
            "acr": "1",
            "email_verified": user.email_verified,
            "name": user.name,
            "groups": list(user.groups),
            "preferred_username": user.username,
            "given_name": user.given_name,
            "family_name": user.family_name,
            "email": user.email,
        }
        if nonce:
            claims["nonce"] = nonce
        if access_token:
            # OIDC Core §3.1.3.6: left half of SHA-256 (ES256 and RS256 both hash with SHA-256).
            claims["at_hash"] = _b64url(hashlib.sha256(access_token.encode("ascii")).digest()[:16])
        claims.update(user.claims)
        return claims

    @staticmethod
    def _apply_overrides(claims: dict[str, Any], extra: Mapping[str, Any] | None,
                         overrides: Mapping[str, Any]) -> dict[str, Any]:
        for source in (extra or {}, overrides):
            for name, value in source.items():
                if value is None:
                    claims.pop(name, None)
                else:
                    claims[name] = value
        return claims

    def mint(
        self,
        username: str,
        *,
        lifetime: int | None = None,
        client_id: str = DEFAULT_CLIENT_ID,
        scope: str | None = None,
        claims: Mapping[str, Any] | None = None,
        headers: Mapping[str, Any] | None = None,
        **overrides: Any,
    ) -> str:
        """Mint an access token for a known user without any grant.

        ``lifetime`` (seconds, may be negative for an already expired token) sets ``exp``;
        ``claims`` (a dict, for names that are no Python identifiers) and keyword ``overrides``
        replace claims, and a value of ``None`` removes the claim. ``headers`` are merged into the
        JWS header (``kid`` to fake an unknown key, ``typ``...). Example::

            idp.mint("alice", aud="secret-server", groups=["g1"], exp=None)
        """
        with self._lock:
            user = self._get_user(username)
        now = self._now()
        body = self._access_claims(
            user, client_id, parse_scope(scope), str(uuid.uuid4()), now,
            self.access_token_lifetime if lifetime is None else lifetime,
        )
        return self.sign(self._apply_overrides(body, claims, overrides), headers)

    def mint_id_token(
        self,
        username: str,
        *,
        client_id: str = DEFAULT_CLIENT_ID,
        nonce: str | None = None,
        lifetime: int | None = None,
        claims: Mapping[str, Any] | None = None,
        headers: Mapping[str, Any] | None = None,
        **overrides: Any,
    ) -> str:
        """Mint an ID token for a known user (``aud`` = ``client_id``, ``typ`` = ``ID``)."""
        with self._lock:
            user = self._get_user(username)
        now = self._now()
        body = self._id_token_claims(user, client_id, str(uuid.uuid4()), now, nonce, None)
        if lifetime is not None:
            body["exp"] = now + lifetime
        return self.sign(self._apply_overrides(body, claims, overrides), headers)

    def mint_opaque(self, username: str, *, lifetime: int | None = None, **overrides: Any) -> str:
        """An opaque (non-JWT) access token that only the userinfo endpoint understands."""
        with self._lock:
            user = self._get_user(username)
        now = self._now()
        life = self.access_token_lifetime if lifetime is None else lifetime
        body = self._access_claims(user, DEFAULT_CLIENT_ID, DEFAULT_SCOPES, str(uuid.uuid4()), now, life)
        body = self._apply_overrides(body, None, overrides)
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._opaque_tokens[token] = (body, now + life)
        return token

    def _issue_tokens(self, session: _Session, nonce: str | None = None) -> dict[str, Any]:
        """Access token, refresh token and (with ``openid``) an ID token for a session."""
        with self._lock:
            user = self._users.get(session.username)
        if user is None:
            raise OAuthError("invalid_grant", "User not found")
        if not user.enabled:
            raise OAuthError("invalid_grant", "Account disabled")
        access = self.sign(self._access_claims(
            user, session.client_id, session.scopes, session.sid, session.auth_time,
            self.access_token_lifetime,
        ))
        refresh_claims = self._refresh_claims(user, session)
        refresh = self.sign(refresh_claims)
        with self._lock:
            self._prune()
            self._refresh_tokens[refresh_claims["jti"]] = _RefreshToken(
                session, self.clock() + self.refresh_token_lifetime)
        response: dict[str, Any] = {
            "access_token": access,
            "expires_in": self.access_token_lifetime,
            "refresh_expires_in": self.refresh_token_lifetime,
            "refresh_token": refresh,
            "token_type": "Bearer",
            "not-before-policy": 0,
            "session_state": session.sid,
            "scope": " ".join(session.scopes),
        }
        if "openid" in session.scopes:
            response["id_token"] = self.sign(self._id_token_claims(
                user, session.client_id, session.sid, session.auth_time, nonce, access,
            ))
        return response

    def _refresh_claims(self, user: User, session: _Session) -> dict[str, Any]:
        """Keycloak's refresh token claims: a JWT for clients to read, a ``jti`` for us to spend."""
        now = self._now()
        return {
            "exp": now + self.refresh_token_lifetime,
            "iat": now,
            "jti": str(uuid.uuid4()),
            "iss": self.issuer,
            "aud": self.issuer,
            "sub": user.sub,
            "typ": "Refresh",
            "azp": session.client_id,
            "sid": session.sid,
            "scope": " ".join(session.scopes),
        }

    def _refresh_jti(self, refresh_token: str) -> str | None:
        """The ``jti`` of an unexpired refresh token we signed, else ``None``."""
        try:
            jti = self.verify(refresh_token, typ="Refresh").get("jti")
        except InvalidToken:
            return None
        return jti if isinstance(jti, str) else None

    def _prune(self) -> None:
        now = self.clock()
        for store in (self._refresh_tokens, self._auth_codes, self._sso_sessions):
            for k in [k for k, v in store.items() if v.expires_at <= now]:
                del store[k]
        for k in [k for k, (_, exp) in self._opaque_tokens.items() if exp <= now]:
            del self._opaque_tokens[k]
        # Device grants linger for an hour past expiry so that late polls still get expired_token.
        for k in [k for k, g in self._device_grants.items() if g.expires_at + 3600 <= now]:
            self._user_codes.pop(self._device_grants.pop(k).user_code, None)

    # ------------------------------------------------------------------ grants

    def check_client(self, client_id: str | None) -> str:
        if not client_id:
            raise OAuthError("invalid_client", "Missing parameter: client_id", 401)
        if client_id not in self.client_ids:
            raise OAuthError("invalid_client", "Invalid client or Invalid client credentials", 401)
        return client_id

    def password_grant(self, client_id: str, username: str | None, password: str | None,
                       scope: str | None = None) -> dict[str, Any]:
        self.check_client(client_id)
        if not username:
            raise OAuthError("invalid_request", "Missing parameter: username")
        if password is None:
            raise OAuthError("invalid_grant", "Invalid user credentials")
        user = self.authenticate(username, password)
        session = _Session(user.username, client_id, parse_scope(scope), str(uuid.uuid4()), self._now())
        return self._issue_tokens(session)

    def refresh_grant(self, client_id: str, refresh_token: str | None,
                      scope: str | None = None) -> dict[str, Any]:
        """Rotate a refresh token: the presented one is spent whatever the outcome."""
        self.check_client(client_id)
        if not refresh_token:
            raise OAuthError("invalid_request", "Missing parameter: refresh_token")
        jti = self._refresh_jti(refresh_token)
        with self._lock:
            entry = self._refresh_tokens.pop(jti, None) if jti else None
        if entry is None or entry.expires_at <= self.clock():
            raise OAuthError("invalid_grant", "Invalid refresh token")
        session = entry.session
        if session.client_id != client_id:
            raise OAuthError("invalid_grant", "Invalid refresh token. Token client and authorized client don't match")
        if scope:
            requested = parse_scope(scope)
            if not set(requested) <= set(session.scopes):
                raise OAuthError("invalid_scope", "Requested scope exceeds the scope originally granted")
            session = replace(session, scopes=requested)
        return self._issue_tokens(session)

    def revoke(self, client_id: str, token: str | None) -> None:
        """RFC 7009: forget a refresh token (unknown tokens are not an error)."""
        self.check_client(client_id)
        if not token:
            raise OAuthError("invalid_request", "Missing parameter: token")
        jti = self._refresh_jti(token)
        with self._lock:
            entry = self._refresh_tokens.get(jti) if jti else None
            if entry is not None and entry.session.client_id == client_id:
                del self._refresh_tokens[jti]

    # --- authorization code + PKCE

    def validate_authorization_request(self, params: Mapping[str, str]) -> None:
        """Raise for a request whose error must not be sent to the redirect URI (RFC 6749 §4.1.2.1)."""
        self.check_client(params.get("client_id"))
        redirect_uri = params.get("redirect_uri")
        if not redirect_uri:
            raise OAuthError("invalid_request", "Missing parameter: redirect_uri")
        if not is_loopback_redirect_uri(redirect_uri):
            raise OAuthError(
                "invalid_request",
                "Invalid parameter: redirect_uri (only http://127.0.0.1:<port>/... or http://localhost:<port>/...)",
            )

    def authorization_request_error(self, params: Mapping[str, str]) -> OAuthError | None:
        """An error that is sent back to the (already validated) redirect URI, or ``None``."""
        if params.get("response_mode") and params["response_mode"] not in RESPONSE_MODES:
            return OAuthError("invalid_request", "Invalid parameter: response_mode (only query or fragment)")
        if params.get("response_type") != "code":
            return OAuthError("unsupported_response_type", "Only response_type=code is supported")
        method = params.get("code_challenge_method")
        challenge = params.get("code_challenge")
        if not challenge:
            return OAuthError("invalid_request", "Missing parameter: code_challenge (PKCE is required)")
        if method != "S256":
            return OAuthError("invalid_request", "Invalid parameter: code_challenge_method (only S256)")
        if not _PKCE_RE.match(challenge):
            return OAuthError("invalid_request", "Invalid parameter: code_challenge")
        return None

    def create_authorization_code(self, params: Mapping[str, str], sso: _SsoSession) -> str:
        """Issue a code for the browser session ``sso`` (``params`` as validated above)."""
        self.validate_authorization_request(params)
        error = self.authorization_request_error(params)
        if error:
            raise error
        session = _Session(sso.username, params["client_id"], parse_scope(params.get("scope")),
                           sso.sid, sso.auth_time)
        code = secrets.token_urlsafe(32)
        with self._lock:
            self._prune()
            self._auth_codes[code] = _AuthCode(
                session, params["redirect_uri"], params["code_challenge"], params.get("nonce") or None,
                self.clock() + self.auth_code_lifetime,
            )
        return code

    def authorization_code_grant(self, client_id: str, code: str | None, redirect_uri: str | None,
                                 code_verifier: str | None) -> dict[str, Any]:
        """Exchange a code; the code is spent by the first attempt, successful or not."""
        self.check_client(client_id)
        if not code:
            raise OAuthError("invalid_request", "Missing parameter: code")
        with self._lock:
            entry = self._auth_codes.pop(code, None)
        if entry is None or entry.expires_at <= self.clock():
            raise OAuthError("invalid_grant", "Code not valid")
        if entry.session.client_id != client_id:
            raise OAuthError("invalid_grant", "Auth error: code was issued to another client")
        if redirect_uri != entry.redirect_uri:
            raise OAuthError("invalid_grant", "Incorrect redirect_uri")
        if not code_verifier:
            raise OAuthError("invalid_grant", "PKCE code verifier not specified")
        if not _PKCE_RE.match(code_verifier):
            raise OAuthError("invalid_grant", "PKCE invalid code verifier")
        if not hmac.compare_digest(pkce_challenge(code_verifier), entry.code_challenge):
            raise OAuthError("invalid_grant", "PKCE verification failed")
        return self._issue_tokens(entry.session, nonce=entry.nonce)

    # --- browser sessions (SSO cookie) and RP-initiated logout

    def start_sso_session(self, username: str) -> tuple[str, _SsoSession]:
        """After a password sign-in in the browser: (the cookie's secret, the session)."""
        secret = secrets.token_urlsafe(32)
        sso = _SsoSession(username, str(uuid.uuid4()), self._now(), self.clock() + self.sso_session_lifetime)
        with self._lock:
            self._prune()
            self._sso_sessions[secret] = sso
        return secret, sso

    def sso_session(self, secret: str | None) -> _SsoSession | None:
        """The live session of a cookie's secret whose user may still sign in, else ``None``."""
        with self._lock:
            sso = self._sso_sessions.get(secret or "")
            user = self._users.get(sso.username) if sso else None
        if sso is None or sso.expires_at <= self.clock() or user is None or not user.enabled:
            return None
        return sso

    def end_session(self, params: Mapping[str, str], secret: str | None) -> str | None:
        """RP-initiated logout: end the cookie's session and the hinted one, with their refresh tokens.

        Returns the ``post_logout_redirect_uri`` to send the browser to, if any. A request that
        names a redirect must say whose (``id_token_hint`` or ``client_id``) and the URI must be
        one that client may use; a refused request ends nothing.
        """
        client_id = params.get("client_id") or None
        hinted_sid = None
        if params.get("id_token_hint"):
            try:
                hint = self.verify(params["id_token_hint"], typ="ID", expired_ok=True)
            except InvalidToken:
                raise OAuthError("invalid_request", "Invalid parameter: id_token_hint") from None
            if client_id is not None and hint.get("aud") != client_id:
                raise OAuthError("invalid_request", "id_token_hint was issued to another client")
            client_id, hinted_sid = hint.get("aud"), hint.get("sid")
        redirect_uri = params.get("post_logout_redirect_uri") or None
        if client_id is not None:
            self.check_client(client_id)
        if redirect_uri is not None:
            if client_id is None:
                raise OAuthError("invalid_request", "Missing parameter: id_token_hint or client_id")
            if not is_loopback_redirect_uri(redirect_uri):
                raise OAuthError("invalid_request", "Invalid parameter: post_logout_redirect_uri")
        with self._lock:
            ended = self._sso_sessions.pop(secret or "", None)
            sids = {s for s in (hinted_sid, ended.sid if ended else None) if s}
            for k in [k for k, v in self._sso_sessions.items() if v.sid in sids]:
                del self._sso_sessions[k]
            for k in [k for k, v in self._refresh_tokens.items() if v.session.sid in sids]:
                del self._refresh_tokens[k]
        return redirect_uri

    # --- device authorization grant (RFC 8628)

    def device_authorization(self, client_id: str, scope: str | None = None) -> dict[str, Any]:
        self.check_client(client_id)
        device_code = secrets.token_urlsafe(32)
        with self._lock:
            self._prune()
            while True:
                raw = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(8))
                user_code = normalize_user_code(raw)
                if user_code not in self._user_codes:
                    break
            grant = _DeviceGrant(
                device_code=device_code, user_code=user_code, client_id=client_id,
                scopes=parse_scope(scope), expires_at=self.clock() + self.device_code_lifetime,
                interval=self.device_poll_interval,
            )
            self._device_grants[device_code] = grant
            self._user_codes[user_code] = device_code
        return {
            "device_code": device_code,
            "user_code": user_code,
            "verification_uri": self.verification_uri,
            "verification_uri_complete": f"{self.verification_uri}?user_code={user_code}",
            "expires_in": self.device_code_lifetime,
            "interval": self.device_poll_interval,
        }

    def device_code_grant(self, client_id: str, device_code: str | None) -> dict[str, Any]:
        """One poll of the token endpoint with a device code."""
        self.check_client(client_id)
        if not device_code:
            raise OAuthError("invalid_request", "Missing parameter: device_code")
        now = self.clock()
        with self._lock:
            grant = self._device_grants.get(device_code)
            if grant is None:
                raise OAuthError("invalid_grant", "Device code not valid")
            if grant.client_id != client_id:
                raise OAuthError("invalid_grant", "Device code was issued to another client")
            if now >= grant.expires_at:
                raise OAuthError("expired_token", "Device code is expired")
            if grant.last_poll is not None and now - grant.last_poll < grant.interval:
                grant.interval += 5  # RFC 8628 §3.5: for this and all later requests
                grant.last_poll = now
                raise OAuthError("slow_down", f"Polling too fast; wait {grant.interval} s between requests",
                                 extra={"interval": grant.interval})
            grant.last_poll = now
            if grant.status == "pending":
                raise OAuthError("authorization_pending", "The authorization request is still pending")
            if grant.status == "denied":
                self._forget_device_grant(grant)
                raise OAuthError("access_denied", "The end user denied the authorization request")
            self._forget_device_grant(grant)
        assert grant.username is not None and grant.auth_time is not None
        session = _Session(grant.username, grant.client_id, grant.scopes, str(uuid.uuid4()), grant.auth_time)
        return self._issue_tokens(session)

    def _forget_device_grant(self, grant: _DeviceGrant) -> None:
        self._device_grants.pop(grant.device_code, None)
        self._user_codes.pop(grant.user_code, None)

    def _pending_device_grant(self, user_code: str) -> _DeviceGrant:
        code = normalize_user_code(user_code)
        grant = self._device_grants.get(self._user_codes.get(code, ""))
        if grant is None:
            raise KeyError(f"unknown user code {code!r}")
        if self.clock() >= grant.expires_at:
            raise ValueError(f"user code {code!r} is expired")
        if grant.status != "pending":
            raise ValueError(f"user code {code!r} was already {grant.status}")
        return grant

    def device_grant_info(self, user_code: str) -> dict[str, Any]:
        """What a verification page shows about a pending code (``KeyError``/``ValueError`` if none)."""
        with self._lock:
            grant = self._pending_device_grant(user_code)
            return {"user_code": grant.user_code, "client_id": grant.client_id,
                    "scope": " ".join(grant.scopes), "expires_at": grant.expires_at}

    def approve_device(self, user_code: str, username: str = "alice") -> None:
        """Approve a pending user code as ``username`` (what the verification page does)."""
        with self._lock:
            user = self._get_user(username)
            if not user.enabled:
                raise ValueError(f"user {username!r} is disabled")
            grant = self._pending_device_grant(user_code)
            grant.status = "approved"
            grant.username = username
            grant.auth_time = self._now()

    def decline_device(self, user_code: str) -> None:
        """Decline a pending user code; the next poll answers ``access_denied``."""
        with self._lock:
            self._pending_device_grant(user_code).status = "denied"

    deny_device = decline_device

    # ------------------------------------------------------------------ userinfo

    def userinfo(self, token: str) -> dict[str, Any]:
        """Claims about the user of a bearer token (JWT issued here, or :meth:`mint_opaque`)."""
        with self._lock:
            opaque = self._opaque_tokens.get(token)
        if opaque is not None:
            claims, expires_at = opaque
            if expires_at <= self.clock():
                raise InvalidToken("token is expired")
        else:
            claims = self.verify(token, typ="Bearer")
        user = self.user_by_sub(claims.get("sub", ""))
        if user is not None:
            if not user.enabled:
                raise InvalidToken("account disabled")
            source: Mapping[str, Any] = {
                "sub": user.sub, "email_verified": user.email_verified, "name": user.name,
                "groups": list(user.groups), "preferred_username": user.username,
                "given_name": user.given_name, "family_name": user.family_name, "email": user.email,
            }
        else:
            source = claims
        keys = ("sub", "email_verified", "name", "groups", "preferred_username",
                "given_name", "family_name", "email")
        return {k: source[k] for k in keys if k in source}
