"""A test user of the Katta API: a token from the test issuer plus helpers for common calls."""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter

from tests.support.katta_keys import DeviceKeys, UserKeys, vault_dto


def user_id_of(username: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_OID, username))


@dataclass
class Actor:
    client: Any
    issuer: Any
    username: str
    roles: tuple[str, ...] = ("user", "create-vaults")
    groups: tuple[str, ...] = ()
    keys: UserKeys = field(default_factory=UserKeys.generate)

    @property
    def id(self) -> str:
        return user_id_of(self.username)

    def headers(self, content_type: str = "application/json") -> dict[str, str]:
        token = self.issuer.token(self.username, realm_access={"roles": list(self.roles)}, groups=list(self.groups))
        return {"Authorization": f"Bearer {token}", "Content-Type": content_type}

    def call(self, method: str, path: str, body: Any = None, content_type: str = "application/json"):
        if body is not None and not isinstance(body, str):
            body = json.dumps(body)
        return self.client.http.request(method, path, headers=self.headers(content_type), body=body or b"")

    def get(self, path: str):
        return self.call("GET", path)

    def sdk(self):  # type: ignore[no-untyped-def]
        """Our SDK's ``KattaApi`` as this user, its requests answered by the in-process app."""
        from katta_client.http import KattaApi

        session = requests.Session()
        session.mount(IN_PROCESS, _InProcess(self))
        return KattaApi(IN_PROCESS, session=session)

    def sign_in(self) -> "Actor":
        assert self.get("/api/users/me").status_code == 200
        return self

    def set_up_keys(self) -> "Actor":
        assert self.call("PUT", "/api/users/me", self.keys.user_dto()).status_code == 201
        return self

    def register_device(self, name: str = "Laptop") -> DeviceKeys:
        device = DeviceKeys.generate()
        assert self.call("PUT", f"/api/devices/{device.id}", device.dto(name)).status_code == 201
        return device

    def create_vault(self, vault_id: str, **fields: Any) -> None:
        """Creates the vault and, like a desktop client, stores the creator's own access token."""
        response = self.call("PUT", f"/api/vaults/{vault_id}", vault_dto(vault_id, **fields))
        assert response.status_code == 201, response.body
        token = self.keys.access_token(b"k" * 32)
        assert self.call("POST", f"/api/vaults/{vault_id}/access-tokens", {self.id: token}).status_code == 200


def body(response) -> Any:
    return json.loads(response.body) if response.body else None


IN_PROCESS = "http://in-process.test"


class _InProcess(BaseAdapter):
    """Hands a ``requests`` request to the Chalice test client, as the actor."""

    def __init__(self, actor: Actor) -> None:
        super().__init__()
        self.actor = actor

    def send(self, request, **kwargs):  # type: ignore[no-untyped-def]
        url = urlsplit(request.url)
        headers = {**request.headers, **self.actor.headers(request.headers.get("Content-Type", "application/json"))}
        answer = self.actor.client.http.request(request.method, url.path + (f"?{url.query}" if url.query else ""),
                                                headers=headers, body=request.body or b"")
        response = requests.Response()
        response.status_code, response._content, response.request, response.url = (
            answer.status_code, answer.body, request, request.url)
        response.headers.update(answer.headers)
        return response

    def close(self) -> None:
        pass
