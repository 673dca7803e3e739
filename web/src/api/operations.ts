// Every route the web app calls, as the contract names it: the vitest test checks each one against
// tests/reference/katta-openapi.json, so a typo or a route the server lacks fails the build's tests.

export type Method = "GET" | "PUT" | "POST" | "DELETE";

export interface Operation {
  readonly method: Method;
  readonly path: string;
  /** Public routes get no bearer token (/api/config is read before signing in). */
  readonly public?: true;
  /** Katta Serverless' own route, not in Katta's contract (device linking): tests/test_webapp.py
   * checks it, like every route here, against this server's own document. */
  readonly ours?: true;
}

export const OPERATIONS = {
  config: { method: "GET", path: "/api/config", public: true },
  version: { method: "GET", path: "/api/version", public: true },
  me: { method: "GET", path: "/api/users/me" },
  updateMe: { method: "PUT", path: "/api/users/me" },
  resetMe: { method: "POST", path: "/api/users/me/reset" },
  trustedUsers: { method: "GET", path: "/api/users/trusted" },
  trustUser: { method: "PUT", path: "/api/users/trusted/{userId}" },
  putDevice: { method: "PUT", path: "/api/devices/{deviceId}" },
  removeDevice: { method: "DELETE", path: "/api/devices/{deviceId}" },
  settings: { method: "GET", path: "/api/settings" },
  searchAuthorities: { method: "GET", path: "/api/authorities/search" },
  accessibleVaults: { method: "GET", path: "/api/vaults/accessible" },
  vault: { method: "GET", path: "/api/vaults/{vaultId}" },
  deleteVault: { method: "DELETE", path: "/api/vaults/{vaultId}" },
  putVault: { method: "PUT", path: "/api/vaults/{vaultId}" },
  archiveVault: { method: "PUT", path: "/api/vaults/{vaultId}/archived" },
  vaultMembers: { method: "GET", path: "/api/vaults/{vaultId}/members" },
  addUserToVault: { method: "PUT", path: "/api/vaults/{vaultId}/users/{userId}" },
  addGroupToVault: { method: "PUT", path: "/api/vaults/{vaultId}/groups/{groupId}" },
  removeFromVault: { method: "DELETE", path: "/api/vaults/{vaultId}/authority/{authorityId}" },
  pendingGrants: { method: "GET", path: "/api/vaults/users-requiring-access-grant" },
  usersRequiringAccessGrant: { method: "GET", path: "/api/vaults/{vaultId}/users-requiring-access-grant" },
  grantAccess: { method: "POST", path: "/api/vaults/{vaultId}/access-tokens" },
  accessToken: { method: "GET", path: "/api/vaults/{vaultId}/access-token" },
  vaultMetadata: { method: "GET", path: "/api/vaults/{vaultId}/uvf/vault.uvf" },
  storageProfiles: { method: "GET", path: "/api/storageprofile" },
  s3Token: { method: "POST", path: "/api/storage/s3-token" },
  createStorage: { method: "PUT", path: "/api/storage/{vaultId}" },
  // The admin pages (web/src/pages/admin/): role admin, every other caller gets 403.
  billing: { method: "GET", path: "/api/billing" },
  putSettings: { method: "PUT", path: "/api/settings" },
  users: { method: "GET", path: "/api/users" },
  setUserEnabled: { method: "PUT", path: "/api/users/{id}/enabled" },
  groups: { method: "GET", path: "/api/groups" },
  createGroup: { method: "POST", path: "/api/groups" },
  renameGroup: { method: "PUT", path: "/api/groups/{groupId}" },
  deleteGroup: { method: "DELETE", path: "/api/groups/{groupId}" },
  groupMembers: { method: "GET", path: "/api/groups/{groupId}/effective-members" },
  addGroupMember: { method: "POST", path: "/api/groups/{groupId}/members/{userId}" },
  removeGroupMember: { method: "DELETE", path: "/api/groups/{groupId}/members/{userId}" },
  createStorageProfile: { method: "POST", path: "/api/storageprofile" },
  archiveStorageProfile: { method: "PUT", path: "/api/storageprofile/{profileId}" },
  auditLog: { method: "GET", path: "/api/auditlog" },
  // The emergency-access pages (web/src/pages/emergency/): council members.
  recoverableVaults: { method: "GET", path: "/api/vaults/recoverable" },
  authorities: { method: "GET", path: "/api/authorities" },
  recoveryProcesses: { method: "GET", path: "/api/emergency-access" },
  startRecovery: { method: "PUT", path: "/api/emergency-access/{processId}" },
  approveRecovery: { method: "POST", path: "/api/emergency-access/{processId}/recovered-key-shares" },
  completeRecovery: { method: "DELETE", path: "/api/emergency-access/{processId}/complete" },
  abortRecovery: { method: "DELETE", path: "/api/emergency-access/{processId}/abort" },
  // Device linking's rendezvous (docs/rendezvous.md): knowing a session's id is the credential.
  createRendezvous: { method: "POST", path: "/api/rendezvous", ours: true },
  readRendezvous: { method: "GET", path: "/api/rendezvous/{session_id}", public: true, ours: true },
  writeRendezvous: { method: "PUT", path: "/api/rendezvous/{session_id}", public: true, ours: true },
  endRendezvous: { method: "DELETE", path: "/api/rendezvous/{session_id}", public: true, ours: true },
} as const satisfies Record<string, Operation>;

export type OperationName = keyof typeof OPERATIONS;

/** ``path`` with its ``{name}`` parameters filled in, each one encoded as one path segment. */
export function pathOf(path: string, params: Readonly<Record<string, string>> = {}): string {
  return path.replace(/\{(\w+)\}/g, (_whole, name: string) => {
    const value = params[name];
    if (value === undefined || value === "") throw new Error(`path parameter ${name} is missing for ${path}`);
    return encodeURIComponent(value);
  });
}
