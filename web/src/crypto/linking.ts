/**
 * The crypto of device linking by QR code (docs/device-linking.md, `katta_client/linking/`):
 * the QR payload, the AAD, the HPKE handshake and the secure channel with its check code.
 * RFC 9180 base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305 through
 * `@hpke/core` (X25519 and HKDF in WebCrypto) and `@hpke/chacha20poly1305`, since WebCrypto has
 * no ChaCha20-Poly1305.
 *
 * G shows the QR code (HPKE recipient, `ChannelResponder`), S scans it (HPKE sender,
 * `ChannelInitiator`). A new browser shows the QR code (intent NEW_DEVICE): it is G; a browser
 * with keys that scans another's is S. The check code is shown by S and typed on G.
 */
import { Chacha20Poly1305 } from "@hpke/chacha20poly1305";
import { CipherSuite, DhkemX25519HkdfSha256, HkdfSha256, type RecipientContext, type SenderContext } from "@hpke/core";
import { ChannelError, ChannelTampered, CheckCodeMismatch, MessageTooLarge, ProtocolViolation, QrPayloadError } from "./errors";
import { b64Encode, b64urlDecode, b64urlEncode, concatBytes, randomBytes, utf8 } from "./encoding";

const SUITE = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Chacha20Poly1305() });
const INFO = utf8.encode("KATTA_LINK");
const INITIATE_PLAINTEXT = "KATTA_LINK_INITIATE";
const OK_PLAINTEXT = "KATTA_LINK_OK";
const RESPONSE_EXPORT_LABEL = utf8.encode("KATTA_LINK_RESPONSE");
const CHECK_CODE_LABEL = "KATTA_LINK_CHECKCODE";

export const PUBLIC_KEY_LENGTH = 32;
const RESPONSE_NONCE_LENGTH = 32;
const TAG_LENGTH = 16;
const NONCE_LENGTH = 12;
/** Rendezvous payloads are at most 4096 characters: unpadded base64 of 3072 bytes. */
const MAX_CIPHERTEXT = (4096 / 4) * 3;
export const MAX_PLAINTEXT = MAX_CIPHERTEXT - TAG_LENGTH;

// ------------------------------------------------------------------------------------------
// encodings

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
const STD_UNPADDED = /^[A-Za-z0-9+/]*$/;

/** Standard base64 without padding, the encoding of every channel message. */
export function channelEncode(raw: Uint8Array): string {
  return b64Encode(raw).replace(/=+$/, "");
}

/** Strict inverse of `channelEncode`: one spelling per byte string, anything else refused. */
export function channelDecode(text: string): Uint8Array<ArrayBuffer> {
  if (typeof text !== "string" || !STD_UNPADDED.test(text) || text.length % 4 === 1) {
    throw new ChannelTampered("message is not unpadded base64");
  }
  const raw = Uint8Array.from(atob(text + "=".repeat((4 - (text.length % 4)) % 4)), (c) => c.charCodeAt(0));
  if (channelEncode(raw) !== text) throw new ChannelTampered("message is not canonical base64");
  return raw;
}

function u16Prefixed(value: string): Uint8Array {
  const raw = utf8.encode(value);
  if (raw.length > 0xffff) throw new ChannelError("AAD component longer than 65535 bytes");
  return concatBytes(Uint8Array.of(raw.length >> 8, raw.length & 255), raw);
}

/** AAD of a message written over `sequenceToken` in rendezvous `rendezvousId` of `baseUrl`. */
export function channelAad(baseUrl: string, rendezvousId: string, sequenceToken: string): Uint8Array<ArrayBuffer> {
  return concatBytes(u16Prefixed(baseUrl), u16Prefixed(rendezvousId), u16Prefixed(sequenceToken));
}

// ------------------------------------------------------------------------------------------
// QR payload: "KATTA_LINK", version 1, intent, G's X25519 key, u16-prefixed id and base URL

const MAGIC = utf8.encode("KATTA_LINK");
const VERSION = 0x01;
const CONTROL = /[\x00-\x20\x7f-\x9f]/;

export const QrIntent = { NEW_DEVICE: 0x00, EXISTING_DEVICE: 0x01 } as const;
export type QrIntent = (typeof QrIntent)[keyof typeof QrIntent];

export interface QrPayload {
  intent: QrIntent;
  publicKey: Uint8Array;
  rendezvousId: string;
  baseUrl: string;
}

