/**
 * The JOSE layer: Katta's JWE formats through `jose`, with Katta's policy decided before jose
 * sees a token (the same policy as `katta_client/crypto/jwe.py`):
 *
 * - only `enc` A256GCM and, per call, an explicit list of `alg` values; no `zip`;
 * - PBES2 `p2c` within [PBES2_MIN_ITERATIONS, PBES2_MAX_ITERATIONS], checked before any
 *   derivation (a huge `p2c` is a CPU denial of service);
 * - `epk` a public P-384 point on the curve; `crit` only what the caller understands;
 * - headers and payloads read with `jsonObject` (a member named twice is refused);
 * - 12-byte IVs and 16-byte tags, with two writer quirks of Katta's published vectors accepted,
 *   both in `normalizeTag` and `decryptNimbusEcdh`.
 */
import {
  CompactEncrypt,
  GeneralEncrypt,
  compactDecrypt,
  errors as joseErrors,
  flattenedDecrypt,
  type CompactJWEHeaderParameters,
  type FlattenedJWE,
  type GeneralJWE,
  type JWEHeaderParameters,
} from "jose";
import { DecryptionFailed, InvalidFormat, InvalidKey, KattaCryptoError, UnsafeParameter } from "./errors";
import {
  b64urlDecode,
  b64urlEncode,
  concatBytes,
  isJsonObject,
  jsonObject,
  jsonSegment,
  uint32be,
  utf8,
  type JsonObject,
} from "./encoding";
import { publicKeyFromJwk } from "./ec";

export const ENC = "A256GCM";
export const ALG_PBES2 = "PBES2-HS512+A256KW";
export const ALG_ECDH_ES = "ECDH-ES";
export const ALG_ECDH_ES_A256KW = "ECDH-ES+A256KW";
export const ALG_A256KW = "A256KW";
/** Both ECDH forms: Hub's web client writes ECDH-ES+A256KW, Katta's Java client ECDH-ES. */
export const ECDH_ALGS = [ALG_ECDH_ES, ALG_ECDH_ES_A256KW] as const;
export type EcdhAlg = (typeof ECDH_ALGS)[number];
export type Alg = typeof ALG_PBES2 | EcdhAlg | typeof ALG_A256KW;

/** What Katta writes for the account-key JWE. */
export const PBES2_ITERATIONS = 1_000_000;
/** RFC 7518 §4.8.1.2 recommends at least 1000; anything lower is a downgrade we never write. */
export const PBES2_MIN_ITERATIONS = 1_000;
/** Decrypt cap: 10x what Katta writes; larger values are refused before any derivation. */
export const PBES2_MAX_ITERATIONS = 10_000_000;
/** Upper bound for a compact JWE or a JSON JWE document, in characters. */
export const MAX_JWE_LENGTH = 96 * 1024;
/** Critical header parameters the vault.uvf reader understands. */
export const UVF_CRITICAL_PARAMS = ["uvf.spec.version"];

const IV_LEN = 12;
const TAG_LEN = 16;
const MAX_RECIPIENTS = 16;

// ------------------------------------------------------------------------------------------
// policy checks, run before jose sees anything

function checkP2c(value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value)) throw new InvalidFormat("PBES2 p2c must be an integer");
  if (value < PBES2_MIN_ITERATIONS) throw new UnsafeParameter(`PBES2 p2c below ${PBES2_MIN_ITERATIONS} is refused`);
  if (value > PBES2_MAX_ITERATIONS) throw new UnsafeParameter(`PBES2 p2c above ${PBES2_MAX_ITERATIONS} is refused`);
  return value;
}

function checkCrit(protectedHeader: JsonObject, understood: readonly string[]): void {
  if (!("crit" in protectedHeader)) return;
  const crit = protectedHeader.crit;
  if (!Array.isArray(crit) || crit.length === 0 || !crit.every((c) => typeof c === "string")) {
    throw new InvalidFormat("crit must be a non-empty list of strings");
  }
  for (const name of crit as string[]) {
    if (!understood.includes(name)) throw new UnsafeParameter(`unsupported critical header parameter ${name}`);
    if (!(name in protectedHeader)) throw new InvalidFormat(`critical header parameter ${name} is missing`);
  }
}

