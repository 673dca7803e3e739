/// <reference types="node" />
// Interop with katta_client, both ways; driven by tests/test_web_crypto_interop.py, which sets
// KATTA_INTEROP_DIR, writes from-katta.json (artifacts katta_client made) and afterwards opens
// from-browser.json (artifacts made here) with katta_client. Skipped when run on its own.
import { readFileSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { b64Encode, b64urlDecode } from "./encoding";
import { encodePrivateKey, importPrivateKey } from "./ec";
import { DeviceKeys, UserKeys, deviceIdForPublicKey } from "./keys";
import { VaultKeys, vaultUvfOrigin } from "./vault";
import { VaultMetadata, decryptBytes, encryptBytes, rootDirectoryTemplate } from "./uvf";
import { fingerprint, signUserKeys, verifySignature } from "./wot";

const dir = process.env.KATTA_INTEROP_DIR;

describe.skipIf(!dir)("interop with katta_client", () => {
  it("opens what katta made and makes what katta opens", async () => {
    const fromKatta = JSON.parse(readFileSync(`${dir}/from-katta.json`, "utf8"));
    const opened: Record<string, unknown> = {};

    // katta -> browser
    const kattaPublic = fromKatta.user.publicKeys;
    const byAccountKey = await UserKeys.recoverWithAccountKey(fromKatta.user.privateKeys, fromKatta.user.accountKey, kattaPublic);
    const kattaDevice = await importPrivateKey(fromKatta.device.privateKeyPkcs8, "ECDH", "device key", false);
    const onDevice = await UserKeys.decryptOnDevice(fromKatta.device.userPrivateKey, kattaDevice, kattaPublic);
    expect(await onDevice.publicKeys()).toEqual(kattaPublic);
    expect(await deviceIdForPublicKey(fromKatta.device.publicKey)).toBe(fromKatta.device.id);
    expect(await byAccountKey.decryptSetupCode(fromKatta.user.setupCode)).toBe(fromKatta.user.accountKey);
    const token = await byAccountKey.decryptAccessToken(fromKatta.vault.ownerToken);
    const vault = await VaultKeys.fromAccessToken(token, fromKatta.vault.jwks);
    expect(vault.isOwner).toBe(true);
    const metadata = await vault.decryptMetadata(fromKatta.vault.uvf);
    expect(metadata.toPayload()).toEqual(fromKatta.vault.payload);
    expect(await rootDirectoryTemplate(metadata)).toMatchObject({ rootDirHash: fromKatta.vault.rootDirHash });
    expect(new TextDecoder().decode(await decryptBytes(metadata, b64urlDecode(fromKatta.vault.file)))).toBe("hello from katta");
    const [header, signed] = await verifySignature(fromKatta.wot.signature, kattaPublic.ecdsaPublicKey);
    expect([header.iss, header.sub, signed]).toEqual(["katta-user", "browser-user", fromKatta.wot.signedKeys]);
    expect(await fingerprint(kattaPublic)).toBe(fromKatta.user.fingerprint);
    opened.vaultPayload = metadata.toPayload();

    // browser -> katta
    const browserUser = await UserKeys.create();
    const browserPublic = await browserUser.publicKeys();
    const browserDevice = await DeviceKeys.create(true);
    const newVault = await VaultKeys.create();
    const newMetadata = VaultMetadata.create({ provider: "p1", defaultPath: "b1", nickname: "from the browser", region: "r" });
    const template = await rootDirectoryTemplate(newMetadata);
    const fromBrowser = {
      user: {
        publicKeys: browserPublic,
        accountKey: fromKatta.browserAccountKey,
        privateKeys: await browserUser.encryptWithAccountKey(fromKatta.browserAccountKey, 1000),
        setupCode: await browserUser.encryptSetupCode(fromKatta.browserAccountKey),
        fingerprintOfKatta: await fingerprint(kattaPublic),
      },
      device: {
        // extractable only here, so that katta can play the device; a browser's never is
        privateKeyPkcs8: await encodePrivateKey(browserDevice.privateKey),
        publicKey: await browserDevice.encodedPublicKey(),
        id: await browserDevice.deviceId(),
        userPrivateKey: await browserUser.encryptForDevice(await browserDevice.encodedPublicKey()),
        kattaUserPrivateKey: await onDevice.encryptForDevice(fromKatta.device.publicKey),
      },
      vault: {
        uvf: await newVault.encryptMetadata(newMetadata, vaultUvfOrigin("http://127.0.0.1:8000/api", "v-browser")),
        jwks: await newVault.jwksJson(),
        payload: newMetadata.toPayload(),
        ownerToken: await newVault.encryptForUser(browserPublic.ecdhPublicKey, true),
        memberTokenForKatta: await newVault.encryptForUser(kattaPublic.ecdhPublicKey, false, "ECDH-ES+A256KW"),
        ...template,
        file: b64Encode(await encryptBytes(newMetadata, new TextEncoder().encode("hello from the browser"))),
      },
      wot: {
        signature: await signUserKeys(browserUser.ecdsaPrivateKey, "browser-user", "katta-user", kattaPublic),
      },
      opened,
    };
    writeFileSync(`${dir}/from-browser.json`, JSON.stringify(fromBrowser));
  });
});
