/// <reference types="node" />
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

import { DecryptionFailed, InvalidFormat, KeyMismatch } from "./errors";
import { b64Decode, b64Encode } from "./encoding";
import { encodePublicKey, generateKeyPair, publicKeyFromJwk } from "./ec";
import {
  combineRecoveredKey,
  newProcessKey,
  recoverShare,
  rekeyWithRecoveryKey,
  shamirCombine,
  shamirSplit,
  splitRecoveryKey,
} from "./emergency";
import { decryptEcdhEs, encryptEcdhEs } from "./jwe";
import { tamperSegment } from "./testing";
import { VaultMetadata } from "./uvf";
import { VaultKeys, vaultUvfOrigin } from "./vault";

// Shares written by npm shamir-secret-sharing, the package Hub's web client splits with.
const SHAMIR: { cases: { secret: string; threshold: number; shares: string[] }[] } = JSON.parse(readFileSync(
  fileURLToPath(new URL("../../../tests/reference/shamir-vectors.json", import.meta.url)), "utf8"));

function subsets<T>(items: readonly T[], size: number): T[][] {
  if (size === 0) return [[]];
  return items.flatMap((item, i) => subsets(items.slice(i + 1), size - 1).map((rest) => [item, ...rest]));
}

describe("Shamir's secret sharing in shamir-secret-sharing's format", () => {
  it.each(SHAMIR.cases.map((c) => [c.secret.length, c.shares.length, c.threshold, c] as const))(
    "combines the package's shares (%i base64 chars, %i shares, threshold %i) from any threshold of them",
    (_length, _shares, threshold, vector) => {
      const shares = vector.shares.map((s) => b64Decode(s));
      for (const subset of subsets(shares, threshold)) expect(b64Encode(shamirCombine(subset))).toBe(vector.secret);
      if (threshold > 2) expect(b64Encode(shamirCombine(shares.slice(0, threshold - 1)))).not.toBe(vector.secret);
    });

  it("splits into shares the same combine reads, each the secret's length plus its x", () => {
    const secret = crypto.getRandomValues(new Uint8Array(185));
    const shares = shamirSplit(secret, 5, 3);
    expect(shares.map((s) => s.length)).toEqual([186, 186, 186, 186, 186]);
    expect(new Set(shares.map((s) => s[185])).size).toBe(5);
    for (const subset of subsets(shares, 3)) expect(shamirCombine(subset)).toEqual(secret);
    expect(shamirCombine(shares.slice(0, 2))).not.toEqual(secret);
  });

  it("refuses what cannot be a sharing", () => {
    const shares = shamirSplit(new Uint8Array([1, 2, 3]), 3, 2);
    expect(() => shamirSplit(new Uint8Array(), 3, 2)).toThrow(InvalidFormat);
    expect(() => shamirSplit(new Uint8Array([1]), 2, 3)).toThrow(InvalidFormat);
    expect(() => shamirSplit(new Uint8Array([1]), 256, 2)).toThrow(InvalidFormat);
    expect(() => shamirSplit(new Uint8Array([1]), 3, 1)).toThrow(InvalidFormat);
    expect(() => shamirCombine(shares.slice(0, 1))).toThrow(InvalidFormat);
    expect(() => shamirCombine([shares[0]!, shares[0]!])).toThrow(/distinct/);
    expect(() => shamirCombine([shares[0]!, shares[1]!.slice(1)])).toThrow(/same length/);
    const zero = shares[1]!.slice();
    zero[3] = 0;
    expect(() => shamirCombine([shares[0]!, zero])).toThrow(/non-zero/);
  });
});