function checkNoZip(header: JsonObject): void {
  if ("zip" in header) throw new UnsafeParameter("JWE compression (zip) is refused");
}

async function checkKeyManagement(header: JsonObject, allowed: readonly Alg[]): Promise<Alg> {
  const alg = header.alg;
  if (typeof alg !== "string") throw new InvalidFormat("JWE alg is missing");
  if (!(allowed as readonly string[]).includes(alg)) throw new UnsafeParameter(`JWE alg ${alg} is not allowed here`);
  if (alg === ALG_PBES2) {
    checkP2c(header.p2c);
    if (b64urlDecode(header.p2s, "PBES2 p2s").length < 8) throw new InvalidFormat("PBES2 p2s is too short");
  }
  if ((ECDH_ALGS as readonly string[]).includes(alg)) await publicKeyFromJwk(header.epk, "ECDH", "epk");
  return alg as Alg;
}

function checkIv(iv: Uint8Array): void {
  if (iv.length !== IV_LEN) throw new InvalidFormat("JWE initialization vector must be 12 bytes");
}

/**
 * (ciphertext, 16-byte tag). Quirk: two of Katta's vectors (a vault.uvf and an access token
 * written by Katta's web client) carry a 32-byte tag; Katta's Java client (Nimbus) reads them
 * because it lets AES-GCM take the last 16 bytes of ciphertext || tag as the tag. We do the same,
 * only for exactly 32 bytes; the result is still fully authenticated by GCM.
 */
function normalizeTag(ciphertext: Uint8Array, tag: Uint8Array): [Uint8Array, Uint8Array] {
  if (tag.length === TAG_LEN) return [ciphertext, tag];
  if (tag.length === 2 * TAG_LEN) return [concatBytes(ciphertext, tag.subarray(0, TAG_LEN)), tag.subarray(TAG_LEN)];
  throw new InvalidFormat("JWE authentication tag must be 16 bytes");
}

function asText(value: unknown, what: string): string {
  if (typeof value !== "string") throw new InvalidFormat(`${what} must be a string`);
  if (value.length > MAX_JWE_LENGTH) throw new InvalidFormat(`${what} exceeds ${MAX_JWE_LENGTH} characters`);
  return value.trim();
}

function mapError(err: unknown, what: string): KattaCryptoError {
  if (err instanceof KattaCryptoError) return err;
  if (err instanceof joseErrors.JWEDecryptionFailed) {
    return new DecryptionFailed(`${what} could not be decrypted (wrong key or tampered data)`);
  }
  if (err instanceof joseErrors.JOSEAlgNotAllowed || err instanceof joseErrors.JOSENotSupported) {
    return new UnsafeParameter(`${what} uses a refused parameter`);
  }
  if (err instanceof TypeError) return new InvalidKey(`${what}: the key does not fit the JWE`);
  if (err instanceof joseErrors.JOSEError) return new InvalidFormat(`${what} is malformed`);
  return new DecryptionFailed(`${what} could not be decrypted`);
}

/** A CryptoKey, raw key bytes (A256KW) or password bytes (PBES2). */
export type JweKey = CryptoKey | Uint8Array;

function decryptOptions(algs: readonly Alg[], crit: readonly string[] = []) {
  return {
    keyManagementAlgorithms: [...algs],
    contentEncryptionAlgorithms: [ENC],
    maxPBES2Count: PBES2_MAX_ITERATIONS,
    crit: Object.fromEntries(crit.map((name) => [name, true])),
  };
}

// ------------------------------------------------------------------------------------------
// compact JWE

