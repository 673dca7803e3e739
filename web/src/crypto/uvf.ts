/**
 * The decrypted vault.uvf payload and what a client derives from it (architecture §5):
 *
 * - `kdf(seed, n, context)` = HKDF-SHA512 with salt `kdfSalt`, info the ASCII context; seed ids
 *   are 4 bytes big-endian, base64url in the JSON;
 * - `rootDirId = kdf(initialSeed, 32, "rootDirId")`, `hmacKey = kdf(initialSeed, 64, "hmac")`,
 *   `h = base32(HMAC-SHA256(hmacKey, dirId)[:20])`, a directory at `d/<h[0:2]>/<h[2:]>/` holding
 *   `dir.uvf` (its dirId encrypted like a file) — what a new vault's bucket template carries;
 * - file content AES-256-GCM-32k, here for whole small files (dir.uvf, tests).
 */
import { DecryptionFailed, InvalidFormat } from "./errors";
import { b64urlDecode, b64urlEncode, concatBytes, isJsonObject, randomBytes, uint32be, utf8, type JsonObject } from "./encoding";

export const FILE_FORMAT = "AES-256-GCM-32k";
export const NAME_FORMAT = "AES-SIV-512-B64URL";
export const KDF_ALGORITHM = "HKDF-SHA512";
export const AUTOMATIC_ACCESS_GRANT = "org.cryptomator.automaticAccessGrant";
export const KATTA_STORAGE = "cloud.katta.storage";
export const DIR_FILE_NAME = "dir.uvf";

const KNOWN = ["fileFormat", "nameFormat", "seeds", "initialSeed", "latestSeed", "kdf", "kdfSalt"];
const SEED_LEN = 32;
const MAX_SEEDS = 1024;
const DIR_ID_LEN = 32;

export function encodeSeedId(seedId: number): string {
  return b64urlEncode(uint32be(seedId));
}

export function decodeSeedId(value: unknown): number {
  const raw = b64urlDecode(value, "seed id");
  if (raw.length !== 4) throw new InvalidFormat("seed id must be 4 bytes");
  return new DataView(raw.buffer).getUint32(0);
}

/** Seeds and settings of a UVF vault; `extra` keeps every other payload member unchanged. */
export class VaultMetadata {
  private constructor(
    readonly seeds: ReadonlyMap<number, Uint8Array>,
    readonly initialSeedId: number,
    readonly latestSeedId: number,
    readonly kdfSalt: Uint8Array,
    readonly extra: JsonObject,
  ) {}

  /** A new vault: one random 32-byte seed with a random 4-byte id, a random 32-byte salt. */
  static create(storage?: JsonObject, automaticAccessGrant: JsonObject = { enabled: false, maxWotDepth: -1 }): VaultMetadata {
    const seedId = new DataView(randomBytes(4).buffer).getUint32(0);
    const extra: JsonObject = { [AUTOMATIC_ACCESS_GRANT]: automaticAccessGrant };
    if (storage !== undefined) extra[KATTA_STORAGE] = storage;
    return new VaultMetadata(new Map([[seedId, randomBytes(SEED_LEN)]]), seedId, seedId, randomBytes(32), extra);
  }

  static fromPayload(payload: unknown): VaultMetadata {
    if (!isJsonObject(payload)) throw new InvalidFormat("vault metadata must be a JSON object");
    if (payload.fileFormat !== FILE_FORMAT) throw new InvalidFormat(`unsupported fileFormat (expected ${FILE_FORMAT})`);
    if (payload.nameFormat !== NAME_FORMAT) throw new InvalidFormat(`unsupported nameFormat (expected ${NAME_FORMAT})`);
    if (payload.kdf !== KDF_ALGORITHM) throw new InvalidFormat(`unsupported kdf (expected ${KDF_ALGORITHM})`);
    if (!isJsonObject(payload.seeds)) throw new InvalidFormat("seeds must be an object");
    const seeds = new Map<number, Uint8Array>();
    for (const [id, seed] of Object.entries(payload.seeds)) {
      const seedId = decodeSeedId(id);
      if (seeds.has(seedId)) throw new InvalidFormat("duplicate seed id");
      const bytes = b64urlDecode(seed, "seed");
      if (bytes.length < 16) throw new InvalidFormat("seeds must be at least 16 bytes");
      seeds.set(seedId, bytes);
    }
    if (seeds.size === 0 || seeds.size > MAX_SEEDS) throw new InvalidFormat("vault metadata must have between 1 and 1024 seeds");
    const initial = decodeSeedId(payload.initialSeed);
    const latest = decodeSeedId(payload.latestSeed);
    if (!seeds.has(initial)) throw new InvalidFormat("initialSeed is not among the seeds");
    if (!seeds.has(latest)) throw new InvalidFormat("latestSeed is not among the seeds");
    const extra = Object.fromEntries(Object.entries(payload).filter(([k]) => !KNOWN.includes(k)));
    return new VaultMetadata(seeds, initial, latest, b64urlDecode(payload.kdfSalt, "kdfSalt"), extra);
  }

