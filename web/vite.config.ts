import { defineConfig } from "vite";

// `npm run dev` serves the console on :5173 and forwards API calls to a gateway on :8000
// (`scripts/run` starts one there); `npm run build` writes dist/, which the gateway serves at /.
const GATEWAY = process.env.POSTDESK_GATEWAY_URL ?? "http://127.0.0.1:8000";
const API_PREFIXES = [
  "/auth", "/me", "/tickets", "/attachments", "/messages", "/outbound", "/notifications",
  "/admin", "/analytics", "/uploads", "/schema",
];

export default defineConfig({
  build: { outDir: "dist", emptyOutDir: true, sourcemap: true, target: "es2022" },
  server: {
    proxy: Object.fromEntries(API_PREFIXES.map((prefix) => [prefix, { target: GATEWAY }])),
  },
});
