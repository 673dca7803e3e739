/**
 * Web of trust: ES384 signatures over other users' public keys (Katta / Cryptomator Hub). A
 * signature is a compact JWS with the signer's ECDSA key, protected header
 * `{"alg":"ES384","typ":"JWT","b64":true,"iss":<signer id>,"sub":<signed user id>,"iat":<s>}`
 * and payload `{"ecdhPublicKey":…,"ecdsaPublicKey":…}` (the signed user's base64 SPKI keys).
 */
import { CompactSign, compactVerify, errors as joseErrors } from "jose";
import { InvalidFormat, KattaCryptoError, SignatureInvalid } from "./errors";
import { concatBytes, hexUpper, jsonObject, jsonSegment, utf8 } from "./encoding";
import { importPrivateKey, importPublicKey, jwkThumbprintBytes, type KeyLike } from "./ec";

const ALG = "ES384";
export const MAX_CHAIN_LENGTH = 16;
const MAX_JWS_LENGTH = 8192;

/** The public keys a signature vouches for, compared as strings like Katta does. */
export interface SignedKeys {
  ecdhPublicKey: string;
  ecdsaPublicKey: string;
}

export interface SignatureHeader {
  alg: string;
  iss: string;
  sub: string;
  iat: number;
}

/** A compact ES384 JWS as Hub writes its signatures: protected header `{"alg":"ES384","typ":"JWT","b64":true}`
 * plus `header`, the payload JSON. */
export async function signEs384(signerEcdsaPrivateKey: CryptoKey, header: Record<string, unknown>,
                                payload: Record<string, unknown>): Promise<string> {
  const key = await importPrivateKey(signerEcdsaPrivateKey, "ECDSA", "signer ECDSA private key");
  return new CompactSign(utf8.encode(JSON.stringify(payload)))
    .setProtectedHeader({ alg: ALG, typ: "JWT", b64: true, ...header })
    .sign(key);
}

/** Verify a compact ES384 JWS over a JSON object with the signer's ECDSA public key (base64 SPKI or
 * CryptoKey): its protected header and payload. */
export async function verifyEs384(signature: unknown, signerPublicKey: KeyLike,
                                  maxLength = MAX_JWS_LENGTH): Promise<[Record<string, unknown>, Record<string, unknown>]> {
  if (typeof signature !== "string" || signature.length > maxLength || signature.split(".").length !== 3) {
    throw new InvalidFormat("signature is not a compact JWS");
  }
  const key = await importPublicKey(signerPublicKey, "ECDSA", "signer public key");
  // jose reads the header last-wins: it may only see one that names each member once.
  const header = jsonSegment(signature.split(".")[0], "signature header");
  let payload: Uint8Array;
  try {
    ({ payload } = await compactVerify(signature, key, { algorithms: [ALG] }));
  } catch (err) {
    if (err instanceof joseErrors.JWSSignatureVerificationFailed) throw new SignatureInvalid("signature does not verify");
    throw new InvalidFormat("signature is malformed");
  }
  if (header.alg !== ALG || (header.b64 ?? true) !== true) throw new SignatureInvalid("signature must be ES384 over a base64url payload");
  return [header, jsonObject(payload, "signed payload")];
}

/** Sign another user's public keys with the signer's ECDSA private key. */
export async function signUserKeys(signerEcdsaPrivateKey: CryptoKey, signerId: string, userId: string,
                                   signedKeys: SignedKeys, iat = Math.floor(Date.now() / 1000)): Promise<string> {
  if (!signerId || !userId) throw new InvalidFormat("signer and user ids must be non-empty strings");
  // Both keys must at least be P-384 SPKI before we vouch for them.
  await importPublicKey(signedKeys.ecdhPublicKey, "ECDH", "signed ECDH public key");
  await importPublicKey(signedKeys.ecdsaPublicKey, "ECDSA", "signed ECDSA public key");
  const payload = { ecdhPublicKey: signedKeys.ecdhPublicKey, ecdsaPublicKey: signedKeys.ecdsaPublicKey };
  return signEs384(signerEcdsaPrivateKey, { iss: signerId, sub: userId, iat }, payload);
}

