"""Every audit event type of every part of the service, named once, with its fields.

Writers name an ``EventType`` from here, and ``AuditLog.record`` refuses a
field the type does not list, so the catalogue cannot drift from what is
written. The Katta types are Cryptomator Hub's (``GET /api/auditlog`` clients
know them); the other parts' types are ours.
"""
from __future__ import annotations

from dataclasses import dataclass

KATTA = "katta"
KEYS = "keys"
SECRETS = "secrets"
STORAGE = "storage"
TOKENS = "tokens"
SCIM = "scim"


@dataclass(frozen=True)
class EventType:
    name: str
    part: str
    fields: frozenset[str]

    def __str__(self) -> str:
        return self.name


def _event(name: str, part: str, *fields: str) -> EventType:
    return EventType(name, part, frozenset(fields))


# --- the Katta hub API (Hub's names) -------------------------------------------------------------
DEVICE_REGISTER = _event("DEVICE_REGISTER", KATTA, "registeredBy", "deviceId", "deviceName", "deviceType")
DEVICE_REMOVE = _event("DEVICE_REMOVE", KATTA, "removedBy", "deviceId")
USER_KEYS_CHANGE = _event("USER_KEYS_CHANGE", KATTA, "changedBy", "userName")
USER_SETUP_CODE_CHANGE = _event("USER_SETUP_CODE_CHANGE", KATTA, "changedBy")
USER_ACCOUNT_RESET = _event("USER_ACCOUNT_RESET", KATTA, "resetBy")
# Hub leaves enabling accounts to Keycloak; ours is recorded under our own event type.
USER_ENABLED_CHANGE = _event("USER_ENABLED_CHANGE", KATTA, "userId", "enabled", "changedBy")
VAULT_CREATE = _event("VAULT_CREATE", KATTA, "createdBy", "vaultId", "vaultName", "vaultDescription")
VAULT_UPDATE = _event("VAULT_UPDATE", KATTA, "updatedBy", "vaultId", "vaultName", "vaultDescription",
                      "vaultArchived")
# Katta's contract can delete a vault; Hub has no event for it, so this one is ours.
VAULT_DELETE = _event("VAULT_DELETE", KATTA, "deletedBy", "vaultId", "vaultName")
VAULT_MEMBER_ADD = _event("VAULT_MEMBER_ADD", KATTA, "addedBy", "vaultId", "authorityId", "role")
VAULT_MEMBER_REMOVE = _event("VAULT_MEMBER_REMOVE", KATTA, "removedBy", "vaultId", "authorityId")
VAULT_MEMBER_UPDATE = _event("VAULT_MEMBER_UPDATE", KATTA, "updatedBy", "vaultId", "authorityId", "role")
VAULT_ACCESS_GRANT = _event("VAULT_ACCESS_GRANT", KATTA, "grantedBy", "vaultId", "authorityId")
VAULT_KEY_RETRIEVE = _event("VAULT_KEY_RETRIEVE", KATTA, "retrievedBy", "vaultId", "result", "ipAddress",
                            "deviceId")
SIGN_WOT_ID = _event("SIGN_WOT_ID", KATTA, "userId", "signerId", "signature", "signerKey")
SETTING_WOT_UPDATE = _event("SETTING_WOT_UPDATE", KATTA, "updatedBy", "wotMaxDepth", "wotIdVerifyLen")
EMERGENCY_ACCESS_SETTINGS_UPDATED = _event("EMERGENCY_ACCESS_SETTINGS_UPDATED", KATTA, "adminId",
                                           "councilMemberIds", "requiredKeyShares", "allowChoosingCouncil")
# ``settings`` is Hub's: a JSON text of the vault's threshold and council.
EMERGENCY_ACCESS_SETUP = _event("EMERGENCY_ACCESS_SETUP", KATTA, "vaultId", "ownerId", "settings", "ipAddress")
EMERGENCY_ACCESS_RECOVERY_STARTED = _event("EMERGENCY_ACCESS_RECOVERY_STARTED", KATTA, "vaultId", "processId",
                                           "councilMemberId", "processType", "details")
EMERGENCY_ACCESS_RECOVERY_APPROVED = _event("EMERGENCY_ACCESS_RECOVERY_APPROVED", KATTA, "processId",
                                            "councilMemberId", "ipAddress")
EMERGENCY_ACCESS_RECOVERY_COMPLETED = _event("EMERGENCY_ACCESS_RECOVERY_COMPLETED", KATTA, "processId",
                                             "councilMemberId")