  /** The vault.uvf payload, in the member order Katta writes. */
  toPayload(): JsonObject {
    return {
      fileFormat: FILE_FORMAT,
      nameFormat: NAME_FORMAT,
      seeds: Object.fromEntries([...this.seeds].map(([id, seed]) => [encodeSeedId(id), b64urlEncode(seed)])),
      initialSeed: encodeSeedId(this.initialSeedId),
      latestSeed: encodeSeedId(this.latestSeedId),
      kdf: KDF_ALGORITHM,
      kdfSalt: b64urlEncode(this.kdfSalt),
      ...this.extra,
    };
  }

  get storage(): JsonObject | undefined {
    const value = this.extra[KATTA_STORAGE];
    return isJsonObject(value) ? value : undefined;
  }

  get automaticAccessGrant(): JsonObject | undefined {
    const value = this.extra[AUTOMATIC_ACCESS_GRANT];
    return isJsonObject(value) ? value : undefined;
  }

  private seed(seedId: number): Uint8Array<ArrayBuffer> {
    const seed = this.seeds.get(seedId);
    if (!seed) throw new InvalidFormat("unknown seed id");
    return concatBytes(seed);
  }

  /** HKDF-SHA512(seed, salt = kdfSalt, info = context), `length` bytes. */
  async kdf(seedId: number, length: number, context: string): Promise<Uint8Array<ArrayBuffer>> {
    const ikm = await crypto.subtle.importKey("raw", this.seed(seedId), "HKDF", false, ["deriveBits"]);
    return new Uint8Array(await crypto.subtle.deriveBits(
      { name: "HKDF", hash: "SHA-512", salt: concatBytes(this.kdfSalt), info: utf8.encode(context) }, ikm, length * 8));
  }

  rootDirId(): Promise<Uint8Array<ArrayBuffer>> {
    return this.kdf(this.initialSeedId, DIR_ID_LEN, "rootDirId");
  }

  /** The 32-character base32 `h` of a directory id (the root's is `rootDirHash`). */
  async hashDirId(dirId: Uint8Array): Promise<string> {
    if (!(dirId instanceof Uint8Array) || dirId.length === 0) throw new InvalidFormat("directory id must be non-empty bytes");
    const key = await crypto.subtle.importKey("raw", await this.kdf(this.initialSeedId, 64, "hmac"),
      { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, concatBytes(dirId)));
    return base32(mac.subarray(0, 20));
  }

  /** `d/<h[0:2]>/<h[2:]>/` for a directory id. */
  async dirPath(dirId: Uint8Array): Promise<string> {
    const h = await this.hashDirId(dirId);
    return `d/${h.slice(0, 2)}/${h.slice(2)}/`;
  }
}

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** RFC 4648 base32 of a multiple of 5 bytes (no padding needed). */
function base32(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 5) {
    let group = 0n;
    for (let j = 0; j < 5; j++) group = (group << 8n) | BigInt(bytes[i + j] ?? 0);
    for (let k = 7; k >= 0; k--) out += BASE32[Number((group >> BigInt(k * 5)) & 31n)];
  }
  return out;
}

// ------------------------------------------------------------------------------------------
// file content AES-256-GCM-32k (whole files)

const MAGIC = utf8.encode("uvf");
const SPEC_VERSION = 0x01;
const GENERAL_HEADER_LEN = 8;
const NONCE_LEN = 12;
const TAG_LEN = 16;
const FILE_KEY_LEN = 32;
const HEADER_LEN = GENERAL_HEADER_LEN + NONCE_LEN + FILE_KEY_LEN + TAG_LEN;
const CIPHERTEXT_CHUNK_LEN = 32 * 1024;
const CLEARTEXT_CHUNK_LEN = CIPHERTEXT_CHUNK_LEN - NONCE_LEN - TAG_LEN;

function chunkAad(index: number, headerNonce: Uint8Array): Uint8Array<ArrayBuffer> {
  return concatBytes(uint32be(index), headerNonce);
}

async function headerKey(metadata: VaultMetadata, seedId: number, usage: KeyUsage): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", await metadata.kdf(seedId, 32, "fileHeader"), "AES-GCM", false, [usage]);
}

