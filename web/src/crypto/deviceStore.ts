/**
 * The browser's device key, kept in IndexedDB: the CryptoKey objects themselves are stored
 * (structured clone keeps them non-extractable), so no script, not even ours, can read the
 * private key; it can only be used, on this origin, in this browser profile. One key per user
 * of this browser (several people may share one profile), keyed by the Katta user id.
 */
import { DeviceKeys } from "./keys";

const DB_NAME = "katta";
const DB_VERSION = 1;
const STORE = "deviceKeys";

interface StoredDeviceKey {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
}

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error("IndexedDB request failed"));
  });
}

export class DeviceKeyStore {
  constructor(private readonly factory: IDBFactory = indexedDB) {}

  private open(): Promise<IDBDatabase> {
    const req = this.factory.open(DB_NAME, DB_VERSION);
    req.onupgradeneeded = () => {
      req.result.createObjectStore(STORE);
    };
    return request(req);
  }

  private async run<T>(mode: IDBTransactionMode, action: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
    const db = await this.open();
    try {
      const tx = db.transaction(STORE, mode);
      const done = new Promise<void>((resolve, reject) => {
        tx.oncomplete = () => resolve();
        tx.onerror = () => reject(tx.error ?? new Error("IndexedDB transaction failed"));
        tx.onabort = () => reject(tx.error ?? new Error("IndexedDB transaction aborted"));
      });
      const [result] = await Promise.all([request(action(tx.objectStore(STORE))), done]);
      return result;
    } finally {
      db.close();
    }
  }

  /** This browser's device key for the user, or undefined when the browser is new to them. */
  async load(userId: string): Promise<DeviceKeys | undefined> {
    const stored = (await this.run("readonly", (s) => s.get(userId))) as StoredDeviceKey | undefined;
    return stored ? DeviceKeys.fromKeyPair(stored.privateKey, stored.publicKey) : undefined;
  }

  /** The stored key, or a new non-extractable one, stored before it is returned. */
  async loadOrCreate(userId: string): Promise<DeviceKeys> {
    const existing = await this.load(userId);
    if (existing) return existing;
    const keys = await DeviceKeys.create();
    const entry: StoredDeviceKey = { privateKey: keys.privateKey, publicKey: keys.publicKey };
    try {
      await this.run("readwrite", (s) => s.add(entry, userId));
    } catch (err) {
      // Another tab of this browser stored one first: that one is the device key.
      const winner = await this.load(userId);
      if (winner) return winner;
      throw err;
    }
    return keys;
  }

  /** Forget the user's device key (this browser was removed from the account, or reset). */
  async remove(userId: string): Promise<void> {
    await this.run("readwrite", (s) => s.delete(userId));
  }
}
