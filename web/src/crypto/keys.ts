/**
 * User keys, the account key and device keys (Katta / Cryptomator Hub key hierarchy):
 *
 * - user keys: a P-384 ECDH key pair (receives access tokens) and a P-384 ECDSA key pair (signs
 *   web-of-trust statements); public keys travel as base64 SPKI DER;
 * - account key: a random UUID shown to the user once; it seals `UserDto.privateKeys` as a PBES2
 *   JWE and is never stored;
 * - device keys: one P-384 ECDH key pair per device; `DeviceDto.userPrivateKey` is the user's
 *   private keys as an ECDH-ES JWE to it. The device id is the uppercase hex SHA-256 of the SPKI.
 *   The browser's device private key is generated non-extractable (see deviceStore.ts).
 */
import { InvalidFormat, InvalidKey } from "./errors";
import { hexUpper, type JsonObject } from "./encoding";
import {
  checkKeyPair,
  encodePrivateKey,
  encodePublicKey,
  generateKeyPair,
  importPrivateKey,
  importPublicKey,
  spki,
  type KeyLike,
} from "./ec";
import { ECDH_ALGS, PBES2_ITERATIONS, decryptEcdhEs, decryptPbes2, encryptEcdhEs, encryptPbes2 } from "./jwe";
import { decryptAccessToken, type AccessTokenPayload } from "./accessToken";

/** `kid` of `UserDto.privateKeys` (PBES2 with the account key). */
export const KID_SETUP_CODE = "org.cryptomator.hub.setupCode";
/** `kid` of `DeviceDto.userPrivateKey` (ECDH-ES to the device key), as Katta's client writes it. */
export const KID_DEVICE_KEY = "org.cryptomator.hub.deviceKey";
/** `kid` of JWEs to the user's ECDH key (access tokens, `UserDto.setupCode`). */
export const KID_USER_KEY = "org.cryptomator.hub.userkey";
/** `DeviceDto.type` of a browser. */
export const DEVICE_TYPE_BROWSER = "BROWSER";

const ACCOUNT_KEY = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A new account key: a random UUID, as Katta's client and Cryptomator Hub make it. */
export function generateAccountKey(): string {
  return crypto.randomUUID();
}

/**
 * The account key as typed or pasted: surrounding white space dropped, as katta does. Whether it
 * is the right one only decryption can tell; this only says whether it can be one at all, so a
 * page can point at a typo before a million PBKDF2 rounds.
 */
export function normalizeAccountKey(typed: string): string {
  return typed.trim();
}

export function looksLikeAccountKey(typed: string): boolean {
  return ACCOUNT_KEY.test(normalizeAccountKey(typed));
}

/** Uppercase hex SHA-256 of the SPKI DER (`DeviceDto.id`). */
export async function deviceIdForPublicKey(publicKey: KeyLike): Promise<string> {
  const key = await importPublicKey(publicKey, "ECDH", "device public key");
  return hexUpper(new Uint8Array(await crypto.subtle.digest("SHA-256", await spki(key))));
}

export interface UserPublicKeys {
  /** base64 SPKI, `UserDto.ecdhPublicKey`. */
  ecdhPublicKey: string;
  /** base64 SPKI, `UserDto.ecdsaPublicKey`; absent for keys made before Hub 1.4. */
  ecdsaPublicKey?: string | null;
}

export class UserKeys {
  private constructor(
    readonly ecdhPrivateKey: CryptoKey,
    readonly ecdhPublicKey: CryptoKey,
    readonly ecdsaPrivateKey: CryptoKey,
    readonly ecdsaPublicKey: CryptoKey,
    /** True when the stored keys predate the ECDSA key and a new one was made on load: the
     * caller must upload the new `ecdsaPublicKey`. */
    readonly ecdsaKeyGenerated = false,
  ) {}