# Katta's contract can abort a process; Hub has no event for it, so this one is ours.
EMERGENCY_ACCESS_RECOVERY_ABORTED = _event("EMERGENCY_ACCESS_RECOVERY_ABORTED", KATTA, "processId",
                                           "councilMemberId")

# --- key rings and POP keys ----------------------------------------------------------------------
# ``userId`` is the admin who asked; scheduled rotations have none.
KEY_RING_CREATE = _event("KEY_RING_CREATE", KEYS, "ring", "version")
KEY_RING_ROTATE = _event("KEY_RING_ROTATE", KEYS, "ring", "version", "userId")
KEY_RING_MIN_DECRYPTION_VERSION = _event("KEY_RING_MIN_DECRYPTION_VERSION", KEYS, "ring", "minDecryptionVersion",
                                         "userId")
KEY_RING_TRIM = _event("KEY_RING_TRIM", KEYS, "ring", "minAvailableVersion", "trimmed", "userId")
KEY_RING_REWRAP_VERSIONS = _event("KEY_RING_REWRAP_VERSIONS", KEYS, "ring", "kmsKey", "versions", "userId")
POP_KEY_CREATE = _event("POP_KEY_CREATE", KEYS, "use", "kid", "alg", "state", "userId")
POP_KEY_EXPEDITE = _event("POP_KEY_EXPEDITE", KEYS, "use", "kid", "activateAt", "userId")
POP_KEY_ACTIVATE = _event("POP_KEY_ACTIVATE", KEYS, "use", "kid", "userId")
POP_KEY_DEACTIVATE = _event("POP_KEY_DEACTIVATE", KEYS, "use", "kid", "userId")
POP_KEY_RETIRE = _event("POP_KEY_RETIRE", KEYS, "use", "kid", "userId")

# --- the secret server ---------------------------------------------------------------------------
_EXCHANGE = ("clientId", "assertionKid", "clientAuthenticated", "issuer", "subject")
SECRET_RELEASE = _event("SECRET_RELEASE", SECRETS, *_EXCHANGE, "encryptionKid", "encryptionAlg", "signingKid",
                        "tokenId", "secretVersion", "secretCreated")
SECRET_REFUSAL = _event("SECRET_REFUSAL", SECRETS, *_EXCHANGE, "error", "reason")
SECRET_SERVER_IDP_REGISTER = _event("SECRET_SERVER_IDP_REGISTER", SECRETS, "userId", "issuer")
SECRET_SERVER_IDP_DELETE = _event("SECRET_SERVER_IDP_DELETE", SECRETS, "userId", "issuer")
SECRET_SERVER_RESOURCE_SERVER_REGISTER = _event("SECRET_SERVER_RESOURCE_SERVER_REGISTER", SECRETS, "userId",
                                                "clientId")
SECRET_SERVER_RESOURCE_SERVER_DELETE = _event("SECRET_SERVER_RESOURCE_SERVER_DELETE", SECRETS, "userId",
                                              "clientId")

# --- storage -------------------------------------------------------------------------------------
STORAGE_PROFILE_CREATE = _event("STORAGE_PROFILE_CREATE", STORAGE, "createdBy", "storageProfileId",
                                "storageProfileName", "protocol")
STORAGE_PROFILE_ARCHIVE = _event("STORAGE_PROFILE_ARCHIVE", STORAGE, "archivedBy", "storageProfileId",
                                 "storageProfileName")
VAULT_BUCKET_CREATE = _event("VAULT_BUCKET_CREATE", STORAGE, "createdBy", "vaultId", "storageProfileId", "bucket")

# --- the token service ---------------------------------------------------------------------------
STORAGE_TOKEN_ISSUE = _event("STORAGE_TOKEN_ISSUE", TOKENS, "issuedTo", "vaultId", "result", "ipAddress", "jti",
                             "expiresAt")
TOKEN_EXCHANGE = _event("TOKEN_EXCHANGE", TOKENS, "issuedTo", "audience", "jti", "expiresAt", "clientId")

# --- SCIM provisioning (changedBy: "scim" for the IdP's provisioning secret, else the admin) ---------
SCIM_USER_PROVISION = _event("SCIM_USER_PROVISION", SCIM, "userId", "userName", "active", "changedBy")
SCIM_USER_DEPROVISION = _event("SCIM_USER_DEPROVISION", SCIM, "userId", "userName", "changedBy")

ALL: dict[str, EventType] = {v.name: v for v in globals().copy().values() if isinstance(v, EventType)}
KATTA_TYPES = frozenset(name for name, event in ALL.items() if event.part == KATTA)
SERVICE_TYPES = tuple(sorted(name for name, event in ALL.items() if event.part != KATTA))
