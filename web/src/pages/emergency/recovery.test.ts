import { describe, expect, it, vi } from "vitest";

import type { EmergencyApi, RecoveredKeyShareDto, RecoveryProcessDto, VaultDto } from "../../api";
import { newProcessKey, splitRecoveryKey } from "../../crypto/emergency";
import { UserKeys } from "../../crypto/keys";
import { VaultKeys } from "../../crypto/vault";
import {
  RecoveryError, approvals, approveRecovery, checkApprovals, completeCouncilChange, completeRecovery, processDetails, startRecovery,
} from "./recovery";

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
    await expect(completeRecovery(api, keys, "bob", { ...approved, details: { newOwnerIds: ["erin"] } }, ["dave"], "https://katta.test/api"))
      .rejects.toThrow(/approved for other new owners/);
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

// Hub's web client's signedProcessInfo, made here as Hub makes it (WebCrypto, no JOSE library): base64url
// JSON header {alg, typ, b64} and claims {iss, sub, iat, type, details}, an ECDSA P-384 / SHA-384 signature.
const b64url = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const jsonPart = (value: unknown) => b64url(new TextEncoder().encode(JSON.stringify(value)));

async function hubSigned(signer: UserKeys, signerId: string, target: { id: string; type: string; details?: unknown }): Promise<string> {
  const signingInput = `${jsonPart({ alg: "ES384", typ: "JWT", b64: true })}.${jsonPart({
    iss: signerId, sub: target.id, iat: 1767225600, type: target.type, details: target.details })}`;
  const signature = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-384" }, signer.ecdsaPrivateKey, new TextEncoder().encode(signingInput));
  return `${signingInput}.${b64url(new Uint8Array(signature))}`;
}

