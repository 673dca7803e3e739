"""The contract's DTOs (katta-openapi.json) as typed dictionaries.

The client keeps the wire shape (camelCase, opaque strings) so that what the server stores is
exactly what the client sent; these types only tell readers and type checkers what is in them.
"""
from __future__ import annotations

from typing import Literal, TypedDict

Role = Literal["MEMBER", "OWNER"]
DeviceType = Literal["BROWSER", "DESKTOP", "MOBILE"]
AuthorityType = Literal["USER", "GROUP"]
RecoveryType = Literal["CHANGE_PERMISSIONS", "COUNCIL_CHANGE"]


class ConfigDto(TypedDict, total=False):
    keycloakUrl: str
    keycloakRealm: str
    keycloakClientIdHub: str
    keycloakClientIdCryptomator: str
    keycloakClientIdCryptomatorVaults: str
    keycloakAuthEndpoint: str
    keycloakTokenEndpoint: str
    # this server's, not Katta's: what to ask the IdP for
    clientScope: str
    authorizationParams: dict[str, str]
    serverTime: str
    apiLevel: int
    uuid: str
    desktopDownloadUrlMac: str
    desktopDownloadUrlWin: str


class VersionDto(TypedDict, total=False):
    hubVersion: str
    keycloakVersion: str


class DeviceDto(TypedDict, total=False):
    id: str
    name: str
    type: DeviceType
    publicKey: str
    userPrivateKey: str
    owner: str
    creationTime: str
    lastIpAddress: str
    lastAccessTime: str


class UserDto(TypedDict, total=False):
    id: str
    type: AuthorityType
    name: str
    pictureUrl: str
    email: str
    firstName: str
    lastName: str
    language: str
    enabled: bool
    devices: list[DeviceDto]
    ecdhPublicKey: str
    ecdsaPublicKey: str
    privateKeys: str
    setupCode: str


class AuthorityDto(TypedDict, total=False):
    id: str
    type: AuthorityType
    name: str
    pictureUrl: str
    memberSize: int


class MemberDto(AuthorityDto, total=False):
    ecdhPublicKey: str
    ecdsaPublicKey: str
    vaultRole: Role


class VaultDto(TypedDict, total=False):
    id: str
    name: str
    description: str
    creationTime: str
    archived: bool
    uvfMetadataFile: str
    uvfKeySet: str
    requiredEmergencyKeyShares: int
    emergencyKeyShares: dict[str, str]  # council member id → their key share (a JWE to them)


class RecoveredKeyShareDto(TypedDict, total=False):
    processPrivateKey: str
    unrecoveredKeyShare: str
    recoveredKeyShare: str
    signedProcessInfo: str


class RecoveryProcessDto(TypedDict, total=False):
    id: str
    vaultId: str
    type: RecoveryType
    details: str | dict[str, object]  # the contract's JSON text, or the object Hub's web client writes
    requiredKeyShares: int
    processPublicKey: str
    recoveredKeyShares: dict[str, RecoveredKeyShareDto]


class SettingsDto(TypedDict, total=False):
    hubId: str
    wotMaxDepth: int
    wotIdVerifyLen: int
    enableAutomaticAccessGrant: bool
    automaticAccessGrantTrustThreshold: int
    allowAutomaticAccessGrantOverride: bool
    enableEmergencyAccess: bool
    defaultRequiredEmergencyKeyShares: int
    defaultMinMembers: int
    allowChoosingEmergencyCouncil: bool
    emergencyCouncilMemberIds: list[str]


class StorageProfileDto(TypedDict, total=False):
    id: str
    name: str
    protocol: str
    archived: bool
    endpoint: str | None
    pathStyleAccessEnabled: bool
    storageClass: str
    region: str
    regions: list[str]
    bucketPrefix: str
    stsRoleCreateBucketClient: str
    stsRoleCreateBucketHub: str
    stsEndpoint: str | None
    stsRoleAccessBucketAssumeRoleWithWebIdentity: str
    stsRoleAccessBucketAssumeRoleTaggedSession: str | None
    stsDurationSeconds: int | None
    stsSessionTag: str


class CreateS3STSBucketDto(TypedDict):
    vaultId: str
    storageConfigId: str
    vaultUvf: str
    dirUvf: str
    rootDirHash: str
    awsAccessKey: str
    awsSecretKey: str
    sessionToken: str
    region: str


class TrustedUserDto(TypedDict, total=False):
    trustedUserId: str
    signatureChain: list[str]


class S3TokenResponse(TypedDict, total=False):
    """RFC 8693 token-exchange response shape (``POST /api/storage/s3-token``)."""
    access_token: str
    issued_token_type: str
    token_type: str
    expires_in: int
    scope: str
