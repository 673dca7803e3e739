"""Vault flows of the desktop client, after the "open connection" flow (:mod:`katta_client.flows`).

* **create**: new vault keys (member key + recovery key pair) and seeds; ``vault.uvf`` and
  ``uvf/jwks.json`` go to the server with ``PUT /api/vaults/{id}`` (the creator becomes OWNER),
  then the owner's own access token, then the bucket: ``s3-token`` → ``AssumeRoleWithWebIdentity``
  on the profile's create-bucket role → ``PUT /api/storage/{id}`` with the temporary credentials,
  sealed to the server's POP key, so the server creates the bucket and its UVF template.
* **grant**: the member key encrypted to each member's ECDH public key (``access-tokens``).
* **unlock**: access token → member key (and, for owners, the recovery key) → ``vault.uvf`` → seeds.
* **open storage**: ``s3-token`` → ``AssumeRoleWithWebIdentity`` on the access role → the bucket.

Nothing secret is written to disk: keys live in memory for one command.
"""
from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

from .crypto import DecryptionFailed, KattaCryptoError, UvfVault, VaultKeys, VaultMetadata, vault_uvf_origin
from .crypto.emergency import split_recovery_key
from .flows import Connection, undo_quietly
from .http import Forbidden, KattaApi, KattaConnectionError, NotFound, ServerError
from .http.models import AuthorityDto, MemberDto, StorageProfileDto, VaultDto
from .pop_body import seal_json
from .storage import Bucket, assume_role, bucket_name, s3_client

PROTOCOL_S3STS = "S3STS"
STORAGE_MEMBER = "cloud.katta.storage"


class VaultError(Exception):
    """A vault flow cannot go on; the message says why and what to do."""


@dataclass
class UnlockedVault:
    """A vault's keys and contents crypto, in memory for one command."""

    vault: VaultDto
    keys: VaultKeys
    uvf: UvfVault

    @property
    def id(self) -> str:
        return str(self.vault["id"])

    @property
    def name(self) -> str:
        return str(self.vault.get("name", ""))

    @property
    def storage(self) -> Mapping[str, Any]:
        return self.uvf.metadata.storage or {}


# -- storage profiles ------------------------------------------------------------------------

def choose_profile(api: KattaApi, profile_id: Optional[str] = None) -> StorageProfileDto:
    """The named profile, or the only (first by name) live S3 STS profile."""
    if profile_id:
        profile = api.get_storage_profile(profile_id)
        if profile.get("archived"):
            raise VaultError(f"storage profile {profile_id} is archived; choose another (`--profile`)")
        if profile.get("protocol") != PROTOCOL_S3STS:
            raise VaultError(f"storage profile {profile_id} is not an S3 STS profile; the client creates "
                             "buckets only through STS")
        return profile
    candidates = [p for p in api.storage_profiles(archived=False) if p.get("protocol") == PROTOCOL_S3STS]
    if not candidates:
        raise VaultError("the server offers no S3 STS storage profile; an admin must create one first")
    return candidates[0]


# -- creating a vault ------------------------------------------------------------------------

def create_vault(api: KattaApi, connection: Connection, name: str, profile: StorageProfileDto, *,
                 description: str = "", region: Optional[str] = None,
                 council: Optional[Mapping[str, str]] = None, threshold: int = 0) -> UnlockedVault:
    """Create the vault record, the owner's access token, and the bucket with its UVF template.

    ``council`` (member id → ECDH public key) gets the recovery key's shares, ``threshold`` of them needed,
    in the same request that creates the vault: a council the hub refuses leaves no vault behind."""
    vault_id = str(uuid.uuid4())
    region = region or profile.get("region") or "us-east-1"
    if region not in (profile.get("regions") or [region]):
        raise VaultError(f"region {region} is not offered by storage profile {profile.get('name')}")
    keys = VaultKeys.create()
    metadata = VaultMetadata.create(storage={
        "provider": profile["id"], "defaultPath": bucket_name(profile, vault_id), "nickname": name,
        "region": region})
    vault_uvf = keys.encrypt_metadata(metadata, origin=vault_uvf_origin(api.base_url + "/api", vault_id))
    dto: VaultDto = {"id": vault_id, "name": name, "description": description,
                     "uvfMetadataFile": vault_uvf, "uvfKeySet": keys.jwks_json()}
    if council:
        dto["emergencyKeyShares"] = split_recovery_key(keys.recovery_private_key, threshold, council)  # type: ignore[arg-type]
        dto["requiredEmergencyKeyShares"] = threshold
    try:
        created = api.put_vault(vault_id, dto)
    except (ServerError, KattaConnectionError):
        undo_quietly(lambda: api.delete_vault(vault_id))  # its answer may be what was lost, not the vault
        raise
    if not created and api.vault_uvf(vault_id) != vault_uvf:
        # 200, not 201: the vault existed. Ours when a retry met the creation whose answer was lost
        # (the re-read shows our vault.uvf, made with fresh keys); anybody else's otherwise.
        raise VaultError(f"vault id {vault_id} already existed; try again")
    try:
        api.grant_access(vault_id, {connection.user["id"]: keys.encrypt_for_user(
            connection.user_keys.ecdh_public_key, owner=True)})
        uvf = UvfVault(metadata)
        _create_bucket(api, vault_id, profile, region, vault_uvf, uvf)
        return UnlockedVault(vault=api.get_vault(vault_id), keys=keys, uvf=uvf)
    except BaseException:
        # As Katta's client does: a vault without its owner's token or its bucket is no vault. The
        # bucket, if only its answer was lost, stays (the create-bucket role may not delete it).
        undo_quietly(lambda: api.delete_vault(vault_id))
        raise