function checkQrPayload(payload: QrPayload): void {
  if (payload.intent !== QrIntent.NEW_DEVICE && payload.intent !== QrIntent.EXISTING_DEVICE) {
    throw new QrPayloadError(`unknown QR intent ${String(payload.intent)}`);
  }
  if (payload.publicKey.length !== PUBLIC_KEY_LENGTH) throw new QrPayloadError("public key must be 32 bytes");
  const idSize = utf8.encode(payload.rendezvousId).length;
  if (idSize < 1 || idSize > 255) throw new QrPayloadError(`rendezvous id must be 1..255 bytes, got ${idSize}`);
  if (CONTROL.test(payload.rendezvousId)) throw new QrPayloadError("rendezvous id contains whitespace or control characters");
  const urlSize = utf8.encode(payload.baseUrl).length;
  if (urlSize < 1 || urlSize > 2048) throw new QrPayloadError(`base URL must be 1..2048 bytes, got ${urlSize}`);
  if (CONTROL.test(payload.baseUrl)) throw new QrPayloadError("base URL contains whitespace or control characters");
  let url: URL;
  try {
    url = new URL(payload.baseUrl);
  } catch {
    throw new QrPayloadError("base URL is not a valid URL");
  }
  if ((url.protocol !== "https:" && url.protocol !== "http:") || !url.hostname) {
    throw new QrPayloadError("base URL must be an absolute http(s) URL with a host");
  }
  if (url.search || url.hash || payload.baseUrl.includes("?") || payload.baseUrl.includes("#")) {
    throw new QrPayloadError("base URL must not carry a query or fragment");
  }
}

/** The QR code's bytes (byte mode). */
export function qrPayloadBytes(payload: QrPayload): Uint8Array<ArrayBuffer> {
  checkQrPayload(payload);
  return concatBytes(MAGIC, Uint8Array.of(VERSION, payload.intent), payload.publicKey,
    u16Prefixed(payload.rendezvousId), u16Prefixed(payload.baseUrl));
}

/** The text form, for pasting where no camera is: the bytes as unpadded base64url. */
export function qrPayloadText(payload: QrPayload): string {
  return b64urlEncode(qrPayloadBytes(payload));
}

export function parseQrPayload(raw: Uint8Array): QrPayload {
  let pos = 0;
  const take = (n: number, what: string): Uint8Array => {
    if (raw.length - pos < n) throw new QrPayloadError(`QR payload truncated in the ${what}`);
    pos += n;
    return raw.subarray(pos - n, pos);
  };
  const text = (what: string): string => {
    const [hi, lo] = take(2, `length of the ${what}`) as unknown as [number, number];
    try {
      return strictUtf8.decode(take((hi << 8) | lo, what));
    } catch (err) {
      if (err instanceof QrPayloadError) throw err;
      throw new QrPayloadError(`${what} is not valid UTF-8`);
    }
  };
  if (!take(MAGIC.length, "magic").every((b, i) => b === MAGIC[i])) {
    throw new QrPayloadError("not a Katta device-link QR code (magic prefix missing)");
  }
  const version = take(1, "version")[0];
  if (version !== VERSION) throw new QrPayloadError(`unsupported QR payload version ${String(version)}`);
  const intent = take(1, "intent")[0] as QrIntent;
  const publicKey = concatBytes(take(PUBLIC_KEY_LENGTH, "public key"));
  const rendezvousId = text("rendezvous id");
  const baseUrl = text("base URL");
  if (pos !== raw.length) throw new QrPayloadError(`${raw.length - pos} unexpected trailing bytes after the base URL`);
  const payload = { intent, publicKey, rendezvousId, baseUrl };
  checkQrPayload(payload);
  return payload;
}

export function parseQrPayloadText(text: string): QrPayload {
  const compact = text.trim();
  if (!compact || !/^[A-Za-z0-9_-]*$/.test(compact) || compact.length % 4 === 1) {
    throw new QrPayloadError("link code is not unpadded base64url text");
  }
  const raw = b64urlDecode(compact, "link code");
  // One payload, one text: stray low bits are refused.
  if (b64urlEncode(raw) !== compact) throw new QrPayloadError("link code is not canonical base64url");
  return parseQrPayload(raw);
}

// ------------------------------------------------------------------------------------------
// the secure channel

interface Direction {
  seal(plaintext: Uint8Array, aad: Uint8Array): Promise<ArrayBuffer>;
  open(ciphertext: Uint8Array, aad: Uint8Array): Promise<ArrayBuffer>;
}

/** G -> S messages: a key and base nonce from the HPKE context (RFC 9458 §4.4), with an
 * RFC 9180 sequence counter: nonce = baseNonce XOR seq. */
class ResponseDirection implements Direction {
  private seq = 0;
  private readonly aead;

  constructor(key: Uint8Array, private readonly baseNonce: Uint8Array) {
    this.aead = new Chacha20Poly1305().createEncryptionContext(concatBytes(key).buffer);
  }

  private nonce(): Uint8Array<ArrayBuffer> {
    const nonce = concatBytes(this.baseNonce);
    let seq = this.seq;
    for (let i = NONCE_LENGTH - 1; i >= 0 && seq > 0; i--, seq = Math.floor(seq / 256)) nonce[i]! ^= seq % 256;
    return nonce;
  }

