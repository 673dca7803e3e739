import { describe, expect, it } from "vitest";

import { ApiError } from "../api";
import { DecryptionFailed } from "../crypto";
import { FlowError } from "./keyring";
import { failingField, humanMessage } from "./messages";

describe("humanMessage", () => {
  it("makes the problem JSON's detail a sentence", () => {
    expect(humanMessage(new ApiError(403, "you are not a member of this vault"))).toBe("You are not a member of this vault.");
    expect(humanMessage(new ApiError(409, "Someone changed this at the same time. Reload and try again.")))
      .toBe("Someone changed this at the same time. Reload and try again.");
  });

  it("names the failing field of a 400 and says why", () => {
    const error = new ApiError(400, "invalid request", [{ field: "name", reason: "must not be empty" }]);
    expect(humanMessage(error)).toBe("Name: Must not be empty.");
    expect(failingField(error)).toBe("name");
  });

  it("passes a flow's own words on, and never shows a bare status", () => {
    expect(humanMessage(new FlowError("Give the vault a name.", "name"))).toBe("Give the vault a name.");
    expect(failingField(new FlowError("x", "accountKey"))).toBe("accountKey");
    expect(humanMessage(new DecryptionFailed("the tag does not match"))).toBe("The keys do not fit: the tag does not match.");
    expect(humanMessage(new TypeError("x is undefined"))).not.toMatch(/\d{3}|undefined/);
  });
});
