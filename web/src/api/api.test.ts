import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import { afterEach, describe, expect, it, vi } from "vitest";

import { Api, ApiError, OPERATIONS, pathOf } from ".";

// The Katta contract the server is wire-compatible with (a copy of ../shared/reference).
const contract = JSON.parse(
  readFileSync(fileURLToPath(new URL("../../../tests/reference/katta-openapi.json", import.meta.url)), "utf8"),
) as { paths: Record<string, Record<string, { security?: unknown[] }>> };

describe("every operation of the API module", () => {
  const contractOperations = Object.entries(OPERATIONS).filter(([, operation]) => !("ours" in operation));
  it.each(contractOperations)("%s is a route of the Katta contract", (_name, operation) => {
    const methods = contract.paths[operation.path];
    expect(methods, `${operation.path} is not in the contract`).toBeDefined();
    const declared = methods?.[operation.method.toLowerCase()];
    expect(declared, `${operation.method} ${operation.path} is not in the contract`).toBeDefined();
    // A route the contract secures gets the bearer token; only public ones go without.
    const secured = (declared?.security ?? []).length > 0;
    expect("public" in operation).toBe(!secured);
  });
});

describe("pathOf", () => {
  it("fills each parameter as one encoded segment", () => {
    expect(pathOf("/api/vaults/{vaultId}/users/{userId}", { vaultId: "v 1", userId: "../x" })).toBe(
      "/api/vaults/v%201/users/..%2Fx",
    );
  });

  it("refuses a missing parameter rather than calling a wrong route", () => {
    expect(() => pathOf("/api/vaults/{vaultId}", {})).toThrow(/vaultId/);
  });
});

function answer(status: number, body: unknown, contentType = "application/problem+json"): Response {
  return new Response(typeof body === "string" ? body : JSON.stringify(body), {
    status,
    headers: { "Content-Type": contentType },
  });
}

describe("Api", () => {
  afterEach(() => vi.unstubAllGlobals());

  function api(token: string | null = "t0ken") {
    const session = { accessToken: () => token, expired: vi.fn() };
    return { session, api: new Api(session, "https://katta.test") };
  }

  it("sends the bearer token to a secured route, none to a public one", async () => {
    const fetch = vi.fn(async () => answer(200, { name: "Alice" }, "application/json"));
    vi.stubGlobal("fetch", fetch);
    const { api: client } = api();
    expect(await client.me()).toEqual({ name: "Alice" });
    await client.config();
    const [meUrl, meInit] = fetch.mock.calls[0] as unknown as [URL, RequestInit];
    const [configUrl, configInit] = fetch.mock.calls[1] as unknown as [URL, RequestInit];
    expect(meUrl.href).toBe("https://katta.test/api/users/me?withDevices=false");
    expect((meInit.headers as Record<string, string>)["Authorization"]).toBe("Bearer t0ken");
    expect(configUrl.href).toBe("https://katta.test/api/config");
    expect((configInit.headers as Record<string, string>)["Authorization"]).toBeUndefined();
  });

  it("turns a problem into an ApiError with its detail and failing field", async () => {
    vi.stubGlobal("fetch", async () =>
      answer(400, {
        status: 400,
        detail: "name: String should have at most 255 characters",
        errors: [{ field: "name", reason: "String should have at most 255 characters" }],
        requestId: "r-1",
      }),
    );
    const error = await api().api.vault("v1").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({
      status: 400,
      detail: "name: String should have at most 255 characters",
      field: "name",
      requestId: "r-1",
    });
  });

  it("gives words, never a bare status, when the body is no problem JSON", async () => {
    vi.stubGlobal("fetch", async () => answer(503, "<html>Bad gateway</html>", "text/html"));
    const error = (await api().api.vault("v1").catch((e: unknown) => e)) as ApiError;
    expect(error.detail).toBe("The service is busy. Try again in a moment.");
    expect(error.field).toBeUndefined();
  });

  it("ends the session when the API refuses the token, and calls nothing without one", async () => {
    vi.stubGlobal("fetch", async () => answer(401, { status: 401, detail: "the token has expired" }));
    const signedIn = api();
    await expect(signedIn.api.me()).rejects.toMatchObject({ status: 401, detail: "the token has expired" });
    expect(signedIn.session.expired).toHaveBeenCalledOnce();

    const fetch = vi.fn();
    vi.stubGlobal("fetch", fetch);
    const signedOut = api(null);
    await expect(signedOut.api.me()).rejects.toMatchObject({ status: 401 });
    expect(fetch).not.toHaveBeenCalled();
    expect(signedOut.session.expired).toHaveBeenCalledOnce();
  });

  it("says the server cannot be reached when fetch itself fails", async () => {
    vi.stubGlobal("fetch", async () => {
      throw new TypeError("Failed to fetch");
    });
    await expect(api().api.version()).rejects.toMatchObject({ status: 0 });
  });

  it("shares with a group through the group's route and with a user through the user's", async () => {
    const fetch = vi.fn(async () => answer(201, {}, "application/json"));
    vi.stubGlobal("fetch", fetch);
    const { api: client } = api();
    await client.putMember("v1", { id: "g1", type: "GROUP" }, "OWNER");
    await client.putMember("v1", { id: "u1", type: "USER" }, "MEMBER");
    const [[group, groupInit], [user]] = fetch.mock.calls as unknown as [[URL, RequestInit], [URL, RequestInit]];
    expect(group.href).toBe("https://katta.test/api/vaults/v1/groups/g1?role=OWNER");
    expect(groupInit.method).toBe("PUT");
    expect(user.href).toBe("https://katta.test/api/vaults/v1/users/u1?role=MEMBER");
  });

  it("lets a long poll be ended by the page that waits, without calling it a network failure", async () => {
    vi.stubGlobal("fetch", async (_url: URL, init: RequestInit) => {
      await new Promise((_resolve, reject) => init.signal?.addEventListener("abort", () => reject(init.signal?.reason)));
    });
    const stop = new AbortController();
    const waiting = api().api.pendingGrants(25, stop.signal);
    stop.abort();
    await expect(waiting).rejects.not.toBeInstanceOf(ApiError);
  });
});
