// The one place the web app talks to the API (architecture §15: pages hold no fetch calls of their own).
import { ApiError, apiErrorOf, networkError } from "./errors";
import { OPERATIONS, pathOf, type OperationName } from "./operations";
import type {
  AuthorityDto,
  ConfigDto,
  CreateBucketInput,
  DeviceInput,
  MemberDto,
  PendingGrants,
  RendezvousCreated,
  RendezvousState,
  SettingsDto,
  StorageProfileDto,
  TrustedUserDto,
  UserDto,
  UserKeysInput,
  VaultDto,
  VaultInput,
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
  /** Ends a long poll when the page that waits goes away. */
  signal?: AbortSignal;
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
        ...(call.signal === undefined ? {} : { signal: call.signal }),
      });
    } catch (error) {
      if (call.signal?.aborted) throw error;
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

  updateMe(keys: UserKeysInput): Promise<void> {
    return this.call("updateMe", { body: keys });
  }

  /** Deletes the user's keys, devices and access tokens (the account starts afresh). */
  resetMe(): Promise<void> {
    return this.call("resetMe");
  }

  putDevice(device: DeviceInput): Promise<void> {
    return this.call("putDevice", { params: { deviceId: device.id }, body: device });
  }

  removeDevice(deviceId: string): Promise<void> {
    return this.call("removeDevice", { params: { deviceId } });
  }

  trustedUsers(): Promise<TrustedUserDto[]> {
    return this.call("trustedUsers");
  }

  /** Stores the caller's signature (a compact JWS) of the user's identity. */
  trustUser(userId: string, signature: string): Promise<void> {
    return this.call("trustUser", { params: { userId }, body: signature });
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

  /** Creates the vault (the caller becomes its owner) or changes its name, description or state. */
  putVault(vaultId: string, vault: VaultInput): Promise<VaultDto> {
    return this.call("putVault", { params: { vaultId }, body: vault });
  }

  /** Deletes the vault with its members and access tokens (owners): a creation that failed half-way. */
  deleteVault(vaultId: string): Promise<void> {
    return this.call("deleteVault", { params: { vaultId } });
  }

  setArchived(vaultId: string, archived: boolean): Promise<VaultDto> {
    return this.call("archiveVault", { params: { vaultId }, body: String(archived) });
  }

  vaultMembers(vaultId: string): Promise<MemberDto[]> {
    return this.call("vaultMembers", { params: { vaultId } });
  }

  /** Adds a user or group to the vault, or changes its role. */
  putMember(vaultId: string, authority: Pick<AuthorityDto, "id" | "type">, role: VaultRole): Promise<void> {
    return authority.type === "GROUP"
      ? this.call("addGroupToVault", { params: { vaultId, groupId: authority.id }, query: { role } })
      : this.call("addUserToVault", { params: { vaultId, userId: authority.id }, query: { role } });
  }

  removeMember(vaultId: string, authorityId: string): Promise<void> {
    return this.call("removeFromVault", { params: { vaultId, authorityId } });
  }

  usersRequiringAccessGrant(vaultId: string): Promise<MemberDto[]> {
    return this.call("usersRequiringAccessGrant", { params: { vaultId } });
  }

  /** Waits up to `wait` seconds for someone to await a grant in a vault the caller holds a token for. */
  pendingGrants(wait: number, signal?: AbortSignal): Promise<PendingGrants> {
    return this.call("pendingGrants", { query: { wait }, ...(signal === undefined ? {} : { signal }) });
  }

  /** Stores access tokens: user id to the member key as a JWE to that user. */
  grantAccess(vaultId: string, tokens: Readonly<Record<string, string>>): Promise<void> {
    return this.call("grantAccess", { params: { vaultId }, body: tokens });
  }

  /** The caller's access token; `evenIfArchived` lets owners see an archived vault to reactivate it. */
  accessToken(vaultId: string, evenIfArchived = false): Promise<string> {
    return this.call("accessToken", { params: { vaultId }, query: { evenIfArchived }, text: true });
  }

  /** A short-lived web-identity token for the vault's bucket, for STS. */
  s3Token(vaultId: string): Promise<{ access_token: string }> {
    return this.call("s3Token", { query: { vault: vaultId } });
  }

  /** The server creates the bucket and its template with the caller's create-bucket credentials. */
  createStorage(vaultId: string, body: CreateBucketInput): Promise<void> {
    return this.call("createStorage", { params: { vaultId }, body });
  }

  createRendezvous(): Promise<RendezvousCreated> {
    return this.call("createRendezvous", { body: { data: "" } });
  }

  readRendezvous(sessionId: string): Promise<RendezvousState> {
    return this.call("readRendezvous", { params: { session_id: sessionId } });
  }

  /** Replaces the payload; the answer's token is the one the next write must name. */
  writeRendezvous(sessionId: string, sequenceToken: string, data: string): Promise<{ sequence_token: string }> {
    return this.call("writeRendezvous", { params: { session_id: sessionId }, body: { sequence_token: sequenceToken, data } });
  }

  endRendezvous(sessionId: string): Promise<void> {
    return this.call("endRendezvous", { params: { session_id: sessionId } });
  }

  storageProfiles(): Promise<StorageProfileDto[]> {
    return this.call("storageProfiles", { query: { archived: false } });
  }
}
