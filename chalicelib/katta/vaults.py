"""Vaults, their members and their access tokens (the rules of ``/api/vaults``).

The server stores each member's access token (a JWE of the vault key to that
member's ECDH key) and never opens it. A token unlocks a vault only while its
user still has access, directly or through a group; removing a member does not
delete the token (as in Hub), it just stops opening the vault.
"""
from __future__ import annotations

import json
import collections
import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from chalicelib.audit import catalogue
from chalicelib.auth import Principal
from chalicelib.errors import ActionRequired, BadRequest, Conflict, Forbidden, Gone, NotFound, ServiceUnavailable
from chalicelib.katta import access
from chalicelib.katta.emergency import CHANGE_PERMISSIONS, COUNCIL_CHANGE, recovering
from chalicelib.katta.hub_settings import MIN_EMERGENCY_KEY_SHARES
from chalicelib.katta.formats import MAX_TOKENS_PER_REQUEST, AuthorityType, Role, VaultInput, epoch_of, instant
from chalicelib.db.table import ConditionFailed, Transaction
from chalicelib.db.vaults import VaultContents

if TYPE_CHECKING:
    from chalicelib.audit import AuditLog
    from chalicelib.katta.access import VaultAccess
    from chalicelib.katta.hub_settings import HubSettingsService
    from chalicelib.settings import Settings
    from chalicelib.db.authorities import AuthorityRepository
    from chalicelib.db.devices import DeviceRepository
    from chalicelib.db.epoch import AccessEpoch, Epoch
    from chalicelib.db.groups import GroupRepository
    from chalicelib.db.table import Transactions
    from chalicelib.db.users import UserRepository
    from chalicelib.db.vaults import VaultRepository

log = logging.getLogger("katta")

USER, GROUP = AuthorityType.USER.value, AuthorityType.GROUP.value
# Each member change is two items (member + audit event) and maybe a group counter.
MAX_MEMBER_CHANGES = 30
# A grant request goes in transactions of 49 grants (each access token with its audit event: 98 items
# of DynamoDB's 100). Each transaction is atomic, the request as a whole is not: a failure part-way
# leaves the earlier transactions stored, and the same request again stores only the rest (a token
# already stored as sent counts as done). The request body's size limit binds before
# MAX_TOKENS_PER_REQUEST does.
_GRANTS_PER_TRANSACTION = 49
# The long poll's snapshot of a caller's pending grants is reused while the access epoch stands, at
# most this long (the bound on staleness should moving the epoch on ever fail), for this many callers.
_PENDING_MAX_AGE_SECONDS = 60.0
_PENDING_CACHED_CALLERS = 1024


@dataclass(frozen=True)
class _View:
    """One vault in a caller's snapshot of pending grants."""
    epoch: int  # the vault's access epoch when read
    waiting: list[str]  # the users awaiting a grant there (none where the caller may not see them)
    people: frozenset[str] = frozenset()  # the users and groups beside the vault's items it rests on


_Views = dict[str, _View]


# --- DTOs ----------------------------------------------------------------------------------------

def _vault_summary(vault: dict[str, Any]) -> dict[str, Any]:
    dto = {"id": vault["id"], "name": vault["name"], "archived": bool(vault.get("archived", False)),
           "creationTime": vault["creationTime"]}
    if vault.get("description") is not None:
        dto["description"] = vault["description"]
    return dto


def vault_dto(vault: dict[str, Any], *, with_metadata: bool = True, with_shares: bool | None = None) -> dict[str, Any]:
    """``with_shares`` (default: as ``with_metadata``) adds the emergency key shares, ciphertext to each
    council member."""
    dto = {**_vault_summary(vault), "requiredEmergencyKeyShares": int(vault.get("requiredEmergencyKeyShares", 0))}
    if with_metadata:
        dto.update({k: vault[k] for k in ("uvfMetadataFile", "uvfKeySet") if vault.get(k)})
    if with_metadata if with_shares is None else with_shares:
        dto["emergencyKeyShares"] = dict(vault.get("emergencyKeyShares") or {})
    return dto


def vault_with_role_dto(vault: dict[str, Any], role: str) -> dict[str, Any]:
    return {**_vault_summary(vault), "role": role}


def member_dto(authority: dict[str, Any], authority_type: str, role: str | None) -> dict[str, Any]:
    """MemberDto for a user or group item."""
    is_group = authority_type == GROUP
    dto: dict[str, Any] = {"id": authority["id"], "type": authority_type,
                           "name": authority.get("name") or authority["id"]}
    if authority.get("pictureUrl"):
        dto["pictureUrl"] = authority["pictureUrl"]
    if is_group:
        dto["memberSize"] = int(authority.get("memberSize", 0))
    else:
        dto.update({k: authority[k] for k in ("ecdhPublicKey", "ecdsaPublicKey") if authority.get(k)})
    if role:
        # Katta's contract names it vaultRole, Hub's web client reads role: both get it.
        dto["vaultRole"] = dto["role"] = role
    return dto


