import vue from "@vitejs/plugin-vue";
import { defineConfig } from "vite";

// Served by the deployment under /app/ from the API's own origin (DESIGN §15).
export default defineConfig({
  base: "/app/",
  plugins: [vue()],
  build: {
    outDir: "dist",
    assetsDir: "assets",
    // No inline script or style: the Content-Security-Policy allows 'self' only.
    assetsInlineLimit: 0,
    sourcemap: false,
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
