// A recovery from the council's side, as katta_client/emergency.py does it: start (with the
// starter's own approval), approve, complete: a new owner (combine, re-key vault.uvf, grant the new
// owners) or a new council (combine, split anew for the council the start named). Each approval is
// signed (`signedProcessInfo`, naming the process key too) and every approval's signature is checked
// before approving or completing, as Hub's web client does and more (checkApprovals: a hostile server).
// The server sees ciphertext only; the user's keys and the recovered key stay in memory.
import type { EmergencyApi, RecoveredKeyShareDto, RecoveryProcessDto, RecoveryType, VaultDto } from "../../api";
// The crypto module's files, not its index: the index would bring device linking's HPKE along.
import {
  combineRecoveredKey, newProcessKey, recoverShare, rekeyWithRecoveryKey, signProcessInfo, splitRecoveryKey, verifyProcessInfo,
} from "../../crypto/emergency";
import { KattaCryptoError } from "../../crypto/errors";
import type { UserKeys } from "../../crypto/keys";
import { recoveryPublicKeyFromJwks, vaultUvfOrigin } from "../../crypto/vault";

export class RecoveryError extends Error {}

/** What a process says in `details`, in Hub's names (`newOwners` is what this page wrote before). */
export interface ProcessDetails {
  reason?: string;
  newOwnerIds?: string[];
  newCouncilMemberIds?: string[];
  newRequiredKeyShares?: number;
}

const ids = (value: unknown): string[] | undefined =>
  Array.isArray(value) ? value.filter((o): o is string => typeof o === "string") : undefined;

