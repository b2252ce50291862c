// Runs before the dashboard's bundle (build.mjs puts it inline in index.html's <head>):
// starts the fleet view's first request, the dashboard's largest, so it is under way while
// app.js downloads and starts. The fleet view takes it over (api.ts `early`).
if ((location.hash.replace(/^#/, "") || "/") === "/") {
  window.srmonEarly = {
    "/api/v1/fleet": fetch("/api/v1/fleet", { credentials: "same-origin", headers: { accept: "application/json" } }),
  };
}
