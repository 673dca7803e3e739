/// <reference types="node" />
import { readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// architecture §15: the crypto module has no UI imports; it depends on jose, @hpke and itself only.
describe("the crypto module's imports", () => {
  it("are jose, @hpke and its own files", () => {
    const dir = fileURLToPath(new URL(".", import.meta.url));
    const sources = readdirSync(dir).filter((name) => name.endsWith(".ts") && !name.endsWith(".test.ts") && name !== "testing.ts");
    expect(sources).toContain("index.ts");
    for (const name of sources) {
      const text = readFileSync(`${dir}/${name}`, "utf8");
      const specifiers = [...text.matchAll(/(?:import|export)[^"';]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']/g)]
        .map((m) => m[1] ?? m[2]);
      for (const specifier of specifiers) expect([name, specifier]).toEqual([name, expect.stringMatching(/^(jose|@hpke\/core|@hpke\/chacha20poly1305|\.\/[\w]+)$/)]);
    }
  });
});
