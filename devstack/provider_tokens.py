"""Test-only issuers that mint access tokens shaped like each provider's (never deployed).

Each ``Shape`` follows its provider's published access-token reference (cited on each): where the
issuer, the keys, the audience, the client, the roles and the groups are, and the form of each
value. The example identities (tenant, domain, pool, client ids) are those of the README's recipes,
so a recipe's settings entry works as it is against the tokens minted here. Keys are served through
``fetch(url)`` at the provider's own discovery and JWKS addresses, or over HTTP on loopback by
``serve(shape)`` (the issuer moved to the server's origin, its paths kept); ``rotate()`` replaces
the key, as a provider's rollover does.
"""
from __future__ import annotations

import dataclasses
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import urlsplit

from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

# Where the user's roles and groups go in each shape: (roles, groups) -> claims.
Placement = Callable[[list[str], list[str]], dict[str, Any]]


@dataclass(frozen=True)
class Shape:
    name: str
    reference: str  # the provider's published access-token reference
    issuer: str
    jwks_uri: str
    audience_claims: dict[str, Any]  # the claims that name this service as the audience
    place: Placement
    subject: Callable[[str], dict[str, Any]]  # the claims that identify the user, from a user name
    extra: dict[str, Any] = field(default_factory=dict)
    header_typ: str | None = "JWT"


KEYCLOAK = Shape(
    "keycloak", "https://www.keycloak.org/docs-api/latest/javadocs/org/keycloak/representations/AccessToken.html",
    issuer="https://sso.katta.example/realms/katta",
    jwks_uri="https://sso.katta.example/realms/katta/protocol/openid-connect/certs",
    audience_claims={"aud": ["katta", "account"], "azp": "katta-cli"},
    place=lambda roles, groups: {"realm_access": {"roles": [*roles, "offline_access"]}, "groups": groups},
    subject=lambda user: {"sub": str(uuid.uuid5(uuid.NAMESPACE_OID, user)), "preferred_username": user,
                          "name": user.capitalize(), "email": f"{user}@katta.example"},
    extra={"typ": "Bearer", "scope": "openid profile email", "session_state": str(uuid.uuid4())},
)

ENTRA_TENANT = "7b3e2d51-9c4a-4f0e-8a61-2f5c0d9e4b13"
ENTRA = Shape(
    "entra", "https://learn.microsoft.com/en-us/entra/identity-platform/access-token-claims-reference",
    issuer=f"https://login.microsoftonline.com/{ENTRA_TENANT}/v2.0",
    jwks_uri=f"https://login.microsoftonline.com/{ENTRA_TENANT}/discovery/v2.0/keys",
    # v2.0 tokens: aud is always the API's application (client) id; azp the signed-in client's.
    audience_claims={"aud": "3f9c1e07-5b2d-4a8e-9d60-c4b7a1e2f853", "azp": "c2a81f4e-0d7b-4e39-b5a6-81f0e3d29c47",
                     "azpacr": "0"},
    # Each claim is left out when the user has no app role or no group.
    place=lambda roles, groups: {name: values for name, values in (("roles", roles), ("groups", groups)) if values},
    # sub is pairwise (per application), oid the user's object id in the tenant.
    subject=lambda user: {"sub": uuid.uuid5(uuid.NAMESPACE_OID, "entra:" + user).hex + "Xk3_Qa-9",
                          "oid": str(uuid.uuid5(uuid.NAMESPACE_OID, user)), "name": user.capitalize(),
                          "preferred_username": f"{user}@katta.example"},
    extra={"ver": "2.0", "tid": ENTRA_TENANT, "scp": "Vaults.ReadWrite", "aio": "E2ZgYJg", "uti": "AbCdEf",
           "rh": "0.AXkA"},
)

OKTA = Shape(
    "okta", "https://developer.okta.com/docs/reference/api/oidc/#access-token",
    issuer="https://katta.okta.com/oauth2/aus8k2m1xQ7bW3nZp5d7",
    jwks_uri="https://katta.okta.com/oauth2/aus8k2m1xQ7bW3nZp5d7/v1/keys",
    audience_claims={"aud": "api://katta", "cid": "0oa8k2lq9hYt3vBn65d7"},
    # Custom authorization servers only: a "groups" claim added to the access token (names of Okta groups).
    place=lambda roles, groups: {"groups": [*roles, *groups]},
    # sub is the user's login (an e-mail address); uid the user's Okta id.
    subject=lambda user: {"sub": f"{user}@katta.example",
                          "uid": "00u" + uuid.uuid5(uuid.NAMESPACE_OID, user).hex[:17]},
    extra={"ver": 1, "jti": "AT." + uuid.uuid4().hex, "scp": ["openid", "profile", "katta"],
           "auth_time": int(time.time())},
    header_typ=None,
)

AUTH0_NAMESPACE = "https://katta.example/"
AUTH0 = Shape(
    "auth0", "https://auth0.com/docs/secure/tokens/access-tokens/access-token-profiles",
    issuer="https://katta.eu.auth0.com/",  # with the trailing slash, as Auth0 issues it
    jwks_uri="https://katta.eu.auth0.com/.well-known/jwks.json",
    audience_claims={"aud": ["https://api.katta.example", "https://katta.eu.auth0.com/userinfo"],
                     "azp": "Xq7LmN2pR4sT6vW8yZ0aB1cD3eF5gH7j"},
    # Custom claims come from an Action (api.accessToken.setCustomClaim), namespaced by a URL:
    # https://auth0.com/docs/secure/tokens/json-web-tokens/create-custom-claims
    place=lambda roles, groups: {AUTH0_NAMESPACE + "roles": roles},
    # sub is "<connection>|<id>"; the recipe's Action also sends it in a form a user id can take.
    subject=lambda user: {"sub": f"auth0|{uuid.uuid5(uuid.NAMESPACE_OID, user).hex[:24]}",
                          AUTH0_NAMESPACE + "user_id": f"auth0.{uuid.uuid5(uuid.NAMESPACE_OID, user).hex[:24]}"},
    extra={"scope": "openid profile email vaults"},
)

