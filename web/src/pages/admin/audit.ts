// The audit log's events in words, and the shown page as a file to download.
import type { AuditEventDto } from "../../api";

/** Katta's event types (chalicelib/audit/catalogue.py, the contract's *EventDto), in the log's words. */
export const EVENT_TYPES: Record<string, string> = {
  DEVICE_REGISTER: "Device registered",
  DEVICE_REMOVE: "Device removed",
  USER_KEYS_CHANGE: "User keys changed",
  USER_SETUP_CODE_CHANGE: "Account key changed",
  USER_ACCOUNT_RESET: "Account reset",
  USER_ENABLED_CHANGE: "User enabled or disabled",
  VAULT_CREATE: "Vault created",
  VAULT_UPDATE: "Vault updated",
  VAULT_DELETE: "Vault deleted",
  VAULT_MEMBER_ADD: "Vault member added",
  VAULT_MEMBER_REMOVE: "Vault member removed",
  VAULT_MEMBER_UPDATE: "Vault member's role changed",
  VAULT_ACCESS_GRANT: "Vault access granted",
  VAULT_KEY_RETRIEVE: "Vault key retrieved",
  SIGN_WOT_ID: "Identity verified (web of trust)",
  SETTING_WOT_UPDATE: "Web-of-trust settings changed",
  EMERGENCY_ACCESS_SETTINGS_UPDATED: "Emergency access settings changed",
  EMERGENCY_ACCESS_SETUP: "Emergency council set up",
  EMERGENCY_ACCESS_RECOVERY_STARTED: "Recovery started",
  EMERGENCY_ACCESS_RECOVERY_APPROVED: "Recovery approved",
  EMERGENCY_ACCESS_RECOVERY_COMPLETED: "Recovery completed",
  EMERGENCY_ACCESS_RECOVERY_ABORTED: "Recovery aborted",
};

/** One event as a sentence; `name` turns a user or group id into its name, `vault` a vault id. */
export function sentence(event: AuditEventDto, name: (id: unknown) => string, vault: (id: unknown) => string): string {
  const e = event as Record<string, unknown>;
  const v = vault(e.vaultId);
  switch (event.type) {
    case "DEVICE_REGISTER": return `${name(e.registeredBy)} registered the ${String(e.deviceType).toLowerCase()} device “${String(e.deviceName)}”.`;
    case "DEVICE_REMOVE": return `${name(e.removedBy)} removed device ${String(e.deviceId).slice(0, 12)}….`;
    case "USER_KEYS_CHANGE": return `${name(e.changedBy)} changed the keys of ${String(e.userName)}.`;
    case "USER_SETUP_CODE_CHANGE": return `${name(e.changedBy)} changed their account key.`;
    case "USER_ACCOUNT_RESET": return `${name(e.resetBy)} reset their account.`;
    case "USER_ENABLED_CHANGE": return `${name(e.changedBy)} ${e.enabled ? "enabled" : "disabled"} ${name(e.userId)}.`;
    case "VAULT_CREATE": return `${name(e.createdBy)} created vault ${v}.`;
    case "VAULT_UPDATE": return `${name(e.updatedBy)} updated vault ${v}${e.vaultArchived ? " (archived)" : ""}.`;
    case "VAULT_DELETE": return `${name(e.deletedBy)} deleted vault ${v}.`;
    case "VAULT_MEMBER_ADD": return `${name(e.addedBy)} added ${name(e.authorityId)} to vault ${v} as ${String(e.role).toLowerCase()}.`;
    case "VAULT_MEMBER_REMOVE": return `${name(e.removedBy)} removed ${name(e.authorityId)} from vault ${v}.`;
    case "VAULT_MEMBER_UPDATE": return `${name(e.updatedBy)} made ${name(e.authorityId)} ${String(e.role).toLowerCase()} of vault ${v}.`;
    case "VAULT_ACCESS_GRANT": return `${name(e.grantedBy)} granted ${name(e.authorityId)} access to vault ${v}.`;
    case "VAULT_KEY_RETRIEVE":
      return e.result === "SUCCESS"
        ? `${name(e.retrievedBy)} retrieved the key of vault ${v}${e.ipAddress ? ` from ${String(e.ipAddress)}` : ""}.`
        : `${name(e.retrievedBy)} was refused the key of vault ${v}.`;
    case "SIGN_WOT_ID": return `${name(e.signerId)} verified the identity of ${name(e.userId)}.`;
    case "SETTING_WOT_UPDATE":
      return `${name(e.updatedBy)} set the web of trust's depth to ${String(e.wotMaxDepth)} and its id-verify length to ${String(e.wotIdVerifyLen)}.`;
    case "EMERGENCY_ACCESS_SETTINGS_UPDATED":
      return `${name(e.adminId)} changed emergency access: council ${String(e.councilMemberIds).split(",").filter(Boolean).map(name).join(", ") || "none"}, ${String(e.requiredKeyShares)} needed${e.allowChoosingCouncil ? ", owners may choose" : ""}.`;
    case "EMERGENCY_ACCESS_SETUP": return `${name(e.ownerId)} set up the emergency council of vault ${v}.`;
    case "EMERGENCY_ACCESS_RECOVERY_STARTED":
      return `${name(e.councilMemberId)} started a recovery (${String(e.processType).toLowerCase().replace("_", " ")}) of vault ${v}.`;
    case "EMERGENCY_ACCESS_RECOVERY_APPROVED": return `${name(e.councilMemberId)} approved recovery ${String(e.processId).slice(0, 8)}.`;
    case "EMERGENCY_ACCESS_RECOVERY_COMPLETED": return `${name(e.councilMemberId)} completed recovery ${String(e.processId).slice(0, 8)}.`;
    case "EMERGENCY_ACCESS_RECOVERY_ABORTED": return `${name(e.councilMemberId)} aborted recovery ${String(e.processId).slice(0, 8)}.`;
    default: return `${EVENT_TYPES[event.type] ?? event.type}.`;
  }
}

function csvCell(value: unknown): string {
  const text = value === undefined || value === null ? "" : typeof value === "object" ? JSON.stringify(value) : String(value);
  // A cell a spreadsheet would run as a formula is quoted as text (CSV injection).
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** RFC 4180 CSV of the events: id, timestamp, type, then every other field seen, in order. */
export function toCsv(events: readonly AuditEventDto[]): string {
  const columns = ["id", "timestamp", "type"];
  for (const event of events) for (const key of Object.keys(event)) if (!columns.includes(key)) columns.push(key);
  const rows = events.map((event) => columns.map((c) => csvCell((event as Record<string, unknown>)[c])).join(","));
  return [columns.join(","), ...rows].join("\r\n") + "\r\n";
}
