/**
 * Vault access tokens: compact JWE to a member's ECDH public key, `enc` A256GCM, `alg` ECDH-ES
 * or ECDH-ES+A256KW (both read; Katta's web client writes the latter, its Java client the
 * former), `kid` org.cryptomator.hub.userkey, payload
 * `{"key": base64(32-byte member key), "recoveryKey"?: base64(PKCS#8 P-384)}` (owners only).
 */
import { InvalidFormat } from "./errors";
import { b64Decode, b64Encode, type JsonObject } from "./encoding";
import { encodePrivateKey, importPrivateKey, importPublicKey, type KeyLike } from "./ec";
import { ALG_ECDH_ES, ECDH_ALGS, decryptEcdhEs, encryptEcdhEs, type EcdhAlg } from "./jwe";

export const KID_ACCESS_TOKEN = "org.cryptomator.hub.userkey";
export const MEMBER_KEY_LEN = 32;

export interface AccessTokenPayload {
  memberKey: Uint8Array;
  /** The recovery private key (ECDH), only in vault owners' tokens. */
  recoveryKey?: CryptoKey;
}

export function checkMemberKey(memberKey: Uint8Array): Uint8Array {
  if (!(memberKey instanceof Uint8Array) || memberKey.length !== MEMBER_KEY_LEN) {
    throw new InvalidFormat("member key must be 32 bytes");
  }
  return memberKey;
}

/** Access token for one member (its base64 SPKI ECDH key); pass `recoveryKey` only for owners. */
export async function encryptAccessToken(memberEcdhPublicKey: KeyLike, memberKey: Uint8Array,
                                         recoveryKey?: CryptoKey, alg: EcdhAlg = ALG_ECDH_ES): Promise<string> {
  const payload: JsonObject = { key: b64Encode(checkMemberKey(memberKey)) };
  if (recoveryKey !== undefined) payload.recoveryKey = await encodePrivateKey(recoveryKey);
  const publicKey = await importPublicKey(memberEcdhPublicKey, "ECDH", "member ECDH public key");
  return encryptEcdhEs(payload, publicKey, KID_ACCESS_TOKEN, alg);
}

export async function decryptAccessToken(token: string, userEcdhPrivateKey: CryptoKey): Promise<AccessTokenPayload> {
  const payload = await decryptEcdhEs(token, userEcdhPrivateKey, ECDH_ALGS, "access token");
  const memberKey = b64Decode(payload.key, "access token key");
  if (memberKey.length !== MEMBER_KEY_LEN) throw new InvalidFormat("access token key must be 32 bytes");
  if (payload.recoveryKey === undefined) return { memberKey };
  if (typeof payload.recoveryKey !== "string") throw new InvalidFormat("access token recoveryKey is not base64");
  return { memberKey, recoveryKey: await importPrivateKey(payload.recoveryKey, "ECDH", "access token recoveryKey") };
}
