/**
 * Vault keys and vault.uvf (Katta / Cryptomator Hub UVF):
 *
 * - member key: 32 random bytes, the A256KW key every member receives in an access token;
 * - recovery key: a P-384 ECDH key pair; the public part is published in uvf/jwks.json with kid
 *   `org.cryptomator.hub.recoverykey.<RFC 7638 thumbprint>`, the private part travels only in
 *   owners' access tokens;
 * - vault.uvf: JWE JSON general serialization with two recipients, member key (A256KW) and
 *   recovery key (ECDH-ES+A256KW), protected header as Katta writes it:
 *   `{"cty":"json","crit":["uvf.spec.version"],"uvf.spec.version":1,"cloud.katta.origin":…,"jku":"jwks.json","enc":"A256GCM"}`.
 *
 * Read as each real writer writes it: Hub's web client's protected header is
 * `{"origin":…,"jku":"jwks.json","enc":"A256GCM"}` (no crit, no version, no cty). Safe: the
 * protected header is authenticated, a crit member we do not understand is still refused, and a
 * uvf.spec.version other than 1 is refused.
 */
import { InvalidFormat, InvalidKey } from "./errors";
import { isJsonObject, jsonObject, randomBytes, type JsonObject } from "./encoding";
import {
  checkKeyPair,
  encodePrivateKey,
  generateKeyPair,
  importPrivateKey,
  jwkThumbprint,
  publicKeyFromJwk,
  publicKeyOf,
  publicKeyToJwk,
  type KeyLike,
} from "./ec";
import { ALG_A256KW, ALG_ECDH_ES, ALG_ECDH_ES_A256KW, ENC, decryptGeneralJson, encryptGeneralJson, type EcdhAlg } from "./jwe";
import { MEMBER_KEY_LEN, checkMemberKey, encryptAccessToken, type AccessTokenPayload } from "./accessToken";
import { VaultMetadata } from "./uvf";

export const KID_MEMBER_KEY = "org.cryptomator.hub.memberkey";
export const RECOVERY_KID_PREFIX = "org.cryptomator.hub.recoverykey.";
export const UVF_SPEC_VERSION = 1;

/** vault.uvf as text (S3, `GET …/uvf/vault.uvf`) or parsed. */
export type VaultDocument = string | object;

export async function recoveryKeyId(publicKey: CryptoKey): Promise<string> {
  return RECOVERY_KID_PREFIX + (await jwkThumbprint(publicKey));
}

/** `cloud.katta.origin`: `<api base>/vaults/<id>/uvf/vault.uvf`, as Katta's clients build it. */
export function vaultUvfOrigin(apiBaseUrl: string, vaultId: string): string {
  return `${apiBaseUrl}/vaults/${vaultId}/uvf/vault.uvf`;
}

/** The recovery public key from uvf/jwks.json; its kid must match its thumbprint. */
export async function recoveryPublicKeyFromJwks(jwks: string | JsonObject): Promise<CryptoKey> {
  const document = typeof jwks === "string" ? jsonObject(jwks, "jwks.json") : jwks;
  if (!Array.isArray(document.keys)) throw new InvalidFormat("jwks.json has no keys");
  for (const jwk of document.keys as unknown[]) {
    if (!isJsonObject(jwk) || typeof jwk.kid !== "string" || !jwk.kid.startsWith(RECOVERY_KID_PREFIX)) continue;
    const { kty, crv, x, y } = jwk;
    const publicKey = await publicKeyFromJwk({ kty, crv, x, y }, "ECDH", "recovery key");
    if (jwk.kid === (await recoveryKeyId(publicKey))) return publicKey;
  }
  throw new InvalidFormat("jwks.json holds no recovery key whose kid matches its thumbprint");
}

function checkUvfHeader(protectedHeader: JsonObject): void {
  // Hub's web client writes no uvf.spec.version: its files are version 1 too.
  const version = protectedHeader["uvf.spec.version"] ?? UVF_SPEC_VERSION;
  if (version !== UVF_SPEC_VERSION) throw new InvalidFormat("unsupported uvf.spec.version");
}