/** A whole UVF file under the latest seed; a plaintext of k × 32,740 bytes ends with an empty chunk. */
export async function encryptBytes(metadata: VaultMetadata, plaintext: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  const seedId = metadata.latestSeedId;
  const general = concatBytes(MAGIC, Uint8Array.of(SPEC_VERSION), uint32be(seedId));
  const headerNonce = randomBytes(NONCE_LEN);
  const fileKeyBytes = randomBytes(FILE_KEY_LEN);
  const sealedKey = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv: headerNonce, additionalData: general },
    await headerKey(metadata, seedId, "encrypt"), fileKeyBytes));
  const fileKey = await crypto.subtle.importKey("raw", fileKeyBytes, "AES-GCM", false, ["encrypt"]);
  const parts: Uint8Array[] = [general, headerNonce, sealedKey];
  for (let index = 0, offset = 0; ; index++, offset += CLEARTEXT_CHUNK_LEN) {
    const chunk = plaintext.subarray(offset, offset + CLEARTEXT_CHUNK_LEN);
    const nonce = randomBytes(NONCE_LEN);
    parts.push(nonce, new Uint8Array(await crypto.subtle.encrypt(
      { name: "AES-GCM", iv: nonce, additionalData: chunkAad(index, headerNonce) }, fileKey, concatBytes(chunk))));
    if (chunk.length < CLEARTEXT_CHUNK_LEN) break;
  }
  return concatBytes(...parts);
}

/** All-or-nothing decryption of a whole UVF file. */
export async function decryptBytes(metadata: VaultMetadata, data: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  if (data.length < HEADER_LEN + NONCE_LEN + TAG_LEN) throw new InvalidFormat("ciphertext is too short for a UVF file");
  const general = data.subarray(0, GENERAL_HEADER_LEN);
  if (general[0] !== MAGIC[0] || general[1] !== MAGIC[1] || general[2] !== MAGIC[2] || general[3] !== SPEC_VERSION) {
    throw new InvalidFormat("not a UVF file (bad general header)");
  }
  const seedId = new DataView(data.buffer, data.byteOffset + 4, 4).getUint32(0);
  const headerNonce = data.subarray(GENERAL_HEADER_LEN, GENERAL_HEADER_LEN + NONCE_LEN);
  const parts: Uint8Array[] = [];
  try {
    const fileKeyBytes = await crypto.subtle.decrypt({ name: "AES-GCM", iv: concatBytes(headerNonce), additionalData: concatBytes(general) },
      await headerKey(metadata, seedId, "decrypt"), concatBytes(data.subarray(GENERAL_HEADER_LEN + NONCE_LEN, HEADER_LEN)));
    const fileKey = await crypto.subtle.importKey("raw", fileKeyBytes, "AES-GCM", false, ["decrypt"]);
    let last = CIPHERTEXT_CHUNK_LEN;
    for (let index = 0, offset = HEADER_LEN; offset < data.length; index++, offset += CIPHERTEXT_CHUNK_LEN) {
      const chunk = data.subarray(offset, offset + CIPHERTEXT_CHUNK_LEN);
      if (chunk.length < NONCE_LEN + TAG_LEN) throw new InvalidFormat("UVF file has a truncated chunk");
      parts.push(new Uint8Array(await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: concatBytes(chunk.subarray(0, NONCE_LEN)), additionalData: chunkAad(index, headerNonce) },
        fileKey, concatBytes(chunk.subarray(NONCE_LEN)))));
      last = chunk.length;
    }
    // A full last chunk means the empty chunk that ends such a file was cut off.
    if (last === CIPHERTEXT_CHUNK_LEN) throw new InvalidFormat("UVF file is truncated");
  } catch (err) {
    if (err instanceof InvalidFormat) throw err;
    throw new DecryptionFailed("UVF file could not be decrypted (wrong vault or tampered data)");
  }
  return concatBytes(...parts);
}

/** A dir.uvf: the 32-byte directory id encrypted like a file. */
export function encryptDirFile(metadata: VaultMetadata, dirId: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  if (dirId.length !== DIR_ID_LEN) throw new InvalidFormat("directory id must be 32 bytes");
  return encryptBytes(metadata, dirId);
}

export async function decryptDirFile(metadata: VaultMetadata, data: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  const dirId = await decryptBytes(metadata, data);
  if (dirId.length !== DIR_ID_LEN) throw new InvalidFormat("dir.uvf does not hold a 32-byte directory id");
  return dirId;
}

/** What a new vault's bucket holds besides vault.uvf (`PUT /api/storage/{vaultId}`, as katta
 * sends it): the root directory's `rootDirHash` and its dir.uvf, base64url without padding. */
export async function rootDirectoryTemplate(metadata: VaultMetadata): Promise<{ rootDirHash: string; dirUvf: string }> {
  const rootDirId = await metadata.rootDirId();
  return { rootDirHash: await metadata.hashDirId(rootDirId), dirUvf: b64urlEncode(await encryptDirFile(metadata, rootDirId)) };
}
