// Builds the dashboard into dist/ (index.html, app.js, app.css), which api-backend embeds at
// compile time, and the API description page (docs.html, docs.js and Swagger UI's bundle).
// `npm ci && npm run build` (scripts/build-web.sh runs it).
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";

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
// early.js inline in the page: it starts the fleet's request without a round trip of its own
const early = `<script>\n${readFileSync("src/early.js", "utf8")}</script>`;
const index = readFileSync("src/index.html", "utf8");
if (!index.includes('<script src="/early.js"></script>')) throw new Error("index.html no longer names early.js");
writeFileSync("dist/index.html", index.replace('<script src="/early.js"></script>', () => early));
copyFileSync("src/docs.html", "dist/docs.html");
copyFileSync("src/docs.js", "dist/docs.js");
for (const file of ["swagger-ui-bundle.js", "swagger-ui.css"]) {
  copyFileSync(`node_modules/swagger-ui-dist/${file}`, `dist/${file}`);
}
console.log("web: built dist/");
