// Builds the dashboard into dist/ (index.html, app.js, app.css), which api-backend embeds at
// compile time, and the API description page (docs.html, docs.js and Swagger UI's bundle).
// `npm ci && npm run build` (scripts/build-web.sh runs it).
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
copyFileSync("src/docs.html", "dist/docs.html");
copyFileSync("src/docs.js", "dist/docs.js");
for (const file of ["swagger-ui-bundle.js", "swagger-ui.css"]) {
  copyFileSync(`node_modules/swagger-ui-dist/${file}`, `dist/${file}`);
}
console.log("web: built dist/");
