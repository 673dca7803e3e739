"""The service objects of one Lambda process, created on first use.

As in Chalice's todo-app sample: module-level accessors, nothing built at
import, so a cold start pays only for what the first request needs.
"""
from __future__ import annotations

import functools

from chalicelib.settings import get_settings

_ACCESSORS: list = []


def _once(build):
    """An accessor that builds its object on first use and keeps it until ``reset``."""
    accessor = functools.lru_cache(maxsize=1)(build)
    _ACCESSORS.append(accessor)
    return accessor


@_once
def table():
    from chalicelib.db.table import Table
    return Table(get_settings().table_name)


@_once
def users():
    from chalicelib.db.users import UserRepository
    return UserRepository(table())


@_once
def devices():
    from chalicelib.db.devices import DeviceRepository
    return DeviceRepository(table())


@_once
def vaults():
    from chalicelib.db.vaults import VaultRepository
    return VaultRepository(table())


@_once
def groups():
    from chalicelib.db.groups import GroupRepository
    return GroupRepository(table())


@_once
def vault_access():
    from chalicelib.katta.access import VaultAccess
    return VaultAccess(vaults(), groups())


@_once
def trust():
    from chalicelib.db.trust import TrustRepository
    return TrustRepository(table())


@_once
def hub_settings():
    from chalicelib.db.hub_settings import HubSettingsRepository
    return HubSettingsRepository(table())


@_once
def transactions():
    from chalicelib.db.table import Transactions
    return Transactions(table(), committed=access_epoch().note)


@_once
def access_epoch():
    from chalicelib.db.epoch import AccessEpoch
    return AccessEpoch(table())


@_once
def audit_log():
    from chalicelib.audit import AuditLog
    from chalicelib.db.audit import AuditEventRepository
    return AuditLog(AuditEventRepository(table()))


# --- the Katta API's services ---------------------------------------------------------------------

@_once
def authorities():
    from chalicelib.db.authorities import AuthorityRepository
    return AuthorityRepository(table())


@_once
def vault_service():
    from chalicelib.katta.vaults import VaultService
    return VaultService(vaults(), groups(), users(), devices(), authorities(), vault_access(), audit_log(),
                        transactions(), get_settings(), hub_settings_service(), epoch=access_epoch())


@_once
def emergency_access_service():
    from chalicelib.db.recoveries import RecoveryRepository
    from chalicelib.katta.emergency import EmergencyAccessService
    return EmergencyAccessService(RecoveryRepository(table()), vaults(), hub_settings_service(), audit_log(),
                                  transactions())


@_once
def group_service():
    from chalicelib.katta.groups import GroupService
    return GroupService(groups(), users(), vaults(), authorities(), audit_log(), transactions())


@_once
def scim_service():
    from chalicelib.scim.service import ScimService
    return ScimService(get_settings(), users(), groups(), group_service(), audit_log(), transactions())


@_once
def user_service():
    from chalicelib.katta.users import UserService
    return UserService(users(), devices(), trust(), vaults(), audit_log(), transactions())


@_once
def device_service():
    from chalicelib.katta.devices import DeviceService
    return DeviceService(devices(), audit_log(), transactions())


@_once
def hub_settings_service():
    from chalicelib.katta.hub_settings import HubSettingsService
    return HubSettingsService(hub_settings(), users(), audit_log(), transactions(), get_settings())


@_once
def trust_service():
    from chalicelib.katta.trust import TrustService
    return TrustService(users(), trust(), hub_settings_service(), audit_log(), transactions())


@_once
def licence_service():
    from chalicelib.katta.licence import LicenceService
    return LicenceService(users(), get_settings())


# --- identity ------------------------------------------------------------------------------------

@_once
def jwks():
    from chalicelib.auth.jwks import JwksCache
    return JwksCache(get_settings())


@_once
def bearer_verifier():
    from chalicelib.auth.bearer import BearerVerifier
    return BearerVerifier(get_settings(), jwks())


@_once
def accounts():
    from chalicelib.auth.accounts import AccountService
    return AccountService(get_settings(), users(), groups())



# --- storage profiles, vault buckets, rendezvous --------------------------------------------------

@_once
def storage_profiles():
    from chalicelib.db.storage_profiles import StorageProfileRepository
    return StorageProfileRepository(table())


@_once
def storage_profile_service():
    from chalicelib.storage.profiles import StorageProfileService
    return StorageProfileService(storage_profiles(), transactions(), audit_log())


@_once
def bucket_service():
    from chalicelib.storage import s3
    from chalicelib.storage.buckets import BucketService
    from chalicelib.db.locks import Locks
    return BucketService(storage_profiles(), vault_access(), Locks(table()), transactions(), audit_log(),
                         s3.request_client)


@_once
def rendezvous():
    from chalicelib.rendezvous.service import RendezvousService
    from chalicelib.db.rendezvous import RendezvousRepository
    return RendezvousService(RendezvousRepository(table()), get_settings())


# --- key management, the secret server, the token service -----------------------------------------

@_once
def key_rings():
    from chalicelib.crypto.keyring import KeyRings
    from chalicelib.db.keyrings import KeyRingRepository, SealedRecordIndex
    return KeyRings(KeyRingRepository(table()), SealedRecordIndex(table()), transactions(), audit_log(),
                    get_settings())


@_once
def pop_keys():
    from chalicelib.crypto.pop import PopKeys
    from chalicelib.db.locks import Locks
    from chalicelib.db.popkeys import PopKeyRepository
    return PopKeys(PopKeyRepository(table()), key_rings(), Locks(table()), transactions(), audit_log(),
                   get_settings())


@_once
def key_admin_service():
    from chalicelib.crypto.admin import KeyAdmin
    return KeyAdmin(key_rings(), pop_keys())


@_once
def secret_server_repository():
    from chalicelib.db.secrets import SecretServerRepository
    return SecretServerRepository(table())


@_once
def secret_server_jwks():
    """Key sets of the secret server's registered IdPs and resource servers fetched by URL."""
    from chalicelib.auth.jwks import JwksCache
    return JwksCache(get_settings())


@_once
def secret_server():
    from chalicelib.secrets.keys import RegisteredKeys
    from chalicelib.secrets.service import SecretServer
    return SecretServer(secret_server_repository(), transactions(), audit_log(), key_rings(), pop_keys(),
                        RegisteredKeys(secret_server_jwks()), get_settings())


@_once
def secret_server_registry():
    from chalicelib.secrets.registry import Registry
    return Registry(secret_server_repository(), transactions(), audit_log(), get_settings())


@_once
def discovery_service():
    from chalicelib.tokens.discovery import Discovery
    return Discovery(pop_keys(), get_settings())


@_once
def storage_token_service():
    from chalicelib.tokens.s3_token import StorageTokens
    return StorageTokens(vault_access(), pop_keys(), audit_log(), get_settings())


@_once
def token_exchange_service():
    from chalicelib.tokens.exchange import TokenExchange
    return TokenExchange(bearer_verifier(), accounts(), pop_keys(), audit_log(), get_settings())


@_once
def web_app():
    from chalicelib.webapp.site import WebApp
    return WebApp(get_settings(), storage_endpoints=storage_profile_service().sts_endpoints)


def reset() -> None:
    """Forgets every cached object and client (tests change settings and AWS mocks)."""
    from chalicelib import aws
    for accessor in _ACCESSORS:
        accessor.cache_clear()
    get_settings.cache_clear()
    aws.reset()