interface ParsedCompact {
  header: JsonObject;
  segments: string[];
  iv: Uint8Array;
  encryptedKey: Uint8Array;
  ciphertext: Uint8Array;
  tag: Uint8Array;
}

function parseCompact(token: unknown): ParsedCompact {
  const segments = asText(token, "compact JWE").split(".");
  if (segments.length !== 5) throw new InvalidFormat("compact JWE must have five segments");
  if (!segments[0] || !segments[2] || !segments[4]) {
    throw new InvalidFormat("compact JWE has an empty header, IV or tag segment");
  }
  const [head, key, ivSeg, ctSeg, tagSeg] = segments as [string, string, string, string, string];
  const header = jsonSegment(head, "JWE protected header");
  const iv = b64urlDecode(ivSeg, "JWE iv");
  checkIv(iv);
  const [ciphertext, tag] = normalizeTag(b64urlDecode(ctSeg, "JWE ciphertext"), b64urlDecode(tagSeg, "JWE tag"));
  return { header, segments, iv, encryptedKey: b64urlDecode(key, "JWE encrypted key"), ciphertext, tag };
}

/** The protected header of a compact JWE, its shape checked (not decrypted). */
export function parseCompactHeader(token: unknown): JsonObject {
  return parseCompact(token).header;
}

async function decryptCompact(token: unknown, key: JweKey, algs: readonly Alg[], what: string): Promise<JsonObject> {
  const parsed = parseCompact(token);
  const { header } = parsed;
  checkNoZip(header);
  if (header.enc !== ENC) throw new UnsafeParameter(`JWE enc must be ${ENC}`);
  checkCrit(header, []); // no compact Katta format has critical parameters
  const alg = await checkKeyManagement(header, algs);
  let plaintext: Uint8Array;
  try {
    if (alg !== ALG_PBES2 && alg !== ALG_A256KW && header.apu === "" && header.apv === "") {
      plaintext = await decryptNimbusEcdh(parsed, alg, key);
    } else {
      const normalized = [parsed.segments[0], parsed.segments[1], parsed.segments[2],
        b64urlEncode(parsed.ciphertext), b64urlEncode(parsed.tag)].join(".");
      plaintext = (await compactDecrypt(normalized, key, decryptOptions(algs))).plaintext;
    }
  } catch (err) {
    throw mapError(err, what);
  }
  return jsonObject(plaintext, `${what} payload`);
}

/**
 * Quirk: Katta's Java client (Nimbus) writes `"apu":"","apv":""` into the protected header of
 * every ECDH-ES JWE, and jose refuses equal apu and apv. Empty party info is the same Concat KDF
 * input as absent party info (RFC 7518 §4.6.2), but the header is authenticated, so it cannot be
 * dropped before jose: for exactly this shape the steps run here, on WebCrypto primitives
 * (ECDH, SHA-256 Concat KDF, AES-KW, AES-GCM); the vectors and the interop tests check them.
 */
async function decryptNimbusEcdh(parsed: ParsedCompact, alg: EcdhAlg, key: JweKey): Promise<Uint8Array> {
  if (!(key instanceof CryptoKey) || key.algorithm.name !== "ECDH" || key.type !== "private") {
    throw new InvalidKey("an ECDH-ES JWE needs a P-384 ECDH private key");
  }
  const epk = await publicKeyFromJwk(parsed.header.epk, "ECDH", "epk");
  const z = new Uint8Array(await crypto.subtle.deriveBits({ name: "ECDH", public: epk }, key, 384));
  const algorithmId = utf8.encode(alg === ALG_ECDH_ES ? ENC : alg);
  // One SHA-256 round gives the 256 bits both algorithms need; apu and apv are empty.
  const otherInfo = concatBytes(uint32be(algorithmId.length), algorithmId, uint32be(0), uint32be(0), uint32be(256));
  const derived = await crypto.subtle.digest("SHA-256", concatBytes(uint32be(1), z, otherInfo));
  let cek: CryptoKey;
  if (alg === ALG_ECDH_ES) {
    if (parsed.encryptedKey.length !== 0) throw new InvalidFormat("ECDH-ES JWE must have no encrypted key");
    cek = await crypto.subtle.importKey("raw", derived, "AES-GCM", false, ["decrypt"]);
  } else {
    const kek = await crypto.subtle.importKey("raw", derived, "AES-KW", false, ["unwrapKey"]);
    try {
      cek = await crypto.subtle.unwrapKey("raw", concatBytes(parsed.encryptedKey), kek, "AES-KW", "AES-GCM", false,
        ["decrypt"]);
    } catch {
      throw new DecryptionFailed("JWE could not be decrypted (wrong key or tampered data)");
    }
  }
  try {
    return new Uint8Array(await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: concatBytes(parsed.iv), additionalData: utf8.encode(parsed.segments[0]), tagLength: 128 },
      cek, concatBytes(parsed.ciphertext, parsed.tag)));
  } catch {
    throw new DecryptionFailed("JWE could not be decrypted (wrong key or tampered data)");
  }
}