def _create_bucket(api: KattaApi, vault_id: str, profile: StorageProfileDto, region: str, vault_uvf: str,
                   uvf: UvfVault) -> None:
    token = api.s3_token(vault_id)["access_token"]
    credentials = assume_role(profile, profile.get("stsRoleCreateBucketClient", ""), token,
                              session_name="katta-create-bucket")
    root_objects = uvf.root_dir_objects()
    (dir_uvf,) = root_objects.values()
    root_hash = uvf.dir_prefix(uvf.root_dir_id).split("/")
    body = {
        "vaultId": vault_id, "storageConfigId": profile["id"], "vaultUvf": vault_uvf,
        "dirUvf": base64.urlsafe_b64encode(dir_uvf).decode().rstrip("="),
        "rootDirHash": root_hash[1] + root_hash[2],
        "awsAccessKey": credentials.access_key, "awsSecretKey": credentials.secret_key,
        "sessionToken": credentials.session_token, "region": region,
    }
    # Sealed to the key service: the credentials never travel or get logged in the clear.
    api.create_vault_storage_sealed(vault_id, seal_json(api.pop_document(), body))


# -- members and access ----------------------------------------------------------------------

def find_authority(api: KattaApi, who: str, *, caller_id: Optional[str] = None) -> AuthorityDto:
    """A user or group: an exact id, name or e-mail first, else a unique name or e-mail prefix.

    The search answers every name starting with the query, so a short query would quietly pick
    whoever is alone in it; ``caller_id`` (the signed-in user) is never picked: adding yourself is
    never what a prefix meant, and an exact match on yourself is refused by name."""
    query = who.strip()
    if not query:
        raise VaultError("name a user or group")
    wanted = query.casefold()
    found = api.search_authorities(query)

    def exact(authority: AuthorityDto) -> bool:
        return authority.get("id") == query or any(
            str(authority.get(field) or "").casefold() == wanted for field in ("name", "email"))

    def prefix(authority: AuthorityDto) -> bool:
        return any(str(authority.get(field) or "").casefold().startswith(wanted) for field in ("name", "email"))

    if query.count("-") == 4:  # looks like an id the search (by name) does not find
        found = [*found, *(a for a in api.authorities([query]) if a.get("id") == query)]
    for rule in (exact, prefix):
        matches = [a for a in found if rule(a)]
        others = [a for a in matches if a.get("id") != caller_id]
        if rule is exact and matches and not others:
            raise VaultError(f"{who!r} is you; name somebody else")
        matches = list({a.get("id"): a for a in others}.values())
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            names = ", ".join(f"{a.get('name')} ({a.get('email') or a.get('type', '').lower()}, {a.get('id')})"
                              for a in matches)
            raise VaultError(f"{who!r} matches several users or groups: {names}; give more of the name, or the id")
    # Accounts appear at first sign-in; nobody else is known unless the IdP provisions them.
    raise VaultError(f"no user or group named {who!r}: a colleague becomes known when they sign in once "
                     "(`katta login`), or when an admin provisions them from the IdP (SCIM, /scim/v2/Users)")


def add_member(api: KattaApi, vault_id: str, who: str, role: str = "MEMBER") -> AuthorityDto:
    authority = find_authority(api, who, caller_id=api.get_me().get("id"))
    if authority.get("type") == "GROUP":
        api.add_group(vault_id, authority["id"], role)  # type: ignore[arg-type]
    else:
        api.add_user(vault_id, authority["id"], role)  # type: ignore[arg-type]
    return authority


def remove_member(api: KattaApi, vault_id: str, who: str) -> MemberDto:
    wanted = who.strip().casefold()
    members = api.members(vault_id)
    matches = [m for m in members if str(m.get("id", "")).casefold() == wanted] or \
              [m for m in members if str(m.get("name", "")).casefold() == wanted] or \
              [m for m in members if str(m.get("name", "")).casefold().startswith(wanted)]
    if not matches:
        raise VaultError(f"{who!r} is not a direct member of this vault")
    if len(matches) > 1:
        raise VaultError(f"{who!r} matches several members; give the id")
    api.remove_member(vault_id, matches[0]["id"])
    return matches[0]


