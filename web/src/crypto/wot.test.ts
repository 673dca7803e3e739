import { describe, expect, it } from "vitest";
import { InvalidFormat, SignatureInvalid } from "./errors";
import { UserKeys } from "./keys";
import {
  computeTrustLevel,
  fingerprint,
  identityFingerprint,
  matchesIdentityFingerprint,
  signUserKeys,
  verifyChain,
  verifySignature,
} from "./wot";
import { toB64url } from "./testing";

describe("web of trust", () => {
  it("signs a user's keys as Hub does and verifies the signature", async () => {
    const [alice, bob] = [await UserKeys.create(), await UserKeys.create()];
    const bobKeys = await bob.publicKeys();
    const signature = await signUserKeys(alice.ecdsaPrivateKey, "alice", "bob", bobKeys, 1700000000);
    const header = JSON.parse(Buffer.from(signature.split(".")[0] ?? "", "base64url").toString());
    expect(header).toEqual({ alg: "ES384", typ: "JWT", b64: true, iss: "alice", sub: "bob", iat: 1700000000 });
    const [verified, signed] = await verifySignature(signature, (await alice.publicKeys()).ecdsaPublicKey);
    expect(verified.sub).toBe("bob");
    expect(signed).toEqual(bobKeys);
  });

  it("refuses a signature by someone else, an altered one and one whose header names a member twice", async () => {
    const [alice, bob, eve] = [await UserKeys.create(), await UserKeys.create(), await UserKeys.create()];
    const signature = await signUserKeys(alice.ecdsaPrivateKey, "alice", "bob", await bob.publicKeys());
    await expect(verifySignature(signature, eve.ecdsaPublicKey)).rejects.toBeInstanceOf(SignatureInvalid);
    const [head, , sig] = signature.split(".");
    const forged = `${head}.${toB64url(new TextEncoder().encode(JSON.stringify(await eve.publicKeys())))}.${sig}`;
    await expect(verifySignature(forged, alice.ecdsaPublicKey)).rejects.toBeInstanceOf(SignatureInvalid);
    const doubled = toB64url(new TextEncoder().encode('{"alg":"ES384","sub":"bob","sub":"eve","iss":"alice"}'));
    await expect(verifySignature(`${doubled}.${signature.split(".")[1]}.${sig}`, alice.ecdsaPublicKey))
      .rejects.toBeInstanceOf(InvalidFormat);
  });

  it("follows a chain and computes the trust level", async () => {
    const [alice, bob, carol] = [await UserKeys.create(), await UserKeys.create(), await UserKeys.create()];
    const carolKeys = await carol.publicKeys();
    const chain = [await signUserKeys(alice.ecdsaPrivateKey, "alice", "bob", await bob.publicKeys()),
      await signUserKeys(bob.ecdsaPrivateKey, "bob", "carol", carolKeys)];
    expect(await verifyChain(chain, alice.ecdsaPublicKey, "alice", "carol", carolKeys)).toBe(2);
    const trust = { trustedUserId: "carol", signatureChain: chain };
    expect(await computeTrustLevel("alice", alice.ecdsaPublicKey, "carol", carolKeys, trust)).toBe(2);
    expect(await computeTrustLevel("alice", alice.ecdsaPublicKey, "alice", {}, null)).toBe(0);
    // carol's keys changed since bob signed them: no longer trusted
    const changed = await (await UserKeys.create()).publicKeys();
    expect(await computeTrustLevel("alice", alice.ecdsaPublicKey, "carol", changed, trust)).toBe(-1);
    expect(await computeTrustLevel("alice", alice.ecdsaPublicKey, "carol", carolKeys, { ...trust, signatureChain: [chain[1]!] }))
      .toBe(-1);
  });

  it("shows the identity fingerprint's first wotIdVerifyLen characters", async () => {
    const full = await fingerprint(await (await UserKeys.create()).publicKeys());
    expect(full).toMatch(/^[0-9A-F]{64}$/);
    expect(identityFingerprint(full, 4)).toBe(full.slice(0, 4));
    expect(matchesIdentityFingerprint(` ${full.slice(0, 2)} ${full.slice(2, 4).toLowerCase()}`, full, 4)).toBe(true);
    expect(matchesIdentityFingerprint(full.slice(0, 3), full, 4)).toBe(false);
    expect(matchesIdentityFingerprint("", full, 0)).toBe(false);
  });
});
