#!/usr/bin/env bash
# Builds the dashboard (web/ → web/dist), which api-backend embeds when it is compiled next:
# npm ci from the committed lock file, then esbuild. Needs Node.js 18+ and npm (installs
# Debian's when npm is missing). Run it before `cargo build`; without it api-backend's `/`
# says the dashboard was not built.
set -euo pipefail
cd "$(dirname "$0")/../web"
if ! command -v npm >/dev/null; then
    # a new Debian 12 machine: its nodejs (18) and npm do
    command -v apt-get >/dev/null || { echo "build-web: npm not found: install Node.js 18+ and npm" >&2; exit 1; }
    sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    echo "build-web: installing Debian's nodejs and npm" >&2
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >&2
fi
# reinstall only when the lock file changed since the last install
stamp=node_modules/.srmon-lock
if ! cmp -s package-lock.json "$stamp" 2>/dev/null; then
    npm ci --no-audit --no-fund --loglevel=error >&2
    cp package-lock.json "$stamp"
fi
npm run --silent build >&2
