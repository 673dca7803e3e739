import { describe, expect, it } from "vitest";

import { EVENT_TYPES, sentence, toCsv } from "./audit";

const names: Record<string, string> = { u1: "Alice", u2: "Bob" };
const name = (id: unknown) => names[String(id)] ?? String(id);
const vault = (id: unknown) => (id === "v1" ? "“Reports”" : String(id));

describe("the audit log's words", () => {
  it("says who did what to whom", () => {
    expect(sentence({ id: 1, timestamp: "t", type: "USER_ENABLED_CHANGE", userId: "u2", enabled: false, changedBy: "u1" },
      name, vault)).toBe("Alice disabled Bob.");
    expect(sentence({ id: 2, timestamp: "t", type: "VAULT_MEMBER_ADD", addedBy: "u1", vaultId: "v1", authorityId: "u2",
      role: "OWNER" }, name, vault)).toBe("Alice added Bob to vault “Reports” as owner.");
    expect(sentence({ id: 3, timestamp: "t", type: "VAULT_KEY_RETRIEVE", retrievedBy: "u2", vaultId: "v1",
      result: "UNAUTHORIZED" }, name, vault)).toBe("Bob was refused the key of vault “Reports”.");
  });

  it("has words for every type of Katta's log, and names a type it does not know as it is", async () => {
    const { readFileSync } = await import("node:fs");
    const catalogue = readFileSync(new URL("../../../../chalicelib/audit/catalogue.py", import.meta.url), "utf8");
    const types = [...catalogue.matchAll(/_event\("(\w+)", KATTA\b/g)].map((m) => m[1] as string);
    expect(types.length).toBeGreaterThan(20); // the pattern still reads the catalogue
    expect(Object.keys(EVENT_TYPES).sort()).toEqual(types.sort());
    expect(sentence({ id: 4, timestamp: "t", type: "SOMETHING_NEW" }, name, vault)).toBe("SOMETHING_NEW.");
    for (const type of types) {
      expect(sentence({ id: 5, timestamp: "t", type }, name, vault), type).not.toBe(`${EVENT_TYPES[type]}.`);
    }
  });
});

describe("the CSV export", () => {
  it("writes a header of every field seen, quotes what needs it and defuses formulas", () => {
    const csv = toCsv([
      { id: 2, timestamp: "t2", type: "VAULT_CREATE", vaultName: 'Q1, "final"', createdBy: "u1" },
      { id: 1, timestamp: "t1", type: "DEVICE_REGISTER", deviceName: "=HYPERLINK(\"x\")" },
    ]);
    expect(csv.split("\r\n")).toEqual([
      "id,timestamp,type,vaultName,createdBy,deviceName",
      '2,t2,VAULT_CREATE,"Q1, ""final""",u1,',
      "1,t1,DEVICE_REGISTER,,,\"'=HYPERLINK(\"\"x\"\")\"",
      "",
    ]);
  });
});
