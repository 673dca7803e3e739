/**
 * Emergency access, byte-compatible with `katta_client/crypto/emergency.py` and Cryptomator Hub's
 * web client (`frontend/src/common/emergencyaccess.ts`):
 *
 * - Shamir's secret sharing over GF(2^8) (AES polynomial 0x11b) in npm `shamir-secret-sharing`'s
 *   share format: the polynomial's value at x for every secret byte, then x itself (1..255,
 *   distinct per share). Checked against shares that package wrote
 *   (`tests/reference/shamir-vectors.json`).
 * - the secret: the vault's recovery private key as PKCS#8 DER;
 * - key share: compact JWE ECDH-ES / A256GCM to a council member's ECDH key, payload
 *   `{"keyShare": base64(share)}`;
 * - process key: a fresh P-384 ECDH pair per recovery process; the public key as JWK JSON text
 *   (`processPublicKey`), the private key as a JWE of `{"privateKey": JWK}` to each council member;
 * - recovered share: the member's key share payload, re-encrypted to the process public key;
 * - signed process info (`signedProcessInfo`, with each approval): an ES384 JWT by the approving
 *   member's ECDSA key, header `{"alg":"ES384","typ":"JWT","b64":true}`, claims `iss` (the member's
 *   id), `sub` (the process id), `iat`, and the process's `type` and `details` as they are: what the
 *   member agreed to, so a server cannot swap the change a threshold approved. Ours add
 *   `processPublicKey`, the text the process names (Hub's web client ignores extra claims and writes
 *   none): the key the member sealed their share to, so a server cannot swap in a key pair of its own.
 *
 * Shamir's scheme does not authenticate: too few or tampered shares combine into a wrong secret,
 * so what `combineRecoveredKey` recovers is checked against the vault's published recovery key.
 */
import { InvalidFormat, InvalidKey, KeyMismatch, SignatureInvalid } from "./errors";
import { b64Decode, b64Encode, jsonObject, randomBytes, sameJson, type JsonObject } from "./encoding";
import {
  CURVE,
  checkKeyPair,
  encodePrivateKey,
  generateKeyPair,
  importPrivateKey,
  importPublicKey,
  publicKeyFromJwk,
  publicKeyToJwk,
  type KeyLike,
} from "./ec";
import { ECDH_ALGS, decryptEcdhEs, encryptEcdhEs } from "./jwe";
import { MEMBER_KEY_LEN } from "./accessToken";
import { VaultKeys, decryptVaultMetadataWithRecoveryKey, type VaultDocument } from "./vault";
import { signEs384, verifyEs384 } from "./wot";

export const MAX_SHARES = 255;

function mul(a: number, b: number): number {
  let product = 0;
  while (b) {
    if (b & 1) product ^= a;
    a <<= 1;
    if (a & 0x100) a ^= 0x11b;
    b >>= 1;
  }
  return product;
}

function inverse(a: number): number {
  // a^254 = a^-1 in GF(2^8): the multiplicative group has order 255.
  let result = 1;
  let power = a;
  for (let exponent = 254; exponent; exponent >>= 1) {
    if (exponent & 1) result = mul(result, power);
    power = mul(power, power);
  }
  return result;
}

function distinctXs(count: number): number[] {
  const xs = new Set<number>();
  while (xs.size < count) {
    for (const x of randomBytes(count)) if (x !== 0 && xs.size < count) xs.add(x);
  }
  return [...xs];
}

/** `shares` shares of `secret`, any `threshold` of which give it back (2 ≤ threshold ≤ shares ≤ 255). */
export function shamirSplit(secret: Uint8Array, shares: number, threshold: number): Uint8Array[] {
  if (secret.length === 0) throw new InvalidFormat("the secret to split must not be empty");
  if (!(Number.isInteger(shares) && Number.isInteger(threshold) && 2 <= threshold && threshold <= shares && shares <= MAX_SHARES)) {
    throw new InvalidFormat(`shares and threshold must satisfy 2 <= threshold <= shares <= ${MAX_SHARES}`);
  }
  const xs = distinctXs(shares);
  const result = xs.map((x) => {
    const share = new Uint8Array(secret.length + 1);
    share[secret.length] = x;
    return share;
  });
  secret.forEach((byte, i) => {
    const coefficients = [byte, ...randomBytes(threshold - 1)];
    xs.forEach((x, s) => {
      // Horner's rule, highest coefficient first.
      let value = 0;
      for (let c = coefficients.length - 1; c >= 0; c--) value = mul(value, x) ^ (coefficients[c] ?? 0);
      (result[s] as Uint8Array)[i] = value;
    });
  });
  return result;
}

