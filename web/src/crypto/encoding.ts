/**
 * Strict base64 and JOSE JSON: the one reader of every JOSE header, payload and JSON
 * serialization in this module. `JSON.parse` (and so jose) lets the last of two equal member
 * names win, so `{"alg":"none","alg":"ES384"}` would be checked as one thing and used as another;
 * `jsonObject` refuses any object that names a member twice, at any depth.
 */
import { InvalidFormat } from "./errors";

const B64URL = /^[A-Za-z0-9_-]*={0,2}$/;
const B64STD = /^[A-Za-z0-9+/]*={0,2}$/;

export const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder("utf-8", { fatal: true });

export function concatBytes(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

export function randomBytes(length: number): Uint8Array<ArrayBuffer> {
  return crypto.getRandomValues(new Uint8Array(length));
}

function toBinary(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return text;
}

function fromBinary(text: string, what: string, alphabet: string): Uint8Array<ArrayBuffer> {
  const stripped = text.replace(/=+$/, "");
  if (stripped.length % 4 === 1) throw new InvalidFormat(`${what} is not ${alphabet}`);
  let binary: string;
  try {
    binary = atob(stripped + "=".repeat((4 - (stripped.length % 4)) % 4));
  } catch {
    throw new InvalidFormat(`${what} is not ${alphabet}`);
  }
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/** Standard base64 with padding (SPKI, PKCS#8 and member key encodings). */
export function b64Encode(bytes: Uint8Array): string {
  return btoa(toBinary(bytes));
}

/** Standard base64; missing padding is tolerated, as Katta's readers do. */
export function b64Decode(value: unknown, what = "value"): Uint8Array<ArrayBuffer> {
  if (typeof value !== "string") throw new InvalidFormat(`${what} is not base64`);
  const text = value.trim();
  if (!B64STD.test(text)) throw new InvalidFormat(`${what} is not base64`);
  return fromBinary(text, what, "base64");
}

/** base64url without padding. */
export function b64urlEncode(bytes: Uint8Array): string {
  return b64Encode(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** base64url; padding optional (Katta's Java client pads, the web clients do not). */
export function b64urlDecode(value: unknown, what = "value"): Uint8Array<ArrayBuffer> {
  if (typeof value !== "string" || !B64URL.test(value)) throw new InvalidFormat(`${what} is not base64url`);
  return fromBinary(value.replace(/-/g, "+").replace(/_/g, "/"), what, "base64url");
}

/** 4 bytes, big-endian (seed ids, chunk numbers, Concat KDF lengths). */
export function uint32be(value: number): Uint8Array<ArrayBuffer> {
  return Uint8Array.of(value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255);
}

/** Uppercase hex (device ids, fingerprints). */
export function hexUpper(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("").toUpperCase();
}

export type JsonObject = Record<string, unknown>;

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Whether two parsed JSON values are equal: the same members (in any order) and items, at any depth. */
export function sameJson(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((item, i) => sameJson(item, b[i]));
  }
  if (isJsonObject(a) && isJsonObject(b)) {
    const names = Object.keys(a);
    return names.length === Object.keys(b).length && names.every((name) => name in b && sameJson(a[name], b[name]));
  }
  return a === b;
}

/** A JSON object in which no object, at any depth, names a member twice. */
export function jsonObject(data: Uint8Array | string, what: string): JsonObject {
  let text: string;
  try {
    text = typeof data === "string" ? data : utf8Strict.decode(data);
  } catch {
    throw new InvalidFormat(`${what} is not UTF-8`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new InvalidFormat(`${what} is not valid JSON`);
  }
  if (!isJsonObject(value)) throw new InvalidFormat(`${what} is not a JSON object`);
  if (hasDuplicateMember(text)) throw new InvalidFormat(`${what} names a member twice`);
  return value;
}

/** The JSON object a base64url segment of a compact JWS or JWE encodes (see `jsonObject`). */
export function jsonSegment(segment: unknown, what: string): JsonObject {
  return jsonObject(b64urlDecode(segment, what), what);
}

/**
 * Scans text that JSON.parse has accepted, so only the structure matters: each object's member
 * names are collected (decoded, since "a" and "\u0061" are one name) and compared.
 */
function hasDuplicateMember(text: string): boolean {
  const stack: (Set<string> | null)[] = [];
  let expectName = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === "\\" ? 2 : 1;
      const top = stack[stack.length - 1];
      if (expectName && top) {
        const name = JSON.parse(text.slice(i, end + 1)) as string;
        if (top.has(name)) return true;
        top.add(name);
        expectName = false;
      }
      i = end;
    } else if (c === "{") {
      stack.push(new Set());
      expectName = true;
    } else if (c === "[") {
      stack.push(null);
    } else if (c === "}" || c === "]") {
      stack.pop();
    } else if (c === ",") {
      expectName = stack[stack.length - 1] != null;
    }
  }
  return false;
}
