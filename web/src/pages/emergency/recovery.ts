// A recovery from the council's side, as katta_client/emergency.py does it: start (with the
// starter's own approval), approve, complete (combine, re-key vault.uvf, grant the new owners).
// The server sees ciphertext only; the user's keys and the recovered key stay in memory.
import type { EmergencyApi, RecoveredKeyShareDto, RecoveryProcessDto, VaultDto } from "../../api";
// The crypto module's files, not its index: the index would bring device linking's HPKE along.
import { combineRecoveredKey, newProcessKey, recoverShare, rekeyWithRecoveryKey } from "../../crypto/emergency";
import type { UserKeys } from "../../crypto/keys";
import { recoveryPublicKeyFromJwks, vaultUvfOrigin } from "../../crypto/vault";

export class RecoveryError extends Error {}

/** What a CHANGE_PERMISSIONS process started here says in `details`. */
export interface ProcessDetails {
  reason?: string;
  newOwners?: string[];
}

export function processDetails(process: RecoveryProcessDto): ProcessDetails {
  try {
    const details: unknown = JSON.parse(process.details ?? "{}");
    if (typeof details !== "object" || details === null) return {};
    const { reason, newOwners } = details as Record<string, unknown>;
    return {
      ...(typeof reason === "string" ? { reason } : {}),
      ...(Array.isArray(newOwners) ? { newOwners: newOwners.filter((o): o is string => typeof o === "string") } : {}),
    };
  } catch {
    return {}; // another client's free text
  }
}

export function approvals(process: RecoveryProcessDto): number {
  return Object.values(process.recoveredKeyShares).filter((share) => share.recoveredKeyShare).length;
}

function myShare(vault: VaultDto, myId: string): string {
  const share = vault.emergencyKeyShares?.[myId];
  if (!share) throw new RecoveryError("This vault holds no key share of yours.");
  return share;
}

async function councilKeys(api: EmergencyApi, memberIds: readonly string[]): Promise<Record<string, string>> {
  const found = new Map((await api.authorities(memberIds)).map((a) => [a.id, a]));
  const keys: Record<string, string> = {};
  for (const id of memberIds) {
    const member = found.get(id);
    const key = member && "ecdhPublicKey" in member ? member.ecdhPublicKey : undefined;
    if (!key) throw new RecoveryError(`Council member ${member?.name ?? id} has not set up their keys yet.`);
    keys[id] = key;
  }
  return keys;
}

export async function startRecovery(api: EmergencyApi, keys: UserKeys, myId: string, vault: VaultDto,
                                    details: ProcessDetails): Promise<RecoveryProcessDto> {
  const council = Object.keys(vault.emergencyKeyShares ?? {});
  const { processPublicKey, processPrivateKeys } = await newProcessKey(await councilKeys(api, council));
  const shares: Record<string, RecoveredKeyShareDto> = {};
  for (const member of council) shares[member] = { processPrivateKey: processPrivateKeys[member] as string };
  (shares[myId] as RecoveredKeyShareDto).recoveredKeyShare = await recoverShare(myShare(vault, myId), keys.ecdhPrivateKey,
    processPublicKey);
  const process: RecoveryProcessDto = {
    id: crypto.randomUUID(), vaultId: vault.id, type: "CHANGE_PERMISSIONS",
    requiredKeyShares: vault.requiredEmergencyKeyShares ?? 0, processPublicKey, recoveredKeyShares: shares,
    details: JSON.stringify(details),
  };
  await api.start(process);
  return process;
}

export async function approveRecovery(api: EmergencyApi, keys: UserKeys, myId: string, vault: VaultDto,
                                      process: RecoveryProcessDto): Promise<void> {
  await api.approve(process.id, await recoverShare(myShare(vault, myId), keys.ecdhPrivateKey, process.processPublicKey));
}

/** Combines the approvals, re-keys vault.uvf, makes `newOwners` owners, grants every member with
 * keys a fresh token, then completes the process. */
export async function completeRecovery(api: EmergencyApi, keys: UserKeys, myId: string, process: RecoveryProcessDto,
                                       newOwners: readonly string[], apiBaseUrl: string): Promise<void> {
  if (process.type !== "CHANGE_PERMISSIONS") {
    throw new RecoveryError("A council change is completed with `katta emergency complete --new-council`.");
  }
  if (newOwners.length === 0) throw new RecoveryError("Name the vault's new owner.");
  const shares = Object.values(process.recoveredKeyShares).flatMap((s) => (s.recoveredKeyShare ? [s.recoveredKeyShare] : []));
  if (shares.length < process.requiredKeyShares) {
    throw new RecoveryError(`The recovery has ${shares.length} of the ${process.requiredKeyShares} approvals it needs.`);
  }
  const mine = process.recoveredKeyShares[myId]?.processPrivateKey;
  if (!mine) throw new RecoveryError("You are not on this recovery's council.");
  const vault = await api.vault(process.vaultId);
  if (!vault.uvfKeySet || !vault.uvfMetadataFile) throw new RecoveryError("The vault has no vault.uvf to recover.");
  const recoveryKey = await combineRecoveredKey(shares, mine, keys.ecdhPrivateKey, await recoveryPublicKeyFromJwks(vault.uvfKeySet));
  const rekeyed = await rekeyWithRecoveryKey(vault.uvfMetadataFile, vault.uvfKeySet, recoveryKey,
    vaultUvfOrigin(apiBaseUrl, vault.id));
  const { id, name, description, archived } = vault;
  await api.putVault({ id, name, archived, ...(description === undefined ? {} : { description }),
    uvfMetadataFile: rekeyed.uvfMetadataFile } as VaultDto);
  for (const owner of newOwners) await api.addUser(vault.id, owner, "OWNER");
  const tokens: Record<string, string> = {};
  for (const member of await api.members(vault.id)) {
    if (member.type === "USER" && member.ecdhPublicKey) {
      tokens[member.id] = await rekeyed.keys.encryptForUser(member.ecdhPublicKey, member.role === "OWNER");
    }
  }
  if (Object.keys(tokens).length > 0) await api.grantAccess(vault.id, tokens);
  await api.complete(process.id);
}