COGNITO_POOL = "eu-central-1_Qm8TzK2vR"
COGNITO = Shape(
    "cognito", "https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-the-access-token.html",
    issuer=f"https://cognito-idp.eu-central-1.amazonaws.com/{COGNITO_POOL}",
    jwks_uri=f"https://cognito-idp.eu-central-1.amazonaws.com/{COGNITO_POOL}/.well-known/jwks.json",
    # No aud in an access token: the app client is named in client_id (ID tokens carry aud instead).
    audience_claims={"client_id": "5h2kq9r0v3c8m1n6b4x7z2p0dt"},
    place=lambda roles, groups: {"cognito:groups": [*roles, *groups]},
    subject=lambda user: {"sub": str(uuid.uuid5(uuid.NAMESPACE_OID, user)), "username": user},
    extra={"token_use": "access", "version": 2, "scope": "openid profile email", "origin_jti": str(uuid.uuid4()),
           "event_id": str(uuid.uuid4()), "auth_time": int(time.time())},
    header_typ=None,
)

SHAPES = {shape.name: shape for shape in (KEYCLOAK, ENTRA, OKTA, AUTH0, COGNITO)}


def _new_key(alg: str) -> Any:
    kid = uuid.uuid4().hex
    if alg.startswith("ES"):
        return ECKey.generate_key("P-256", parameters={"kid": kid, "alg": alg, "use": "sig"})
    return RSAKey.generate_key(2048, parameters={"kid": kid, "alg": alg, "use": "sig"})


class ShapedIssuer:
    """One provider's issuer: its discovery document and JWKS, and access tokens in its shape."""

    def __init__(self, shape: Shape, *, alg: str = "RS256", origin: str | None = None) -> None:
        if origin:
            shape = dataclasses.replace(shape, issuer=_moved(shape.issuer, origin),
                                        jwks_uri=_moved(shape.jwks_uri, origin))
        self.shape = shape
        self.alg = alg
        self.key = _new_key(alg)
        self.fetches: list[str] = []

    @property
    def discovery_uri(self) -> str:
        return self.shape.issuer.rstrip("/") + "/.well-known/openid-configuration"

    def documents(self) -> dict[str, Any]:
        discovery = {"issuer": self.shape.issuer, "jwks_uri": self.shape.jwks_uri,
                     "id_token_signing_alg_values_supported": [self.alg]}
        return {self.discovery_uri: discovery, self.shape.jwks_uri: {"keys": [self.key.as_dict(private=False)]}}

    def fetch(self, url: str) -> Any:
        """The document at ``url``, as the provider serves it; counts fetches."""
        self.fetches.append(url)
        documents = self.documents()
        if url not in documents:
            raise OSError(f"nothing served at {url}")
        return documents[url]

    def rotate(self) -> Any:
        """A new signing key replaces the old one (returned), which the JWKS no longer lists."""
        old, self.key = self.key, _new_key(self.alg)
        return old

    def claims(self, user: str, *, roles: tuple[str, ...] = (), groups: tuple[str, ...] = (),
               lifetime: int = 300, **overrides: Any) -> dict[str, Any]:
        """The claims of ``user``'s access token; an override of None drops that claim."""
        now = int(time.time())
        claims = {"iss": self.shape.issuer, "iat": now, "nbf": now, "exp": now + lifetime,
                  **self.shape.audience_claims, **self.shape.subject(user), **self.shape.extra,
                  **self.shape.place(list(roles), list(groups))}
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not None}

    def token(self, user: str, *, key: Any = None, **claims: Any) -> str:
        signing = key or self.key
        header = {"alg": self.alg, "kid": signing.kid}
        if self.shape.header_typ:
            header["typ"] = self.shape.header_typ
        return jwt.encode(header, self.claims(user, **claims), signing, algorithms=[self.alg])


def _moved(url: str, origin: str) -> str:
    parts = urlsplit(url)
    return origin + parts.path + (f"?{parts.query}" if parts.query else "")


class DocumentServer:
    """JSON documents over HTTP on 127.0.0.1 (an ephemeral port), from a thread; counts the fetches.

    ``lookup(path)`` is the document served at ``path``, None for a 404.
    """

    def __init__(self, lookup: Callable[[str], Any]) -> None:
        self.fetches = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                document = lookup(self.path)
                if document is None:
                    self.send_error(404)
                    return
                server.fetches += 1
                body = json.dumps(document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="document-server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> "DocumentServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def serve(shape: Shape, *, alg: str = "RS256") -> tuple[DocumentServer, ShapedIssuer]:
    """A started server publishing the discovery document and JWKS of ``shape``, moved to its origin."""
    issuers: list[ShapedIssuer] = []
    server = DocumentServer(lambda path: issuers[0].documents().get(server.url + path))
    issuers.append(ShapedIssuer(shape, alg=alg, origin=server.url))
    return server.start(), issuers[0]