/** The secret the shares interpolate to at x = 0; fewer shares than the threshold give a wrong one. */
export function shamirCombine(shares: readonly Uint8Array[]): Uint8Array {
  if (shares.length < 2 || shares.length > MAX_SHARES) throw new InvalidFormat(`between 2 and ${MAX_SHARES} shares are needed`);
  const length = shares[0]?.length ?? 0;
  if (length < 2 || shares.some((s) => s.length !== length)) {
    throw new InvalidFormat("shares must be at least 2 bytes and all of the same length");
  }
  const xs = shares.map((s) => s[length - 1] ?? 0);
  if (xs.includes(0) || new Set(xs).size !== xs.length) throw new InvalidFormat("shares must have distinct, non-zero x coordinates");
  // Lagrange basis at 0: prod x_j / (x_i + x_j) over j != i (subtraction is xor).
  const basis = xs.map((xi, i) => {
    let numerator = 1;
    let denominator = 1;
    xs.forEach((xj, j) => {
      if (i === j) return;
      numerator = mul(numerator, xj);
      denominator = mul(denominator, xi ^ xj);
    });
    return mul(numerator, inverse(denominator));
  });
  const secret = new Uint8Array(length - 1);
  for (let k = 0; k < length - 1; k++) {
    secret[k] = shares.reduce((value, share, s) => value ^ mul(share[k] ?? 0, basis[s] ?? 0), 0);
  }
  return secret;
}

async function sharePayload(token: string, privateKey: CryptoKey, what: string): Promise<{ keyShare: string }> {
  const payload = await decryptEcdhEs(token, privateKey, ECDH_ALGS, what);
  if (typeof payload.keyShare !== "string") throw new InvalidFormat(`${what} holds no keyShare`);
  return { keyShare: payload.keyShare };
}

/** One key share per council member (member id → JWE to their base64 SPKI ECDH key). */
export async function splitRecoveryKey(recoveryPrivateKey: CryptoKey, threshold: number,
                                       council: Readonly<Record<string, KeyLike>>): Promise<Record<string, string>> {
  const secret = b64Decode(await encodePrivateKey(recoveryPrivateKey), "recovery private key");
  const members = Object.keys(council);
  const shares = shamirSplit(secret, members.length, threshold);
  const result: Record<string, string> = {};
  for (const [i, member] of members.entries()) {
    const publicKey = await importPublicKey(council[member] as KeyLike, "ECDH", `ECDH key of ${member}`);
    result[member] = await encryptEcdhEs({ keyShare: b64Encode(shares[i] as Uint8Array) }, publicKey);
  }
  return result;
}

/** A recovery process's key pair: the public key as JWK text, the private key encrypted to each
 * council member (member id → JWE). */
export async function newProcessKey(council: Readonly<Record<string, KeyLike>>):
    Promise<{ processPublicKey: string; processPrivateKeys: Record<string, string> }> {
  const pair = await generateKeyPair("ECDH");
  const publicJwk = await publicKeyToJwk(pair.publicKey);
  const { d } = await crypto.subtle.exportKey("jwk", pair.privateKey);
  const privateKey = { ...publicJwk, d: d ?? "" };
  const processPrivateKeys: Record<string, string> = {};
  for (const [member, key] of Object.entries(council)) {
    const publicKey = await importPublicKey(key, "ECDH", `ECDH key of ${member}`);
    processPrivateKeys[member] = await encryptEcdhEs({ privateKey }, publicKey);
  }
  return { processPublicKey: JSON.stringify(publicJwk), processPrivateKeys };
}

/** A council member's approval: their key share, opened with their key, sealed to the process key. */
export async function recoverShare(keyShare: string, userEcdhPrivateKey: CryptoKey, processPublicKey: string): Promise<string> {
  const payload = await sharePayload(keyShare, userEcdhPrivateKey, "your key share");
  const processKey = await publicKeyFromJwk(jsonObject(processPublicKey, "processPublicKey"), "ECDH", "processPublicKey");
  return encryptEcdhEs(payload, processKey);
}

