"""The secret server's use case over real HTTP: dev IdP login, the example backend, the local API.

The API runs in the live stack's child process (chalice local + moto server); the example backend
runs here and serves its JWKS, which the API fetches by URL when the backend authenticates.
"""
from __future__ import annotations

import uuid

import pytest
import requests

from examples.secret_backend import NotesBackend, serve
from katta_client.resource_server import ResourceServer, ResourceServerKeys

pytestmark = pytest.mark.slow  # a live stack, a subprocess or a long run: not in the fast lane

live_stack_module = pytest.importorskip("tests.support.live_stack")
live_stack = live_stack_module.live_stack


def _login(stack, username: str) -> str:
    """The user signs in at the IdP (password grant) and gets an access token."""
    response = requests.post(stack.idp.token_endpoint, timeout=10, data={
        "grant_type": "password", "client_id": "katta-cli", "username": username, "password": username})
    response.raise_for_status()
    return response.json()["access_token"]


def test_a_user_logs_in_and_the_backend_keeps_her_data_encrypted(live_stack, tmp_path):
    stack = live_stack
    admin = _login(stack, stack.new_user("ssadmin", roles=("user", "admin")))
    headers = {"Authorization": f"Bearer {admin}"}
    # The dev IdP puts "katta" into every access token's aud; locally that is the secret server's audience.
    registered = requests.put(f"{stack.api_url}/secret-server/admin/idps", headers=headers, timeout=10, json={
        "issuer": stack.issuer, "audience": "katta", "jwksUri": stack.idp.jwks_uri, "algorithms": ["ES256", "RS256"]})
    assert registered.status_code in (200, 201), registered.text

    client_id = f"notes-{uuid.uuid4().hex[:8]}"
    keys = ResourceServerKeys.generate()
    backend = NotesBackend(ResourceServer(client_id, stack.api_url, keys), tmp_path)
    server = serve(backend, "127.0.0.1", 0)
    try:
        backend_url = f"http://127.0.0.1:{server.server_address[1]}"
        registered = requests.put(f"{stack.api_url}/secret-server/admin/resource-servers/{client_id}",
                                  headers=headers, timeout=10,
                                  json={"jwksUri": backend_url + "/.well-known/jwks.json"})
        assert registered.status_code == 201, registered.text

        user = stack.new_user("notes")
        stored = requests.put(backend_url + "/notes", data=b"my secret plans", timeout=30,
                              headers={"Authorization": f"Bearer {_login(stack, user)}"})
        assert stored.status_code == 204, stored.text
        assert b"plans" not in b"".join(p.read_bytes() for p in tmp_path.iterdir())
        # The next day: a new login, a new release, the same secret.
        read = requests.get(backend_url + "/notes", timeout=30,
                            headers={"Authorization": f"Bearer {_login(stack, user)}"})
        assert read.status_code == 200 and read.content == b"my secret plans"
        # Another user has nothing there; a forged token gets nothing at all.
        other = requests.get(backend_url + "/notes", timeout=30,
                             headers={"Authorization": f"Bearer {_login(stack, stack.new_user('other'))}"})
        assert other.status_code == 404
        forged = requests.get(backend_url + "/notes", timeout=30, headers={"Authorization": "Bearer a.b.c"})
        assert forged.status_code == 403 and "invalid_grant" in forged.text
    finally:
        server.shutdown()
