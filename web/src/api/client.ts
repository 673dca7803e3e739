// The one place the web app talks to the API (architecture §15: pages hold no fetch calls of their own).
import { ApiError, apiErrorOf, networkError } from "./errors";
import { OPERATIONS, pathOf, type OperationName } from "./operations";
import type {
  AuthorityDto,
  ConfigDto,
  MemberDto,
  SettingsDto,
  UserDto,
  VaultDto,
  VaultRole,
  VersionDto,
} from "./types";

export interface Session {
  /** The bearer token of the signed-in user, or null when nobody is signed in. */
  accessToken(): string | null;
  /** The API refused the token (expired, revoked): the user must sign in again. */
  expired(): void;
}

interface Call {
  params?: Readonly<Record<string, string>>;
  /** A list is sent as the parameter repeated (the audit log's `type`). */
  query?: Readonly<Record<string, string | boolean | number | readonly string[]>>;
  body?: unknown;
  /** The answer's body as text (a JWE, vault.uvf) rather than JSON. */
  text?: true;
}

export class Api {
  constructor(
    private readonly session: Session,
    /** Where the API is: the app's own origin (architecture §15: same origin, no CORS). */
    private readonly origin: string = window.location.origin,
  ) {}

  async call<T>(name: OperationName, call: Call = {}): Promise<T> {
    const operation = OPERATIONS[name];
    const url = new URL(pathOf(operation.path, call.params), this.origin);
    for (const [key, value] of Object.entries(call.query ?? {})) {
      for (const one of typeof value === "object" ? value : [value]) url.searchParams.append(key, String(one));
    }
    const headers: Record<string, string> = { Accept: "application/json" };
    if (!("public" in operation)) {
      const token = this.session.accessToken();
      if (token === null) {
        this.session.expired();
        throw new ApiError(401, "Please sign in.");
      }
      headers["Authorization"] = `Bearer ${token}`;
    }
    let body: string | undefined;
    if (call.body !== undefined) {
      body = typeof call.body === "string" ? call.body : JSON.stringify(call.body);
      headers["Content-Type"] = typeof call.body === "string" ? "text/plain" : "application/json";
    }
    let response: Response;
    try {
      response = await fetch(url, {
        method: operation.method,
        headers,
        credentials: "same-origin",
        ...(body === undefined ? {} : { body }),
      });
    } catch {
      throw networkError();
    }
    if (!response.ok) {
      const error = await apiErrorOf(response);
      if (response.status === 401 && !("public" in operation)) this.session.expired();
      throw error;
    }
    const text = await response.text();
    if (call.text) return text as T;
    // 201 and 204 answers of PUTs carry no body.
    return (text === "" ? undefined : JSON.parse(text)) as T;
  }

  config(): Promise<ConfigDto> {
    return this.call("config");
  }

  version(): Promise<VersionDto> {
    return this.call("version");
  }

  me(withDevices = false): Promise<UserDto> {
    return this.call("me", { query: { withDevices } });
  }

  removeDevice(deviceId: string): Promise<void> {
    return this.call("removeDevice", { params: { deviceId } });
  }

  settings(): Promise<SettingsDto> {
    return this.call("settings");
  }

  searchAuthorities(query: string): Promise<AuthorityDto[]> {
    return this.call("searchAuthorities", { query: { query } });
  }

  accessibleVaults(role?: VaultRole): Promise<VaultDto[]> {
    return this.call("accessibleVaults", role === undefined ? {} : { query: { role } });
  }

  vault(vaultId: string): Promise<VaultDto> {
    return this.call("vault", { params: { vaultId } });
  }

  vaultMembers(vaultId: string): Promise<MemberDto[]> {
    return this.call("vaultMembers", { params: { vaultId } });
  }
}
