// A council member's calls in a recovery (the server relays ciphertext only) and the vault calls
// that carry out a recovery's change once its threshold approved.
import type { Api } from "./client";
import type { AuthorityDto, MemberDto, UserDto, VaultDto, VaultRole } from "./types";

export type RecoveryType = "CHANGE_PERMISSIONS" | "COUNCIL_CHANGE";

export interface RecoveredKeyShareDto {
  /** The process private key, encrypted to this council member. */
  processPrivateKey?: string;
  /** This member's key share, re-encrypted to the process key: their approval. */
  recoveredKeyShare?: string;
  unrecoveredKeyShare?: string;
  signedProcessInfo?: string;
}

export interface RecoveryProcessDto {
  id: string;
  vaultId: string;
  type: RecoveryType;
  /** A JSON object in Hub's names, as Hub's web client and ours write it (`{"reason"?, "newOwnerIds": [user id]}`
   * or `{"newCouncilMemberIds": [user id], "newRequiredKeyShares": n}`), or JSON text (Katta's contract; what
   * our clients wrote before). */
  details?: string | Record<string, unknown>;
  requiredKeyShares: number;
  processPublicKey: string;
  recoveredKeyShares: Record<string, RecoveredKeyShareDto>;
}

export class EmergencyApi {
  constructor(private readonly api: Api) {}

  /** The vaults whose council the caller sits on, with their key shares. */
  recoverableVaults(): Promise<VaultDto[]> {
    return this.api.call("recoverableVaults");
  }

  /** Users (with their public keys) and groups by id. */
  authorities(ids: readonly string[]): Promise<(UserDto | AuthorityDto)[]> {
    return this.api.call("authorities", { query: { ids } });
  }

  processes(): Promise<RecoveryProcessDto[]> {
    return this.api.call("recoveryProcesses");
  }

  start(process: RecoveryProcessDto): Promise<void> {
    return this.api.call("startRecovery", { params: { processId: process.id }, body: process });
  }

  /** The caller's approval: their share re-encrypted to the process key and their `signedProcessInfo`. */
  approve(processId: string, approval: RecoveredKeyShareDto): Promise<void> {
    return this.api.call("approveRecovery", { params: { processId }, body: approval });
  }

  complete(processId: string): Promise<void> {
    return this.api.call("completeRecovery", { params: { processId } });
  }

  abort(processId: string): Promise<void> {
    return this.api.call("abortRecovery", { params: { processId } });
  }

  // -- what an approved process lets its council members do in the owners' stead ------------

  vault(vaultId: string): Promise<VaultDto> {
    return this.api.call("vault", { params: { vaultId } });
  }

  putVault(vault: VaultDto): Promise<void> {
    return this.api.call("putVault", { params: { vaultId: vault.id }, body: vault });
  }

  addUser(vaultId: string, userId: string, role: VaultRole): Promise<void> {
    return this.api.call("addUserToVault", { params: { vaultId, userId }, query: { role } });
  }

  members(vaultId: string): Promise<MemberDto[]> {
    return this.api.call("vaultMembers", { params: { vaultId } });
  }

  grantAccess(vaultId: string, tokens: Record<string, string>): Promise<void> {
    return this.api.call("grantAccess", { params: { vaultId }, body: tokens });
  }
}
