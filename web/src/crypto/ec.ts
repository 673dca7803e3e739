/**
 * P-384 keys in WebCrypto: PKCS#8 / SPKI (base64, as Katta's DTOs carry them), JWK points,
 * RFC 7638 thumbprints, key-pair checks. A key is imported for one use: ECDH (key agreement:
 * user ECDH key, device key, recovery key) or ECDSA (the user's signing key).
 */
import { InvalidFormat, InvalidKey, KeyMismatch } from "./errors";
import { b64Decode, b64Encode, b64urlDecode, b64urlEncode, isJsonObject, utf8 } from "./encoding";

export const CURVE = "P-384";
const COORD_LEN = 48;

export type KeyUse = "ECDH" | "ECDSA";

/** A key given as a CryptoKey or as base64 DER text (PKCS#8 for private, SPKI for public keys). */
export type KeyLike = CryptoKey | string;

function usages(use: KeyUse, kind: "private" | "public"): KeyUsage[] {
  if (use === "ECDH") return kind === "private" ? ["deriveBits"] : [];
  return kind === "private" ? ["sign"] : ["verify"];
}

export function generateKeyPair(use: KeyUse, extractable = true): Promise<CryptoKeyPair> {
  // WebCrypto gives each half of the pair the usages that fit it (the public ECDSA key: verify).
  return crypto.subtle.generateKey({ name: use, namedCurve: CURVE }, extractable,
    [...usages(use, "private"), ...usages(use, "public")]) as Promise<CryptoKeyPair>;
}

function requireP384(key: CryptoKey, use: KeyUse, kind: KeyType, what: string): CryptoKey {
  const algorithm = key.algorithm as EcKeyAlgorithm;
  if (algorithm.name !== use || algorithm.namedCurve !== CURVE || key.type !== kind) {
    throw new InvalidKey(`${what} is not a P-384 ${use} ${kind} key`);
  }
  return key;
}

/** A P-384 private key from base64 PKCS#8 (both shapes: with and without the public key). */
export async function importPrivateKey(value: KeyLike, use: KeyUse, what = "private key",
                                       extractable = true): Promise<CryptoKey> {
  if (typeof value !== "string") return requireP384(value, use, "private", what);
  const der = b64Decode(value, what);
  try {
    return await crypto.subtle.importKey("pkcs8", der, { name: use, namedCurve: CURVE }, extractable,
      usages(use, "private"));
  } catch {
    throw new InvalidKey(`${what} is not a PKCS#8 P-384 private key`);
  }
}

/** A P-384 public key from base64 (standard) SPKI DER. */
export async function importPublicKey(value: KeyLike, use: KeyUse, what = "public key"): Promise<CryptoKey> {
  if (typeof value !== "string") return requireP384(value, use, "public", what);
  const der = b64Decode(value, what);
  try {
    return await crypto.subtle.importKey("spki", der, { name: use, namedCurve: CURVE }, true, usages(use, "public"));
  } catch {
    throw new InvalidKey(`${what} is not an SPKI P-384 public key`);
  }
}

/** base64 (standard) PKCS#8 DER, as in Katta's JWE payloads. */
export async function encodePrivateKey(key: CryptoKey): Promise<string> {
  return b64Encode(new Uint8Array(await crypto.subtle.exportKey("pkcs8", key)));
}

/** base64 (standard) SPKI DER, as in `UserDto.ecdhPublicKey` and `DeviceDto.publicKey`. */
export async function encodePublicKey(key: CryptoKey): Promise<string> {
  return b64Encode(await spki(key));
}

export async function spki(key: CryptoKey): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await crypto.subtle.exportKey("spki", key));
}

export interface PublicJwk {
  crv: string;
  kty: string;
  x: string;
  y: string;
}

/** Public JWK members in RFC 7638 order (crv, kty, x, y). */
export async function publicKeyToJwk(key: CryptoKey): Promise<PublicJwk> {
  const jwk = await crypto.subtle.exportKey("jwk", key);
  return { crv: CURVE, kty: "EC", x: jwk.x ?? "", y: jwk.y ?? "" };
}

/**
 * Strictly import a public P-384 JWK (a JWE `epk`, a jwks.json key): only kty, crv, x and y are
 * read, so WebCrypto's `key_ops`/`ext` extras do not matter; private members, other curves,
 * coordinates of the wrong size and points off the curve are refused.
 */
export async function publicKeyFromJwk(jwk: unknown, use: KeyUse, what = "epk"): Promise<CryptoKey> {
  if (!isJsonObject(jwk)) throw new InvalidFormat(`${what} is not a JSON object`);
  if (jwk.kty !== "EC") throw new InvalidKey(`${what} is not an EC key`);
  if (jwk.crv !== CURVE) throw new InvalidKey(`${what} is not on the expected curve P-384`);
  if ("d" in jwk) throw new InvalidKey(`${what} must not contain a private key`);
  const x = b64urlDecode(jwk.x, `${what}.x`);
  const y = b64urlDecode(jwk.y, `${what}.y`);
  if (x.length !== COORD_LEN || y.length !== COORD_LEN) {
    throw new InvalidKey(`${what} coordinates have the wrong length for P-384`);
  }
  try {
    // WebCrypto validates the point (on the curve, coordinates below the field prime).
    return await crypto.subtle.importKey("jwk", { kty: "EC", crv: CURVE, x: b64urlEncode(x), y: b64urlEncode(y) },
      { name: use, namedCurve: CURVE }, true, usages(use, "public"));
  } catch {
    throw new InvalidKey(`${what} is not a valid point on P-384`);
  }
}

/** RFC 7638 SHA-256 thumbprint, raw bytes. */
export async function jwkThumbprintBytes(key: CryptoKey): Promise<Uint8Array<ArrayBuffer>> {
  const { crv, kty, x, y } = await publicKeyToJwk(key);
  const canonical = JSON.stringify({ crv, kty, x, y });
  return new Uint8Array(await crypto.subtle.digest("SHA-256", utf8.encode(canonical)));
}

/** RFC 7638 SHA-256 thumbprint, base64url without padding. */
export async function jwkThumbprint(key: CryptoKey): Promise<string> {
  return b64urlEncode(await jwkThumbprintBytes(key));
}

/** The public key of an (extractable) private key, for the given use. */
export async function publicKeyOf(privateKey: CryptoKey, use: KeyUse): Promise<CryptoKey> {
  const { x, y } = await crypto.subtle.exportKey("jwk", privateKey);
  const jwk: JsonWebKey = { kty: "EC", crv: CURVE, x: x ?? "", y: y ?? "" };
  return crypto.subtle.importKey("jwk", jwk, { name: use, namedCurve: CURVE }, true, usages(use, "public"));
}

/** Throws KeyMismatch unless `privateKey` (extractable) belongs to `publicKey`. */
export async function checkKeyPair(privateKey: CryptoKey, publicKey: CryptoKey, what: string): Promise<void> {
  const mine = await crypto.subtle.exportKey("jwk", privateKey);
  const theirs = await crypto.subtle.exportKey("jwk", publicKey);
  if (mine.x !== theirs.x || mine.y !== theirs.y) throw new KeyMismatch(`${what} does not match its public key`);
}