class VaultService:
    """The rules of ``/api/vaults``: who may read, change, share and open a vault."""

    def __init__(self, vaults: VaultRepository, groups: GroupRepository, users: UserRepository,
                 devices: DeviceRepository, authorities: AuthorityRepository, access: VaultAccess, audit: AuditLog,
                 transactions: Transactions, settings: Settings, hub_settings: HubSettingsService, *, epoch: AccessEpoch,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._vaults = vaults
        self._groups = groups
        self._users = users
        self._devices = devices
        self._authorities = authorities
        self._access = access
        self._audit = audit
        self._transactions = transactions
        self._settings = settings
        self._hub_settings = hub_settings
        self._clock = clock
        self._sleep = sleep
        self._monotonic = monotonic
        self._epoch = epoch
        # (user id, claim groups) → (epoch, when last derived whole, vault id → its view): see _pending_grants.
        self._pending: collections.OrderedDict[tuple[str, tuple[str, ...]], tuple[Epoch, float, _Views]] \
            = collections.OrderedDict()
        self._pending_lock = threading.Lock()

    # --- reading vaults --------------------------------------------------------------------------

    def _contents(self, vault_id: str, *, missing: type[Exception] = NotFound) -> VaultContents:
        contents = self._vaults.contents(vault_id)
        if contents.vault is None:
            raise missing("no such vault" if missing is NotFound else "you are not a member of this vault")
        return contents

    def _owned(self, principal: Principal, vault_id: str) -> VaultContents:
        contents = self._contents(vault_id)
        self._require_owner(principal, contents)
        return contents

    def _require_owner(self, principal: Principal, contents: VaultContents,
                       recovery: str | None = CHANGE_PERMISSIONS) -> None:
        """An owner, or a council member of a ``recovery`` process its threshold of members approved: they act
        for the owners in that process's change (members and vault.uvf, or the council) until it is closed."""
        if recovery is None or not recovering(contents, principal.user_id, recovery):
            self._access.require_owner(contents.members, principal)

    def _is_member(self, principal: Principal, contents: VaultContents) -> bool:
        return (access.best_role(contents.members, self._access.authorities(principal)) is not None
                or recovering(contents, principal.user_id))

    def get(self, principal: Principal, vault_id: str) -> dict[str, Any]:
        contents = self._contents(vault_id, missing=Forbidden)
        if not principal.has_role("admin") and not self._is_member(principal, contents):
            raise Forbidden("you are not a member of this vault")
        return vault_dto(contents.vault)

    def recoverable(self, principal: Principal) -> list[dict[str, Any]]:
        """The vaults whose emergency council the caller sits on, with their key shares."""
        vaults = self._vaults.get_many(self._vaults.council_vault_ids(principal.user_id))
        return sorted((vault_dto(v, with_metadata=False, with_shares=True) for v in vaults),
                      key=lambda d: d["name"].lower())

    def accessible(self, principal: Principal, role: str | None) -> list[dict[str, Any]]:
        """The caller's vaults: a Query per authority and one BatchGetItem, whatever the table holds."""
        roles: dict[str, str] = {}
        authorities = self._access.authorities(principal)
        for authority in authorities:
            for membership in self._vaults.memberships(authority):
                if authorities.holds(authority, membership):
                    roles[membership["vaultId"]] = access.higher(membership["role"], roles.get(membership["vaultId"]))
        wanted = [v for v, r in roles.items() if role is None or r == role]
        vaults = self._vaults.get_many(wanted)
        return sorted((vault_dto(v, with_metadata=False) for v in vaults), key=lambda d: d["name"].lower())

    def all_vaults(self) -> list[dict[str, Any]]:
        return [vault_dto(v, with_metadata=False) for v in self._vaults.all()]

    def some(self, vault_ids: list[str]) -> list[dict[str, Any]]:
        return [vault_dto(v, with_metadata=False) for v in self._vaults.get_many(v.lower() for v in vault_ids)]

    def metadata(self, principal: Principal, vault_id: str, field: str) -> str:
        """``vault.uvf`` or the vault's JWKS, stored as the client wrote it."""
        contents = self._contents(vault_id)
        if not self._is_member(principal, contents):
            raise Forbidden("you are not a member of this vault")
        document = contents.vault.get(field)
        if not document:
            raise NotFound(f"the vault has no {'vault.uvf' if field == 'uvfMetadataFile' else 'JWKS'}")
        return document

    # --- creating and changing vaults ------------------------------------------------------------

    def put(self, principal: Principal, vault_id: str, dto: VaultInput,
            ip_address: str | None = None) -> tuple[dict[str, Any], bool]:
        """Creates the vault (True) with the caller as OWNER, or updates name and description (False);
        either may set the emergency council's key shares."""
        if dto.id is not None and dto.id.lower() != vault_id:
            raise BadRequest("id: must equal the vault id in the path")
        if dto.legacy_fields():
            raise BadRequest(f"{dto.legacy_fields()[0]}: legacy vaults (format 8) are not supported")
        if self._vaults.get(vault_id) is None:
            created = self._create(principal, vault_id, dto, ip_address)
            if created is not None:
                return created, True
        return self._update(principal, vault_id, dto, ip_address), False

    def _create(self, principal: Principal, vault_id: str, dto: VaultInput,
                ip_address: str | None) -> dict[str, Any] | None:
        principal.require_role("create-vaults")
        vault = {"id": vault_id, "name": dto.name, "description": dto.description, "archived": False,
                 "creationTime": instant(self._clock()), "uvfMetadataFile": dto.uvfMetadataFile,
                 "uvfKeySet": dto.uvfKeySet}
        transaction = Transaction()
        if dto.emergencyKeyShares:
            vault.update(self._set_council(transaction, principal, vault_id, set(), dto, ip_address))
        self._vaults.create(transaction, vault)
        self._vaults.put_member(transaction, vault_id, principal.user_id, USER, Role.OWNER.value)
        self._audit.record(transaction, catalogue.VAULT_CREATE, createdBy=principal.user_id, vaultId=vault_id,
                           vaultName=dto.name, vaultDescription=dto.description)
        self._audit.record(transaction, catalogue.VAULT_MEMBER_ADD, addedBy=principal.user_id, vaultId=vault_id,
                           authorityId=principal.user_id, role=Role.OWNER.value)
        try:
            self._transactions.commit(transaction)
        except ConditionFailed:
            return None  # created concurrently: this request is an update now
        return vault_dto({k: v for k, v in vault.items() if v is not None})

    def _update(self, principal: Principal, vault_id: str, dto: VaultInput, ip_address: str | None) -> dict[str, Any]:
        """Owners rename, set the council or replace vault.uvf (a recovery re-keys the vault); owners and
        admins archive or restore (Hub's web client does it with this PUT)."""
        contents = self._contents(vault_id)
        vault = contents.vault
        archived = bool(vault.get("archived")) if dto.archived is None else dto.archived
        renamed = (dto.name, dto.description) != (vault["name"], vault.get("description"))
        rekeyed = dto.uvfMetadataFile is not None and dto.uvfMetadataFile != vault.get("uvfMetadataFile")
        council_changed = dto.emergencyKeyShares is not None and (
            dto.emergencyKeyShares != (vault.get("emergencyKeyShares") or {})
            or (dto.requiredEmergencyKeyShares or 0) != int(vault.get("requiredEmergencyKeyShares", 0)))
        admin = principal.has_role("admin")
        # Name, description and archiving are no recovery's to change (archiving is an admin's too).
        if renamed or (not admin and (archived != bool(vault.get("archived")) or not (rekeyed or council_changed))):
            self._require_owner(principal, contents, recovery=None)
        if rekeyed:
            self._require_owner(principal, contents, CHANGE_PERMISSIONS)
        if council_changed:
            self._require_owner(principal, contents, COUNCIL_CHANGE)
        changes = {"name": dto.name, "description": dto.description, "archived": archived}
        if rekeyed:
            changes["uvfMetadataFile"] = dto.uvfMetadataFile
        transaction = Transaction()
        if council_changed:
            changes.update(self._set_council(transaction, principal, vault_id, contents.council, dto, ip_address))
        self._vaults.update(transaction, vault_id, changes)
        self._audit.record(transaction, catalogue.VAULT_UPDATE, updatedBy=principal.user_id, vaultId=vault_id,
                           vaultName=dto.name, vaultDescription=dto.description, vaultArchived=archived)
        self._transactions.commit(transaction)
        return vault_dto({k: v for k, v in {**vault, **changes}.items() if v is not None})

    def _set_council(self, transaction: Transaction, principal: Principal, vault_id: str, seated: set[str],
                     dto: VaultInput, ip_address: str | None) -> dict[str, Any]:
        """Checks a new council against the hub's settings, reseats it; the vault's changed fields."""
        shares = dict(dto.emergencyKeyShares or {})
        required = dto.requiredEmergencyKeyShares or 0
        if shares:
            self._check_council(shares, required)
        for user_id in set(shares) - seated:
            self._vaults.put_council_seat(transaction, vault_id, user_id)
        for user_id in seated - set(shares):
            self._vaults.remove_council_seat(transaction, vault_id, user_id)
        settings = json.dumps({"requiredEmergencyKeyShares": required, "emergencyCouncilMemberIds": sorted(shares)})
        details = {"vaultId": vault_id, "ownerId": principal.user_id, "settings": settings, "ipAddress": ip_address}
        self._audit.record(transaction, catalogue.EMERGENCY_ACCESS_SETUP, **{k: v for k, v in details.items() if v})
        return {"emergencyKeyShares": shares or None, "requiredEmergencyKeyShares": required if shares else None}

    def _check_council(self, shares: dict[str, str], required: int) -> None:
        hub = self._hub_settings.current()
        if not hub["enableEmergencyAccess"]:
            raise BadRequest("emergencyKeyShares: emergency access is not enabled on this hub")
        if not MIN_EMERGENCY_KEY_SHARES <= required <= len(shares):
            raise BadRequest(f"requiredEmergencyKeyShares: must be between {MIN_EMERGENCY_KEY_SHARES} and the "
                             "number of emergencyKeyShares")
        if not hub["allowChoosingEmergencyCouncil"]:
            if set(shares) != set(hub["emergencyCouncilMemberIds"]):
                raise BadRequest("emergencyKeyShares: must be one share for each member of the hub's emergency council")
            if required != hub["defaultRequiredEmergencyKeyShares"]:
                raise BadRequest("requiredEmergencyKeyShares: must be the hub's defaultRequiredEmergencyKeyShares")
        elif len(shares) < hub["defaultMinMembers"] or required < hub["defaultRequiredEmergencyKeyShares"]:
            raise BadRequest("emergencyKeyShares: the council must have at least defaultMinMembers members and "
                             "require at least defaultRequiredEmergencyKeyShares of them")
        members = {u["id"]: u for u in self._users.get_many(shares)}
        unready = sorted(u for u in shares if not (members.get(u) or {}).get("ecdhPublicKey"))
        if unready:
            raise BadRequest(f"emergencyKeyShares: {unready[0]} is no user with keys set up")

    def set_archived(self, principal: Principal, vault_id: str, archived: bool) -> dict[str, Any]:
        contents = self._contents(vault_id)
        if not principal.has_role("admin"):
            self._access.require_owner(contents.members, principal)
        vault = contents.vault
        transaction = self._vaults.update(Transaction(), vault_id, {"archived": archived})
        self._audit.record(transaction, catalogue.VAULT_UPDATE, updatedBy=principal.user_id, vaultId=vault_id,
                           vaultName=vault["name"], vaultDescription=vault.get("description"),
                           vaultArchived=archived)
        self._transactions.commit(transaction)
        return vault_dto({**vault, "archived": archived})

    def delete(self, principal: Principal, vault_id: str) -> None:
        contents = self._contents(vault_id, missing=Forbidden)
        kept = self._access.require_owner(contents.members, principal)

        def remove_member(tx: Transaction, authority_id: str) -> None:
            self._vaults.remove_member(tx, vault_id, authority_id, must_exist=False)
            if contents.members[authority_id].get("authorityType") == GROUP:
                self._groups.count(tx, authority_id, "vaultCount", -1)

        # The caller's own ownership goes last, with the profile: should a large vault's
        # delete fail part-way, the caller is still its owner and can retry.
        steps = [lambda tx, a=authority_id: remove_member(tx, a)
                 for authority_id in contents.members if authority_id != kept]
        steps += [lambda tx, u=user_id: self._vaults.delete_token(tx, vault_id, u) for user_id in contents.tokens]
        steps += [lambda tx, u=user_id: self._vaults.remove_council_seat(tx, vault_id, u) for user_id in contents.council]
        steps += [lambda tx, p=process: self._vaults.delete_recovery(tx, vault_id, p)
                  for process in contents.recoveries.values()]
        final = Transaction()
        remove_member(final, kept)
        self._vaults.delete(final, vault_id)
        self._audit.record(final, catalogue.VAULT_DELETE, deletedBy=principal.user_id, vaultId=vault_id,
                           vaultName=contents.vault["name"])
        self._transactions.commit_chunked(steps, final)

    # --- members ---------------------------------------------------------------------------------

    def member_pages(self, principal: Principal,
                     vault_id: str) -> Callable[[int, str | None], list[tuple[dict[str, Any], str]]]:
        """The vault's direct members a page at a time (owners): the ownership check reads the caller's own
        memberships only, and each page its members' users and groups, whatever the vault's size."""
        vault, role = self._access.role_in(principal, vault_id)
        if vault is None or role != Role.OWNER.value:
            # Rare: a council member acting for the owners during a recovery; only then the whole vault is read.
            self._require_owner(principal, self._contents(vault_id, missing=Forbidden))

        def page(limit: int, after: str | None) -> list[tuple[dict[str, Any], str]]:
            entries = self._vaults.member_page(vault_id, limit, after)
            groups = [m["authorityId"] for m, _ in entries if m.get("authorityType") == GROUP]
            users = [m["authorityId"] for m, _ in entries if m.get("authorityType") != GROUP]
            found = {**{u["id"]: (u, USER) for u in self._users.get_many(users)},
                     **{g["id"]: (g, GROUP) for g in self._groups.get_many(groups)}}
            return [(member_dto(*found[m["authorityId"]], m["role"]), position)
                    for m, position in entries if m["authorityId"] in found]
        return page

    def _authority_types(self, authority_ids) -> dict[str, str]:
        users, groups = self._authorities.get_many(authority_ids)
        return {**{u["id"]: USER for u in users}, **{g["id"]: GROUP for g in groups}}

    def put_member(self, principal: Principal, vault_id: str, authority_id: str, authority_type: str,
                   role: str) -> bool:
        """Adds a user or group (True) or changes its role (False)."""
        if self._authority_types([authority_id]).get(authority_id) != authority_type:
            raise NotFound(f"no such {authority_type.lower()}: {authority_id}")
        return self._transactions.resolving_races(
            lambda: self._put_member(principal, vault_id, authority_id, authority_type, role))

    def _put_member(self, principal: Principal, vault_id: str, authority_id: str, authority_type: str,
                    role: str) -> bool:
        contents = self._owned(principal, vault_id)
        current = contents.members.get(authority_id)
        changes = {authority_id: role}
        _check_owner_remains(contents, changes)
        transaction = Transaction()
        self._guard_owners(transaction, vault_id, contents, changes)
        self._apply_member_change(transaction, principal, vault_id, authority_id, authority_type, current, role)
        self._transactions.commit(transaction)
        return current is None

    def set_members(self, principal: Principal, vault_id: str, wanted: dict[str, str]) -> None:
        """Replaces all direct members with ``wanted`` (authority id → role)."""
        found = self._authority_types(wanted)
        unknown = sorted(set(wanted) - set(found))
        if unknown:
            raise BadRequest(f"no user or group with the id {unknown[0]}")
        self._transactions.resolving_races(lambda: self._set_members(principal, vault_id, wanted, found))

    def _set_members(self, principal: Principal, vault_id: str, wanted: dict[str, str], found: dict[str, str]) -> None:
        contents = self._owned(principal, vault_id)
        changes: dict[str, str | None] = {a: r for a, r in wanted.items()
                                          if contents.members.get(a, {}).get("role") != r}
        changes.update({a: None for a in contents.members if a not in wanted})
        if len(changes) > MAX_MEMBER_CHANGES:
            raise BadRequest(f"at most {MAX_MEMBER_CHANGES} members can change in one request")
        _check_owner_remains(contents, changes)
        transaction = Transaction()
        self._guard_owners(transaction, vault_id, contents, changes)
        for authority_id, role in changes.items():
            current = contents.members.get(authority_id)
            authority_type = found[authority_id] if authority_id in found else current["authorityType"]
            self._apply_member_change(transaction, principal, vault_id, authority_id, authority_type, current, role)
        self._transactions.commit(transaction)

    def remove_member(self, principal: Principal, vault_id: str, authority_id: str) -> None:
        self._transactions.resolving_races(lambda: self._remove_member(principal, vault_id, authority_id))

    def _remove_member(self, principal: Principal, vault_id: str, authority_id: str) -> None:
        contents = self._owned(principal, vault_id)
        current = contents.members.get(authority_id)
        if current is None:
            return  # never a member, or removed concurrently (the re-read after a lost race): as wanted
        _check_owner_remains(contents, {authority_id: None})
        transaction = Transaction()
        self._guard_owners(transaction, vault_id, contents, {authority_id: None})
        self._apply_member_change(transaction, principal, vault_id, authority_id, current["authorityType"],
                                  current, None)
        self._transactions.commit(transaction)

    def _guard_owners(self, transaction: Transaction, vault_id: str, contents: VaultContents,
                      changes: dict[str, str | None]) -> None:
        """A change that demotes or removes an owner holds only while the other owners it counted on still are:
        two owners demoting each other at once must not leave the vault without one."""
        owner = Role.OWNER.value
        if not any(contents.members.get(a, {}).get("role") == owner and r != owner for a, r in changes.items()):
            return
        for authority_id, member in contents.members.items():
            if member["role"] == owner and authority_id not in changes:
                self._vaults.require_role(transaction, vault_id, authority_id, owner)

    def _apply_member_change(self, transaction: Transaction, principal: Principal, vault_id: str,
                             authority_id: str, authority_type: str, current: dict[str, Any] | None,
                             role: str | None) -> None:
        if role is None:
            self._vaults.remove_member(transaction, vault_id, authority_id)
            self._audit.record(transaction, catalogue.VAULT_MEMBER_REMOVE, removedBy=principal.user_id,
                               vaultId=vault_id, authorityId=authority_id)
        else:
            # Conditional on what was read: two requests adding the same member are one add and one conflict.
            self._vaults.put_member(transaction, vault_id, authority_id, authority_type, role,
                                    was=current["role"] if current else None, new=current is None)
            event = catalogue.VAULT_MEMBER_UPDATE if current else catalogue.VAULT_MEMBER_ADD
            actor = "updatedBy" if current else "addedBy"
            self._audit.record(transaction, event, vaultId=vault_id, authorityId=authority_id, role=role,
                               **{actor: principal.user_id})
        if authority_type == GROUP and (current is None) != (role is None):
            self._groups.count(transaction, authority_id, "vaultCount", 1 if role else -1)

    # --- access tokens ---------------------------------------------------------------------------

    def retrieve_token(self, principal: Principal, vault_id: str, even_if_archived: bool,
                       ip_address: str | None = None, device_id: str | None = None) -> str:
        """The caller's access token: ONE BatchGetItem for a direct member or a claim-group member.

        ``device_id`` (Hub-Device-ID) names the caller's device; its last use is written at most once
        per ``device_last_access_interval_seconds``, so the warm path gains no write in between."""
        claim = access.Authorities(principal.user_id, tuple(access.claim_group_ids(principal)))
        view = self._vaults.retrieval_view(vault_id, principal.user_id, claim.group_ids, device_id,
                                           user=dict(principal.account) if principal.account else None)
        retrieval = _Retrieval(principal, vault_id, ip_address, device_id if view.device else None)
        if view.vault is None:
            raise NotFound("no such vault")
        has_access = access.best_role(view.members, claim) is not None
        if not has_access:
            # Only members through an admin-managed group pay for these two reads.
            groups = access.Authorities(principal.user_id, tuple(self._groups.group_ids_of(principal.user_id)))
            has_access = bool(groups.group_ids) and access.best_role(
                self._vaults.members_of(vault_id, groups.group_ids), groups) is not None
        if not has_access:
            self._audit_retrieval(retrieval, "UNAUTHORIZED")
            raise Forbidden("you are not a member of this vault")
        if view.vault.get("archived") and not even_if_archived:
            raise Gone("the vault is archived")
        if not (view.user or {}).get("ecdhPublicKey"):
            raise ActionRequired("set up your account keys first, then retry")
        if view.token is None:
            self._audit_retrieval(retrieval, "UNAUTHORIZED")
            raise Forbidden("access to this vault has not been granted to you yet")
        if self._settings.audit_key_retrieval_success:
            self._audit_retrieval(retrieval, "SUCCESS")
        if view.device is not None:
            self._note_device_use(principal, view.device, ip_address)
        return view.token["token"]

    def _audit_retrieval(self, retrieval: _Retrieval, result: str) -> None:
        details = {"retrievedBy": retrieval.principal.user_id, "vaultId": retrieval.vault_id, "result": result,
                   "ipAddress": retrieval.ip_address, "deviceId": retrieval.device_id}
        self._audit.write(catalogue.VAULT_KEY_RETRIEVE, **{k: v for k, v in details.items() if v})

    def _note_device_use(self, principal: Principal, device: dict[str, Any], ip_address: str | None) -> None:
        now = self._clock()
        seen = device.get("lastAccessTime")
        if seen and now - epoch_of(seen) < self._settings.device_last_access_interval_seconds:
            return
        try:
            self._devices.record_use(principal.user_id, device["id"], instant(now), ip_address, seen=seen)
        except ServiceUnavailable:
            # Bookkeeping: the caller asked for their key, which they get; the next retrieval records the use.
            log.warning("device last use not recorded", extra={"device_id": device["id"]})

    def grant(self, principal: Principal, vault_id: str, tokens: dict[str, str]) -> None:
        """Stores access tokens for the given users (owner only)."""
        contents = self._owned(principal, vault_id)
        self._require_users(tokens)
        self._put_tokens(principal, [(vault_id, u, t) for u, t in _not_stored(contents, tokens).items()],
                         only_if_absent=False)

    def grant_automatically(self, principal: Principal, vault_id: str, tokens: dict[str, str]) -> None:
        """A member who holds a token re-shares it with members awaiting a grant (the automatic flow)."""
        contents = self._contents(vault_id)
        if not self._is_member(principal, contents) or principal.user_id not in contents.tokens:
            raise Forbidden("only a member holding an access token may grant access automatically")
        self._require_users(tokens)
        pending = _not_stored(contents, tokens)  # the rest of a request that failed part-way
        awaiting = {u["id"] for u in self._awaiting_users(contents)}
        refused = sorted(set(pending) - awaiting)
        if refused:
            raise BadRequest(f"user {refused[0]} is not awaiting an access grant for this vault")
        try:
            self._put_tokens(principal, [(vault_id, u, t) for u, t in pending.items()], only_if_absent=True)
        except ConditionFailed:
            raise BadRequest("a user was granted access meanwhile; reload and retry") from None

    def grant_own(self, principal: Principal, tokens: dict[str, str]) -> None:
        """The caller stores their own tokens (vault id → JWE), e.g. after re-encrypting them."""
        authorities = self._access.authorities(principal)
        # The vaults and the caller's memberships in them: BatchGetItems of 100 keys, not a Query per vault.
        found, members = self._vaults.memberships_in(tokens, authorities)
        for vault_id in tokens:
            if vault_id not in found or not access.best_role(members.get(vault_id, {}), authorities):
                raise Forbidden(f"you are not a member of vault {vault_id}")
        self._put_tokens(principal, [(vault_id, principal.user_id, token) for vault_id, token in tokens.items()],
                         only_if_absent=False)

    def _require_users(self, tokens: dict[str, str]) -> None:
        if len(tokens) > MAX_TOKENS_PER_REQUEST:
            raise BadRequest(f"at most {MAX_TOKENS_PER_REQUEST} tokens per request")
        found = {u["id"] for u in self._users.get_many(tokens)}
        missing = sorted(set(tokens) - found)
        if missing:
            raise NotFound(f"no such user: {missing[0]}")

    def _put_tokens(self, principal: Principal, grants: list[tuple[str, str, str]], *, only_if_absent: bool) -> None:
        """(vault id, user id, token) triples, each with its grant event, a transaction per chunk."""
        for start in range(0, len(grants), _GRANTS_PER_TRANSACTION):
            transaction = Transaction()
            for vault_id, user_id, token in grants[start:start + _GRANTS_PER_TRANSACTION]:
                self._vaults.put_token(transaction, vault_id, user_id, token, only_if_absent=only_if_absent)
                self._audit.record(transaction, catalogue.VAULT_ACCESS_GRANT, grantedBy=principal.user_id,
                                   vaultId=vault_id, authorityId=user_id)
            self._transactions.commit(transaction)

    # --- who is waiting for a grant --------------------------------------------------------------

    def _effective_users(self, contents: VaultContents) -> dict[str, str]:
        """User id → best role, over direct members and members of admin-managed groups."""
        roles: dict[str, str] = {}
        for authority_id, member in contents.members.items():
            user_ids = self._groups.member_ids(authority_id) if member.get("authorityType") == GROUP \
                else [authority_id]
            for user_id in user_ids:
                roles[user_id] = access.higher(member["role"], roles.get(user_id))
        return roles

    def _awaiting_users(self, contents: VaultContents, roles: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """Members with keys set up and no access token; the users' items carry ``vaultRole``
        (``roles``: the vault's effective users, when the caller has them already)."""
        roles = self._effective_users(contents) if roles is None else roles
        candidates = [u for u in roles if u not in contents.tokens]
        users = self._users.get_many(candidates)
        return [dict(u, vaultRole=roles[u["id"]]) for u in users if u.get("ecdhPublicKey") and not u.get("disabled")]

    def users_requiring_grant(self, principal: Principal, vault_id: str) -> list[dict[str, Any]]:
        contents = self._contents(vault_id, missing=Forbidden)
        self._require_owner(principal, contents)
        return [member_dto(u, USER, u["vaultRole"]) for u in self._awaiting_users(contents)]

    def pending_grants(self, principal: Principal, wait_seconds: int) -> dict[str, list[str]]:
        """Vault id → users awaiting a grant, over the vaults the caller holds a token for.

        Answers at once when there are any; otherwise polls until ``wait_seconds``,
        capped by the ``access_grant_wait_max_seconds`` setting (API Gateway ends
        every request at 29 s).
        """
        deadline = self._monotonic() + min(float(wait_seconds), self._settings.access_grant_wait_max_seconds)
        while True:
            pending = self._pending_grants(principal)
            remaining = deadline - self._monotonic()
            if pending or remaining <= 0:
                return pending
            self._sleep(min(self._settings.access_grant_poll_interval_seconds, remaining))

    def _pending_grants(self, principal: Principal) -> dict[str, list[str]]:
        """The snapshot, kept while the access epoch stands (one GetItem whatever the number of vaults);
        otherwise only the caller's vaults whose own epoch moved, or whose answer rests on a user or
        group that changed, are read again (db/epoch.py); a change of the caller themself, changes
        not all known, or an old snapshot derive it all again."""
        caller = (principal.user_id, tuple(access.claim_group_ids(principal)))
        epoch = self._epoch.read()
        with self._pending_lock:
            cached = self._pending.get(caller)
        fresh = cached is not None and self._monotonic() - cached[1] < _PENDING_MAX_AGE_SECONDS
        if fresh and cached[0] == epoch:
            views = cached[2]
        else:
            # A change meanwhile moves the epochs past those read, so the next poll looks again.
            known = self._still_standing(principal, cached[0], cached[2], epoch) if fresh else {}
            views = self._pending_views(principal, known)
            # A snapshot is as old as its oldest view: reading some vaults again keeps the age of the
            # last whole derivation, which bounds how long a view outlives a lost epoch write or a
            # read that lagged behind a change. A whole one is aged from when it was complete:
            # reading a thousand vaults can take longer than the age.
            taken = cached[1] if known else self._monotonic()
            with self._pending_lock:
                self._pending[caller] = (epoch, taken, views)
                self._pending.move_to_end(caller)
                while len(self._pending) > _PENDING_CACHED_CALLERS:
                    self._pending.popitem(last=False)
        return {vault_id: view.waiting for vault_id, view in views.items() if view.waiting}

    def _still_standing(self, principal: Principal, since: Epoch, views: _Views, now: Epoch) -> _Views:
        """The views taken at ``since`` that no change of people up to ``now`` touched."""
        if since.people == now.people:
            return views
        changed = self._epoch.people_changed(since.people, now.people)
        if changed is None or principal.user_id in changed:  # the caller's own groups may have changed
            return {}
        return {vault_id: view for vault_id, view in views.items() if not view.people & changed}

    def _pending_views(self, principal: Principal, known: _Views) -> _Views:
        """Each vault the caller holds a token for, with its epoch and the users awaiting a grant (none
        where the caller may not see them); a vault whose epoch ``known`` has already is not read again."""
        vault_ids = self._vaults.token_vault_ids(principal.user_id)
        authorities = None
        views: _Views = {}
        for vault_id, epoch in self._epoch.of_vaults(vault_ids).items():
            if vault_id in known and known[vault_id].epoch == epoch:
                views[vault_id] = known[vault_id]
                continue
            views[vault_id] = _View(epoch, [])
            contents = self._vaults.contents(vault_id)
            if contents.vault is None or contents.vault.get("archived"):
                continue
            authorities = authorities or self._access.authorities(principal)
            if not access.best_role(contents.members, authorities):
                # Rests on the caller's groups (a change of them is the caller's own) and, should the
                # group index have lagged behind one, on the vault's members.
                views[vault_id] = _View(epoch, [], frozenset(contents.members))
                continue
            roles = self._effective_users(contents)
            views[vault_id] = _View(epoch, sorted(u["id"] for u in self._awaiting_users(contents, roles)),
                                    frozenset(contents.members) | frozenset(roles))
        return views


@dataclass(frozen=True)
class _Retrieval:
    principal: Principal
    vault_id: str
    ip_address: str | None
    device_id: str | None  # only a device of the caller's


def _not_stored(contents: VaultContents, tokens: dict[str, str]) -> dict[str, str]:
    """The grants of ``tokens`` whose very token the vault does not hold yet."""
    return {u: t for u, t in tokens.items() if contents.tokens.get(u, {}).get("token") != t}


def _check_owner_remains(contents: VaultContents, changes: dict[str, str | None]) -> None:
    roles = {a: m["role"] for a, m in contents.members.items()}
    roles.update(changes)
    if Role.OWNER.value not in roles.values():
        raise Conflict("a vault must keep at least one owner")
