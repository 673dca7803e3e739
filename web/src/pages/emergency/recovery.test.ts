import { describe, expect, it, vi } from "vitest";

import type { EmergencyApi, RecoveryProcessDto } from "../../api";
import { UserKeys } from "../../crypto/keys";
import { RecoveryError, approvals, completeCouncilChange, completeRecovery, processDetails } from "./recovery";

const process = (overrides: Partial<RecoveryProcessDto> = {}): RecoveryProcessDto => ({
  id: "p1", vaultId: "v1", type: "CHANGE_PERMISSIONS", requiredKeyShares: 2, processPublicKey: "{}",
  recoveredKeyShares: { bob: { processPrivateKey: "a.b.c.d.e", recoveredKeyShare: "f.g.h.i.j" }, carol: { processPrivateKey: "k.l.m.n.o" } },
  ...overrides,
});

describe("a recovery's details", () => {
  it("reads ours and tolerates another client's", () => {
    expect(processDetails(process({ details: '{"reason":"lost","newOwnerIds":["erin",7]}' }))).toEqual({ reason: "lost", newOwnerIds: ["erin"] });
    // What this page wrote before it took Hub's names.
    expect(processDetails(process({ details: '{"newOwners":["erin"]}' }))).toEqual({ newOwnerIds: ["erin"] });
    // Hub's web client sends details as an object, in these names.
    expect(processDetails(process({ details: { newOwnerIds: ["erin"], newMemberIds: [] } }))).toEqual({ newOwnerIds: ["erin"] });
    expect(processDetails(process({ type: "COUNCIL_CHANGE", details: { newCouncilMemberIds: ["d", "e"], newRequiredKeyShares: 2 } })))
      .toEqual({ newCouncilMemberIds: ["d", "e"], newRequiredKeyShares: 2 });
    expect(processDetails(process({ details: "free text" }))).toEqual({});
    expect(processDetails(process({ details: "[1]" }))).toEqual({});
    expect(processDetails(process())).toEqual({});
    expect(approvals(process())).toBe(1);
  });
});

describe("completing a recovery", async () => {
  const keys = await UserKeys.create();
  // Every refusal comes before any call: nothing of the vault is changed.
  const api = new Proxy({}, { get: () => vi.fn(() => { throw new Error("no call expected"); }) }) as unknown as EmergencyApi;

  it("refuses too few approvals, no new owner, a council change and a stranger, before calling anything", async () => {
    await expect(completeRecovery(api, keys, "bob", process(), ["erin"], "https://katta.test/api"))
      .rejects.toThrow(new RecoveryError("The recovery has 1 of the 2 approvals it needs."));
    const approved = process({ recoveredKeyShares: { bob: { recoveredKeyShare: "a.b.c.d.e" }, carol: { recoveredKeyShare: "f.g.h.i.j" } } });
    await expect(completeRecovery(api, keys, "bob", approved, [], "https://katta.test/api")).rejects.toThrow(/new owner/);
    await expect(completeRecovery(api, keys, "bob", { ...approved, type: "COUNCIL_CHANGE" }, ["erin"], "https://katta.test/api"))
      .rejects.toThrow(/council change/);
    await expect(completeRecovery(api, keys, "mallory", approved, ["erin"], "https://katta.test/api"))
      .rejects.toThrow(/not on this recovery's council/);
  });

  it("seats only the council the start named, with a threshold it can meet, before calling anything", async () => {
    const change = (details?: Record<string, unknown>) => process({ type: "COUNCIL_CHANGE", ...(details ? { details } : {}),
      recoveredKeyShares: { bob: { processPrivateKey: "a.b.c.d.e", recoveredKeyShare: "a.b.c.d.e" }, carol: { recoveredKeyShare: "f.g.h.i.j" } } });
    for (const details of [undefined, { newCouncilMemberIds: ["d", "e"], newRequiredKeyShares: 3 },
      { newCouncilMemberIds: ["d", "e"], newRequiredKeyShares: 1 }, { newRequiredKeyShares: 2 }]) {
      await expect(completeCouncilChange(api, keys, "bob", change(details))).rejects.toThrow(/names no new council/);
    }
    await expect(completeCouncilChange(api, keys, "bob", { ...change({ newCouncilMemberIds: ["d", "e"], newRequiredKeyShares: 2 }),
      recoveredKeyShares: { bob: { processPrivateKey: "a.b.c.d.e", recoveredKeyShare: "a.b.c.d.e" } } }))
      .rejects.toThrow(/1 of the 2 approvals/);
  });
});