describe("a recovery of a vault's recovery key, two of three", async () => {
  const recovery = await generateKeyPair("ECDH");
  const members = { bob: await generateKeyPair("ECDH"), carol: await generateKeyPair("ECDH"), dave: await generateKeyPair("ECDH") };
  const council: Record<string, string> = {};
  for (const [id, pair] of Object.entries(members)) council[id] = await encodePublicKey(pair.publicKey);
  const keyShares = await splitRecoveryKey(recovery.privateKey, 2, council);
  const { processPublicKey, processPrivateKeys } = await newProcessKey(council);

  it("gives each member a share only they open, as {keyShare}", async () => {
    expect(Object.keys(keyShares)).toEqual(["bob", "carol", "dave"]);
    const opened = await decryptEcdhEs(keyShares.carol, members.carol.privateKey);
    expect(Object.keys(opened)).toEqual(["keyShare"]);
    await expect(decryptEcdhEs(keyShares.carol, members.bob.privateKey)).rejects.toThrow();
    expect(Object.keys(JSON.parse(processPublicKey)).sort()).toEqual(["crv", "kty", "x", "y"]);
  });

  it("recovers the key from two approvals, any member combining", async () => {
    const approvals = [await recoverShare(keyShares.bob!, members.bob.privateKey, processPublicKey),
      await recoverShare(keyShares.dave!, members.dave.privateKey, processPublicKey)];
    const key = await combineRecoveredKey(approvals, processPrivateKeys.carol!, members.carol.privateKey, recovery.publicKey);
    expect(await crypto.subtle.exportKey("jwk", key)).toMatchObject({ d: (await crypto.subtle.exportKey("jwk", recovery.privateKey)).d });
  });

  it("refuses too few shares, a tampered share and a share of another vault", async () => {
    const bob = await recoverShare(keyShares.bob!, members.bob.privateKey, processPublicKey);
    const carol = await recoverShare(keyShares.carol!, members.carol.privateKey, processPublicKey);
    const combine = (shares: string[]) => combineRecoveredKey(shares, processPrivateKeys.bob!, members.bob.privateKey, recovery.publicKey);
    await expect(combine([bob])).rejects.toBeInstanceOf(InvalidFormat);
    await expect(combine([bob, tamperSegment(carol, 3)])).rejects.toThrow(); // the JWE's tag
    // A share whose bytes were changed before sealing: the JWE opens, the combined key is wrong.
    const opened = b64Decode((await decryptEcdhEs(keyShares.carol!, members.carol.privateKey)).keyShare);
    opened[0] = (opened[0] ?? 0) ^ 1;
    const processKey = await publicKeyFromJwk(JSON.parse(processPublicKey), "ECDH");
    const forged = await encryptEcdhEs({ keyShare: b64Encode(opened) }, processKey);
    await expect(combine([bob, forged])).rejects.toBeInstanceOf(KeyMismatch);
    const other = await generateKeyPair("ECDH");
    await expect(combineRecoveredKey([bob, carol], processPrivateKeys.bob!, members.bob.privateKey, other.publicKey))
      .rejects.toBeInstanceOf(KeyMismatch);
  });
});

describe("a recovered vault, re-keyed", () => {
  it("opens under a fresh member key, keeps its recovery key and contents, and the old member key no more", async () => {
    const before = await VaultKeys.create();
    const metadata = VaultMetadata.create({ provider: "p1", defaultPath: "bucket" });
    const origin = vaultUvfOrigin("http://127.0.0.1:8000/api", "v1");
    const uvf = await before.encryptMetadata(metadata, origin);
    const { keys, uvfMetadataFile } = await rekeyWithRecoveryKey(uvf, await before.jwks(), before.recoveryPrivateKey!, origin);
    expect(keys.memberKey).not.toEqual(before.memberKey);
    expect(await keys.recoveryKeyId()).toBe(await before.recoveryKeyId());
    expect((await keys.decryptMetadata(uvfMetadataFile)).toPayload()).toEqual(metadata.toPayload());
    await expect(before.decryptMetadata(uvfMetadataFile)).rejects.toBeInstanceOf(DecryptionFailed);
    const stranger = await generateKeyPair("ECDH");
    await expect(rekeyWithRecoveryKey(uvf, await before.jwks(), stranger.privateKey, origin)).rejects.toThrow();
  });
});
