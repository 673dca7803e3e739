"""The Katta hub API over HTTP: :class:`KattaApi`, its DTO types and its error hierarchy."""

from .api import DEFAULT_TIMEOUT, KattaApi, RefreshingTokenProvider, TokenProvider
from .errors import (
    BadRequest,
    Conflict,
    DeviceNotFound,
    FieldError,
    Forbidden,
    Gone,
    KattaApiError,
    KattaConnectionError,
    NotFound,
    NoVaultAccess,
    PayloadTooLarge,
    ServerError,
    ServiceUnavailable,
    Unauthorized,
    UserKeysRequired,
    VaultArchived,
    VaultNotFound,
    error_from_response,
)
from .retry import DEFAULT_MAX_WAIT, NO_RETRY, RetryPolicy

__all__ = [
    "KattaApi", "TokenProvider", "RefreshingTokenProvider", "DEFAULT_TIMEOUT",
    "RetryPolicy", "NO_RETRY", "DEFAULT_MAX_WAIT",
    "KattaApiError", "KattaConnectionError", "FieldError", "error_from_response",
    "BadRequest", "Unauthorized", "Forbidden", "NotFound", "Conflict", "Gone", "PayloadTooLarge",
    "ServerError", "ServiceUnavailable",
    "NoVaultAccess", "VaultNotFound", "VaultArchived", "UserKeysRequired", "DeviceNotFound",
]
