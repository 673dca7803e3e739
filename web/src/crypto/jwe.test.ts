import { CompactEncrypt, GeneralEncrypt } from "jose";
import { describe, expect, it } from "vitest";
import { DecryptionFailed, InvalidFormat, InvalidKey, UnsafeParameter } from "./errors";
import { jsonObject } from "./encoding";
import { generateKeyPair } from "./ec";
import {
  decryptA256kw,
  decryptEcdhEs,
  decryptPbes2,
  encryptA256kw,
  encryptEcdhEs,
  encryptPbes2,
} from "./jwe";
import { VaultKeys, decryptVaultMetadataWithMemberKey } from "./vault";
import { VaultMetadata } from "./uvf";
import { fromB64url, toB64url } from "./testing";

const KEY = new Uint8Array(32).fill(7);
const text = (value: unknown) => toB64url(new TextEncoder().encode(typeof value === "string" ? value : JSON.stringify(value)));

/** The token with its protected header replaced (the tag no longer matters: refused before). */
function withHeader(token: string, header: unknown): string {
  const parts = token.split(".");
  parts[0] = text(header);
  return parts.join(".");
}

describe("JOSE JSON reader", () => {
  it("refuses a member named twice, at any depth and however it is spelled", () => {
    expect(jsonObject('{"a":1,"b":{"c":[{"d":1}]}}', "x")).toEqual({ a: 1, b: { c: [{ d: 1 }] } });
    for (const doubled of ['{"alg":"none","alg":"A256KW"}', '{"a":{"b":1,"b":2}}', '{"a":[{"x":1,"x":1}]}',
      '{"a":1,"\\u0061":2}']) {
      expect(() => jsonObject(doubled, "header")).toThrow(InvalidFormat);
    }
    expect(() => jsonObject('{"a":"\\"b\\":1,","b":2}', "x")).not.toThrow();
    expect(() => jsonObject("[1]", "x")).toThrow(InvalidFormat);
  });

  it("refuses a compact JWE whose header names alg twice", async () => {
    const token = await encryptA256kw({ a: 1 }, KEY);
    const doubled = withHeader(token, "").replace(/^\./, `${text('{"alg":"A256KW","alg":"A256KW","enc":"A256GCM"}')}.`);
    await expect(decryptA256kw(doubled, KEY)).rejects.toThrow(/names a member twice/);
  });

  it("refuses a payload that names a member twice", async () => {
    const token = await new CompactEncrypt(new TextEncoder().encode('{"key":"a","key":"b"}'))
      .setProtectedHeader({ alg: "A256KW", enc: "A256GCM" }).encrypt(KEY);
    await expect(decryptA256kw(token, KEY)).rejects.toThrow(/names a member twice/);
  });
});

