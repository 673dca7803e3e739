import { describe, expect, it } from "vitest";

import type { Api, MemberDto } from "../api";
import { UserKeys, VaultKeys, VaultMetadata, decryptAccessToken } from "../crypto";
import { VaultFlows } from "./vaults";

async function member(name: string, vaultRole: MemberDto["vaultRole"], keys: UserKeys): Promise<MemberDto> {
  const { ecdhPublicKey, ecdsaPublicKey } = await keys.publicKeys();
  return { id: `${name}-id`, type: "USER", name, vaultRole, role: vaultRole, ecdhPublicKey, ecdsaPublicKey };
}

describe("granting access to everyone waiting", () => {
  it("seals the member key to each, and the recovery key only into owners' tokens", async () => {
    const [owner, reader] = [await UserKeys.create(), await UserKeys.create()];
    const waiting = [await member("olga", "OWNER", owner), await member("mira", "MEMBER", reader),
                     { id: "team-id", type: "GROUP", name: "team", vaultRole: "MEMBER", role: "MEMBER" } as MemberDto];
    const stored: Record<string, string>[] = [];
    const api = {
      usersRequiringAccessGrant: async () => waiting,
      grantAccess: async (_vaultId: string, tokens: Record<string, string>) => void stored.push(tokens),
    } as unknown as Api;
    const keys = await VaultKeys.create();
    const opened = { vault: { id: "v", name: "v", archived: false, creationTime: "" }, keys, metadata: VaultMetadata.create() };
    const steps: string[] = [];

    const granted = await new VaultFlows(api, "https://katta.test").grantAll(opened, (step) => steps.push(step));

    expect(granted.map((m) => m.name)).toEqual(["olga", "mira"]); // a group holds no keys of its own
    expect(stored).toHaveLength(1); // one request for all of them
    const ownerToken = await decryptAccessToken(stored[0]!["olga-id"]!, owner.ecdhPrivateKey);
    const memberToken = await decryptAccessToken(stored[0]!["mira-id"]!, reader.ecdhPrivateKey);
    expect(ownerToken.memberKey).toEqual(keys.memberKey);
    expect(ownerToken.recoveryKey).toBeDefined();
    expect(memberToken.memberKey).toEqual(keys.memberKey);
    expect(memberToken.recoveryKey).toBeUndefined();
    expect(steps).toEqual(["Sealing the vault key for olga…", "Sealing the vault key for mira…"]);
  });

  it("asks nothing of the server when nobody with keys is waiting", async () => {
    let calls = 0;
    const api = { usersRequiringAccessGrant: async () => [], grantAccess: async () => void calls++ } as unknown as Api;
    const opened = { vault: { id: "v", name: "v", archived: false, creationTime: "" }, keys: await VaultKeys.create(),
                     metadata: VaultMetadata.create() };
    expect(await new VaultFlows(api, "https://katta.test").grantAll(opened, () => undefined)).toEqual([]);
    expect(calls).toBe(0);
  });
});