async function processKeyFromJwk(jwk: unknown): Promise<CryptoKey> {
  if (typeof jwk !== "object" || jwk === null) throw new InvalidFormat("the process private key is not a JWK");
  const { d, ...publicPart } = jwk as JsonObject;
  const publicKey = await publicKeyFromJwk(publicPart, "ECDH", "process key");
  if (typeof d !== "string") throw new InvalidFormat("the process private key has no d");
  let privateKey: CryptoKey;
  try {
    privateKey = await crypto.subtle.importKey("jwk", { kty: "EC", crv: CURVE, x: publicPart.x, y: publicPart.y, d } as JsonWebKey,
      { name: "ECDH", namedCurve: CURVE }, true, ["deriveBits"]);
  } catch {
    throw new InvalidKey("the process private key is not a P-384 key");
  }
  await checkKeyPair(privateKey, publicKey, "process private key");
  return privateKey;
}

/** The vault's recovery private key from the approved shares; KeyMismatch (or InvalidKey) when
 * they do not give the vault's key (too few, or tampered with). */
export async function combineRecoveredKey(recoveredShares: readonly string[], processPrivateKey: string,
                                          userEcdhPrivateKey: CryptoKey, recoveryPublicKey: KeyLike): Promise<CryptoKey> {
  const payload = await decryptEcdhEs(processPrivateKey, userEcdhPrivateKey, ECDH_ALGS, "process private key");
  const processKey = await processKeyFromJwk(payload.privateKey);
  const shares: Uint8Array[] = [];
  for (const share of recoveredShares) {
    shares.push(b64Decode((await sharePayload(share, processKey, "recovered key share")).keyShare, "keyShare"));
  }
  let key: CryptoKey;
  try {
    key = await importPrivateKey(b64Encode(shamirCombine(shares)), "ECDH", "recovered recovery key");
  } catch (error) {
    if (error instanceof InvalidKey) throw new KeyMismatch("the key shares do not combine into a recovery key (too few, or tampered with)");
    throw error;
  }
  await checkKeyPair(key, await importPublicKey(recoveryPublicKey, "ECDH", "recovery public key"), "recovered recovery key");
  return key;
}

/** After a recovery: vault.uvf re-encrypted under a fresh member key (the old one cannot be had from
 * the recovery key), and the vault's keys to grant the new owners and members with. */
export async function rekeyWithRecoveryKey(vaultUvf: VaultDocument, jwks: string | JsonObject, recoveryPrivateKey: CryptoKey,
                                           origin: string): Promise<{ keys: VaultKeys; uvfMetadataFile: string }> {
  const metadata = await decryptVaultMetadataWithRecoveryKey(vaultUvf, recoveryPrivateKey);
  const keys = await VaultKeys.fromAccessToken({ memberKey: randomBytes(MEMBER_KEY_LEN), recoveryKey: recoveryPrivateKey }, jwks);
  return { keys, uvfMetadataFile: await keys.encryptMetadata(metadata, origin) };
}

/** What an approval signs of a process: its id, type, public key and, if it has any, details. */
export interface ProcessInfo {
  id: string;
  type: string;
  processPublicKey: string;
  details?: unknown;
}

// A process's details may be 16 KiB of JSON (the server's limit): its signature carries them, base64url.
const MAX_PROCESS_INFO_LENGTH = 32 * 1024;

const signedPart = ({ type, details }: { type?: unknown; details?: unknown }): JsonObject =>
  details === undefined ? { type } : { type, details };

/** The `signedProcessInfo` of `signerId`'s approval, with their ECDSA private key. */
export async function signProcessInfo(signerEcdsaPrivateKey: CryptoKey, signerId: string, process: ProcessInfo,
                                      iat = Math.floor(Date.now() / 1000)): Promise<string> {
  return signEs384(signerEcdsaPrivateKey, {}, { iss: signerId, sub: process.id, iat, ...signedPart(process),
    processPublicKey: process.processPublicKey });
}

/** SignatureInvalid unless `signature` is `signerId`'s over this process's type and details and, if it
 * names one (ours do, Hub's do not), this process's public key. */
export async function verifyProcessInfo(signature: unknown, signerPublicKey: KeyLike, signerId: string,
                                        process: ProcessInfo): Promise<void> {
  const [, claims] = await verifyEs384(signature, signerPublicKey, MAX_PROCESS_INFO_LENGTH);
  if (claims.iss !== signerId || claims.sub !== process.id) {
    throw new SignatureInvalid(`the approval of ${signerId} was signed by someone else or for another process`);
  }
  if (!sameJson(signedPart(claims), signedPart(process))) {
    throw new SignatureInvalid(`${signerId} approved another change than this process names`);
  }
  if ("processPublicKey" in claims && claims.processPublicKey !== process.processPublicKey) {
    throw new SignatureInvalid(`the process key was replaced since ${signerId} approved`);
  }
}
