// The DTOs of the Katta contract (tests/reference/katta-openapi.json) that the pages read.

/** ISO 8601 instant, as the server writes it. */
export type Instant = string;
export type VaultRole = "MEMBER" | "OWNER";

export interface ConfigDto {
  serverTime: Instant;
  apiLevel: number;
  uuid: string;
  keycloakClientIdCryptomatorVaults: string;
  licenseSetupRequired: boolean;
  keycloakUrl?: string;
  keycloakRealm?: string;
  keycloakClientIdHub?: string;
  keycloakClientIdCryptomator?: string;
  keycloakAuthEndpoint?: string;
  keycloakTokenEndpoint?: string;
  /** Ours: the issuer whose discovery document the web app signs in through. */
  oidcIssuer?: string;
  /** Ours: the public client the web app signs in with. */
  oidcWebClientId?: string;
  /** Ours: the scope every client asks the IdP for (Entra ID needs the API's own scope). */
  clientScope?: string;
  /** Ours: extra parameters of every request for tokens (Auth0's audience). */
  authorizationParams?: Record<string, string>;
}

export interface VersionDto {
  hubVersion: string;
  keycloakVersion: string;
}

export type DeviceType = "BROWSER" | "DESKTOP" | "MOBILE";

export interface DeviceDto {
  id: string;
  name: string;
  type: DeviceType;
  publicKey: string;
  userPrivateKey: string;
  owner: string;
  creationTime: Instant;
  lastAccessTime?: Instant;
  lastIpAddress?: string;
}

export interface UserDto {
  id: string;
  type: "USER";
  name: string;
  pictureUrl?: string;
  email?: string;
  firstName?: string;
  lastName?: string;
  language?: string;
  enabled: boolean;
  devices?: DeviceDto[];
  ecdhPublicKey?: string;
  ecdsaPublicKey?: string;
  privateKeys?: string;
  setupCode?: string;
}

export interface VaultDto {
  id: string;
  name: string;
  description?: string;
  archived: boolean;
  creationTime: Instant;
  uvfMetadataFile?: string;
  uvfKeySet?: string;
  /** Emergency access: council member id → their key share (a JWE); lists leave it out. */
  emergencyKeyShares?: Record<string, string>;
  requiredEmergencyKeyShares?: number;
}

/** What `PUT /api/vaults/{vaultId}` takes: a new vault, or a changed name, description or state. */
export interface VaultInput {
  name: string;
  description?: string;
  archived?: boolean;
  uvfMetadataFile?: string;
  uvfKeySet?: string;
}

/** The user keys as `PUT /api/users/me` takes them (first sign-in, or the ECDSA key added later). */
export interface UserKeysInput {
  ecdhPublicKey?: string;
  ecdsaPublicKey?: string;
  privateKeys?: string;
  setupCode?: string;
}

/** A device as `PUT /api/devices/{deviceId}` registers it. */
export interface DeviceInput {
  id: string;
  name: string;
  type: DeviceType;
  publicKey: string;
  userPrivateKey: string;
}

/** `GET /api/vaults/users-requiring-access-grant`: vault id to the ids of users awaiting a grant. */
export type PendingGrants = Record<string, string[]>;

export interface TrustedUserDto {
  trustedUserId: string;
  signatureChain: string[];
}

/** A storage profile as the API sends it: one definition, with the admin's calls (./admin). */
export type { StorageProfileDto } from "./admin";

/** `PUT /api/storage/{vaultId}`: the bucket's template and the caller's create-bucket credentials. */
export interface CreateBucketInput {
  vaultId: string;
  storageConfigId: string;
  vaultUvf: string;
  dirUvf: string;
  rootDirHash: string;
  awsAccessKey: string;
  awsSecretKey: string;
  sessionToken: string;
  region: string;
}

export interface VaultDtoWithRole {
  id: string;
  name: string;
  description?: string;
  archived: boolean;
  creationTime: Instant;
  role: VaultRole;
}

export interface AuthorityDto {
  id: string;
  type: "USER" | "GROUP";
  name: string;
  pictureUrl?: string;
}

export interface MemberDto extends AuthorityDto {
  ecdhPublicKey?: string;
  ecdsaPublicKey?: string;
  vaultRole: VaultRole;
  role: VaultRole;
  memberSize?: number;
}

export interface SettingsDto {
  hubId: string;
  wotMaxDepth: number;
  wotIdVerifyLen: number;
  enableAutomaticAccessGrant?: boolean;
  automaticAccessGrantTrustThreshold?: number;
  allowAutomaticAccessGrantOverride?: boolean;
  enableEmergencyAccess?: boolean;
  emergencyCouncilMemberIds: string[];
  defaultRequiredEmergencyKeyShares?: number;
  defaultMinMembers?: number;
  allowChoosingEmergencyCouncil?: boolean;
}

/** A rendezvous session as read: its payload and the token the next write must name. */
export interface RendezvousState {
  data: string;
  sequence_token: string;
  expires_in_ms: number;
}

export interface RendezvousCreated {
  id: string;
  sequence_token: string;
  expires_in_ms: number;
}