/** Hub's web client's check, reconstructed: each approver signed as themselves, for this process, its type and details. */
async function hubAccepts(signature: string, signerKey: CryptoKey, signerId: string, target: RecoveryProcessDto): Promise<boolean> {
  const [header, payload, sig] = signature.split(".") as [string, string, string];
  const bytes = (part: string) => Uint8Array.from(atob(part.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
  const valid = await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-384" }, signerKey, bytes(sig), new TextEncoder().encode(`${header}.${payload}`));
  const claims = JSON.parse(new TextDecoder().decode(bytes(payload)));
  return valid && JSON.parse(new TextDecoder().decode(bytes(header))).alg === "ES384" && claims.iss === signerId
    && claims.sub === target.id && claims.type === target.type && JSON.stringify(claims.details) === JSON.stringify(target.details);
}

describe("signed approvals, as Hub's web client makes and checks them", async () => {
  const people = { bob: await UserKeys.create(), carol: await UserKeys.create(), dave: await UserKeys.create() };
  const vaultKeys = await VaultKeys.create();
  const council: Record<string, string> = {};
  for (const [id, keys] of Object.entries(people)) council[id] = (await keys.publicKeys()).ecdhPublicKey;
  const vault = { id: "v1", name: "Rescue", requiredEmergencyKeyShares: 2,
    emergencyKeyShares: await splitRecoveryKey(vaultKeys.recoveryPrivateKey as CryptoKey, 2, council) } as unknown as VaultDto;
  const users = await Promise.all(Object.entries(people).map(async ([id, keys]) => ({ type: "USER", id, name: id, ...(await keys.publicKeys()) })));
  const sent: { start?: RecoveryProcessDto; approval?: RecoveredKeyShareDto | undefined } = {};
  const api = {
    authorities: async (ids: readonly string[]) => users.filter((u) => ids.includes(u.id)),
    start: async (p: RecoveryProcessDto) => { sent.start = structuredClone(p); },
    approve: async (_id: string, approval: RecoveredKeyShareDto) => { sent.approval = approval; },
  } as unknown as EmergencyApi;
  const hubProcess = async (signBob: (p: RecoveryProcessDto) => Promise<string | undefined>): Promise<RecoveryProcessDto> => {
    const p = process({ details: { newOwnerIds: ["erin"], newMemberIds: [] },
      recoveredKeyShares: { bob: { processPrivateKey: "a.b.c.d.e", recoveredKeyShare: "f.g.h.i.j" }, carol: { processPrivateKey: "k.l.m.n.o" } } });
    const signature = await signBob(p);
    if (signature) (p.recoveredKeyShares.bob as RecoveredKeyShareDto).signedProcessInfo = signature;
    return p;
  };

  it("accepts a process Hub's web client started and signed", async () => {
    await expect(checkApprovals(api, await hubProcess((p) => hubSigned(people.bob, "bob", p)))).resolves.toBeUndefined();
  });

  it("writes details as Hub's object and signatures Hub's web client accepts, at the start and on approving", async () => {
    const started = await startRecovery(api, people.bob, "bob", vault, "CHANGE_PERMISSIONS", { newOwnerIds: ["erin"] });
    expect(sent.start?.details).toEqual({ newOwnerIds: ["erin"] });
    const mine = sent.start?.recoveredKeyShares.bob as RecoveredKeyShareDto;
    expect(mine.recoveredKeyShare).toBeTruthy();
    expect(await hubAccepts(mine.signedProcessInfo as string, people.bob.ecdsaPublicKey, "bob", started)).toBe(true);
    const header = JSON.parse(new TextDecoder().decode(Uint8Array.from(atob((mine.signedProcessInfo as string).split(".")[0] as string), (c) => c.charCodeAt(0))));
    expect(header).toEqual({ alg: "ES384", typ: "JWT", b64: true });
    await approveRecovery(api, people.carol, "carol", vault, started);
    expect(sent.approval?.recoveredKeyShare).toBeTruthy();
    expect(await hubAccepts(sent.approval?.signedProcessInfo as string, people.carol.ecdsaPublicKey, "carol", started)).toBe(true);
  });

  const forgeries: Record<string, (p: RecoveryProcessDto) => Promise<string | undefined>> = {
    "unsigned": async () => undefined,
    "by another user's key": (p) => hubSigned(people.dave, "bob", p),
    "as another user": (p) => hubSigned(people.dave, "dave", p),
    "for other details": (p) => hubSigned(people.bob, "bob", { ...p, details: { newOwnerIds: ["mallory"], newMemberIds: [] } }),
    "for another process": (p) => hubSigned(people.bob, "bob", { ...p, id: "p2" }),
  };
  for (const [name, forge] of Object.entries(forgeries)) {
    it(`refuses to approve or complete a process with an approval ${name}, sending nothing`, async () => {
      sent.approval = undefined;
      const forged = await hubProcess(forge);
      await expect(approveRecovery(api, people.carol, "carol", vault, forged)).rejects.toThrow(/tampered with/);
      expect(sent.approval).toBeUndefined();
      const approved = { ...forged, recoveredKeyShares: { ...forged.recoveredKeyShares,
        carol: { processPrivateKey: "k.l.m.n.o", recoveredKeyShare: "p.q.r.s.t", signedProcessInfo: await hubSigned(people.carol, "carol", forged) } } };
      await expect(completeRecovery(api, people.carol, "carol", approved, ["erin"], "https://katta.test/api")).rejects.toThrow(/tampered with/);
    });
  }

  it("refuses our earlier shape, text details and an unsigned approval, which a server can fabricate alone", async () => {
    sent.approval = undefined;
    await expect(approveRecovery(api, people.carol, "carol", vault, process({ details: '{"newOwners":["erin"]}' })))
      .rejects.toThrow(/not signed.*Abort it and start a new one/);
    await expect(checkApprovals(api, process())).rejects.toThrow(/not signed/);
    expect(sent.approval).toBeUndefined();
  });

  it("refuses a process whose key a server replaced under our signatures, sending nothing", async () => {
    const started = await startRecovery(api, people.bob, "bob", vault, "CHANGE_PERMISSIONS", { newOwnerIds: ["erin"] });
    const { processPublicKey: serversKey } = await newProcessKey({});
    sent.approval = undefined;
    await expect(approveRecovery(api, people.carol, "carol", vault, { ...started, processPublicKey: serversKey }))
      .rejects.toThrow(/process key was replaced/);
    expect(sent.approval).toBeUndefined();
  });

  it("refuses to be the first to approve a process, sending nothing", async () => {
    sent.approval = undefined;
    const unapproved = process({ details: { newOwnerIds: ["erin"] },
      recoveredKeyShares: { bob: { processPrivateKey: "a.b.c.d.e" }, carol: { processPrivateKey: "k.l.m.n.o" } } });
    await expect(approveRecovery(api, people.carol, "carol", vault, unapproved)).rejects.toThrow(/No council member has approved/);
    expect(sent.approval).toBeUndefined();
  });
});
