import { IDBFactory } from "fake-indexeddb";
import { describe, expect, it } from "vitest";
import { DecryptionFailed, KeyMismatch } from "./errors";
import { DeviceKeyStore } from "./deviceStore";
import { DeviceKeys, UserKeys, deviceIdForPublicKey, generateAccountKey, looksLikeAccountKey } from "./keys";
import { parseCompactHeader } from "./jwe";

// Fewer PBKDF2 rounds than Katta's 1,000,000 keep the suite fast; the vector test runs the real count.
const ITERATIONS = 1000;

describe("account key", () => {
  it("is a UUID, and only its surrounding white space is forgiven", () => {
    const key = generateAccountKey();
    expect(looksLikeAccountKey(key)).toBe(true);
    expect(looksLikeAccountKey(`  ${key.toUpperCase()}\n`)).toBe(true);
    expect(looksLikeAccountKey(key.slice(1))).toBe(false);
    expect(generateAccountKey()).not.toBe(key);
  });

  it("seals the user keys as Hub and katta write them and opens them again", async () => {
    const keys = await UserKeys.create();
    const accountKey = generateAccountKey();
    const privateKeys = await keys.encryptWithAccountKey(accountKey, ITERATIONS);
    expect(parseCompactHeader(privateKeys)).toMatchObject({ alg: "PBES2-HS512+A256KW", enc: "A256GCM", p2c: ITERATIONS,
      kid: "org.cryptomator.hub.setupCode" });
    const recovered = await UserKeys.recoverWithAccountKey(privateKeys, ` ${accountKey} `, await keys.publicKeys());
    expect(await recovered.publicKeys()).toEqual(await keys.publicKeys());
  });

  it("refuses a wrong account key, and keys that are not the user's", async () => {
    const keys = await UserKeys.create();
    const accountKey = generateAccountKey();
    const privateKeys = await keys.encryptWithAccountKey(accountKey, ITERATIONS);
    await expect(UserKeys.recoverWithAccountKey(privateKeys, generateAccountKey(), await keys.publicKeys()))
      .rejects.toBeInstanceOf(DecryptionFailed);
    const someoneElse = await (await UserKeys.create()).publicKeys();
    await expect(UserKeys.recoverWithAccountKey(privateKeys, accountKey, someoneElse)).rejects.toBeInstanceOf(KeyMismatch);
    await expect(UserKeys.recoverWithAccountKey(privateKeys, accountKey,
      { ...(await keys.publicKeys()), ecdsaPublicKey: someoneElse.ecdsaPublicKey })).rejects.toBeInstanceOf(KeyMismatch);
  });

  it("keeps the account key for a signed-in device (setupCode) and refuses it to others", async () => {
    const keys = await UserKeys.create();
    const token = await keys.encryptSetupCode("the-key");
    expect(await keys.decryptSetupCode(token)).toBe("the-key");
    await expect((await UserKeys.create()).decryptSetupCode(token)).rejects.toBeInstanceOf(DecryptionFailed);
  });
});

describe("device keys", () => {
  it("makes a browser's device key that script cannot read", async () => {
    const device = await DeviceKeys.create();
    expect(device.privateKey.extractable).toBe(false);
    await expect(crypto.subtle.exportKey("pkcs8", device.privateKey)).rejects.toThrow();
    expect(await device.deviceId()).toMatch(/^[0-9A-F]{64}$/);
    expect(await deviceIdForPublicKey(await device.encodedPublicKey())).toBe(await device.deviceId());
  });

  it("hands the user keys to a device and to no other", async () => {
    const keys = await UserKeys.create();
    const device = await DeviceKeys.create();
    const userPrivateKey = await keys.encryptForDevice(await device.encodedPublicKey());
    expect(parseCompactHeader(userPrivateKey)).toMatchObject({ alg: "ECDH-ES", kid: "org.cryptomator.hub.deviceKey" });
    const opened = await device.openUserKeys(userPrivateKey, await keys.publicKeys());
    expect(await opened.publicKeys()).toEqual(await keys.publicKeys());
    await expect((await DeviceKeys.create()).openUserKeys(userPrivateKey, await keys.publicKeys()))
      .rejects.toBeInstanceOf(DecryptionFailed);
  });

  it("keeps the key in IndexedDB, per user, usable and still non-extractable after reload", async () => {
    const store = new DeviceKeyStore(new IDBFactory());
    expect(await store.load("alice")).toBeUndefined();
    const created = await store.loadOrCreate("alice");
    const reloaded = await store.loadOrCreate("alice");
    expect(await reloaded.deviceId()).toBe(await created.deviceId());
    expect(reloaded.privateKey.extractable).toBe(false);
    expect(await (await store.loadOrCreate("bob")).deviceId()).not.toBe(await created.deviceId());
    const keys = await UserKeys.create();
    const opened = await reloaded.openUserKeys(await keys.encryptForDevice(created.publicKey), await keys.publicKeys());
    expect(await opened.publicKeys()).toEqual(await keys.publicKeys());
    await store.remove("alice");
    expect(await store.load("alice")).toBeUndefined();
    expect(await store.load("bob")).toBeDefined();
  });
});
