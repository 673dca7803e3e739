/// <reference types="node" />
import { readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// DESIGN §15: pages hold no crypto and no fetch calls of their own (crypto and calls go through
// the flows, web/src/flows); and nothing of the app keeps keys or tokens in web storage.
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return sources(path);
    return /\.(vue|ts)$/.test(entry.name) && !entry.name.endsWith(".test.ts") ? [path] : [];
  });
}

const pages = sources(fileURLToPath(new URL(".", import.meta.url)));
const flows = sources(fileURLToPath(new URL("../flows", import.meta.url)));

describe("the pages", () => {
  it.each(pages)("%s has no crypto and no fetch of its own", (path) => {
    const text = readFileSync(path, "utf8");
    expect(text).not.toMatch(/from\s+["'](\.\.\/)+crypto["']/);
    expect(text).not.toMatch(/\bfetch\(|crypto\.subtle|XMLHttpRequest/);
  });
});

describe("the pages and flows", () => {
  it.each([...pages, ...flows])("%s keeps nothing in localStorage or sessionStorage", (path) => {
    expect(readFileSync(path, "utf8")).not.toMatch(/\b(localStorage|sessionStorage)\s*[.[]/);
  });
});
