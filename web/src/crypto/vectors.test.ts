import { describe, expect, it } from "vitest";
import { DecryptionFailed, KeyMismatch } from "./errors";
import { encodePublicKey, importPrivateKey, importPublicKey, publicKeyOf } from "./ec";
import { decryptA256kw, decryptEcdhEs, decryptPbes2, parseCompactHeader } from "./jwe";
import { UserKeys } from "./keys";
import { decryptAccessToken } from "./accessToken";
import { VaultKeys, decryptVaultMetadataWithMemberKey, decryptVaultMetadataWithRecoveryKey, recoveryKeyId } from "./vault";
import { VaultMetadata } from "./uvf";
import { VECTORS, ecdhPrivateKeyFromJwk, fromB64url, tamperSegment } from "./testing";

// Katta's interoperability vectors (tests/reference/katta-vectors.json), quirks included: every
// one must pass in the browser as it does in katta_client (tests/test_client_crypto_vectors.py).

const tagLength = (compact: string) => fromB64url(compact.split(".")[4] ?? "").length;

async function vaultKeys() {
  const v = VECTORS.vault_uvf;
  const member = v.jwks.keys.find((k: JsonWebKey) => k.kty === "oct");
  const recovery = v.jwks.keys.find((k: JsonWebKey) => k.kty === "EC");
  return { memberKey: fromB64url(member.k), recoveryKey: await ecdhPrivateKeyFromJwk(recovery), kid: recovery.kid as string };
}