describe("compact JWE policy", () => {
  it("round-trips each compact format", async () => {
    expect(await decryptA256kw(await encryptA256kw({ a: 1 }, KEY), KEY)).toEqual({ a: 1 });
    expect(await decryptPbes2(await encryptPbes2({ a: 2 }, "pw", "kid", 1000), "pw")).toEqual({ a: 2 });
    const pair = await generateKeyPair("ECDH");
    for (const alg of ["ECDH-ES", "ECDH-ES+A256KW"] as const) {
      expect(await decryptEcdhEs(await encryptEcdhEs({ a: 3 }, pair.publicKey, "k", alg), pair.privateKey)).toEqual({ a: 3 });
    }
  });

  it("refuses a huge p2c before deriving anything, and a tiny one", async () => {
    const token = await encryptPbes2({ a: 1 }, "pw", undefined, 1000);
    const header = JSON.parse(Buffer.from(token.split(".")[0] ?? "", "base64url").toString());
    const started = performance.now();
    await expect(decryptPbes2(withHeader(token, { ...header, p2c: 2_000_000_000 }), "pw")).rejects.toBeInstanceOf(UnsafeParameter);
    expect(performance.now() - started).toBeLessThan(500);
    await expect(decryptPbes2(withHeader(token, { ...header, p2c: 999 }), "pw")).rejects.toBeInstanceOf(UnsafeParameter);
    await expect(encryptPbes2({ a: 1 }, "pw", undefined, 10)).rejects.toBeInstanceOf(UnsafeParameter);
  });

  it("refuses zip, another enc, an unknown crit and an alg the call does not allow", async () => {
    const token = await encryptA256kw({ a: 1 }, KEY);
    const base = { alg: "A256KW", enc: "A256GCM" };
    for (const header of [{ ...base, zip: "DEF" }, { ...base, enc: "A128GCM" }, { ...base, crit: ["exp"], exp: 1 }]) {
      await expect(decryptA256kw(withHeader(token, header), KEY)).rejects.toBeInstanceOf(UnsafeParameter);
    }
    const pair = await generateKeyPair("ECDH");
    await expect(decryptEcdhEs(await encryptPbes2({ a: 1 }, "pw", undefined, 1000), pair.privateKey))
      .rejects.toBeInstanceOf(UnsafeParameter);
  });

  it("refuses an epk that is not a point on P-384", async () => {
    const pair = await generateKeyPair("ECDH");
    const token = await encryptEcdhEs({ a: 1 }, pair.publicKey);
    const header = JSON.parse(Buffer.from(token.split(".")[0] ?? "", "base64url").toString());
    const y = fromB64url(header.epk.y);
    y[47] = (y[47] ?? 0) ^ 1;
    for (const epk of [{ ...header.epk, y: toB64url(y) }, { ...header.epk, crv: "P-256" }, { ...header.epk, d: header.epk.x }]) {
      await expect(decryptEcdhEs(withHeader(token, { ...header, epk }), pair.privateKey)).rejects.toBeInstanceOf(InvalidKey);
    }
  });

  it("refuses wrong keys, altered segments and odd IV or tag lengths", async () => {
    const pair = await generateKeyPair("ECDH");
    const other = await generateKeyPair("ECDH");
    const token = await encryptEcdhEs({ a: 1 }, pair.publicKey, undefined, "ECDH-ES+A256KW");
    await expect(decryptEcdhEs(token, other.privateKey)).rejects.toBeInstanceOf(DecryptionFailed);
    const parts = token.split(".");
    for (const index of [1, 3, 4]) {
      const altered = [...parts];
      const raw = fromB64url(altered[index] ?? "");
      raw[0] = (raw[0] ?? 0) ^ 1;
      altered[index] = toB64url(raw);
      await expect(decryptEcdhEs(altered.join("."), pair.privateKey)).rejects.toBeInstanceOf(DecryptionFailed);
    }
    const shortTag = [...parts.slice(0, 4), toB64url(new Uint8Array(20))].join(".");
    await expect(decryptEcdhEs(shortTag, pair.privateKey)).rejects.toThrow(/tag must be 16 bytes/);
    const longIv = [parts[0], parts[1], toB64url(new Uint8Array(16)), parts[3], parts[4]].join(".");
    await expect(decryptEcdhEs(longIv, pair.privateKey)).rejects.toThrow(/12 bytes/);
    await expect(decryptEcdhEs(parts.slice(0, 4).join("."), pair.privateKey)).rejects.toThrow(/five segments/);
  });
});

describe("vault.uvf reader", () => {
  const member = new Uint8Array(32).fill(9);

  async function hubStyle(protectedHeader: Record<string, unknown>) {
    const metadata = VaultMetadata.create();
    return new GeneralEncrypt(new TextEncoder().encode(JSON.stringify(metadata.toPayload())))
      .setProtectedHeader(protectedHeader as { enc: string })
      .addRecipient(member).setUnprotectedHeader({ kid: "org.cryptomator.hub.memberkey", alg: "A256KW" })
      .encrypt();
  }

  it("accepts Hub's variant: no crit, no version, an origin member", async () => {
    const document = await hubStyle({ origin: "https://hub.example/api/vaults/1/uvf/vault.uvf", jku: "jwks.json", enc: "A256GCM" });
    expect((await decryptVaultMetadataWithMemberKey(document, member)).storage).toBeUndefined();
  });

  it("refuses another uvf.spec.version", async () => {
    const document = await hubStyle({ "uvf.spec.version": 2, jku: "jwks.json", enc: "A256GCM" });
    await expect(decryptVaultMetadataWithMemberKey(document, member)).rejects.toThrow(/uvf.spec.version/);
  });

  it("refuses a critical member it does not understand", async () => {
    const keys = await VaultKeys.create();
    const document = JSON.parse(await keys.encryptMetadata(VaultMetadata.create()));
    document.protected = text({ crit: ["cloud.katta.new"], "cloud.katta.new": 1, enc: "A256GCM" });
    await expect(keys.decryptMetadata(document)).rejects.toBeInstanceOf(UnsafeParameter);
  });

  it("refuses a document with unknown members or a recipient named twice", async () => {
    const keys = await VaultKeys.create();
    const document = await keys.encryptMetadata(VaultMetadata.create());
    await expect(keys.decryptMetadata({ ...JSON.parse(document), extra: 1 })).rejects.toBeInstanceOf(InvalidFormat);
    await expect(keys.decryptMetadata(document.replace(/^\{/, '{"iv":"AAAAAAAAAAAAAAAA",')))
      .rejects.toThrow(/names a member twice/);
  });
});
