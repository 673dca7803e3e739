import vue from "@vitejs/plugin-vue";
import { defineConfig } from "vite";

// Served by the deployment under /app/ from the API's own origin (architecture §15).
export default defineConfig({
  base: "/app/",
  plugins: [vue()],
  build: {
    // Inside chalicelib/, so `chalice package` carries it into the Lambda package (gitignored).
    outDir: "../chalicelib/webapp/dist",
    emptyOutDir: true,
    assetsDir: "assets",
    // No inline script or style: the Content-Security-Policy allows 'self' only.
    assetsInlineLimit: 0,
    sourcemap: false,
  },
  test: {
    include: ["src/**/*.test.ts", "scripts/**/*.test.ts"],
    environment: "node",
  },
});
