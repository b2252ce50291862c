# Busybox containers for the benchmarks that sample real ones (sourced; needs SOCK, the
# Docker-API socket path, and SRMON_TEST_IMAGE from scripts/services.sh's env file).

# bench_containers_start N: srmon-bench-1..N, each running a 1 s sleep loop, no network.
bench_containers_start() {
    echo "starting $1 containers" >&2
    bench_containers_remove "$1"
    for i in $(seq 1 "$1"); do
        podman --url "unix://$SOCK" run -d --name "srmon-bench-$i" --network none "$SRMON_TEST_IMAGE" \
            /bin/sh -c 'while true; do sleep 1; done' >/dev/null
    done
}

# bench_containers_remove N: removes srmon-bench-1..N, whichever exist.
bench_containers_remove() {
    for i in $(seq 1 "$1"); do podman --url "unix://$SOCK" rm -f -t 0 "srmon-bench-$i" >/dev/null 2>&1 || true; done
}
