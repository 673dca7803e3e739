"""Development OIDC identity provider (Keycloak-shaped) for the local stack and the tests.

Never deployed: ``python -m devstack.idp`` refuses to start unless ``KATTA_STAGE`` is ``local``
or unset. In tests::

    idp = DevIdP()
    with idp.serve(port=0) as server:      # issuer follows the real port
        token = idp.mint("alice", groups=["team"])

See docs/dev-idp.md.
"""

from .keys import DEFAULT_STATE_DIR, generate_key, load_or_create_key
from .provider import (
    ACCESS_TOKEN_AUDIENCE,
    CLIENT_IDS,
    DEFAULT_CLIENT_ID,
    DEFAULT_ISSUER,
    DEVICE_CODE_GRANT,
    DevIdP,
    InvalidToken,
    ManualClock,
    OAuthError,
    User,
    is_loopback_redirect_uri,
    pkce_challenge,
    user_id,
)
from .server import ServerHandle, serve

__all__ = [
    "ACCESS_TOKEN_AUDIENCE",
    "CLIENT_IDS",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_ISSUER",
    "DEFAULT_STATE_DIR",
    "DEVICE_CODE_GRANT",
    "DevIdP",
    "InvalidToken",
    "ManualClock",
    "OAuthError",
    "ServerHandle",
    "User",
    "generate_key",
    "is_loopback_redirect_uri",
    "load_or_create_key",
    "pkce_challenge",
    "serve",
    "user_id",
]