  async seal(plaintext: Uint8Array, aad: Uint8Array): Promise<ArrayBuffer> {
    const sealed = await this.aead.seal(this.nonce(), plaintext, aad);
    this.seq += 1;
    return sealed;
  }

  async open(ciphertext: Uint8Array, aad: Uint8Array): Promise<ArrayBuffer> {
    const opened = await this.aead.open(this.nonce(), ciphertext, aad);
    this.seq += 1;
    return opened;
  }
}

async function responseDirection(context: SenderContext | RecipientContext, enc: Uint8Array,
                                 responseNonce: Uint8Array): Promise<ResponseDirection> {
  const secret = await context.export(RESPONSE_EXPORT_LABEL, 32);
  // WebCrypto's HKDF is Extract then Expand: one call per output, with the same salt and IKM.
  const ikm = await crypto.subtle.importKey("raw", secret, "HKDF", false, ["deriveBits"]);
  const expand = async (info: string, length: number) => new Uint8Array(await crypto.subtle.deriveBits(
    { name: "HKDF", hash: "SHA-256", salt: concatBytes(enc, responseNonce), info: utf8.encode(info) }, ikm, length * 8));
  return new ResponseDirection(await expand("key", 32), await expand("nonce", NONCE_LENGTH));
}

async function checkCodeFrom(context: SenderContext | RecipientContext, generatorKey: Uint8Array,
                             scannerKey: Uint8Array): Promise<string> {
  const label = `${CHECK_CODE_LABEL}|${channelEncode(generatorKey)}|${channelEncode(scannerKey)}`;
  const [hi, lo] = new Uint8Array(await context.export(utf8.encode(label), 2)) as unknown as [number, number];
  return String(10 + (((hi << 8) | lo) % 90));
}

export type Role = "generator" | "scanner";

/** An established channel. Any failure closes it for good: no retry can fork it. */
export class SecureChannel {
  private closedForGood = false;

  constructor(readonly role: Role, private readonly outbound: Direction, private readonly inbound: Direction,
              private readonly code: string) {}

  /** The two-digit code to show, on S only: G showing its own code would let a user "confirm"
   * an attacker's channel from one screen. */
  get checkCode(): string {
    if (this.role !== "scanner") throw new ChannelError("the device that showed the QR code never shows the check code");
    return this.code;
  }

  /** On G: the code the user typed from the other device's screen. */
  verifyCheckCode(typed: string): void {
    if (typed.trim() !== this.code) throw new CheckCodeMismatch("the check code does not match the one on the other device");
  }

  get closed(): boolean {
    return this.closedForGood;
  }

  close(): void {
    this.closedForGood = true;
  }

  private ensureOpen(): void {
    if (this.closedForGood) throw new ChannelError("the secure channel was closed after an earlier failure");
  }

  async seal(plaintext: Uint8Array, aad: Uint8Array): Promise<string> {
    this.ensureOpen();
    if (plaintext.length > MAX_PLAINTEXT) {
      throw new MessageTooLarge(`message is ${plaintext.length} bytes, at most ${MAX_PLAINTEXT} fit one rendezvous payload`);
    }
    return channelEncode(new Uint8Array(await this.outbound.seal(plaintext, aad)));
  }

  async open(data: string, aad: Uint8Array): Promise<Uint8Array> {
    this.ensureOpen();
    try {
      const ciphertext = channelDecode(data);
      if (ciphertext.length < TAG_LENGTH) throw new ChannelTampered("message is shorter than an authentication tag");
      return new Uint8Array(await this.inbound.open(ciphertext, aad));
    } catch (err) {
      this.closedForGood = true;
      if (err instanceof ChannelTampered) throw err;
      throw new ChannelTampered("message failed authentication (tampered, replayed, reordered or from another sender)");
    }
  }
}

function sameText(bytes: ArrayBuffer, expected: string): boolean {
  try {
    return strictUtf8.decode(bytes) === expected;
  } catch {
    return false;
  }
}

/** Device G: owns the ephemeral key in the QR code and answers one INITIATE. */
export class ChannelResponder {
  private used = false;

  private constructor(private readonly keyPair: CryptoKeyPair, readonly publicKey: Uint8Array) {}

  /** A fresh ephemeral X25519 key; `privateKey` (raw 32 bytes) only for test vectors. */
  static async create(privateKey?: Uint8Array, publicKey?: Uint8Array): Promise<ChannelResponder> {
    const keyPair = privateKey && publicKey
      ? { privateKey: await SUITE.kem.importKey("raw", concatBytes(privateKey).buffer, false),
          publicKey: await SUITE.kem.importKey("raw", concatBytes(publicKey).buffer, true) }
      : await SUITE.kem.generateKeyPair();
    return new ChannelResponder(keyPair, new Uint8Array(await SUITE.kem.serializePublicKey(keyPair.publicKey)));
  }

