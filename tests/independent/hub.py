"""The Katta API as Cryptomator Hub 1.5's web client calls it (``frontend/src/common/backend.ts``).

Its axios instance sends ``Content-Type: application/json`` on every request, GETs and body-less
PUTs included; bodies are JSON except the web-of-trust signature, the archived flag and the
enabled flag, which are ``text/plain``. Every exchange is kept in ``log`` so that a test can check
each answer against the contract and see which routes it has met.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Mapping
from urllib.parse import quote, urlencode

JSON = "application/json"
TEXT = "text/plain"
# JavaScript's Number.MAX_SAFE_INTEGER: Hub's first audit page asks for ids below it.
MAX_SAFE_INTEGER = 2 ** 53 - 1


@dataclass(frozen=True)
class Answer:
    method: str
    path: str
    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def media_type(self) -> str:
        return (self.headers.get("Content-Type") or self.headers.get("content-type") or "").split(";")[0].strip()


# (method, path, headers, body) → Answer: a live server or an in-process test client.
Transport = Callable[[str, str, Mapping[str, str], bytes], Answer]


class HubApi:
    def __init__(self, transport: Transport, token: Callable[[], str | None], log: list[Answer]) -> None:
        self._transport = transport
        self._token = token
        self.log = log

    def send(self, method: str, path: str, body: Any = None, *, content_type: str = JSON,
             headers: Mapping[str, str] | None = None) -> Answer:
        sent = {"Content-Type": content_type, "Accept": "application/json, text/plain, */*", **(headers or {})}
        token = self._token()
        if token:
            sent["Authorization"] = f"Bearer {token}"
        if body is None:
            raw = b""
        elif isinstance(body, str):
            raw = body.encode()
        else:
            raw = json.dumps(body).encode()
        answer = self._transport(method, path, sent, raw)
        self.log.append(answer)
        return answer

    # -- config, licence, billing --
    def config(self) -> Answer:
        return self.send("GET", "/api/config")

    def version(self) -> Answer:
        return self.send("GET", "/api/version")

    def license_user_info(self) -> Answer:
        return self.send("GET", "/api/license/user-info")

    def billing(self) -> Answer:
        return self.send("GET", "/api/billing")

    # -- users --
    def sync_me(self) -> Answer:
        """Every sign-in: no body, meaning "take name, e-mail and picture from my token"."""
        return self.send("PUT", "/api/users/me")

    def me(self, with_devices: bool = False, with_last_access: bool = False) -> Answer:
        return self.send("GET", "/api/users/me?" + urlencode(
            {"withDevices": str(with_devices).lower(), "withLastAccess": str(with_last_access).lower()}))

    def put_me(self, dto: dict[str, Any]) -> Answer:
        return self.send("PUT", "/api/users/me", dto)

    def reset_me(self) -> Answer:
        return self.send("POST", "/api/users/me/reset")

    def put_my_access_tokens(self, tokens: dict[str, str]) -> Answer:
        return self.send("POST", "/api/users/me/access-tokens", tokens)

    def list_users(self) -> Answer:
        return self.send("GET", "/api/users")

    def set_enabled(self, user_id: str, enabled: bool) -> Answer:
        return self.send("PUT", f"/api/users/{quote(user_id)}/enabled", str(enabled).lower(), content_type=TEXT)

    # -- devices --
    def put_device(self, device_id: str, dto: dict[str, Any]) -> Answer:
        return self.send("PUT", f"/api/devices/{device_id}", dto)

    def device(self, device_id: str) -> Answer:
        return self.send("GET", f"/api/devices/{device_id}")

    def devices(self, ids: list[str]) -> Answer:
        return self.send("GET", "/api/devices?" + urlencode([("ids", i) for i in ids]))

    def remove_device(self, device_id: str) -> Answer:
        return self.send("DELETE", f"/api/devices/{device_id}")

    # -- authorities and groups --
    def authorities(self, ids: list[str]) -> Answer:
        return self.send("GET", "/api/authorities?" + urlencode([("ids", i) for i in ids]))

    def search_authorities(self, query: str, with_member_size: bool = False) -> Answer:
        return self.send("GET", "/api/authorities/search?" + urlencode(
            {"query": query, "withMemberSize": str(with_member_size).lower()}))

    def groups(self) -> Answer:
        return self.send("GET", "/api/groups")

    def create_group(self, dto: dict[str, Any]) -> Answer:
        return self.send("POST", "/api/groups", dto)

    def group(self, group_id: str) -> Answer:
        return self.send("GET", f"/api/groups/{group_id}")

    def update_group(self, group_id: str, dto: dict[str, Any]) -> Answer:
        return self.send("PUT", f"/api/groups/{group_id}", dto)

    def delete_group(self, group_id: str) -> Answer:
        return self.send("DELETE", f"/api/groups/{group_id}")

    def effective_members(self, group_id: str) -> Answer:
        return self.send("GET", f"/api/groups/{group_id}/effective-members")

    def add_group_member(self, group_id: str, user_id: str) -> Answer:
        return self.send("POST", f"/api/groups/{group_id}/members/{user_id}")

    def remove_group_member(self, group_id: str, user_id: str) -> Answer:
        return self.send("DELETE", f"/api/groups/{group_id}/members/{user_id}")

    # -- vaults --
    def accessible(self, role: str | None = None) -> Answer:
        return self.send("GET", "/api/vaults/accessible" + (f"?role={role}" if role else ""))

    def all_vaults(self) -> Answer:
        return self.send("GET", "/api/vaults/all")

    def some_vaults(self, ids: list[str]) -> Answer:
        return self.send("GET", "/api/vaults/some?" + urlencode([("ids", i) for i in ids]))

    def vault(self, vault_id: str) -> Answer:
        return self.send("GET", f"/api/vaults/{vault_id}")

    def create_or_update_vault(self, vault_id: str, dto: dict[str, Any]) -> Answer:
        return self.send("PUT", f"/api/vaults/{vault_id}", dto)

    def delete_vault(self, vault_id: str) -> Answer:
        return self.send("DELETE", f"/api/vaults/{vault_id}")

    def set_archived(self, vault_id: str, archived: bool) -> Answer:
        return self.send("PUT", f"/api/vaults/{vault_id}/archived", str(archived).lower(), content_type=TEXT)

    def members(self, vault_id: str) -> Answer:
        return self.send("GET", f"/api/vaults/{vault_id}/members")

    def put_members(self, vault_id: str, roles: dict[str, str]) -> Answer:
        return self.send("PUT", f"/api/vaults/{vault_id}/members", roles)

    def add_user(self, vault_id: str, user_id: str, role: str = "MEMBER") -> Answer:
        return self.send("PUT", f"/api/vaults/{vault_id}/users/{user_id}?role={role}")

    def add_group(self, vault_id: str, group_id: str, role: str = "MEMBER") -> Answer:
        return self.send("PUT", f"/api/vaults/{vault_id}/groups/{group_id}?role={role}")

    def remove_authority(self, vault_id: str, authority_id: str) -> Answer:
        return self.send("DELETE", f"/api/vaults/{vault_id}/authority/{authority_id}")

    def users_requiring_access_grant(self, vault_id: str) -> Answer:
        return self.send("GET", f"/api/vaults/{vault_id}/users-requiring-access-grant")

    def all_users_requiring_access_grant(self) -> Answer:
        return self.send("GET", "/api/vaults/users-requiring-access-grant?wait=0")

    def grant_access(self, vault_id: str, tokens: dict[str, str]) -> Answer:
        return self.send("POST", f"/api/vaults/{vault_id}/access-tokens", tokens)

    def grant_access_automatically(self, vault_id: str, tokens: dict[str, str]) -> Answer:
        return self.send("POST", f"/api/vaults/{vault_id}/access-tokens/auto", tokens)

    def access_token(self, vault_id: str, device_id: str | None = None, even_if_archived: bool = False) -> Answer:
        headers = {"Hub-Device-ID": device_id} if device_id else {}
        return self.send("GET", f"/api/vaults/{vault_id}/access-token?evenIfArchived={str(even_if_archived).lower()}",
                         headers=headers)

    def vault_uvf(self, vault_id: str) -> Answer:
        return self.send("GET", f"/api/vaults/{vault_id}/uvf/vault.uvf")

    def vault_jwks(self, vault_id: str) -> Answer:
        return self.send("GET", f"/api/vaults/{vault_id}/uvf/jwks.json")

    # -- emergency access (Hub's emergency-access pages) --
    def recoverable_vaults(self) -> Answer:
        return self.send("GET", "/api/vaults/recoverable")

    def recovery_processes(self) -> Answer:
        return self.send("GET", "/api/emergency-access")

    def vault_recovery_processes(self, vault_id: str) -> Answer:
        return self.send("GET", f"/api/emergency-access/{vault_id}")

    def start_recovery(self, process_id: str, dto: dict[str, Any]) -> Answer:
        return self.send("PUT", f"/api/emergency-access/{process_id}", dto)

    def add_recovered_key_share(self, process_id: str, dto: dict[str, Any]) -> Answer:
        return self.send("POST", f"/api/emergency-access/{process_id}/recovered-key-shares", dto)

    def complete_recovery(self, process_id: str) -> Answer:
        return self.send("DELETE", f"/api/emergency-access/{process_id}/complete")

    def abort_recovery(self, process_id: str) -> Answer:
        return self.send("DELETE", f"/api/emergency-access/{process_id}/abort")

    # -- web of trust, settings, audit log --
    def trusted_users(self) -> Answer:
        return self.send("GET", "/api/users/trusted")

    def trusted_user(self, user_id: str) -> Answer:
        return self.send("GET", f"/api/users/trusted/{user_id}")

    def trust(self, user_id: str, signature: str) -> Answer:
        return self.send("PUT", f"/api/users/trusted/{user_id}", signature, content_type=TEXT)

    def settings(self) -> Answer:
        return self.send("GET", "/api/settings")

    def put_settings(self, dto: dict[str, Any]) -> Answer:
        return self.send("PUT", "/api/settings", dto)

    def audit_log(self, start: str, end: str, pagination_id: int = MAX_SAFE_INTEGER, order: str = "desc",
                  page_size: int = 21, types: list[str] = ()) -> Answer:
        """Hub's audit page: the newest 20 events (plus one to know whether there is a next page)."""
        query = [("startDate", start), ("endDate", end), ("paginationId", pagination_id), ("order", order),
                 ("pageSize", page_size), *(("type", t) for t in types)]
        return self.send("GET", "/api/auditlog?" + urlencode(query))