function payloadBytes(payload: JsonObject): Uint8Array {
  return utf8.encode(JSON.stringify(payload));
}

async function encryptCompact(payload: JsonObject, header: CompactJWEHeaderParameters, key: JweKey,
                              p2c?: number): Promise<string> {
  const jwe = new CompactEncrypt(payloadBytes(payload)).setProtectedHeader(header);
  if (p2c !== undefined) jwe.setKeyManagementParameters({ p2c });
  try {
    return await jwe.encrypt(key);
  } catch (err) {
    throw mapError(err, "JWE");
  }
}

function passwordBytes(password: string): Uint8Array {
  if (typeof password !== "string" || password === "") throw new InvalidKey("password must be a non-empty string");
  return utf8.encode(password);
}

function aesKey(key: Uint8Array): Uint8Array {
  if (!(key instanceof Uint8Array) || key.length !== 32) throw new InvalidKey("A256KW key must be 32 bytes");
  return key;
}

/** Compact JWE PBES2-HS512+A256KW / A256GCM with a 16-byte random salt. */
export async function encryptPbes2(payload: JsonObject, password: string, kid?: string,
                                   iterations = PBES2_ITERATIONS): Promise<string> {
  checkP2c(iterations);
  const header: CompactJWEHeaderParameters = { alg: ALG_PBES2, enc: ENC };
  if (kid !== undefined) header.kid = kid;
  return encryptCompact(payload, header, passwordBytes(password), iterations);
}

/** Decrypt a PBES2 compact JWE; `p2c` is checked against the cap before any derivation. */
export function decryptPbes2(token: unknown, password: string): Promise<JsonObject> {
  return decryptCompact(token, passwordBytes(password), [ALG_PBES2], "PBES2 JWE");
}

/** Compact JWE ECDH-ES (or ECDH-ES+A256KW) / A256GCM to a P-384 ECDH public key. */
export async function encryptEcdhEs(payload: JsonObject, recipient: CryptoKey, kid?: string,
                                    alg: EcdhAlg = ALG_ECDH_ES): Promise<string> {
  if (!(ECDH_ALGS as readonly string[]).includes(alg)) throw new UnsafeParameter(`JWE alg ${alg} is not ECDH-ES`);
  const header: CompactJWEHeaderParameters = { alg, enc: ENC };
  if (kid !== undefined) header.kid = kid;
  return encryptCompact(payload, header, recipient);
}

/** Decrypt a compact ECDH-ES(+A256KW) JWE with a P-384 ECDH private key. */
export function decryptEcdhEs(token: unknown, privateKey: CryptoKey, algs: readonly EcdhAlg[] = ECDH_ALGS,
                              what = "ECDH-ES JWE"): Promise<JsonObject> {
  return decryptCompact(token, privateKey, algs, what);
}