/** `details` as JSON text (Katta's contract) or as a JSON object (Hub's web client sends one). */
export function processDetails(process: RecoveryProcessDto): ProcessDetails {
  let details: unknown = process.details ?? {};
  if (typeof details === "string") {
    try {
      details = JSON.parse(details);
    } catch {
      return {}; // another client's free text
    }
  }
  if (typeof details !== "object" || details === null) return {};
  const { reason, newOwnerIds, newOwners, newCouncilMemberIds, newRequiredKeyShares } = details as Record<string, unknown>;
  const owners = ids(newOwnerIds) ?? ids(newOwners);
  const council = ids(newCouncilMemberIds);
  return {
    ...(typeof reason === "string" ? { reason } : {}),
    ...(owners ? { newOwnerIds: owners } : {}),
    ...(council ? { newCouncilMemberIds: council } : {}),
    ...(Number.isInteger(newRequiredKeyShares) ? { newRequiredKeyShares: newRequiredKeyShares as number } : {}),
  };
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

export async function startRecovery(api: EmergencyApi, keys: UserKeys, myId: string, vault: VaultDto, type: RecoveryType,
                                    details: ProcessDetails): Promise<RecoveryProcessDto> {
  if (type === "COUNCIL_CHANGE") {
    await councilKeys(api, details.newCouncilMemberIds ?? []); // the new council can hold shares: checked before anyone approves
  }
  const council = Object.keys(vault.emergencyKeyShares ?? {});
  const { processPublicKey, processPrivateKeys } = await newProcessKey(await councilKeys(api, council));
  const shares: Record<string, RecoveredKeyShareDto> = {};
  for (const member of council) {
    // Each member's share travels with the process too: Hub's web client approves from there.
    shares[member] = { processPrivateKey: processPrivateKeys[member] as string, unrecoveredKeyShare: myShare(vault, member) };
  }
  const process: RecoveryProcessDto = {
    id: crypto.randomUUID(), vaultId: vault.id, type,
    requiredKeyShares: vault.requiredEmergencyKeyShares ?? 0, processPublicKey, recoveredKeyShares: shares,
    // Hub's shape, not the contract's text: Hub's web client reads details only as an object.
    details: { ...details },
  };
  Object.assign(shares[myId] as RecoveredKeyShareDto, await approval(keys, myId, process, myShare(vault, myId)));
  await api.start(process);
  return process;
}

async function approval(keys: UserKeys, myId: string, process: RecoveryProcessDto, share: string): Promise<RecoveredKeyShareDto> {
  return {
    recoveredKeyShare: await recoverShare(share, keys.ecdhPrivateKey, process.processPublicKey),
    signedProcessInfo: await signProcessInfo(keys.ecdsaPrivateKey, myId, process),
  };
}

/** Refuses a process a hostile server may have made or altered to harvest key shares, as Hub's web
 * client does, and more: every approval signed by its member for this very change (no unsigned shape
 * is taken: a server can fabricate one with a key pair of its own), each signature that names the
 * process key naming this one, and at least one approval (the starter's, made with the start: a
 * process without one is what a server can make alone). */
export async function checkApprovals(api: EmergencyApi, process: RecoveryProcessDto): Promise<void> {
  const approved = Object.entries(process.recoveredKeyShares).filter(([, share]) => share.recoveredKeyShare);
  if (approved.length === 0) {
    throw new RecoveryError("No council member has approved this recovery: its starter approves it as they start it, so it may not be theirs. Abort it and start a new one.");
  }
  const unsigned = approved.filter(([, share]) => !share.signedProcessInfo).map(([member]) => member);
  if (unsigned.length > 0) {
    throw new RecoveryError(`The approval of council member ${unsigned[0]} is not signed: the recovery may have been tampered with. Abort it and start a new one.`);
  }
  const found = new Map((await api.authorities(approved.map(([member]) => member))).map((a) => [a.id, a]));
  for (const [member, share] of approved) {
    const authority = found.get(member);
    const key = authority && "ecdsaPublicKey" in authority ? authority.ecdsaPublicKey : undefined;
    if (!key) throw new RecoveryError(`Council member ${authority?.name ?? member} who approved the recovery has no signing key.`);
    try {
      await verifyProcessInfo(share.signedProcessInfo, key, member, process);
    } catch (error) {
      if (!(error instanceof KattaCryptoError)) throw error;
      throw new RecoveryError(`The recovery may have been tampered with (${error.message}). Abort it and start a new one.`);
    }
  }
}

export async function approveRecovery(api: EmergencyApi, keys: UserKeys, myId: string, vault: VaultDto,
                                      process: RecoveryProcessDto): Promise<void> {
  await checkApprovals(api, process);
  await api.approve(process.id, await approval(keys, myId, process, myShare(vault, myId)));
}

function approvedShares(process: RecoveryProcessDto, myId: string): { shares: string[]; mine: string } {
  const shares = Object.values(process.recoveredKeyShares).flatMap((s) => (s.recoveredKeyShare ? [s.recoveredKeyShare] : []));
  if (shares.length < process.requiredKeyShares) {
    throw new RecoveryError(`The recovery has ${shares.length} of the ${process.requiredKeyShares} approvals it needs.`);
  }
  const mine = process.recoveredKeyShares[myId]?.processPrivateKey;
  if (!mine) throw new RecoveryError("You are not on this recovery's council.");
  return { shares, mine };
}

/** The council the process's start named, or why it cannot be seated. */
export function newCouncil(process: RecoveryProcessDto): { memberIds: string[]; threshold: number } {
  const { newCouncilMemberIds: memberIds = [], newRequiredKeyShares: threshold = 0 } = processDetails(process);
  if (memberIds.length === 0 || threshold < 2 || threshold > memberIds.length) {
    throw new RecoveryError("This council change names no new council: complete it with `katta emergency complete --new-council`.");
  }
  return { memberIds, threshold };
}

/** Combines the approvals into the vault's recovery key, splits it anew for the council the start
 * named (the old shares stop counting: the server forgets them), then completes the process. */
export async function completeCouncilChange(api: EmergencyApi, keys: UserKeys, myId: string,
                                            process: RecoveryProcessDto): Promise<void> {
  const { memberIds, threshold } = newCouncil(process);
  const { shares, mine } = approvedShares(process, myId);
  await checkApprovals(api, process);
  const vault = await api.vault(process.vaultId);
  if (!vault.uvfKeySet) throw new RecoveryError("The vault has no key set to check the recovered key against.");
  const recoveryKey = await combineRecoveredKey(shares, mine, keys.ecdhPrivateKey, await recoveryPublicKeyFromJwks(vault.uvfKeySet));
  const emergencyKeyShares = await splitRecoveryKey(recoveryKey, threshold, await councilKeys(api, memberIds));
  const { id, name, description, archived } = vault;
  await api.putVault({ id, name, archived, ...(description === undefined ? {} : { description }),
    emergencyKeyShares, requiredEmergencyKeyShares: threshold } as VaultDto);
  await api.complete(process.id);
}

/** Combines the approvals, re-keys vault.uvf, makes `newOwners` owners (those the start named, which
 * the approvers signed), grants every member with keys a fresh token, then completes the process. */
export async function completeRecovery(api: EmergencyApi, keys: UserKeys, myId: string, process: RecoveryProcessDto,
                                       newOwners: readonly string[], apiBaseUrl: string): Promise<void> {
  if (process.type !== "CHANGE_PERMISSIONS") throw new RecoveryError("This is a council change: complete it as one.");
  if (newOwners.length === 0) throw new RecoveryError("Name the vault's new owner.");
  const named = processDetails(process).newOwnerIds ?? [];
  if (named.length > 0 && (named.length !== new Set(newOwners).size || !named.every((id) => newOwners.includes(id)))) {
    throw new RecoveryError("The recovery was approved for other new owners: complete it for them, or start a new one.");
  }
  const { shares, mine } = approvedShares(process, myId);
  await checkApprovals(api, process);
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