/** vault.uvf contents (JSON text) for the metadata, member key and recovery public key. */
export async function encryptVaultMetadata(metadata: VaultMetadata, memberKey: Uint8Array, recoveryPublicKey: CryptoKey,
                                           origin?: string): Promise<string> {
  checkMemberKey(memberKey);
  const protectedHeader: Record<string, unknown> = { cty: "json", crit: ["uvf.spec.version"], "uvf.spec.version": UVF_SPEC_VERSION };
  if (origin !== undefined) protectedHeader["cloud.katta.origin"] = origin;
  protectedHeader.jku = "jwks.json";
  protectedHeader.enc = ENC;
  const document = await encryptGeneralJson(protectedHeader, metadata.toPayload(), [
    { header: { kid: KID_MEMBER_KEY, alg: ALG_A256KW }, key: memberKey },
    { header: { kid: await recoveryKeyId(recoveryPublicKey), alg: ALG_ECDH_ES_A256KW }, key: recoveryPublicKey },
  ]);
  return JSON.stringify(document);
}

/** Decrypt vault.uvf with the member key (from the caller's access token). */
export async function decryptVaultMetadataWithMemberKey(document: VaultDocument, memberKey: Uint8Array): Promise<VaultMetadata> {
  const [, payload] = await decryptGeneralJson(document, checkMemberKey(memberKey),
    { alg: ALG_A256KW, kid: KID_MEMBER_KEY, what: "vault.uvf", checkProtected: checkUvfHeader });
  return VaultMetadata.fromPayload(payload);
}

/** Decrypt vault.uvf with the recovery private key. */
export async function decryptVaultMetadataWithRecoveryKey(document: VaultDocument,
                                                          recoveryPrivateKey: KeyLike): Promise<VaultMetadata> {
  const privateKey = await importPrivateKey(recoveryPrivateKey, "ECDH", "recovery private key");
  const kid = await recoveryKeyId(await publicKeyOf(privateKey, "ECDH"));
  const [, payload] = await decryptGeneralJson(document, privateKey,
    { alg: ALG_ECDH_ES_A256KW, kid, what: "vault.uvf", checkProtected: checkUvfHeader });
  return VaultMetadata.fromPayload(payload);
}

/** A vault's member key and recovery key pair (the private part only for owners). */
export class VaultKeys {
  private constructor(readonly memberKey: Uint8Array, readonly recoveryPublicKey: CryptoKey,
                      readonly recoveryPrivateKey: CryptoKey | undefined) {}

  static async create(): Promise<VaultKeys> {
    const recovery = await generateKeyPair("ECDH");
    return new VaultKeys(randomBytes(MEMBER_KEY_LEN), recovery.publicKey, recovery.privateKey);
  }

  /** As a member (or owner) sees the vault: the access token and uvf/jwks.json. */
  static async fromAccessToken(payload: AccessTokenPayload, jwks: string | JsonObject): Promise<VaultKeys> {
    const publicKey = await recoveryPublicKeyFromJwks(jwks);
    if (payload.recoveryKey !== undefined) await checkKeyPair(payload.recoveryKey, publicKey, "recovery private key");
    return new VaultKeys(checkMemberKey(payload.memberKey), publicKey, payload.recoveryKey);
  }

  get isOwner(): boolean {
    return this.recoveryPrivateKey !== undefined;
  }

  recoveryKeyId(): Promise<string> {
    return recoveryKeyId(this.recoveryPublicKey);
  }

  /** The recovery private key as base64 PKCS#8, for the owner to keep offline (owners only). */
  recoveryKeyText(): Promise<string> {
    if (this.recoveryPrivateKey === undefined) throw new InvalidKey("only owners hold the recovery key");
    return encodePrivateKey(this.recoveryPrivateKey);
  }

  /** uvf/jwks.json: the public recovery key only. */
  async jwks(): Promise<JsonObject> {
    return { keys: [{ ...(await publicKeyToJwk(this.recoveryPublicKey)), kid: await this.recoveryKeyId(), alg: ALG_ECDH_ES_A256KW }] };
  }

  async jwksJson(): Promise<string> {
    return JSON.stringify(await this.jwks());
  }

  encryptMetadata(metadata: VaultMetadata, origin?: string): Promise<string> {
    return encryptVaultMetadata(metadata, this.memberKey, this.recoveryPublicKey, origin);
  }

  decryptMetadata(document: VaultDocument): Promise<VaultMetadata> {
    return decryptVaultMetadataWithMemberKey(document, this.memberKey);
  }

  /** Access token for a member (base64 SPKI ECDH key); `owner` adds the recovery private key. */
  encryptForUser(memberEcdhPublicKey: KeyLike, owner = false, alg: EcdhAlg = ALG_ECDH_ES): Promise<string> {
    if (owner && this.recoveryPrivateKey === undefined) throw new InvalidKey("owner access tokens need the recovery private key");
    return encryptAccessToken(memberEcdhPublicKey, this.memberKey, owner ? this.recoveryPrivateKey : undefined, alg);
  }
}

