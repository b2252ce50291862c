# Collector image: samples the HOST it runs on (/proc, /sys, filesystems) and the host's
# Docker containers, and produces records to Kafka. Serves /metrics and /health/* on 8001.
#
# Build (from the workspace root):   docker build -f docker/collector.Dockerfile -t srmon/collector .
#
# The container must see the host, not itself. Run it with (docker-compose.collector.yml
# does exactly this):
#   -v /proc:/host/proc:ro            host CPU, memory, load, disks, network, uptime
#   -v /sys:/host/sys:ro              temperatures (hwmon/thermal), block and net devices
#   -v /:/hostfs:ro,rslave            filesystem usage of the host's mounts, /etc/machine-id
#   -v /var/run/docker.sock:/var/run/docker.sock   Docker API: container stats and events
#   --network host                    the host's interfaces in /proc/net/dev, not a veth
#   --pid host                        /proc/1/mounts is the host's init, so mounts are the host's
#   -e PROC_ROOT=/host/proc -e SYS_ROOT=/host/sys -e HOST_ROOTFS=/hostfs
#   -e BOOTSTRAP_SERVER=kafka:9092 [-e HOST_ID=... -e HOST_NAME=...]
#
# User: it runs as root by default, because the Docker socket is owned by root:docker
# (mode 660) and the docker group's gid differs from host to host. All host mounts are
# read-only and the image holds nothing but the binary. To run unprivileged instead,
# run it as the image's `srmon` user (uid 10001) and add the host's docker group id:
#   --user 10001 --group-add "$(getent group docker | cut -d: -f3)"
# (compose: `user: "10001"` and `group_add: ["<gid>"]`). Access to the Docker socket is
# root-equivalent on that host either way; only grant it to this image.

FROM rust:1-bookworm AS builder
# The bundled librdkafka (rdkafka-sys, mklove build) needs a C/C++ toolchain, make, perl,
# python3 (linker-script generator), pkg-config, zlib and OpenSSL headers (Kafka TLS/SASL); most are in the base
# image already, listed here so the requirement is explicit.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        build-essential pkg-config zlib1g-dev libssl-dev perl python3 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# sqlx macros (if any) use the checked-in offline data, never a live database.
ENV SQLX_OFFLINE=true
RUN cargo build --release --locked -p collector \
    && install -D -m 0755 target/release/collector /out/collector

FROM debian:bookworm-slim
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates libssl3 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin srmon
COPY --from=builder /out/collector /usr/local/bin/collector
# root by default: see "User" above.
USER root
EXPOSE 8001
# Plain bash, no curl in the image: GET /health/live must answer 200.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8001 && printf 'GET /health/live HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["/usr/local/bin/collector"]