/** Compact JWE A256KW / A256GCM under a 32-byte key. */
export function encryptA256kw(payload: JsonObject, key: Uint8Array, kid?: string): Promise<string> {
  const header: CompactJWEHeaderParameters = { alg: ALG_A256KW, enc: ENC };
  if (kid !== undefined) header.kid = kid;
  return encryptCompact(payload, header, aesKey(key));
}

export function decryptA256kw(token: unknown, key: Uint8Array): Promise<JsonObject> {
  return decryptCompact(token, aesKey(key), [ALG_A256KW], "A256KW JWE");
}

// ------------------------------------------------------------------------------------------
// JWE JSON general serialization (vault.uvf)

export interface JsonRecipient {
  header: { kid: string; alg: typeof ALG_A256KW | typeof ALG_ECDH_ES_A256KW };
  /** 32 bytes for A256KW, a P-384 ECDH public key for ECDH-ES+A256KW. */
  key: Uint8Array | CryptoKey;
}

/** JWE JSON general serialization of `payload` to the recipients, in their order. */
export async function encryptGeneralJson(protectedHeader: JWEHeaderParameters, payload: JsonObject,
                                         recipients: JsonRecipient[]): Promise<GeneralJWE> {
  if (protectedHeader.enc !== ENC) throw new UnsafeParameter(`JWE enc must be ${ENC}`);
  checkNoZip(protectedHeader);
  checkCrit(protectedHeader, UVF_CRITICAL_PARAMS);
  if (recipients.length === 0) throw new InvalidFormat("at least one recipient is required");
  const jwe = new GeneralEncrypt(payloadBytes(payload)).setProtectedHeader(protectedHeader);
  const crit = Object.fromEntries(UVF_CRITICAL_PARAMS.map((name) => [name, true]));
  for (const { header, key } of recipients) {
    const jweKey = header.alg === ALG_A256KW ? aesKey(key as Uint8Array) : (key as CryptoKey);
    jwe.addRecipient(jweKey, { crit }).setUnprotectedHeader({ ...header });
  }
  try {
    return await jwe.encrypt();
  } catch (err) {
    throw mapError(err, "JWE");
  }
}

const JSON_MEMBERS = new Set(["protected", "unprotected", "recipients", "aad", "iv", "ciphertext", "tag"]);
const RECIPIENT_MEMBERS = new Set(["header", "encrypted_key"]);

export interface GeneralJsonDecryption {
  alg: typeof ALG_A256KW | typeof ALG_ECDH_ES_A256KW;
  kid?: string;
  what: string;
  /** Validates the protected header before any key is used. */
  checkProtected?: (protectedHeader: JsonObject) => void;
}

/**
 * Decrypt a JWE JSON (general or flattened) serialization for the recipients using `alg`; the
 * one whose `kid` matches is tried first. Returns (protected header, payload).
 */