  static async create(): Promise<UserKeys> {
    const ecdh = await generateKeyPair("ECDH");
    const ecdsa = await generateKeyPair("ECDSA");
    return new UserKeys(ecdh.privateKey, ecdh.publicKey, ecdsa.privateKey, ecdsa.publicKey);
  }

  /** From base64 PKCS#8 private keys, each checked against its public key. */
  static async fromPkcs8(ecdhPrivateKey: string, ecdsaPrivateKey: string, publicKeys: UserPublicKeys): Promise<UserKeys> {
    return UserKeys.fromPayload({ ecdhPrivateKey, ecdsaPrivateKey }, publicKeys);
  }

  async publicKeys(): Promise<{ ecdhPublicKey: string; ecdsaPublicKey: string }> {
    return { ecdhPublicKey: await encodePublicKey(this.ecdhPublicKey), ecdsaPublicKey: await encodePublicKey(this.ecdsaPublicKey) };
  }

  private async payload(): Promise<JsonObject> {
    const ecdh = await encodePrivateKey(this.ecdhPrivateKey);
    return {
      key: ecdh, // redundant, for readers older than Hub 1.4 (Katta writes it too)
      ecdhPrivateKey: ecdh,
      ecdsaPrivateKey: await encodePrivateKey(this.ecdsaPrivateKey),
    };
  }

  private static async fromPayload(payload: JsonObject, publicKeys: UserPublicKeys): Promise<UserKeys> {
    const legacy = payload.key;
    let ecdhB64 = payload.ecdhPrivateKey;
    if (ecdhB64 === undefined) ecdhB64 = legacy;
    else if (legacy !== undefined && legacy !== ecdhB64) {
      throw new InvalidFormat("user key payload has conflicting key and ecdhPrivateKey");
    }
    if (typeof ecdhB64 !== "string") throw new InvalidFormat("user key payload has no ECDH private key");
    const ecdhPrivate = await importPrivateKey(ecdhB64, "ECDH", "ECDH private key");
    const ecdhPublic = await importPublicKey(publicKeys.ecdhPublicKey, "ECDH", "ECDH public key");
    await checkKeyPair(ecdhPrivate, ecdhPublic, "ECDH private key");
    const ecdsaB64 = payload.ecdsaPrivateKey;
    if (ecdsaB64 === undefined) {
      if (publicKeys.ecdsaPublicKey) throw new InvalidFormat("user key payload has no ECDSA private key");
      // Keys stored before Hub 1.4 have no ECDSA key: make one, as Hub does.
      const ecdsa = await generateKeyPair("ECDSA");
      return new UserKeys(ecdhPrivate, ecdhPublic, ecdsa.privateKey, ecdsa.publicKey, true);
    }
    if (typeof ecdsaB64 !== "string") throw new InvalidFormat("user key payload has no ECDSA private key");
    if (!publicKeys.ecdsaPublicKey) throw new InvalidKey("the ECDSA public key is required to check the ECDSA private key");
    const ecdsaPrivate = await importPrivateKey(ecdsaB64, "ECDSA", "ECDSA private key");
    const ecdsaPublic = await importPublicKey(publicKeys.ecdsaPublicKey, "ECDSA", "ECDSA public key");
    await checkKeyPair(ecdsaPrivate, ecdsaPublic, "ECDSA private key");
    return new UserKeys(ecdhPrivate, ecdhPublic, ecdsaPrivate, ecdsaPublic);
  }

  // -- account key (UserDto.privateKeys) ---------------------------------------------------

  /** `UserDto.privateKeys`: compact JWE PBES2-HS512+A256KW (p2c 1,000,000) / A256GCM.
   * `iterations` exists for tests; the app keeps Katta's 1,000,000. */
  async encryptWithAccountKey(accountKey: string, iterations = PBES2_ITERATIONS): Promise<string> {
    return encryptPbes2(await this.payload(), accountKey, KID_SETUP_CODE, iterations);
  }

