import { describe, expect, it } from "vitest";

import { signInScope } from "./index";

describe("signInScope", () => {
  it("asks for openid, profile and email when the deployment names no scope", () => {
    expect(signInScope(undefined)).toBe("openid profile email");
  });

  it("keeps the deployment's scope (Entra ID's API scope) and adds the profile once", () => {
    expect(signInScope("openid offline_access api://katta/Vaults.ReadWrite email"))
      .toBe("openid offline_access api://katta/Vaults.ReadWrite email profile");
  });
});
