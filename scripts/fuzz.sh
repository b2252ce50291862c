#!/usr/bin/env bash
# Runs every cargo-fuzz target (fuzz/fuzz_targets) for a fixed time each, with AddressSanitizer,
# from the committed seeds (fuzz/seeds/<target>) plus the corpus kept in the cache between runs.
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]      (default 60 s, every target)
# A crash stops the run (exit 1) and leaves the input in $FUZZ_CACHE/artifacts/<target>/; make
# it a regression test in the decoder's crate. Allocation is bounded: an input that makes the
# code allocate more than 512 MB at once, or use more than 2 GB, counts as a crash (the largest
# legitimate allocation is the storage decoder's bound, codec::MAX_SAMPLES samples: ~420 MB).
# Installs cargo-fuzz (crates.io) into the cache once; the stable toolchain runs cargo fuzz's
# nightly flags through RUSTC_BOOTSTRAP=1 (this machine has no other toolchain).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${1:-60}"
shift || true
cache="${SRMON_CACHE:-$HOME/.cache/srmon}"
FUZZ_CACHE="$cache/fuzz"
tools="$cache/tools"
export PATH="$tools/bin:$PATH"
export RUSTC_BOOTSTRAP=1
if ! command -v cargo-fuzz >/dev/null; then
    echo "[fuzz] installing cargo-fuzz into $tools (once)"
    cargo install cargo-fuzz --locked --version 0.13.2 --root "$tools" --quiet
fi
cd "$here/fuzz"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo fuzz list)
fi
target_dir="$FUZZ_CACHE/target"
echo "[fuzz] building ${#targets[@]} targets (target dir $target_dir)"
mkdir -p "$FUZZ_CACHE"
if ! cargo fuzz build --target-dir "$target_dir" >"$FUZZ_CACHE/build.log" 2>&1; then
    tail -30 "$FUZZ_CACHE/build.log"
    echo "[fuzz] the targets do not build" >&2
    exit 1
fi
for t in "${targets[@]}"; do
    corpus="$FUZZ_CACHE/corpus/$t"
    artifacts="$FUZZ_CACHE/artifacts/$t"
    mkdir -p "$corpus" "$artifacts"
    echo "[fuzz] $t: ${seconds}s"
    # new inputs go into the cache's corpus (first directory); the seeds are read only
    if ! cargo fuzz run --target-dir "$target_dir" "$t" "$corpus" "$here/fuzz/seeds/$t" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=512 -max_len=65536 \
        -artifact_prefix="$artifacts/" -print_final_stats=1 >"$FUZZ_CACHE/$t.log" 2>&1; then
        tail -40 "$FUZZ_CACHE/$t.log"
        echo "[fuzz] $t: CRASH (input in $artifacts/)" >&2
        exit 1
    fi
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$FUZZ_CACHE/$t.log" | grep -o '[0-9]*$' || echo '?')
    cov=$(grep -o 'cov: [0-9]*' "$FUZZ_CACHE/$t.log" | tail -1 | grep -o '[0-9]*' || echo '?')
    echo "[fuzz] $t: no crash in ${seconds}s: $runs inputs, coverage $cov edges, corpus $(ls "$corpus" | wc -l) files"
done
