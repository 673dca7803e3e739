// Web of trust: a member's identity fingerprint to compare in person, a signature once it matches,
// and the trust level shown beside every member (0 = you, n = a chain of n signatures, -1 = none).
import type { Api, MemberDto, SettingsDto, TrustedUserDto } from "../api";
import { computeTrustLevel, fingerprint, identityFingerprint, matchesIdentityFingerprint, signUserKeys } from "../crypto";
import { FlowError, type Unlocked } from "./keyring";

export interface MemberTrust {
  /** The `wotIdVerifyLen` characters two people compare; empty for a group or keys not set up. */
  identity: string;
  level: number;
}

export class TrustFlows {
  private settings: Promise<SettingsDto> | undefined;

  constructor(private readonly api: Api) {}

  private hubSettings(): Promise<SettingsDto> {
    this.settings ??= this.api.settings();
    return this.settings;
  }

  /** Each member's identity fingerprint and trust level, by member id. */
  async ofMembers(unlocked: Unlocked, members: readonly MemberDto[]): Promise<Record<string, MemberTrust>> {
    const [settings, trusted] = await Promise.all([this.hubSettings(), this.api.trustedUsers()]);
    const chains = new Map<string, TrustedUserDto>(trusted.map((t) => [t.trustedUserId, t]));
    const result: Record<string, MemberTrust> = {};
    for (const member of members) {
      if (member.type !== "USER" || !member.ecdhPublicKey || !member.ecdsaPublicKey) continue;
      const keys = { ecdhPublicKey: member.ecdhPublicKey, ecdsaPublicKey: member.ecdsaPublicKey };
      result[member.id] = {
        identity: identityFingerprint(await fingerprint(keys), settings.wotIdVerifyLen),
        level: await computeTrustLevel(unlocked.user.id, unlocked.keys.ecdsaPublicKey, member.id, keys, chains.get(member.id)),
      };
    }
    return result;
  }

  /** The signed-in user's own identity fingerprint, to read out to whoever verifies them. */
  async myIdentity(unlocked: Unlocked): Promise<string> {
    const [settings, keys] = await Promise.all([this.hubSettings(), unlocked.keys.publicKeys()]);
    return identityFingerprint(await fingerprint(keys), settings.wotIdVerifyLen);
  }

  /** Signs the member's keys once the typed fingerprint matches what they read out. */
  async verify(unlocked: Unlocked, member: MemberDto, typed: string): Promise<void> {
    if (!member.ecdhPublicKey || !member.ecdsaPublicKey) throw new FlowError(`${member.name} has not set up their keys yet.`);
    const keys = { ecdhPublicKey: member.ecdhPublicKey, ecdsaPublicKey: member.ecdsaPublicKey };
    const settings = await this.hubSettings();
    if (!matchesIdentityFingerprint(typed, await fingerprint(keys), settings.wotIdVerifyLen)) {
      throw new FlowError(`That is not ${member.name}'s fingerprint. Compare it again; do not sign keys that do not match.`, "fingerprint");
    }
    await this.api.trustUser(member.id, await signUserKeys(unlocked.keys.ecdsaPrivateKey, unlocked.user.id, member.id, keys));
  }

  /** What a trust level means, in words. */
  static describe(level: number | undefined): string {
    if (level === undefined) return "no keys yet";
    if (level === 0) return "you";
    if (level === 1) return "verified by you";
    if (level > 1) return `verified through ${level - 1} other${level > 2 ? "s" : ""}`;
    return "not verified";
  }
}
