// What every page of the shell shares: the API, the sign-in, and who is signed in.
import { reactive, type InjectionKey } from "vue";

import type { Api, ApiError, UserDto } from "./api";
import type { Auth, SessionState } from "./auth";

export interface Shell {
  api: Api;
  auth: Auth;
  session: { state: SessionState; user: UserDto | null; error: ApiError | null };
}

export const SHELL: InjectionKey<Shell> = Symbol("shell");

export function createShell(api: Api, auth: Auth): Shell {
  const session = reactive<Shell["session"]>({ state: auth.state, user: null, error: null });
  auth.onChange((state) => {
    session.state = state;
    if (state !== "signed-in") session.user = null;
  });
  return { api, auth, session };
}
