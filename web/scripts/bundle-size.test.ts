import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { describe, expect, it } from "vitest";

// @ts-expect-error — a plain ESM script, no types
import { BUDGET_BYTES, check, firstPageScripts } from "./bundle-size.mjs";

function build(entry: Buffer, preload: Buffer): string {
  const dist = mkdtempSync(join(tmpdir(), "katta-dist-"));
  mkdirSync(join(dist, "assets"));
  writeFileSync(join(dist, "assets", "index-a.js"), entry);
  writeFileSync(join(dist, "assets", "vendor-b.js"), preload);
  writeFileSync(join(dist, "assets", "later-c.js"), randomBytes(BUDGET_BYTES * 2)); // loaded later: not counted
  writeFileSync(
    join(dist, "index.html"),
    '<script type="module" crossorigin src="/app/assets/index-a.js"></script>' +
      '<link rel="modulepreload" crossorigin href="/app/assets/vendor-b.js">',
  );
  return dist;
}

describe("the bundle check", () => {
  it("counts the entry and its preloads, gzipped, and passes within the budget", () => {
    const dist = build(Buffer.from("a".repeat(100_000)), Buffer.from("console.log(1)"));
    const scripts = firstPageScripts(dist);
    expect(scripts.map((s: { url: string }) => s.url)).toEqual(["/app/assets/index-a.js", "/app/assets/vendor-b.js"]);
    expect(scripts[0].gzipped).toBeLessThan(1000);
    expect(check(dist)).toBe(true);
  });

  it("fails above 250 kB gzipped", () => {
    // Random bytes do not compress: 200 kB + 60 kB is over whatever gzip does.
    expect(check(build(randomBytes(200_000), randomBytes(60_000)))).toBe(false);
  });
});