  /** Open INITIATE, answer OK: the channel and the OK message to write. */
  async accept(initiate: string, initiateAad: Uint8Array, okAad: Uint8Array,
               responseNonce: Uint8Array = randomBytes(RESPONSE_NONCE_LENGTH)): Promise<[SecureChannel, string]> {
    if (this.used) throw new ChannelError("this QR key has already answered an INITIATE");
    this.used = true;
    const raw = channelDecode(initiate);
    if (raw.length < PUBLIC_KEY_LENGTH + TAG_LENGTH) throw new ChannelTampered("INITIATE message is too short");
    const enc = raw.slice(0, PUBLIC_KEY_LENGTH);
    let context: RecipientContext;
    let plaintext: ArrayBuffer;
    try {
      context = await SUITE.createRecipientContext({ recipientKey: this.keyPair, enc: enc.buffer, info: INFO.buffer as ArrayBuffer });
      plaintext = await context.open(raw.slice(PUBLIC_KEY_LENGTH).buffer, concatBytes(initiateAad).buffer);
    } catch {
      throw new ChannelTampered("INITIATE message failed authentication");
    }
    if (!sameText(plaintext, INITIATE_PLAINTEXT)) throw new ProtocolViolation("INITIATE message carries the wrong confirmation string");
    if (responseNonce.length !== RESPONSE_NONCE_LENGTH) throw new ChannelError("response nonce must be 32 bytes");
    const response = await responseDirection(context, enc, responseNonce);
    const ok = channelEncode(concatBytes(responseNonce, new Uint8Array(await response.seal(utf8.encode(OK_PLAINTEXT), okAad))));
    const code = await checkCodeFrom(context, this.publicKey, enc);
    return [new SecureChannel("generator", response, context, code), ok];
  }
}

/** Device S: has scanned G's key; sends INITIATE and waits for OK. */
export class ChannelInitiator {
  private used = false;

  private constructor(private readonly context: SenderContext, private readonly enc: Uint8Array,
                      private readonly theirPublicKey: Uint8Array) {}

  /** The HPKE sender context to G's key and the INITIATE message to write; `ephemeral` only
   * for test vectors. */
  static async start(theirPublicKey: Uint8Array, aad: Uint8Array,
                     ephemeral?: { privateKey: Uint8Array; publicKey: Uint8Array }): Promise<[ChannelInitiator, string]> {
    if (theirPublicKey.length !== PUBLIC_KEY_LENGTH) throw new ChannelError("the other device's public key must be 32 bytes");
    try {
      const recipientPublicKey = await SUITE.kem.deserializePublicKey(concatBytes(theirPublicKey).buffer);
      const ekm = ephemeral && {
        privateKey: await SUITE.kem.importKey("raw", concatBytes(ephemeral.privateKey).buffer, false),
        publicKey: await SUITE.kem.importKey("raw", concatBytes(ephemeral.publicKey).buffer, true),
      };
      const context = await SUITE.createSenderContext({ recipientPublicKey, info: INFO.buffer as ArrayBuffer, ...(ekm ? { ekm } : {}) });
      const enc = new Uint8Array(context.enc);
      const ciphertext = new Uint8Array(await context.seal(utf8.encode(INITIATE_PLAINTEXT).buffer as ArrayBuffer,
        concatBytes(aad).buffer));
      return [new ChannelInitiator(context, enc, concatBytes(theirPublicKey)), channelEncode(concatBytes(enc, ciphertext))];
    } catch {
      // e.g. a low-order point in a forged QR code: X25519 yields the all-zero secret.
      throw new ChannelError("cannot set up a channel to the key in the QR code");
    }
  }

  /** Open G's OK message: the channel is established (the check code still has to match on G). */
  async finish(ok: string, aad: Uint8Array): Promise<SecureChannel> {
    if (this.used) throw new ChannelError("this INITIATE has already been answered");
    this.used = true;
    const raw = channelDecode(ok);
    if (raw.length < RESPONSE_NONCE_LENGTH + TAG_LENGTH) throw new ChannelTampered("OK message is too short");
    const response = await responseDirection(this.context, this.enc, raw.subarray(0, RESPONSE_NONCE_LENGTH));
    let plaintext: ArrayBuffer;
    try {
      plaintext = await response.open(raw.subarray(RESPONSE_NONCE_LENGTH), aad);
    } catch {
      throw new ChannelTampered("OK message failed authentication");
    }
    if (!sameText(plaintext, OK_PLAINTEXT)) throw new ProtocolViolation("OK message carries the wrong confirmation string");
    const code = await checkCodeFrom(this.context, this.theirPublicKey, this.enc);
    return new SecureChannel("scanner", this.context, response, code);
  }
}
