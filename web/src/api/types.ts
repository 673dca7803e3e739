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
