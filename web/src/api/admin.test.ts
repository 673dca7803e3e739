import { afterEach, describe, expect, it, vi } from "vitest";

import { AdminApi, Api, EmergencyApi } from ".";

function recorder(status = 204, body = "") {
  const fetch = vi.fn(async (_url: URL, _init: RequestInit) => new Response(status === 204 ? null : body, {
    status, headers: { "Content-Type": status >= 400 ? "application/problem+json" : "application/json" },
  }));
  vi.stubGlobal("fetch", fetch);
  const api = new Api({ accessToken: () => "t0ken", expired: vi.fn() }, "https://katta.test");
  return { fetch, admin: new AdminApi(api), emergency: new EmergencyApi(api) };
}

describe("the admin's calls", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("asks for audit events with each type as its own parameter and the page's cursor", async () => {
    const { fetch, admin } = recorder(200, "[]");
    await admin.auditLog({ startDate: "2026-01-01T00:00:00.000Z", endDate: "2026-02-01T00:00:00.000Z", pageSize: 20,
      types: ["VAULT_CREATE", "DEVICE_REGISTER"], paginationId: 1234 });
    const url = fetch.mock.calls[0]![0];
    expect(url.pathname).toBe("/api/auditlog");
    expect(url.searchParams.getAll("type")).toEqual(["VAULT_CREATE", "DEVICE_REGISTER"]);
    expect(Object.fromEntries([...url.searchParams].filter(([k]) => k !== "type"))).toEqual({
      startDate: "2026-01-01T00:00:00.000Z", endDate: "2026-02-01T00:00:00.000Z", pageSize: "20", paginationId: "1234" });
    await admin.auditLog({ startDate: "a", endDate: "b", pageSize: 5, types: [] });
    expect([...fetch.mock.calls[1]![0].searchParams.keys()]).toEqual(["startDate", "endDate", "pageSize"]);
  });

  it("sends enable/disable as the contract's text body and archives with {archived: true} only", async () => {
    const { fetch, admin } = recorder();
    await admin.setUserEnabled("bob", false);
    await admin.archiveStorageProfile("0b6c2a4e-3f1d-4c7a-9a55-0d4c2e1f9a10");
    const [enabled, archived] = fetch.mock.calls.map(([url, init]) => ({ url: url.pathname, init }));
    expect(enabled).toMatchObject({ url: "/api/users/bob/enabled", init: { method: "PUT", body: "false" } });
    expect((enabled!.init.headers as Record<string, string>)["Content-Type"]).toBe("text/plain");
    expect(archived).toMatchObject({ url: "/api/storageprofile/0b6c2a4e-3f1d-4c7a-9a55-0d4c2e1f9a10",
      init: { method: "PUT", body: '{"archived":true}' } });
  });

  it("knows an admin by the API's answer: 403 is no admin, any other failure is a failure", async () => {
    expect(await recorder(200, "{}").admin.isAdmin()).toBe(true);
    expect(await recorder(403, '{"status":403,"detail":"requires the role admin"}').admin.isAdmin()).toBe(false);
    await expect(recorder(503, "{}").admin.isAdmin()).rejects.toMatchObject({ status: 503 });
  });

  it("starts a recovery under the process's own id", async () => {
    const { fetch, emergency } = recorder();
    await emergency.start({ id: "p1", vaultId: "v1", type: "CHANGE_PERMISSIONS", requiredKeyShares: 2,
      processPublicKey: "{}", recoveredKeyShares: { bob: { processPrivateKey: "a.b.c.d.e" } } });
    const [url, init] = fetch.mock.calls[0]!;
    expect([init.method, url.pathname]).toEqual(["PUT", "/api/emergency-access/p1"]);
    expect(JSON.parse(init.body as string)).toMatchObject({ vaultId: "v1", recoveredKeyShares: { bob: {} } });
  });
});
