"""``KattaApi``: the desktop client's calls to the Katta hub API, over ``requests``.

One method per contract operation the client uses. Every request has a timeout; every non-2xx
answer raises a :class:`~katta_client.http.errors.KattaApiError` subclass built from the
problem JSON. Authentication comes from a token provider, asked for a token on every request;
when the server refuses a token (401) and the provider can refresh, the request is retried once.
An idempotent request that meets a timeout, a lost connection or a 429/502/503/504 is sent again
under the client's :class:`~katta_client.http.retry.RetryPolicy`; a non-idempotent one never is.
"""
from __future__ import annotations

import json
from typing import Any, Iterable, Mapping, Optional, Protocol, Union, cast
from urllib.parse import quote

import requests

from .errors import (
    DeviceNotFound,
    KattaApiError,
    KattaConnectionError,
    NoVaultAccess,
    UserKeysRequired,
    VaultArchived,
    VaultNotFound,
    error_from_response,
)
from .retry import IDEMPOTENT_METHODS, RETRYABLE_STATUSES, RetryPolicy
from .models import (
    AuthorityDto,
    ConfigDto,
    CreateS3STSBucketDto,
    DeviceDto,
    MemberDto,
    RecoveredKeyShareDto,
    RecoveryProcessDto,
    Role,
    S3TokenResponse,
    SettingsDto,
    StorageProfileDto,
    TrustedUserDto,
    UserDto,
    VaultDto,
    VersionDto,
)

#: (connect, read) seconds. Lambda answers within 29 s; the long poll asks for its own read timeout.
DEFAULT_TIMEOUT = (5.0, 35.0)
USER_AGENT = "katta-client/0.1"


class TokenProvider(Protocol):
    def access_token(self) -> str:
        """A bearer token to send now (refreshed if it is about to expire)."""
        ...


class RefreshingTokenProvider(TokenProvider, Protocol):
    def token_rejected(self, token: str) -> bool:
        """The server refused ``token``; True if a different one is now available to retry with."""
        ...


def _segment(value: str) -> str:
    """One path segment, escaped: ids come from users and servers, never trusted to be clean."""
    if not isinstance(value, str) or not value:
        raise ValueError("path parameter must be a non-empty string")
    return quote(value, safe="")


