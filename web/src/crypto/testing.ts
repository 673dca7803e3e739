/// <reference types="node" />
// Test helpers (imported by *.test.ts only): Katta's vectors and key loading.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const VECTORS: any = JSON.parse(readFileSync(
  fileURLToPath(new URL("../../../tests/reference/katta-vectors.json", import.meta.url)), "utf8"));

export function fromB64url(text: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(Buffer.from(text, "base64url"));
}

export function toB64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64url");
}

/** Flip one bit of a base64url segment of a compact JOSE object. */
export function tamperSegment(token: string, index: number, byte = 0): string {
  const parts = token.split(".");
  const raw = fromB64url(parts[index] ?? "");
  raw[byte] = (raw[byte] ?? 0) ^ 1;
  parts[index] = toB64url(raw);
  return parts.join(".");
}

export async function ecdhPrivateKeyFromJwk(jwk: JsonWebKey): Promise<CryptoKey> {
  const { kty, crv, x, y, d } = jwk;
  return crypto.subtle.importKey("jwk", { kty, crv, x, y, d } as JsonWebKey, { name: "ECDH", namedCurve: "P-384" }, true,
    ["deriveBits"]);
}
