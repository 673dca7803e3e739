// What every page of the shell shares: the API, the sign-in, who is signed in, and the flows.
import { reactive, type InjectionKey } from "vue";

import type { Api, ApiError, UserDto } from "./api";
import type { Auth, SessionState } from "./auth";
import { createFlows, lock, type Flows } from "./flows";

export interface Shell {
  api: Api;
  auth: Auth;
  flows: Flows;
  /** `admin`: whether the API grants the signed-in user the admin role (the nav's admin links). */
  session: { state: SessionState; user: UserDto | null; error: ApiError | null; admin: boolean };
}

export const SHELL: InjectionKey<Shell> = Symbol("shell");

export function createShell(api: Api, auth: Auth): Shell {
  const session = reactive<Shell["session"]>({ state: auth.state, user: null, error: null, admin: false });
  auth.onChange((state) => {
    session.state = state;
    if (state !== "signed-in") {
      session.user = null;
      session.admin = false;
      lock(); // keys unlocked for one session do not outlive it
    }
  });
  return { api, auth, flows: createFlows(api), session };
}
