// The unlocked keys of whoever is signed in: in memory only, never in localStorage or
// sessionStorage (a test looks after every journey). A reload or sign-out drops them; this
// browser's device key in IndexedDB (non-extractable) opens them again without the account key.
import { shallowReactive } from "vue";

import type { UserDto } from "../api";
import type { DeviceKeys, UserKeys } from "../crypto";

export interface Unlocked {
  user: UserDto;
  keys: UserKeys;
  device: DeviceKeys;
  deviceId: string;
}

export const keyring = shallowReactive<{ unlocked: Unlocked | null }>({ unlocked: null });

export function unlock(unlocked: Unlocked): Unlocked {
  keyring.unlocked = unlocked;
  return unlocked;
}

export function lock(): void {
  keyring.unlocked = null;
}

/** The unlocked keys; a page that needs them is reached only through the router's guard. */
export function unlocked(): Unlocked {
  if (keyring.unlocked === null) throw new FlowError("Your keys are locked. Go to the start page to unlock them.");
  return keyring.unlocked;
}

/** A flow cannot go on: the message says why and what to do, in the user's words. */
export class FlowError extends Error {
  constructor(message: string, readonly field?: string) {
    super(message);
    this.name = "FlowError";
  }
}

/** Reports a slow step as it starts ("Creating your keys…"), for a page's progress line. */
export type Progress = (step: string) => void;
