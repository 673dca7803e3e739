import { describe, expect, it } from "vitest";
import { DecryptionFailed, InvalidFormat, KeyMismatch } from "./errors";
import { generateKeyPair } from "./ec";
import { UserKeys } from "./keys";
import { jsonSegment } from "./encoding";
import { VaultKeys, decryptVaultMetadataWithRecoveryKey, vaultUvfOrigin } from "./vault";
import { VaultMetadata, decryptBytes, decryptDirFile, encryptBytes, rootDirectoryTemplate } from "./uvf";
import { fromB64url } from "./testing";

const STORAGE = { provider: "p1", defaultPath: "bucket", nickname: "Docs", region: "eu-central-1" };

describe("vault keys and vault.uvf", () => {
  it("writes vault.uvf as katta does and opens it with either key", async () => {
    const keys = await VaultKeys.create();
    const metadata = VaultMetadata.create(STORAGE);
    const origin = vaultUvfOrigin("http://127.0.0.1:8000/api", "v1");
    const document = JSON.parse(await keys.encryptMetadata(metadata, origin));
    expect(jsonSegment(document.protected, "protected")).toEqual({ cty: "json", crit: ["uvf.spec.version"],
      "uvf.spec.version": 1, "cloud.katta.origin": origin, jku: "jwks.json", enc: "A256GCM" });
    expect(document.recipients.map((r: { header: { kid: string; alg: string } }) => r.header.alg))
      .toEqual(["A256KW", "ECDH-ES+A256KW"]);
    expect(document.recipients[1].header.kid).toBe(await keys.recoveryKeyId());
    expect((await keys.decryptMetadata(document)).toPayload()).toEqual(metadata.toPayload());
    expect((await decryptVaultMetadataWithRecoveryKey(document, keys.recoveryPrivateKey!)).storage).toEqual(STORAGE);
    await expect(decryptVaultMetadataWithRecoveryKey(document, (await generateKeyPair("ECDH")).privateKey))
      .rejects.toBeInstanceOf(DecryptionFailed);
  });

  it("gives owners the recovery key in their access token and members only the member key", async () => {
    const keys = await VaultKeys.create();
    const owner = await UserKeys.create();
    const member = await UserKeys.create();
    const ownerToken = await owner.decryptAccessToken(await keys.encryptForUser((await owner.publicKeys()).ecdhPublicKey, true));
    const memberToken = await member.decryptAccessToken(
      await keys.encryptForUser((await member.publicKeys()).ecdhPublicKey, false, "ECDH-ES+A256KW"));
    expect(memberToken.recoveryKey).toBeUndefined();
    const asOwner = await VaultKeys.fromAccessToken(ownerToken, await keys.jwksJson());
    const asMember = await VaultKeys.fromAccessToken(memberToken, await keys.jwks());
    expect([asOwner.isOwner, asMember.isOwner]).toEqual([true, false]);
    expect(asMember.memberKey).toEqual(keys.memberKey);
    await expect(member.decryptAccessToken(await keys.encryptForUser((await owner.publicKeys()).ecdhPublicKey)))
      .rejects.toBeInstanceOf(DecryptionFailed);
    const other = await VaultKeys.create();
    await expect(VaultKeys.fromAccessToken(ownerToken, await other.jwks())).rejects.toBeInstanceOf(KeyMismatch);
  });

  it("refuses a jwks.json whose kid is not the key's thumbprint", async () => {
    const keys = await VaultKeys.create();
    const jwks = await keys.jwks();
    const [jwk] = jwks.keys as Record<string, string>[];
    await expect(VaultKeys.fromAccessToken({ memberKey: keys.memberKey },
      { keys: [{ ...jwk, kid: "org.cryptomator.hub.recoverykey.x" }] })).rejects.toBeInstanceOf(InvalidFormat);
  });
});

describe("UVF content and the root directory", () => {
  it("makes the bucket template: rootDirHash and a dir.uvf holding the root dirId", async () => {
    const metadata = VaultMetadata.create();
    const { rootDirHash, dirUvf } = await rootDirectoryTemplate(metadata);
    expect(rootDirHash).toMatch(/^[A-Z2-7]{32}$/);
    expect(await decryptDirFile(metadata, fromB64url(dirUvf))).toEqual(await metadata.rootDirId());
    expect(await metadata.dirPath(await metadata.rootDirId())).toBe(`d/${rootDirHash.slice(0, 2)}/${rootDirHash.slice(2)}/`);
  });

  it("round-trips files at the chunk boundaries and refuses truncation and tampering", async () => {
    const metadata = VaultMetadata.create();
    for (const size of [0, 1, 32_740, 32_741]) {
      const plaintext = crypto.getRandomValues(new Uint8Array(size));
      const ciphertext = await encryptBytes(metadata, plaintext);
      expect(await decryptBytes(metadata, ciphertext)).toEqual(plaintext);
    }
    const ciphertext = await encryptBytes(metadata, new Uint8Array(32_740));
    await expect(decryptBytes(metadata, ciphertext.subarray(0, ciphertext.length - 28))).rejects.toThrow(/truncated/);
    ciphertext[100] = (ciphertext[100] ?? 0) ^ 1;
    await expect(decryptBytes(metadata, ciphertext)).rejects.toBeInstanceOf(DecryptionFailed);
    await expect(decryptBytes(VaultMetadata.create(), await encryptBytes(metadata, new Uint8Array(3))))
      .rejects.toThrow(/unknown seed id/);
  });
});