export async function decryptGeneralJson(document: unknown, key: Uint8Array | CryptoKey,
                                         options: GeneralJsonDecryption): Promise<[JsonObject, JsonObject]> {
  const { alg, kid, what } = options;
  const jweKey = alg === ALG_A256KW ? aesKey(key as Uint8Array) : (key as CryptoKey);
  const data = typeof document === "string" ? jsonObject(asText(document, "JWE JSON document"), "JWE JSON document")
    : document;
  if (!isJsonObject(data)) throw new InvalidFormat("JWE JSON document must be a JSON object");
  if (Object.keys(data).some((k) => !JSON_MEMBERS.has(k) && !RECIPIENT_MEMBERS.has(k))) {
    throw new InvalidFormat("JWE JSON document has unknown members");
  }
  if (typeof data.protected !== "string" || !data.protected) throw new InvalidFormat("JWE JSON protected header is missing");
  const protectedHeader = jsonSegment(data.protected, "JWE protected header");
  checkNoZip(protectedHeader);
  if (protectedHeader.enc !== ENC) throw new UnsafeParameter(`JWE enc must be ${ENC}`);
  checkCrit(protectedHeader, UVF_CRITICAL_PARAMS);
  options.checkProtected?.(protectedHeader);
  const unprotected = data.unprotected;
  if (unprotected !== undefined) {
    if (!isJsonObject(unprotected)) throw new InvalidFormat("JWE unprotected header must be an object");
    checkNoZip(unprotected);
    if ("crit" in unprotected) throw new InvalidFormat("crit must be integrity protected");
  }
  let recipients: unknown[];
  if ("recipients" in data) {
    if (!Array.isArray(data.recipients) || data.recipients.length === 0 || data.recipients.length > MAX_RECIPIENTS) {
      throw new InvalidFormat("JWE recipients must be a non-empty list of at most 16 entries");
    }
    if ("header" in data || "encrypted_key" in data) {
      throw new InvalidFormat("JWE JSON document mixes general and flattened members");
    }
    recipients = data.recipients;
  } else {
    recipients = [Object.fromEntries(Object.entries(data).filter(([k]) => RECIPIENT_MEMBERS.has(k)))];
  }
  const candidates: { header: JsonObject; encrypted_key: unknown }[] = [];
  for (const recipient of recipients) {
    if (!isJsonObject(recipient) || Object.keys(recipient).some((k) => !RECIPIENT_MEMBERS.has(k))) {
      throw new InvalidFormat("JWE recipient is malformed");
    }
    const header = recipient.header ?? {};
    if (!isJsonObject(header)) throw new InvalidFormat("JWE recipient header must be an object");
    if ("crit" in header) throw new InvalidFormat("crit must be integrity protected");
    checkNoZip(header);
    const merged = { ...protectedHeader, ...(unprotected as JsonObject | undefined), ...header };
    if (merged.alg === alg) {
      await checkKeyManagement(merged, [alg]);
      candidates.push({ header: withoutEmptyPartyInfo(header), encrypted_key: recipient.encrypted_key });
    }
  }
  if (candidates.length === 0) throw new DecryptionFailed(`${what} has no recipient for ${alg}`);
  if (kid !== undefined) candidates.sort((a, b) => Number(a.header.kid !== kid) - Number(b.header.kid !== kid));
  const iv = b64urlDecode(data.iv, "JWE iv");
  checkIv(iv);
  const [ciphertext, tag] = normalizeTag(b64urlDecode(data.ciphertext, "JWE ciphertext"), b64urlDecode(data.tag, "JWE tag"));
  let lastError: KattaCryptoError = new DecryptionFailed(`${what} could not be decrypted`);
  for (const candidate of candidates) {
    const flattened: FlattenedJWE = {
      protected: data.protected,
      iv: b64urlEncode(iv),
      ciphertext: b64urlEncode(ciphertext),
      tag: b64urlEncode(tag),
      header: candidate.header as JWEHeaderParameters,
    };
    if (typeof candidate.encrypted_key === "string") flattened.encrypted_key = candidate.encrypted_key;
    if (unprotected !== undefined) flattened.unprotected = unprotected as JWEHeaderParameters;
    if (typeof data.aad === "string") flattened.aad = data.aad;
    try {
      const { plaintext } = await flattenedDecrypt(flattened, jweKey, decryptOptions([alg], UVF_CRITICAL_PARAMS));
      return [protectedHeader, jsonObject(plaintext, `${what} payload`)];
    } catch (err) {
      lastError = mapError(err, what);
    }
  }
  throw lastError;
}

/**
 * Katta's Java client writes `"apu":"","apv":""` into each recipient header, and jose refuses
 * equal apu and apv. Here they are unprotected and empty party info is the same Concat KDF input
 * as none (RFC 7518 §4.6.2), so dropping them changes nothing that is authenticated or derived.
 */
function withoutEmptyPartyInfo(header: JsonObject): JsonObject {
  if (header.apu !== "" || header.apv !== "") return header;
  const { apu: _apu, apv: _apv, ...rest } = header;
  return rest;
}
