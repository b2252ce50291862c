// Builds the dashboard into dist/ (index.html, app.js, app.css), which api-backend embeds at
// compile time. `npm ci && npm run build` (scripts/build-web.sh runs it).
import { build } from "esbuild";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";

rmSync("dist", { recursive: true, force: true });
mkdirSync("dist");
await build({
  entryPoints: { app: "src/main.tsx" },
  bundle: true,
  minify: true,
  sourcemap: false,
  target: "es2020",
  format: "esm",
  jsx: "automatic",
  jsxImportSource: "preact",
  outdir: "dist",
  logLevel: "warning",
});
copyFileSync("src/index.html", "dist/index.html");
console.log("web: built dist/");
