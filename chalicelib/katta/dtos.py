"""What the Katta routes answer, and the query parameters they read, as pydantic models.

The handlers build plain dicts (chalicelib/katta/*.py); these models only
describe them for the OpenAPI document (chalicelib/apidoc.py), so names and
property names are the contract's (katta-openapi.json ``components/schemas``)
while required/optional says what this service really sends. A property the
service sometimes leaves out is optional and never nullable: absent values are
omitted, not sent as null. Unknown properties are forbidden, so a handler that
starts sending something undocumented fails the response checks.

Every model defers building its validator: the document is built on request,
while importing ``app`` is budgeted (architecture §13).
"""

import datetime as dt
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, RootModel, StringConstraints

from chalicelib.audit import MAX_PAGE_SIZE
from chalicelib.audit import catalogue
from chalicelib.katta.formats import AuthorityId, DeviceType, Jwe, Jws, Name, PublicKey, RecoveryType, Role, VaultId
from chalicelib.katta.params import MAX_IDS_PER_QUERY


class _Dto(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")


def _drop_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def Omittable(**constraints: Any) -> Any:  # noqa: N802 — reads as a type in field declarations
    """A property the answer may leave out. The None default is pydantic's way of making it
    optional; the document must not show it, or it would announce a null this API never sends."""
    return Field(default=None, json_schema_extra=_drop_default, **constraints)


# --- authorities ---------------------------------------------------------------------------------

class DeviceDto(_Dto):
    id: AuthorityId
    name: Name
    type: DeviceType
    publicKey: PublicKey
    userPrivateKey: Jwe
    owner: AuthorityId
    creationTime: dt.datetime
    lastAccessTime: dt.datetime = Omittable()
    lastIpAddress: str = Omittable()


class _Authority(_Dto):
    """What users, groups and vault members share (the contract's AuthorityDto properties)."""
    id: AuthorityId
    name: str
    pictureUrl: str = Omittable()


class UserDto(_Authority):
    """A user as they see themselves (/api/users/me), or as others see them: without privateKeys and
    setupCode."""
    type: Literal["USER"]
    enabled: bool
    email: str = Omittable()
    firstName: str = Omittable()
    lastName: str = Omittable()
    language: str = Omittable()
    devices: list[DeviceDto] = Omittable()
    ecdhPublicKey: PublicKey = Omittable()
    ecdsaPublicKey: PublicKey = Omittable()
    privateKeys: Jwe = Omittable()
    setupCode: Jwe = Omittable()


class GroupDto(_Authority):
    type: Literal["GROUP"]
    name: Name
    vaultCount: int
    memberSize: int = Omittable(description="left out by /api/authorities/search unless withMemberSize=true")


class AuthorityDto(RootModel[Annotated[Union[UserDto, GroupDto], Field(discriminator="type")]]):
    model_config = ConfigDict(defer_build=True)


class MemberDto(_Authority):
    """A direct member of a vault: a user (with its public keys once set up) or a group (with its size)."""
    type: Literal["USER", "GROUP"]
    vaultRole: Role
    role: Role = Field(description="the same as vaultRole: Hub's web client reads this name")
    ecdhPublicKey: PublicKey = Omittable()
    ecdsaPublicKey: PublicKey = Omittable()
    memberSize: int = Omittable()


class TrustedUserDto(_Dto):
    trustedUserId: AuthorityId
    signatureChain: list[Jws]


# --- vaults --------------------------------------------------------------------------------------

_ONE_VAULT_ONLY = "the stored JSON document; sent only where one vault is answered, never in lists"


class _Vault(_Dto):
    id: VaultId
    name: Name
    archived: bool
    creationTime: dt.datetime
    description: str = Omittable()


class VaultDto(_Vault):
    requiredEmergencyKeyShares: int = Field(ge=0, description="0: the vault has no emergency council")
    uvfMetadataFile: str = Omittable(description=_ONE_VAULT_ONLY)
    uvfKeySet: str = Omittable(description=_ONE_VAULT_ONLY)
    emergencyKeyShares: dict[AuthorityId, Jwe] = Omittable(description=(
        "council member id to their key share (a JWE to them); sent where one vault is answered and by "
        "/api/vaults/recoverable"))


class VaultDtoWithRole(_Vault):
    role: Role


class GroupDetailsDto(GroupDto):
    """A group with its users and the vaults it is a member of (the contract's WithDetails)."""
    memberSize: int
    members: list[UserDto]
    vaults: list[VaultDtoWithRole]


class EmptyDto(_Dto):
    """An empty JSON object: the answer of a change that has nothing to report."""


# A JSON document stored as the client wrote it (vault.uvf, the vault's JWKS).
JsonObject = dict[str, Any]

# Vault id → ids of the users awaiting an access grant.
PendingGrants = dict[VaultId, list[AuthorityId]]


# --- the hub -------------------------------------------------------------------------------------

class ConfigDto(_Dto):
    serverTime: dt.datetime
    apiLevel: int
    uuid: str
    desktopDownloadUrlMac: str
    desktopDownloadUrlWin: str
    keycloakClientIdCryptomatorVaults: str
    licenseSetupRequired: Literal[False]
    # Sent only when an identity provider is configured.
    keycloakUrl: str = Omittable()
    keycloakRealm: str = Omittable()
    keycloakClientIdHub: str = Omittable()
    keycloakClientIdCryptomator: str = Omittable()
    keycloakAuthEndpoint: str = Omittable()
    keycloakTokenEndpoint: str = Omittable()
    # Ours, not Katta's (its and Hub's clients ignore them): what a client must ask the IdP for.
    clientScope: str = Omittable()
    authorizationParams: dict[str, str] = Omittable()
    oidcIssuer: str = Omittable()
    oidcWebClientId: str = Omittable()


class LicenseUserInfoDto(_Dto):
    """No licence here: as many seats as an int32 holds, no expiry (expiresAt and gracePeriodEndsAt absent)."""
    licensedSeats: int
    usedSeats: int


class BillingDto(_Dto):
    """No licence here: nothing issued, nothing expires, no licence key; an installation of its own."""
    hubId: str
    licensedSeats: int
    usedSeats: int
    managedInstance: bool


class VersionDto(_Dto):
    hubVersion: str
    keycloakVersion: str


class SettingsDto(_Dto):
    hubId: str
    wotMaxDepth: int = Field(ge=0, le=9)
    wotIdVerifyLen: int = Field(ge=0)
    enableAutomaticAccessGrant: bool
    automaticAccessGrantTrustThreshold: int = Field(ge=-1, le=9)
    allowAutomaticAccessGrantOverride: bool
    enableEmergencyAccess: bool
    defaultRequiredEmergencyKeyShares: int = Field(ge=0)
    defaultMinMembers: int = Field(ge=0)
    allowChoosingEmergencyCouncil: bool
    emergencyCouncilMemberIds: list[AuthorityId]


# --- emergency access ----------------------------------------------------------------------------

class RecoveredKeyShareDto(_Dto):
    """A council member's part of a recovery process: ciphertext the server relays and never opens."""
    processPrivateKey: Jwe = Omittable(description="the process private key, encrypted to this member")
    unrecoveredKeyShare: Jwe = Omittable()
    recoveredKeyShare: Jwe = Omittable(description="this member's key share, re-encrypted to the process key")
    signedProcessInfo: Jws = Omittable()


class RecoveryProcessDto(_Dto):
    id: VaultId
    vaultId: VaultId
    type: RecoveryType
    details: str = Omittable()
    requiredKeyShares: int = Field(ge=2)
    processPublicKey: str
    recoveredKeyShares: dict[AuthorityId, RecoveredKeyShareDto] = Field(min_length=1)


# --- the audit log -------------------------------------------------------------------------------

class AuditEventDto(_Dto):
    """What every audit event has; each event type adds its own details."""
    id: int
    timestamp: dt.datetime


class DeviceRegisteredEventDto(AuditEventDto):
    type: Literal["DEVICE_REGISTER"]
    registeredBy: AuthorityId
    deviceId: AuthorityId
    deviceName: str
    deviceType: DeviceType


class DeviceRemovedEventDto(AuditEventDto):
    type: Literal["DEVICE_REMOVE"]
    removedBy: AuthorityId
    deviceId: AuthorityId


class UserKeysChangeEventDto(AuditEventDto):
    type: Literal["USER_KEYS_CHANGE"]
    changedBy: AuthorityId
    userName: str


class UserSetupCodeChangeEventDto(AuditEventDto):
    type: Literal["USER_SETUP_CODE_CHANGE"]
    changedBy: AuthorityId


class UserAccountResetEventDto(AuditEventDto):
    type: Literal["USER_ACCOUNT_RESET"]
    resetBy: AuthorityId


class UserEnabledChangeEventDto(AuditEventDto):
    type: Literal["USER_ENABLED_CHANGE"]
    userId: AuthorityId
    enabled: bool
    changedBy: AuthorityId


class VaultCreatedEventDto(AuditEventDto):
    type: Literal["VAULT_CREATE"]
    createdBy: AuthorityId
    vaultId: VaultId
    vaultName: str
    vaultDescription: str = Omittable()


class VaultUpdatedEventDto(AuditEventDto):
    type: Literal["VAULT_UPDATE"]
    updatedBy: AuthorityId
    vaultId: VaultId
    vaultName: str
    vaultArchived: bool
    vaultDescription: str = Omittable()


class VaultDeletedEventDto(AuditEventDto):
    type: Literal["VAULT_DELETE"]
    deletedBy: AuthorityId
    vaultId: VaultId
    vaultName: str


class VaultMemberAddedEventDto(AuditEventDto):
    type: Literal["VAULT_MEMBER_ADD"]
    addedBy: AuthorityId
    vaultId: VaultId
    authorityId: AuthorityId
    role: Role


class VaultMemberRemovedEventDto(AuditEventDto):
    type: Literal["VAULT_MEMBER_REMOVE"]
    removedBy: AuthorityId
    vaultId: VaultId
    authorityId: AuthorityId


class VaultMemberUpdatedEventDto(AuditEventDto):
    type: Literal["VAULT_MEMBER_UPDATE"]
    updatedBy: AuthorityId
    vaultId: VaultId
    authorityId: AuthorityId
    role: Role


class VaultAccessGrantedEventDto(AuditEventDto):
    type: Literal["VAULT_ACCESS_GRANT"]
    grantedBy: AuthorityId
    vaultId: VaultId
    authorityId: AuthorityId


class VaultKeyRetrievedEventDto(AuditEventDto):
    type: Literal["VAULT_KEY_RETRIEVE"]
    retrievedBy: AuthorityId
    vaultId: VaultId
    result: Literal["SUCCESS", "UNAUTHORIZED"]
    ipAddress: str = Omittable()
    deviceId: AuthorityId = Omittable()


class SignedWotIdEventDto(AuditEventDto):
    type: Literal["SIGN_WOT_ID"]
    userId: AuthorityId
    signerId: AuthorityId
    signature: Jws
    signerKey: PublicKey = Omittable(description="the signer's ECDSA key, when they had set one up")


class SettingWotUpdateEventDto(AuditEventDto):
    type: Literal["SETTING_WOT_UPDATE"]
    updatedBy: AuthorityId
    wotMaxDepth: int
    wotIdVerifyLen: int


class EmergencyAccessSettingsUpdatedEventDto(AuditEventDto):
    type: Literal["EMERGENCY_ACCESS_SETTINGS_UPDATED"]
    adminId: AuthorityId
    councilMemberIds: str = Field(description="comma-separated user ids")
    requiredKeyShares: int
    allowChoosingCouncil: bool


class EmergencyAccessSetupEventDto(AuditEventDto):
    type: Literal["EMERGENCY_ACCESS_SETUP"]
    vaultId: VaultId
    ownerId: AuthorityId
    settings: str = Field(description="JSON text: requiredEmergencyKeyShares and emergencyCouncilMemberIds")
    ipAddress: str = Omittable()


class EmergencyAccessRecoveryStartedEventDto(AuditEventDto):
    type: Literal["EMERGENCY_ACCESS_RECOVERY_STARTED"]
    vaultId: VaultId
    processId: VaultId
    councilMemberId: AuthorityId
    processType: RecoveryType
    details: str


class EmergencyAccessRecoveryApprovedEventDto(AuditEventDto):
    type: Literal["EMERGENCY_ACCESS_RECOVERY_APPROVED"]
    processId: VaultId
    councilMemberId: AuthorityId
    ipAddress: str = Omittable()


class EmergencyAccessRecoveryCompletedEventDto(AuditEventDto):
    type: Literal["EMERGENCY_ACCESS_RECOVERY_COMPLETED"]
    processId: VaultId
    councilMemberId: AuthorityId


class EmergencyAccessRecoveryAbortedEventDto(AuditEventDto):
    type: Literal["EMERGENCY_ACCESS_RECOVERY_ABORTED"]
    processId: VaultId
    councilMemberId: AuthorityId


# Events of the other parts of the service (key rings, POP keys, the secret server, storage, the
# token service), in a log of their own (GET /api/admin/auditlog); their details are each part's.
# Literal[tuple] is Literal of the tuple's values.
ServiceEventType = Literal[catalogue.SERVICE_TYPES]
KattaEventType = Literal[tuple(sorted(catalogue.KATTA_TYPES))]


class ServiceEventDto(AuditEventDto):
    """An event of another part of the service: its details are that part's."""
    model_config = ConfigDict(extra="allow")
    type: ServiceEventType


AuditEvent = Annotated[Union[
    DeviceRegisteredEventDto, DeviceRemovedEventDto, UserKeysChangeEventDto, UserSetupCodeChangeEventDto,
    UserAccountResetEventDto, UserEnabledChangeEventDto, VaultCreatedEventDto, VaultUpdatedEventDto,
    VaultDeletedEventDto, VaultMemberAddedEventDto, VaultMemberRemovedEventDto, VaultMemberUpdatedEventDto,
    VaultAccessGrantedEventDto, VaultKeyRetrievedEventDto, SignedWotIdEventDto, SettingWotUpdateEventDto,
    EmergencyAccessSettingsUpdatedEventDto, EmergencyAccessSetupEventDto, EmergencyAccessRecoveryStartedEventDto,
    EmergencyAccessRecoveryApprovedEventDto, EmergencyAccessRecoveryCompletedEventDto,
    EmergencyAccessRecoveryAbortedEventDto,
], Field(discriminator="type")]


# --- query parameters ----------------------------------------------------------------------------

class _Query(BaseModel):
    model_config = ConfigDict(defer_build=True)


class WithDevicesQuery(_Query):
    withDevices: bool = False
    withLastAccess: bool = Field(default=False, description="the devices' last use (Hub's parameter)")


class PageQuery(_Query):
    """Not in Katta's contract, whose clients get the whole list: a page when asked (README, Katta API)."""
    pageSize: int | None = Field(default=None, ge=1, le=1000, description="entries per page; absent: the whole list"
                                 " (as far as 5 MB of it: a Link rel=next header names the rest)")
    paginationToken: str | None = Field(default=None, description="the previous page's Link rel=next token")


class AuthorityIdsQuery(_Query):
    ids: list[AuthorityId] = Field(default=[], max_length=MAX_IDS_PER_QUERY)


class VaultIdsQuery(_Query):
    ids: list[VaultId] = Field(default=[], max_length=MAX_IDS_PER_QUERY)


class AuthoritySearchQuery(_Query):
    query: Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"\S")]
    withMemberSize: bool = False


class RoleFilterQuery(_Query):
    role: Role = Omittable(description="only the vaults where the caller has this role; without it, all")


class MemberRoleQuery(_Query):
    role: Role = Role.MEMBER


class GrantWaitQuery(_Query):
    wait: int = Field(default=25, ge=0, le=999_999_999, description=(
        "seconds to wait for a pending grant when there is none yet; the server caps the wait"))


class KeyRetrievalQuery(_Query):
    evenIfArchived: bool = False


class AuditLogQuery(_Query):
    startDate: dt.datetime
    endDate: dt.datetime
    paginationId: int = Omittable(description="the id of the last event of the previous page")
    order: Literal["asc", "desc"] = "desc"
    pageSize: int = Field(default=20, ge=1, le=MAX_PAGE_SIZE)
    type: list[KattaEventType] = Field(default=[], description="only events of these types")


class ServiceAuditLogQuery(AuditLogQuery):
    type: list[ServiceEventType] = Field(default=[], description="only events of these types")
