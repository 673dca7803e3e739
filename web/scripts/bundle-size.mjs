// The first page's JavaScript, gzipped: what a browser downloads before it can draw /app/.
// Run after the build (npm run build does); fails above the budget of issue 14 (250 kB).
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";

export const BUDGET_BYTES = 250 * 1000;
const BASE = "/app/";

/** The scripts index.html loads at once (its module entry and what it preloads), gzipped. */
export function firstPageScripts(dist) {
  const html = readFileSync(join(dist, "index.html"), "utf8");
  const urls = [
    ...html.matchAll(/<script[^>]*\bsrc="([^"]+)"/g),
    ...html.matchAll(/<link[^>]*rel="modulepreload"[^>]*href="([^"]+)"/g),
  ].map((match) => match[1]);
  return urls.map((url) => {
    if (!url.startsWith(BASE)) throw new Error(`${url} is not served from ${BASE}`);
    const bytes = readFileSync(join(dist, url.slice(BASE.length)));
    return { url, bytes: bytes.length, gzipped: gzipSync(bytes, { level: 9 }).length };
  });
}

export function check(dist) {
  const scripts = firstPageScripts(dist);
  const total = scripts.reduce((sum, script) => sum + script.gzipped, 0);
  for (const script of scripts) {
    console.log(`  ${script.url}: ${(script.bytes / 1000).toFixed(1)} kB, ${(script.gzipped / 1000).toFixed(1)} kB gzipped`);
  }
  const verdict = total <= BUDGET_BYTES ? "within" : "OVER";
  console.log(`first page's JavaScript: ${(total / 1000).toFixed(1)} kB gzipped — ${verdict} the budget of ${BUDGET_BYTES / 1000} kB`);
  return total <= BUDGET_BYTES;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const here = dirname(fileURLToPath(import.meta.url));
  const dist = resolve(process.argv[2] ?? join(here, "../../chalicelib/webapp/dist"));
  process.exit(check(dist) ? 0 : 1);
}
