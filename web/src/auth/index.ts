// Sign-in with any OIDC provider: authorization code + PKCE (S256), endpoints from the discovery
// document of the issuer /api/config names, silent renewal, RP-initiated logout.
//
// Tokens live in memory only (oidc-client-ts's InMemoryWebStorage): a reload signs in again,
// silently while the IdP's session lasts. sessionStorage holds only the sign-in request's state
// (the PKCE verifier and nonce, between the redirect to the IdP and the way back), never a token.
import {
  ErrorResponse,
  InMemoryWebStorage,
  UserManager,
  WebStorageStateStore,
  type User,
  type UserManagerSettings,
} from "oidc-client-ts";

import type { ConfigDto } from "../api/types";

export const CALLBACK_PAGE = "callback";
export const SILENT_RENEW_PAGE = "silent-renew";
// Renew a minute before expiry: API Gateway requests may take 29 s, a token must outlive them.
const RENEW_SECONDS_BEFORE_EXPIRY = 60;

export type SessionState = "signed-out" | "signed-in" | "expired";

/** The UserManager settings for this deployment's IdP, or an error saying what is missing. */
export function oidcSettings(config: ConfigDto, appUrl: string): UserManagerSettings {
  if (!config.oidcIssuer || !config.oidcWebClientId) {
    throw new Error("This deployment names no identity provider (KATTA_TRUSTED_ISSUERS is empty).");
  }
  return {
    authority: config.oidcIssuer,
    client_id: config.oidcWebClientId,
    redirect_uri: appUrl + CALLBACK_PAGE,
    silent_redirect_uri: appUrl + SILENT_RENEW_PAGE,
    post_logout_redirect_uri: appUrl,
    response_type: "code",
    scope: signInScope(config.clientScope),
    // The issuer's settings say what its tokens for this API need (Auth0: an audience); a refresh asks again.
    extraQueryParams: { ...config.authorizationParams },
    extraTokenParams: { ...config.authorizationParams },
    userStore: new WebStorageStateStore({ store: new InMemoryWebStorage() }),
    stateStore: new WebStorageStateStore({ store: window.sessionStorage, prefix: "katta.signin." }),
    automaticSilentRenew: true,
    accessTokenExpiringNotificationTimeInSeconds: RENEW_SECONDS_BEFORE_EXPIRY,
    // Session monitoring polls the IdP in a third-party iframe, which most browsers now partition.
    monitorSession: false,
    loadUserInfo: false,
  };
}

/** The deployment's client scope, with the profile the pages show (name, e-mail). */
export function signInScope(clientScope: string | undefined): string {
  const scopes = new Set((clientScope ?? "openid").split(" ").filter(Boolean));
  for (const wanted of ["openid", "profile", "email"]) scopes.add(wanted);
  return [...scopes].join(" ");
}

export class Auth {
  private readonly manager: UserManager;
  private user: User | null = null;
  private listeners: ((state: SessionState) => void)[] = [];
  state: SessionState = "signed-out";

  constructor(settings: UserManagerSettings) {
    this.manager = new UserManager(settings);
    this.manager.events.addUserLoaded((user) => {
      this.user = user;
      this.set("signed-in");
    });
    this.manager.events.addAccessTokenExpired(() => void this.expire());
    this.manager.events.addSilentRenewError((error) => {
      // The IdP said no (the session ended, the refresh token is spent): sign in again. A network
      // failure may pass; the token's expiry decides then.
      if (error instanceof ErrorResponse) void this.expire();
    });
  }

  onChange(listener: (state: SessionState) => void): void {
    this.listeners.push(listener);
  }

  /** To the IdP; back on the callback page, then to ``returnTo`` (a path under /app/). */
  signIn(returnTo: string): Promise<void> {
    return this.manager.signinRedirect({ url_state: returnTo });
  }

  /** On the callback page: the code for tokens. Returns where the user was going. */
  async completeSignIn(url: string): Promise<string> {
    const user = await this.manager.signinRedirectCallback(url);
    this.user = user;
    this.set("signed-in");
    return user.url_state ?? "";
  }

  /** Ends the IdP's session too (RP-initiated logout), then back to the app's first page. */
  async signOut(): Promise<void> {
    const idToken = this.user?.id_token;
    this.user = null;
    await this.manager.removeUser();
    this.set("signed-out");
    await this.manager.signoutRedirect(idToken === undefined ? {} : { id_token_hint: idToken });
  }

  accessToken(): string | null {
    return this.user && !this.user.expired ? this.user.access_token : null;
  }

  /** The tokens are no good any more (expired, refused by the API): forget them. */
  async expire(): Promise<void> {
    if (this.state !== "signed-in") return;
    this.user = null;
    this.set("expired");
    await this.manager.removeUser();
  }

  private set(state: SessionState): void {
    this.state = state;
    for (const listener of this.listeners) listener(state);
  }
}

/** In the hidden iframe of a silent renewal: hand the IdP's answer to the app that opened it. */
export function completeSilentRenew(settings: UserManagerSettings): Promise<void> {
  return new UserManager(settings).signinSilentCallback();
}