def grant_access(api: KattaApi, unlocked: UnlockedVault, who: Sequence[str] = ()) -> list[MemberDto]:
    """Encrypt the member key to each user awaiting a grant (all of them, or those named)."""
    waiting: list[MemberDto] = list(api.users_requiring_access_grant(unlocked.id))  # type: ignore[arg-type]
    if who:
        chosen = []
        for name in who:
            wanted = name.strip().casefold()
            match = [m for m in waiting if str(m.get("id", "")).casefold() == wanted
                     or str(m.get("name", "")).casefold() == wanted]
            if not match:
                raise VaultError(f"{name!r} is not awaiting access: not a member, no user keys yet "
                                 "(they must run `katta init`), or already granted")
            chosen.extend(m for m in match if m not in chosen)
        waiting = chosen
    tokens: dict[str, str] = {}
    for member in waiting:
        public_key = member.get("ecdhPublicKey")
        if not public_key:
            continue
        try:
            tokens[member["id"]] = unlocked.keys.encrypt_for_user(public_key, owner=member.get("vaultRole") == "OWNER"
                                                                  and unlocked.keys.is_owner)
        except KattaCryptoError as exc:
            raise VaultError(f"the public key of {member.get('name')} is unusable ({exc})") from None
    if tokens:
        api.grant_access(unlocked.id, tokens)
    return [m for m in waiting if m.get("id") in tokens]


# -- unlocking and storage -------------------------------------------------------------------

def unlock_vault(api: KattaApi, connection: Connection, vault_id: str) -> UnlockedVault:
    """Access token → member key → ``vault.uvf`` → seeds."""
    vault = api.get_vault(vault_id)
    token = api.access_token(vault_id)
    try:
        payload = connection.user_keys.decrypt_access_token(token)
    except DecryptionFailed:
        raise VaultError("your access token for this vault does not open with your user keys "
                         "(were your keys reset? ask an owner to grant access again)") from None
    document = vault.get("uvfMetadataFile") or api.vault_uvf(vault_id)
    keys = VaultKeys.from_access_token(payload, vault.get("uvfKeySet") or api.vault_jwks(vault_id))
    try:
        metadata = keys.decrypt_metadata(document)
    except DecryptionFailed:
        raise VaultError("vault.uvf does not open with the member key from your access token") from None
    return UnlockedVault(vault=vault, keys=keys, uvf=UvfVault(metadata))


def open_bucket(api: KattaApi, unlocked: UnlockedVault) -> Bucket:
    """The vault's bucket through the profile's access role."""
    provider = unlocked.storage.get("provider")
    if not provider:
        raise VaultError("vault.uvf names no storage profile (cloud.katta.storage.provider)")
    profile = api.get_storage_profile(str(provider))
    token = api.s3_token(unlocked.id)["access_token"]
    credentials = assume_role(profile, profile.get("stsRoleAccessBucketAssumeRoleWithWebIdentity", ""), token)
    return Bucket(s3_client(profile, credentials), bucket_name(profile, unlocked.id))


def accessible_with_roles(api: KattaApi, role: Optional[str] = None) -> list[dict[str, Any]]:
    """The caller's vaults, each with its ``role``.

    The hub's contract answers ``VaultDto`` (no role) for ``/api/vaults/accessible``; only its
    ``role`` filter tells, so a second, OWNER-filtered listing tells owners from members."""
    vaults: list[dict[str, Any]] = [dict(v) for v in api.accessible_vaults(role)]  # type: ignore[arg-type]
    if role:
        return [{**v, "role": v.get("role") or role} for v in vaults]
    owned = {v.get("id") for v in api.accessible_vaults("OWNER")}
    return [{**v, "role": v.get("role") or ("OWNER" if v.get("id") in owned else "MEMBER")} for v in vaults]


def resolve_vault(api: KattaApi, wanted: str) -> dict[str, Any]:
    """A vault by id, else an accessible vault by (unique) name: every command names vaults this way.

    An id that is not among the caller's vaults is asked for directly: an admin may read any vault."""
    vaults: list[dict[str, Any]] = list(api.accessible_vaults())  # type: ignore[arg-type]
    text = wanted.strip()
    try:
        canonical = str(uuid.UUID(text))
    except ValueError:
        canonical = None
    matches = [v for v in vaults if v.get("id") == canonical] if canonical else []
    if canonical and not matches:
        try:
            return dict(api.get_vault(canonical))
        except (Forbidden, NotFound):
            matches = []
    matches = matches or [v for v in vaults if v.get("name") == text] or \
        [v for v in vaults if str(v.get("name", "")).casefold() == text.casefold()]
    if not matches:
        raise VaultError(f"you have no vault {wanted!r}; see `katta vault list`")
    if len(matches) > 1:
        raise VaultError(f"several of your vaults are named {wanted!r}; use the id")
    return matches[0]
