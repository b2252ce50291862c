#!/usr/bin/env bash
# The project's test command (what CI runs through .ci/run):
#
#   0. with every test (no package picked): cargo fmt --check first (cheap, and a failure says
#      what to fix),
#   1. start the real local services (scripts/services.sh up: MariaDB, the tansu broker,
#      podman's Docker API; installs what is missing on a bare Debian 12 machine),
#   2. build the three binaries (the end-to-end tests run them from $CARGO_TARGET_DIR/debug),
#   3. cargo test --workspace, with any extra arguments passed through:
#        scripts/test.sh                       every test
#        scripts/test.sh -p e2e                one crate (--workspace is then left out)
#        scripts/test.sh -- --test-threads=1   arguments for the test binaries
#   4. with every test (no package picked), a bounded fuzz run: every cargo-fuzz target for
#      SRMON_FUZZ_SECONDS (default 15) from the seeds and the cached corpus (scripts/fuzz.sh;
#      the long run is a benchmark command: docs/benchmarks.md),
#   5. with every test: cargo clippy --workspace --all-targets -- -D warnings,
#   6. stop the services this run started (services already running are left alone);
#      SRMON_KEEP_SERVICES=1 keeps them running.
#
# Exit code: the tests' (or the failing step's).
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/srmon/target}"
export SRMON_CACHE="${SRMON_CACHE:-$HOME/.cache/srmon}"
export SRMON_SERVICES_DIR="${SRMON_SERVICES_DIR:-$SRMON_CACHE/services}"

if ! command -v cargo >/dev/null; then
    if [[ -x $HOME/.cargo/bin/cargo ]]; then
        export PATH="$HOME/.cargo/bin:$PATH"
    else
        echo "[test] cargo not found: install Rust with rustup first" >&2
        exit 1
    fi
fi

# `--workspace` unless the caller picked packages.
workspace=(--workspace)
for a in "$@"; do
    case "$a" in
        --) break ;;
        -p | --package | --package=* | -p?*) workspace=() ;;
    esac
done

if [[ ${#workspace[@]} -gt 0 ]]; then
    echo "[test] cargo fmt --check" >&2
    cargo fmt --all -- --check
fi

started_file=$(mktemp)
cleanup() {
    local rc=$?
    if [[ -s $started_file ]]; then
        if [[ ${SRMON_KEEP_SERVICES:-0} == 1 ]]; then
            echo "[test] SRMON_KEEP_SERVICES=1: leaving $(sort -u "$started_file" | tr '\n' ' ')running" >&2
        else
            # shellcheck disable=SC2046
            bash scripts/services.sh down $(sort -u "$started_file") || true
        fi
    fi
    rm -f "$started_file"
    return $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "[test] starting services (scripts/services.sh up)" >&2
SRMON_STARTED_FILE="$started_file" bash scripts/services.sh up

# shellcheck disable=SC1091
. "$SRMON_SERVICES_DIR/env"

# a failing test keeps its database to look at; a later run drops those older than an hour
# (not a run going on beside this one)
sql=(mariadb -h 127.0.0.1 -P "${SRMON_MYSQL_PORT:-3306}" -u srmon -psrmon -N -B)
left=$("${sql[@]}" -e "SELECT DISTINCT table_schema FROM information_schema.tables WHERE (table_schema LIKE 'e2e\\_%' OR table_schema LIKE 'apitest\\_%') AND create_time < NOW() - INTERVAL 1 HOUR" 2>/dev/null || true)
if [[ -n $left ]]; then
    echo "[test] dropping $(wc -l <<<"$left") databases left by earlier test runs" >&2
    while read -r db; do "${sql[@]}" -e "DROP DATABASE IF EXISTS \`$db\`" || true; done <<<"$left"
fi

echo "[test] building the dashboard (scripts/build-web.sh)" >&2
bash scripts/build-web.sh

echo "[test] building the binaries (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)" >&2
cargo build --workspace --bins

echo "[test] cargo test ${workspace[*]} $*" >&2
cargo test "${workspace[@]}" "$@"

if [[ ${#workspace[@]} -gt 0 ]]; then
    echo "[test] fuzzing every target for ${SRMON_FUZZ_SECONDS:-15}s (scripts/fuzz.sh)" >&2
    bash scripts/fuzz.sh "${SRMON_FUZZ_SECONDS:-15}"
    echo "[test] cargo clippy --workspace --all-targets -- -D warnings" >&2
    cargo clippy --workspace --all-targets -- -D warnings
fi
