import { defineConfig } from "vitest/config";
import { svelte } from "@sveltejs/vite-plugin-svelte";
import { svelteTesting } from "@testing-library/svelte/vite";

// `base: "./"` makes every asset URL relative, so the same dist/ works from
// tauri://localhost/ (desktop) and from http://host:port/ (`kasa serve`).
export default defineConfig({
  base: "./",
  plugins: [svelte(), svelteTesting()],
  clearScreen: false,
  server: {
    port: 5173,
    strictPort: true,
    // `npm run dev` against a running `kasa serve --addr 127.0.0.1:8080`.
    proxy: {
      "/api": { target: process.env.KASA_API ?? "http://127.0.0.1:8080", changeOrigin: false },
    },
    // The unit tests read the Rust sources next door (the stable codes the
    // backend sends must all be translated); the dev server never serves them.
    fs: process.env.VITEST ? { allow: [".."] } : undefined,
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2021",
    sourcemap: false,
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.ts"],
    restoreMocks: true,
  },
});
