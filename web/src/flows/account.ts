// The account's keys in this browser (as katta_client/flows.py does on a desktop):
// 1. GET /api/users/me?withDevices: no user keys yet → the first sign-in creates them;
// 2. this browser's device key (IndexedDB) is one of the user's devices → it opens the user keys;
// 3. otherwise the browser is new (or was removed): recover with the account key, or link it by QR.
import type { Api, DeviceDto, UserDto } from "../api";
import {
  DEVICE_TYPE_BROWSER,
  DecryptionFailed,
  DeviceKeyStore,
  KattaCryptoError,
  UserKeys,
  generateAccountKey,
  looksLikeAccountKey,
  type DeviceKeys,
  type UserPublicKeys,
} from "../crypto";
import { FlowError, lock, unlock, type Progress, type Unlocked } from "./keyring";

export type AccountState =
  | { kind: "new"; user: UserDto }
  /** `removed`: this browser held a device key the server no longer knows (the device was removed). */
  | { kind: "unknown-browser"; user: UserDto; removed: boolean }
  | { kind: "unlocked"; unlocked: Unlocked };

/** New user keys and their account key, made on the first sign-in and not yet stored. */
export interface AccountDraft {
  accountKey: string;
  keys: UserKeys;
}

const NAME_FORBIDDEN = /[*<>"]/g; // DeviceDto.name's pattern [^*<>"]*

export function defaultDeviceName(userAgent: string = navigator.userAgent): string {
  const browser = /Edg\//.test(userAgent) ? "Edge" : /Firefox\//.test(userAgent) ? "Firefox"
    : /Chrom(e|ium)\//.test(userAgent) ? "Chromium" : /Safari\//.test(userAgent) ? "Safari" : "Web";
  return `${browser} browser`;
}

export class AccountFlows {
  constructor(private readonly api: Api, private readonly store: DeviceKeyStore = new DeviceKeyStore()) {}

  /** Where this browser stands with the signed-in user's keys; unlocks them when it can. */
  async open(): Promise<AccountState> {
    const user = await this.api.me(true);
    if (!user.ecdhPublicKey) return { kind: "new", user };
    const device = await this.store.load(user.id);
    if (device === undefined) return { kind: "unknown-browser", user, removed: false };
    const deviceId = await device.deviceId();
    const registered = user.devices?.find((d) => d.id === deviceId);
    if (registered === undefined) return { kind: "unknown-browser", user, removed: true };
    return { kind: "unlocked", unlocked: unlock({ user, keys: await this.openDeviceCopy(registered, device, user), device, deviceId }) };
  }

  /** New user keys and a new account key, not yet stored: the page shows the key first. */
  async draft(progress: Progress): Promise<AccountDraft> {
    progress("Creating your keys…");
    return { accountKey: generateAccountKey(), keys: await UserKeys.create() };
  }

  /** Stores the drafted keys (sealed with the account key) and registers this browser. */
  async create(draft: AccountDraft, deviceName: string, progress: Progress): Promise<Unlocked> {
    const { accountKey, keys } = draft;
    progress("Sealing your keys with the account key (a million rounds of PBKDF2: a few seconds)…");
    const privateKeys = await keys.encryptWithAccountKey(accountKey);
    const setupCode = await keys.encryptSetupCode(accountKey);
    progress("Storing your public keys…");
    await this.api.updateMe({ ...(await keys.publicKeys()), privateKeys, setupCode });
    try {
      return await this.registerThisBrowser(keys, deviceName, progress);
    } catch (error) {
      // Nobody can use keys whose browser never registered: take them back, so the next sign-in
      // starts afresh instead of asking for an account key that was never confirmed (as katta does).
      await this.api.resetMe().catch(() => undefined);
      throw error;
    }
  }