class KattaApi:
    def __init__(self, base_url: str, token_provider: Optional[TokenProvider] = None, *,
                 session: Optional[requests.Session] = None,
                 timeout: tuple[float, float] = DEFAULT_TIMEOUT, retry: RetryPolicy = RetryPolicy()) -> None:
        self.base_url = base_url.rstrip("/")
        self.token_provider = token_provider
        self.session = session or requests.Session()
        self.session.headers.setdefault("User-Agent", USER_AGENT)
        self.timeout = timeout
        self.retry = retry

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> "KattaApi":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- plumbing ----------------------------------------------------------------------------

    def request(self, method: str, path: str, *, params: Optional[Mapping[str, Any]] = None,
                json_body: Any = None, text_body: Optional[str] = None, content_type: str = "text/plain",
                auth: bool = True,
                expect: Iterable[int] = (200,), errors: Optional[dict[int, type[KattaApiError]]] = None,
                timeout: Optional[tuple[float, float]] = None, idempotent: Optional[bool] = None) -> requests.Response:
        """Send a request; return the response if its status is in ``expect``, raise otherwise.

        ``idempotent`` (default: by the method) says whether sending it again is safe; a POST that is
        idempotent by design says so.
        """
        headers: dict[str, str] = {}
        data: Optional[bytes] = None
        if json_body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(json_body).encode()
        elif text_body is not None:
            headers["Content-Type"] = content_type
            data = text_body.encode()
        retryable = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        expected = tuple(expect)
        waited, attempt = 0.0, 0
        while True:
            retry_after: Optional[str] = None
            try:
                response = self._authenticated(method, path, params, headers, data, auth, timeout)
            except KattaConnectionError as lost:
                failure: KattaApiError = lost
            else:
                if response.status_code in expected:
                    return response
                failure = error_from_response(response, errors)
                if response.status_code not in RETRYABLE_STATUSES:
                    raise failure
                retry_after = response.headers.get("Retry-After")
            delay = self.retry.delay(attempt, retry_after)
            if not retryable or waited + delay > self.retry.max_wait:
                raise failure
            self.retry.sleep(delay)
            waited, attempt = waited + delay, attempt + 1

    def _authenticated(self, method: str, path: str, params: Optional[Mapping[str, Any]], headers: dict[str, str],
                       data: Optional[bytes], auth: bool, timeout: Optional[tuple[float, float]]) -> requests.Response:
        """One attempt, with one more under a refreshed token if the server refused the first token."""
        token = self._token() if auth else None
        response = self._send(method, path, params, headers, data, token, timeout)
        if response.status_code == 401 and token is not None:
            retry_token = self._retry_token(token)
            if retry_token is not None:
                response = self._send(method, path, params, headers, data, retry_token, timeout)
        return response

    def _token(self) -> Optional[str]:
        if self.token_provider is None:
            return None
        return self.token_provider.access_token()

    def _retry_token(self, rejected: str) -> Optional[str]:
        token_rejected = getattr(self.token_provider, "token_rejected", None)
        if token_rejected is None or not token_rejected(rejected):
            return None
        return self._token()

    def _send(self, method: str, path: str, params: Optional[Mapping[str, Any]], headers: dict[str, str],
              data: Optional[bytes], token: Optional[str], timeout: Optional[tuple[float, float]]) -> requests.Response:
        if token is not None:
            headers = {**headers, "Authorization": f"Bearer {token}"}
        url = self.base_url + path
        try:
            return self.session.request(method, url, params=_query(params), headers=headers, data=data,
                                        timeout=timeout or self.timeout, allow_redirects=False)
        except requests.Timeout:
            raise KattaConnectionError(f"{self.base_url} did not answer {method} {path} in time") from None
        except requests.ConnectionError:
            raise KattaConnectionError(f"cannot reach {self.base_url} (is the server running?)") from None
        except requests.RequestException as exc:
            raise KattaConnectionError(f"request to {self.base_url} failed: {type(exc).__name__}") from None

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise KattaApiError(f"{method} {path}: the server's answer is not JSON",
                                status=response.status_code) from None

    # -- configuration (no login needed) -----------------------------------------------------

    def config(self) -> ConfigDto:
        return cast(ConfigDto, self._json("GET", "/api/config", auth=False))

    def version(self) -> VersionDto:
        return cast(VersionDto, self._json("GET", "/api/version", auth=False))

    # -- the signed-in user ------------------------------------------------------------------

    def get_me(self, *, with_devices: bool = False) -> UserDto:
        params = {"withDevices": "true"} if with_devices else None
        return cast(UserDto, self._json("GET", "/api/users/me", params=params))

    def put_me(self, user: UserDto) -> None:
        """Store the user's public keys, ``privateKeys`` and ``setupCode`` (fields given only)."""
        self.request("PUT", "/api/users/me", json_body=user, expect=(200, 201, 204))

    def reset_me(self) -> None:
        """Delete the user's keys, devices and access tokens (account key lost)."""
        self.request("POST", "/api/users/me/reset", expect=(200, 204), idempotent=True)

    def put_my_access_tokens(self, tokens: Mapping[str, str]) -> None:
        """Re-encrypted access tokens of the caller, ``{vaultId: jwe}`` (after a key change)."""
        self.request("POST", "/api/users/me/access-tokens", json_body=dict(tokens), expect=(200, 204),
                     idempotent=True)  # stores these tokens: twice is once

    def trusted_users(self) -> list[TrustedUserDto]:
        return cast(list[TrustedUserDto], self._json("GET", "/api/users/trusted"))

    def trust_user(self, user_id: str, signature: str) -> None:
        """Store a web-of-trust signature (JWS ES384) over ``user_id``'s public keys."""
        self.request("PUT", f"/api/users/trusted/{_segment(user_id)}", text_body=signature, expect=(200, 204))

    def search_authorities(self, query: str, *, with_member_size: bool = False) -> list[AuthorityDto]:
        params: dict[str, Any] = {"query": query}
        if with_member_size:
            params["withMemberSize"] = "true"
        return cast(list[AuthorityDto], self._json("GET", "/api/authorities/search", params=params))

    def authorities(self, ids: Iterable[str]) -> list[AuthorityDto]:
        """Users and groups by id (``GET /api/authorities?ids=…``)."""
        return cast(list[AuthorityDto], self._json("GET", "/api/authorities", params={"ids": list(ids)}))

    # -- devices -----------------------------------------------------------------------------

    def my_devices(self) -> list[DeviceDto]:
        return list(self.get_me(with_devices=True).get("devices") or [])

    def get_devices(self, ids: Iterable[str]) -> list[DeviceDto]:
        return cast(list[DeviceDto], self._json("GET", "/api/devices", params={"ids": list(ids)}))

    def get_device(self, device_id: str) -> DeviceDto:
        """This user's device; :class:`DeviceNotFound` when the server does not know it for us."""
        return cast(DeviceDto, self._json("GET", f"/api/devices/{_segment(device_id)}",
                                          errors={404: DeviceNotFound}))

    def put_device(self, device_id: str, device: DeviceDto) -> None:
        self.request("PUT", f"/api/devices/{_segment(device_id)}", json_body=device, expect=(200, 201, 204))

    def delete_device(self, device_id: str) -> None:
        self.request("DELETE", f"/api/devices/{_segment(device_id)}", expect=(200, 204),
                     errors={404: DeviceNotFound})

    # -- vaults ------------------------------------------------------------------------------

    def accessible_vaults(self, role: Optional[Role] = None) -> list[VaultDto]:
        """The hub answers VaultDto, without the caller's role: ``role`` only filters."""
        params = {"role": role} if role else None
        return cast(list[VaultDto], self._json("GET", "/api/vaults/accessible", params=params))

    def some_vaults(self, ids: Iterable[str]) -> list[VaultDto]:
        return cast(list[VaultDto], self._json("GET", "/api/vaults/some", params={"ids": list(ids)}))

    def get_vault(self, vault_id: str) -> VaultDto:
        return cast(VaultDto, self._json("GET", f"/api/vaults/{_segment(vault_id)}",
                                         errors={404: VaultNotFound}))

    def put_vault(self, vault_id: str, vault: VaultDto) -> bool:
        """Create (needs ``create-vaults``; True) or update (owner; False) a vault."""
        response = self.request("PUT", f"/api/vaults/{_segment(vault_id)}", json_body=vault, expect=(200, 201))
        return response.status_code == 201

    def delete_vault(self, vault_id: str) -> None:
        self.request("DELETE", f"/api/vaults/{_segment(vault_id)}", expect=(200, 204),
                     errors={404: VaultNotFound})

    def set_archived(self, vault_id: str, archived: bool) -> VaultDto:
        return cast(VaultDto, self._json("PUT", f"/api/vaults/{_segment(vault_id)}/archived",
                                         text_body="true" if archived else "false",
                                         errors={404: VaultNotFound}))

    def vault_uvf(self, vault_id: str) -> str:
        """``vault.uvf`` exactly as stored (a JWE JSON serialization; the client decrypts it)."""
        return _utf8(self.request("GET", f"/api/vaults/{_segment(vault_id)}/uvf/vault.uvf",
                                  errors={404: VaultNotFound}))

    def vault_jwks(self, vault_id: str) -> dict[str, Any]:
        """``uvf/jwks.json``: the vault's public recovery key."""
        return cast(dict[str, Any], self._json("GET", f"/api/vaults/{_segment(vault_id)}/uvf/jwks.json",
                                               errors={404: VaultNotFound}))

    # -- members and access ------------------------------------------------------------------

    def members(self, vault_id: str) -> list[MemberDto]:
        return cast(list[MemberDto], self._json("GET", f"/api/vaults/{_segment(vault_id)}/members",
                                                errors={404: VaultNotFound}))

    def put_members(self, vault_id: str, roles: Mapping[str, Role]) -> None:
        """Set several members' roles at once, ``{authorityId: role}``."""
        self.request("PUT", f"/api/vaults/{_segment(vault_id)}/members", json_body=dict(roles),
                     expect=(200, 204), errors={404: VaultNotFound})

    def add_user(self, vault_id: str, user_id: str, role: Role = "MEMBER") -> None:
        self.request("PUT", f"/api/vaults/{_segment(vault_id)}/users/{_segment(user_id)}",
                     params={"role": role}, expect=(200, 201))

    def add_group(self, vault_id: str, group_id: str, role: Role = "MEMBER") -> None:
        self.request("PUT", f"/api/vaults/{_segment(vault_id)}/groups/{_segment(group_id)}",
                     params={"role": role}, expect=(200, 201))

    def remove_member(self, vault_id: str, authority_id: str) -> None:
        self.request("DELETE", f"/api/vaults/{_segment(vault_id)}/authority/{_segment(authority_id)}",
                     expect=(200, 204))

    def access_token(self, vault_id: str, *, even_if_archived: bool = False) -> str:
        """The caller's vault access token (compact JWE).

        Raises :class:`NoVaultAccess` (403), :class:`VaultNotFound` (404), :class:`VaultArchived`
        (410) or :class:`UserKeysRequired` (449).
        """
        params = {"evenIfArchived": "true"} if even_if_archived else None
        response = self.request("GET", f"/api/vaults/{_segment(vault_id)}/access-token", params=params,
                                errors={403: NoVaultAccess, 404: VaultNotFound, 410: VaultArchived,
                                        449: UserKeysRequired})
        return _utf8(response).strip()

    def grant_access(self, vault_id: str, tokens: Mapping[str, str]) -> None:
        """Store access tokens for members, ``{userId: jwe}`` (owner only)."""
        self.request("POST", f"/api/vaults/{_segment(vault_id)}/access-tokens", json_body=dict(tokens),
                     expect=(200, 201, 204), errors={404: VaultNotFound},
                     idempotent=True)  # stores these tokens: twice is once

    def users_requiring_access_grant(self, vault_id: str) -> list[UserDto]:
        return cast(list[UserDto], self._json(
            "GET", f"/api/vaults/{_segment(vault_id)}/users-requiring-access-grant", errors={404: VaultNotFound}))

    def vaults_requiring_access_grant(self, wait_seconds: int = 0) -> Any:
        """Across the caller's owned vaults; ``wait_seconds`` long-polls (server-capped)."""
        params = {"wait": str(wait_seconds)} if wait_seconds else None
        connect, read = self.timeout
        return self._json("GET", "/api/vaults/users-requiring-access-grant", params=params,
                          timeout=(connect, max(read, wait_seconds + 10.0)))

    # -- emergency access --------------------------------------------------------------------

    def recoverable_vaults(self) -> list[VaultDto]:
        """The vaults whose emergency council the caller sits on, with their key shares."""
        return cast(list[VaultDto], self._json("GET", "/api/vaults/recoverable"))

    def recovery_processes(self, vault_id: Optional[str] = None) -> list[RecoveryProcessDto]:
        """The open recovery processes the caller is a council member of (of one vault, or of all)."""
        path = f"/api/emergency-access/{_segment(vault_id)}" if vault_id else "/api/emergency-access"
        return cast(list[RecoveryProcessDto], self._json("GET", path))

    def start_recovery(self, process: RecoveryProcessDto) -> None:
        self.request("PUT", f"/api/emergency-access/{_segment(process['id'])}", json_body=process, expect=(204,))

    def add_recovered_key_share(self, process_id: str, share: RecoveredKeyShareDto) -> None:
        self.request("POST", f"/api/emergency-access/{_segment(process_id)}/recovered-key-shares",
                     json_body=share, expect=(204,), idempotent=True)  # the same share twice is one

    def complete_recovery(self, process_id: str) -> None:
        self.request("DELETE", f"/api/emergency-access/{_segment(process_id)}/complete", expect=(204,))

    def abort_recovery(self, process_id: str) -> None:
        self.request("DELETE", f"/api/emergency-access/{_segment(process_id)}/abort", expect=(204,))

    # -- administration (role admin) ------------------------------------------------------------

    def settings(self) -> SettingsDto:
        return cast(SettingsDto, self._json("GET", "/api/settings"))

    def put_settings(self, settings: SettingsDto) -> None:
        """Change the hub's settings; fields left out keep their values."""
        self.request("PUT", "/api/settings", json_body=settings, expect=(204,))

    def users(self) -> list[UserDto]:
        return cast(list[UserDto], self._json("GET", "/api/users"))

    def set_user_enabled(self, user_id: str, enabled: bool) -> None:
        self.request("PUT", f"/api/users/{_segment(user_id)}/enabled", text_body="true" if enabled else "false",
                     expect=(204,))

    def groups(self) -> list[AuthorityDto]:
        return cast(list[AuthorityDto], self._json("GET", "/api/groups"))

    def group(self, group_id: str) -> dict[str, Any]:
        """A group with its members and vaults."""
        return cast(dict[str, Any], self._json("GET", f"/api/groups/{_segment(group_id)}"))

    def create_group(self, name: str) -> AuthorityDto:
        return cast(AuthorityDto, self._json("POST", "/api/groups", json_body={"name": name}, expect=(201,)))

    def rename_group(self, group_id: str, name: str) -> AuthorityDto:
        return cast(AuthorityDto, self._json("PUT", f"/api/groups/{_segment(group_id)}", json_body={"name": name}))

    def delete_group(self, group_id: str) -> None:
        self.request("DELETE", f"/api/groups/{_segment(group_id)}", expect=(204,))

    def add_group_member(self, group_id: str, user_id: str) -> None:
        self.request("POST", f"/api/groups/{_segment(group_id)}/members/{_segment(user_id)}", expect=(204,),
                     idempotent=True)  # a member added twice is a member

    def remove_group_member(self, group_id: str, user_id: str) -> None:
        self.request("DELETE", f"/api/groups/{_segment(group_id)}/members/{_segment(user_id)}", expect=(204,))

    def audit_log(self, start: str, end: str, *, types: Iterable[str] = (), page_size: int = 20,
                  pagination_id: Optional[int] = None, order: str = "desc", service: bool = False) -> list[dict[str, Any]]:
        """One page of audit events in [start, end); ``service``: this service's own log instead of the hub's."""
        params: dict[str, Any] = {"startDate": start, "endDate": end, "pageSize": page_size, "order": order}
        if pagination_id is not None:
            params["paginationId"] = pagination_id
        if types:
            params["type"] = list(types)
        path = "/api/admin/auditlog" if service else "/api/auditlog"
        return cast(list[dict[str, Any]], self._json("GET", path, params=params))

    def archive_storage_profile(self, profile_id: str) -> None:
        self.request("PUT", f"/api/storageprofile/{_segment(profile_id)}", text_body="archived=true",
                     content_type="application/x-www-form-urlencoded", expect=(204,))

    # -- storage -----------------------------------------------------------------------------

    def storage_profiles(self, *, archived: Optional[bool] = None) -> list[StorageProfileDto]:
        params = None if archived is None else {"archived": "true" if archived else "false"}
        return cast(list[StorageProfileDto], self._json("GET", "/api/storageprofile", params=params))

    def get_storage_profile(self, profile_id: str) -> StorageProfileDto:
        return cast(StorageProfileDto, self._json("GET", f"/api/storageprofile/{_segment(profile_id)}"))

    def create_storage_profile(self, profile: StorageProfileDto) -> StorageProfileDto:
        return cast(StorageProfileDto, self._json("POST", "/api/storageprofile", json_body=profile,
                                                  expect=(200, 201)))

    def create_vault_storage(self, vault_id: str, request: CreateS3STSBucketDto) -> dict[str, Any]:
        """Create the vault's bucket and UVF template (409 exists, 410 profile archived)."""
        response = self.request("PUT", f"/api/storage/{_segment(vault_id)}", json_body=request,
                                expect=(200, 201, 204))
        return response.json() if response.content else {}

    def create_vault_storage_sealed(self, vault_id: str, compact_jwe: str) -> None:
        """As :meth:`create_vault_storage`, the body sealed to a POP key (``application/jose``)."""
        self.request("PUT", f"/api/storage/{_segment(vault_id)}", text_body=compact_jwe,
                     content_type="application/jose", expect=(200, 201, 204))

    def pop_document(self) -> dict[str, Any]:
        """``GET /pop``: the server's published POP keys and which one of each use is active."""
        return cast(dict[str, Any], self._json("GET", "/pop", auth=False))

    def s3_token(self, vault_id: str) -> S3TokenResponse:
        """A short-lived web-identity token for STS ``AssumeRoleWithWebIdentity`` on this vault."""
        return cast(S3TokenResponse, self._json("POST", "/api/storage/s3-token", params={"vault": vault_id},
                                                idempotent=True))  # issues a token, changes nothing


def _utf8(response: requests.Response) -> str:
    """The body as text. JOSE objects are ASCII; never let ``requests`` guess a charset for them."""
    try:
        return response.content.decode("utf-8")
    except UnicodeDecodeError:
        raise KattaApiError(f"the server's answer from {response.url} is not UTF-8 text",
                            status=response.status_code) from None


def _query(params: Optional[Mapping[str, Any]]) -> Optional[list[tuple[str, Union[str, int]]]]:
    """Query pairs; a list value repeats its key (``ids=a&ids=b``), as the contract's arrays want."""
    if not params:
        return None
    pairs: list[tuple[str, Union[str, int]]] = []
    for key, value in params.items():
        for item in value if isinstance(value, list) else [value]:
            pairs.append((key, item))
    return pairs
