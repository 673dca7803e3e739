"""What a desktop client needs before it logs in (``/api/config``, ``/api/version``)."""
from __future__ import annotations

import time
from typing import Any

from chalicelib.katta.formats import instant
from chalicelib.settings import Settings


def client_config(settings: Settings) -> dict[str, Any]:
    issuer = settings.trusted_issuers[0] if settings.trusted_issuers else None
    config: dict[str, Any] = {
        "serverTime": instant(time.time()),
        "apiLevel": settings.api_level,
        "uuid": settings.hub_id,
        "desktopDownloadUrlMac": settings.desktop_download_url_mac,
        "desktopDownloadUrlWin": settings.desktop_download_url_win,
        "keycloakClientIdCryptomatorVaults": issuer.client_id if issuer else "",
        "licenseSetupRequired": False,
    }
    if issuer:
        base = issuer.issuer.rstrip("/")
        config.update({
            "keycloakUrl": issuer.keycloak_url,
            "keycloakRealm": issuer.keycloak_realm,
            "keycloakClientIdHub": issuer.audience,
            "keycloakClientIdCryptomator": issuer.client_id,
            "keycloakAuthEndpoint": issuer.authorization_endpoint or f"{base}/protocol/openid-connect/auth",
            "keycloakTokenEndpoint": issuer.token_endpoint or f"{base}/protocol/openid-connect/token",
            # Not Katta's: what every client must ask the IdP for (Katta's and Hub's clients ignore them).
            "clientScope": issuer.client_scope,
            "authorizationParams": issuer.authorization_params,
            # The web app finds every endpoint through this issuer's discovery document.
            "oidcIssuer": issuer.issuer,
            "oidcWebClientId": issuer.web_client_id or issuer.client_id,
        })
    return config


def version(settings: Settings) -> dict[str, str]:
    return {"hubVersion": settings.hub_version, "keycloakVersion": ""}