  /** A new browser: the user keys from `privateKeys` with the account key, then this browser registered. */
  async recover(accountKey: string, deviceName: string, progress: Progress): Promise<Unlocked> {
    if (!looksLikeAccountKey(accountKey)) {
      throw new FlowError("This is not an account key: it has 36 characters, like 1b4e28ba-2fa1-11d2-883f-0016d3cca427.", "accountKey");
    }
    const user = await this.api.me();
    if (!user.privateKeys || !user.ecdhPublicKey) {
      throw new FlowError("Your account has no account-key backup. Link this browser from a signed-in device instead.");
    }
    progress("Opening your keys with the account key (a million rounds of PBKDF2: a few seconds)…");
    let keys: UserKeys;
    try {
      keys = await UserKeys.recoverWithAccountKey(user.privateKeys, accountKey, publicKeysOf(user));
    } catch (error) {
      if (error instanceof DecryptionFailed) throw new FlowError("That is not your account key. Check it and try again.", "accountKey");
      throw error;
    }
    if (keys.ecdsaKeyGenerated) {
      // Keys from before Hub 1.4 had no signing key: publish the new one with its backup.
      await this.api.updateMe({ ecdsaPublicKey: (await keys.publicKeys()).ecdsaPublicKey,
                                privateKeys: await keys.encryptWithAccountKey(accountKey) });
    }
    return this.registerThisBrowser(keys, deviceName, progress);
  }

  /** The account key again, from `UserDto.setupCode` (sealed to the user's own key). */
  async accountKey(unlocked: Unlocked): Promise<string> {
    const user = await this.api.me();
    if (!user.setupCode) throw new FlowError("Your account holds no copy of the account key to show.");
    return unlocked.keys.decryptSetupCode(user.setupCode);
  }

  devices(): Promise<DeviceDto[]> {
    return this.api.me(true).then((user) => user.devices ?? []);
  }

  /** Removes a device; removing this browser also forgets its key and locks the keys. */
  async removeDevice(unlocked: Unlocked, deviceId: string): Promise<void> {
    await this.api.removeDevice(deviceId);
    if (deviceId === unlocked.deviceId) {
      await this.store.remove(unlocked.user.id);
      lock();
    }
  }

  /** Deletes the user's keys, devices and access tokens; only a new first sign-in follows. */
  async reset(userId: string): Promise<void> {
    await this.api.resetMe();
    await this.store.remove(userId);
    lock();
  }

  /** A fresh device key for this browser (kept for this user): a key of a removed device is not reused. */
  async newBrowserKey(userId: string): Promise<DeviceKeys> {
    await this.store.remove(userId);
    return this.store.loadOrCreate(userId);
  }

  /** After linking: the server knows this browser; open the user keys with its device key. */
  async adoptLinked(): Promise<Unlocked> {
    const state = await this.open();
    if (state.kind !== "unlocked") throw new FlowError("The other device did not register this browser. Try linking again.");
    return state.unlocked;
  }

  private async registerThisBrowser(keys: UserKeys, deviceName: string, progress: Progress): Promise<Unlocked> {
    progress("Registering this browser…");
    const user = await this.api.me();
    const device = await this.newBrowserKey(user.id);
    const deviceId = await device.deviceId();
    const name = deviceName.replace(NAME_FORBIDDEN, "").trim() || defaultDeviceName();
    await this.api.putDevice({ id: deviceId, name, type: DEVICE_TYPE_BROWSER, publicKey: await device.encodedPublicKey(),
                               userPrivateKey: await keys.encryptForDevice(device.publicKey) });
    return unlock({ user: await this.api.me(), keys, device, deviceId });
  }

  private async openDeviceCopy(registered: DeviceDto, device: DeviceKeys, user: UserDto): Promise<UserKeys> {
    try {
      return await device.openUserKeys(registered.userPrivateKey, publicKeysOf(user));
    } catch (error) {
      if (error instanceof KattaCryptoError) {
        throw new FlowError("This browser's copy of your keys does not open. Remove this browser under My devices and recover with your account key.");
      }
      throw error;
    }
  }
}

function publicKeysOf(user: UserDto): UserPublicKeys {
  if (!user.ecdhPublicKey) throw new FlowError("Your account has no keys yet.");
  return { ecdhPublicKey: user.ecdhPublicKey, ecdsaPublicKey: user.ecdsaPublicKey ?? null };
}