  /** Decrypt `UserDto.privateKeys` and check both keys against the user's public keys:
   * DecryptionFailed for a wrong account key, KeyMismatch for keys of someone else. */
  static async recoverWithAccountKey(privateKeys: string, accountKey: string, publicKeys: UserPublicKeys): Promise<UserKeys> {
    const payload = await decryptPbes2(privateKeys, normalizeAccountKey(accountKey));
    return UserKeys.fromPayload(payload, publicKeys);
  }

  // -- devices (DeviceDto.userPrivateKey) --------------------------------------------------

  /** `DeviceDto.userPrivateKey`: compact JWE ECDH-ES / A256GCM to the device's P-384 key. */
  async encryptForDevice(devicePublicKey: KeyLike): Promise<string> {
    const key = await importPublicKey(devicePublicKey, "ECDH", "device public key");
    return encryptEcdhEs(await this.payload(), key, KID_DEVICE_KEY);
  }

  /** Decrypt `DeviceDto.userPrivateKey` (ECDH-ES, or ECDH-ES+A256KW as Hub writes it). */
  static async decryptOnDevice(userPrivateKey: string, devicePrivateKey: CryptoKey,
                               publicKeys: UserPublicKeys): Promise<UserKeys> {
    const payload = await decryptEcdhEs(userPrivateKey, devicePrivateKey, ECDH_ALGS, "device JWE");
    return UserKeys.fromPayload(payload, publicKeys);
  }

  // -- vault access tokens and UserDto.setupCode --------------------------------------------

  decryptAccessToken(token: string): Promise<AccessTokenPayload> {
    return decryptAccessToken(token, this.ecdhPrivateKey);
  }

  /** `UserDto.setupCode`: the account key as an ECDH-ES JWE to the user's own ECDH key, so a
   * signed-in device can show it again. */
  encryptSetupCode(accountKey: string): Promise<string> {
    return encryptEcdhEs({ setupCode: accountKey }, this.ecdhPublicKey, KID_USER_KEY);
  }

  async decryptSetupCode(token: string): Promise<string> {
    const payload = await decryptEcdhEs(token, this.ecdhPrivateKey, ECDH_ALGS, "setupCode JWE");
    if (typeof payload.setupCode !== "string") throw new InvalidFormat("setupCode JWE has no setupCode");
    return payload.setupCode;
  }
}

/** This device's P-384 ECDH key pair; the private key may be non-extractable. */
export class DeviceKeys {
  private constructor(readonly privateKey: CryptoKey, readonly publicKey: CryptoKey) {}

  /** A new device key; a browser's is non-extractable (the default): script can use it, never read it. */
  static async create(extractable = false): Promise<DeviceKeys> {
    const pair = await generateKeyPair("ECDH", extractable);
    return new DeviceKeys(pair.privateKey, pair.publicKey);
  }

  /** From a stored pair (deviceStore.ts) or an imported one. */
  static async fromKeyPair(privateKey: CryptoKey, publicKey: CryptoKey): Promise<DeviceKeys> {
    if (privateKey.type !== "private" || publicKey.type !== "public") throw new InvalidKey("device key pair is malformed");
    await importPrivateKey(privateKey, "ECDH", "device private key");
    await importPublicKey(publicKey, "ECDH", "device public key");
    return new DeviceKeys(privateKey, publicKey);
  }

  /** base64 SPKI, for `DeviceDto.publicKey`. */
  encodedPublicKey(): Promise<string> {
    return encodePublicKey(this.publicKey);
  }

  deviceId(): Promise<string> {
    return deviceIdForPublicKey(this.publicKey);
  }

  /** The user keys this device holds (`DeviceDto.userPrivateKey`). */
  openUserKeys(userPrivateKey: string, publicKeys: UserPublicKeys): Promise<UserKeys> {
    return UserKeys.decryptOnDevice(userPrivateKey, this.privateKey, publicKeys);
  }
}