describe("Katta vectors", () => {
  it("covers every vector", () => {
    expect(Object.keys(VECTORS).filter((k) => k !== "about").sort()).toEqual([
      "a256kw", "ecdh_es_a256kw_access_token", "ecdh_es_to_device", "p384_key_encodings", "pbes2_account_key", "vault_uvf",
    ]);
  });

  it("opens the account-key JWE (PBES2, p2c 1,000,000)", async () => {
    const v = VECTORS.pbes2_account_key;
    expect(parseCompactHeader(v.jwe).p2c).toBe(1_000_000);
    expect(await decryptPbes2(v.jwe, v.password)).toEqual(v.payload);
  });

  it("opens the A256KW JWE and refuses a wrong key", async () => {
    const v = VECTORS.a256kw;
    expect(await decryptA256kw(v.jwe, fromB64url(v.jwk.k))).toEqual(v.payload);
    await expect(decryptA256kw(v.jwe, new Uint8Array(32))).rejects.toBeInstanceOf(DecryptionFailed);
  });

  it("opens the device JWE (ECDH-ES, WebCrypto epk, Nimbus's empty apu/apv)", async () => {
    const v = VECTORS.ecdh_es_to_device;
    const deviceKey = await importPrivateKey(v.device_private_key_pkcs8_b64, "ECDH");
    expect(await encodePublicKey(await publicKeyOf(deviceKey, "ECDH"))).toBe(v.device_public_key_spki_b64);
    expect((await decryptEcdhEs(v.jwe, deviceKey)).key).toBe(v.payload_key);
  });

  it("opens the device JWE as user keys made before the ECDSA key", async () => {
    const v = VECTORS.ecdh_es_to_device;
    const ecdhPublicKey = VECTORS.ecdh_es_a256kw_access_token.user_public_key_spki_b64;
    const deviceKey = await importPrivateKey(v.device_private_key_pkcs8_b64, "ECDH", "device key", false);
    const keys = await UserKeys.decryptOnDevice(v.jwe, deviceKey, { ecdhPublicKey });
    expect((await keys.publicKeys()).ecdhPublicKey).toBe(ecdhPublicKey);
    expect(keys.ecdsaKeyGenerated).toBe(true);
  });

  it("refuses the device JWE for another device key, and for someone else's public key", async () => {
    const v = VECTORS.ecdh_es_to_device;
    const other = await importPrivateKey(VECTORS.p384_key_encodings.private_key_pkcs8_b64_short, "ECDH");
    await expect(decryptEcdhEs(v.jwe, other)).rejects.toBeInstanceOf(DecryptionFailed);
    const deviceKey = await importPrivateKey(v.device_private_key_pkcs8_b64, "ECDH");
    await expect(UserKeys.decryptOnDevice(v.jwe, deviceKey, { ecdhPublicKey: VECTORS.p384_key_encodings.public_key_spki_b64 }))
      .rejects.toBeInstanceOf(KeyMismatch);
  });

  it("opens the ECDH-ES+A256KW access token with its 32-byte tag", async () => {
    const v = VECTORS.ecdh_es_a256kw_access_token;
    expect(tagLength(v.jwe)).toBe(32);
    expect(parseCompactHeader(v.jwe).alg).toBe("ECDH-ES+A256KW");
    const userKey = await importPrivateKey(v.user_private_key_pkcs8_b64, "ECDH");
    expect(await encodePublicKey(await publicKeyOf(userKey, "ECDH"))).toBe(v.user_public_key_spki_b64);
    const payload = await decryptAccessToken(v.jwe, userKey);
    expect(payload.memberKey).toEqual(new Uint8Array(Buffer.from(v.payload.key, "base64")));
    expect(payload.recoveryKey).toBeUndefined();
  });

  it("refuses the access token when either half of its 32-byte tag is altered", async () => {
    const v = VECTORS.ecdh_es_a256kw_access_token;
    const userKey = await importPrivateKey(v.user_private_key_pkcs8_b64, "ECDH");
    for (const byte of [0, 31]) {
      await expect(decryptAccessToken(tamperSegment(v.jwe, 4, byte), userKey)).rejects.toBeInstanceOf(DecryptionFailed);
    }
    await expect(decryptAccessToken(tamperSegment(v.jwe, 1), userKey)).rejects.toBeInstanceOf(DecryptionFailed);
    await expect(decryptAccessToken(tamperSegment(v.jwe, 3), userKey)).rejects.toBeInstanceOf(DecryptionFailed);
  });

  it("opens vault.uvf with the member key (object and JSON text, 32-byte tag)", async () => {
    const v = VECTORS.vault_uvf;
    expect(fromB64url(v.jwe_json.tag).length).toBe(32);
    const { memberKey } = await vaultKeys();
    expect((await decryptVaultMetadataWithMemberKey(v.jwe_json, memberKey)).toPayload()).toEqual(v.payload_expected);
    expect((await decryptVaultMetadataWithMemberKey(JSON.stringify(v.jwe_json), memberKey)).toPayload())
      .toEqual(v.payload_expected);
  });

  it("opens vault.uvf with the recovery key", async () => {
    const v = VECTORS.vault_uvf;
    const { recoveryKey, kid } = await vaultKeys();
    expect(await recoveryKeyId(await publicKeyOf(recoveryKey, "ECDH"))).toBe(kid);
    expect((await decryptVaultMetadataWithRecoveryKey(v.jwe_json, recoveryKey)).toPayload()).toEqual(v.payload_expected);
  });

  it("reads the vault.uvf payload as Katta writes it", () => {
    const metadata = VaultMetadata.fromPayload(VECTORS.vault_uvf.payload_expected);
    expect(metadata.initialSeedId).toBe(metadata.latestSeedId);
    expect(metadata.initialSeedId).toBe(Buffer.from("WOpxyg", "base64url").readUInt32BE(0));
    expect(metadata.automaticAccessGrant).toEqual({ enabled: true, trustThreshold: 1 });
    expect(metadata.toPayload()).toEqual(VECTORS.vault_uvf.payload_expected);
  });

  it("refuses vault.uvf under a wrong member key or an altered ciphertext", async () => {
    const v = VECTORS.vault_uvf;
    const { memberKey } = await vaultKeys();
    await expect(decryptVaultMetadataWithMemberKey(v.jwe_json, new Uint8Array(32))).rejects.toBeInstanceOf(DecryptionFailed);
    const ciphertext = fromB64url(v.jwe_json.ciphertext);
    ciphertext[0] = (ciphertext[0] ?? 0) ^ 1;
    const altered = { ...v.jwe_json, ciphertext: Buffer.from(ciphertext).toString("base64url") };
    await expect(decryptVaultMetadataWithMemberKey(altered, memberKey)).rejects.toBeInstanceOf(DecryptionFailed);
  });

  it("publishes the vector's recovery key in jwks.json without its private part", async () => {
    const v = VECTORS.vault_uvf;
    const { memberKey, recoveryKey, kid } = await vaultKeys();
    const keys = await VaultKeys.fromAccessToken({ memberKey, recoveryKey }, { keys: [v.jwks.keys[1]] });
    const jwks = await keys.jwks();
    expect((jwks.keys as JsonWebKey[])[0]).toMatchObject({ kid, alg: "ECDH-ES+A256KW" });
    expect((jwks.keys as JsonWebKey[])[0]).not.toHaveProperty("d");
  });

  it("loads both PKCS#8 shapes of one key", async () => {
    const v = VECTORS.p384_key_encodings;
    for (const pkcs8 of [v.private_key_pkcs8_b64_short, v.private_key_pkcs8_b64_long]) {
      for (const use of ["ECDH", "ECDSA"] as const) {
        expect(await encodePublicKey(await publicKeyOf(await importPrivateKey(pkcs8, use), use))).toBe(v.public_key_spki_b64);
      }
    }
    expect(await encodePublicKey(await importPublicKey(v.public_key_spki_b64, "ECDH"))).toBe(v.public_key_spki_b64);
    const keys = await UserKeys.fromPkcs8(v.private_key_pkcs8_b64_short, v.private_key_pkcs8_b64_long,
      { ecdhPublicKey: v.public_key_spki_b64, ecdsaPublicKey: v.public_key_spki_b64 });
    expect(await keys.publicKeys()).toEqual({ ecdhPublicKey: v.public_key_spki_b64, ecdsaPublicKey: v.public_key_spki_b64 });
  });
});
