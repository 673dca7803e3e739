"""KattaApi against the real app over HTTP (the live stack): what the desktop flow relies on."""
from __future__ import annotations

import uuid

import pytest

from katta_client.http import Forbidden, KattaApi, NoVaultAccess, UserKeysRequired, VaultArchived, VaultNotFound
from tests.support.live_stack import live_stack  # noqa: F401 - fixture

pytestmark = pytest.mark.slow  # a live stack, a subprocess or a long run: not in the fast lane


class Minted:
    """A token provider that mints a fresh dev-IdP token per request."""

    def __init__(self, idp, user):
        self.idp, self.user = idp, user

    def access_token(self):
        return self.idp.mint(self.user)


@pytest.fixture
def owner_and_stranger(live_stack):
    owner, stranger = live_stack.new_user("owner"), live_stack.new_user("stranger")
    return (KattaApi(live_stack.api_url, Minted(live_stack.idp, owner)),
            KattaApi(live_stack.api_url, Minted(live_stack.idp, stranger)))


def test_public_endpoints(live_stack):
    api = KattaApi(live_stack.api_url)
    assert api.version()["hubVersion"]
    assert api.config()["keycloakTokenEndpoint"] == live_stack.idp.token_endpoint


def test_vault_lifecycle_and_access_token_answers(owner_and_stranger):
    owner, stranger = owner_and_stranger
    vault_id = str(uuid.uuid4())
    assert owner.put_vault(vault_id, {"id": vault_id, "name": "Team"}) is True
    assert owner.put_vault(vault_id, {"id": vault_id, "name": "Team 2"}) is False
    assert [v["name"] for v in owner.accessible_vaults() if v["id"] == vault_id] == ["Team 2"]
    assert [m["vaultRole"] for m in owner.members(vault_id)] == ["OWNER"]

    with pytest.raises(UserKeysRequired):  # 449: the owner has no user keys yet
        owner.access_token(vault_id)
    with pytest.raises(NoVaultAccess):  # 403
        stranger.access_token(vault_id)
    with pytest.raises(VaultNotFound):  # 404
        owner.access_token(str(uuid.uuid4()))
    with pytest.raises(Forbidden, match="owner"):
        stranger.members(vault_id)

    assert owner.set_archived(vault_id, True)["archived"] is True
    with pytest.raises(VaultArchived):  # 410
        owner.access_token(vault_id)