/** Verify one web-of-trust signature with the signer's ECDSA public key (base64 SPKI or CryptoKey). */
export async function verifySignature(signature: unknown, signerPublicKey: KeyLike): Promise<[SignatureHeader, SignedKeys]> {
  const [header, body] = await verifyEs384(signature, signerPublicKey);
  if (typeof header.iss !== "string" || typeof header.sub !== "string") throw new SignatureInvalid("signature lacks iss or sub");
  if (typeof body.ecdhPublicKey !== "string" || typeof body.ecdsaPublicKey !== "string") {
    throw new InvalidFormat("signed payload lacks ecdhPublicKey/ecdsaPublicKey");
  }
  return [{ alg: ALG, iss: header.iss, sub: header.sub, iat: Number(header.iat) },
    { ecdhPublicKey: body.ecdhPublicKey, ecdsaPublicKey: body.ecdsaPublicKey }];
}

/**
 * A chain where each signature signs the keys of the next signer: the first verifies with
 * `signerPublicKey` and is issued by `expectedIssuer`; the last signs exactly `allegedKeys` of
 * `trustedUserId`. Returns the chain length.
 */
export async function verifyChain(chain: readonly string[], signerPublicKey: KeyLike, expectedIssuer: string,
                                  trustedUserId: string, allegedKeys: SignedKeys): Promise<number> {
  if (chain.length === 0) throw new SignatureInvalid("empty signature chain");
  if (chain.length > MAX_CHAIN_LENGTH) throw new SignatureInvalid("signature chain is too long");
  let key: KeyLike = signerPublicKey;
  let issuer = expectedIssuer;
  for (const [index, signature] of chain.entries()) {
    const [header, signed] = await verifySignature(signature, key);
    if (header.iss !== issuer) throw new SignatureInvalid("signature issued by an unexpected issuer");
    if (index === chain.length - 1) {
      if (header.sub !== trustedUserId) throw new SignatureInvalid("signature issued for a different subject");
      if (signed.ecdhPublicKey !== allegedKeys.ecdhPublicKey || signed.ecdsaPublicKey !== allegedKeys.ecdsaPublicKey) {
        throw new SignatureInvalid("signed keys do not match the user's current keys");
      }
    } else {
      key = signed.ecdsaPublicKey;
      issuer = header.sub;
    }
  }
  return chain.length;
}

export interface TrustedUser {
  trustedUserId: string;
  signatureChain: string[];
}

/** 0 for myself, the verified chain length for a trusted user, -1 when unverified. */
export async function computeTrustLevel(myId: string, myEcdsaPublicKey: KeyLike, userId: string,
                                        userKeys: Partial<SignedKeys>, trust?: TrustedUser | null): Promise<number> {
  if (userId === myId) return 0;
  if (!trust || trust.trustedUserId !== userId || !userKeys.ecdhPublicKey || !userKeys.ecdsaPublicKey) return -1;
  try {
    return await verifyChain(trust.signatureChain, myEcdsaPublicKey, myId, userId,
      { ecdhPublicKey: userKeys.ecdhPublicKey, ecdsaPublicKey: userKeys.ecdsaPublicKey });
  } catch (err) {
    if (err instanceof KattaCryptoError) return -1;
    throw err;
  }
}

/** Hub's identity fingerprint: uppercase hex SHA-256 of both keys' RFC 7638 thumbprints. */
export async function fingerprint(keys: SignedKeys): Promise<string> {
  const ecdh = await jwkThumbprintBytes(await importPublicKey(keys.ecdhPublicKey, "ECDH", "ECDH public key"));
  const ecdsa = await jwkThumbprintBytes(await importPublicKey(keys.ecdsaPublicKey, "ECDSA", "ECDSA public key"));
  return hexUpper(new Uint8Array(await crypto.subtle.digest("SHA-256", concatBytes(ecdh, ecdsa))));
}

/** The part of the fingerprint two people compare before one signs: its first `wotIdVerifyLen`
 * characters (`/api/settings`). */
export function identityFingerprint(fullFingerprint: string, wotIdVerifyLen: number): string {
  return fullFingerprint.slice(0, Math.max(0, wotIdVerifyLen));
}

/** Whether what a person typed is the identity fingerprint (case and spaces do not matter). */
export function matchesIdentityFingerprint(typed: string, fullFingerprint: string, wotIdVerifyLen: number): boolean {
  const expected = identityFingerprint(fullFingerprint, wotIdVerifyLen);
  return expected.length > 0 && typed.replace(/\s+/g, "").toUpperCase() === expected;
}
