# Consumer image: reads records from Kafka (consumer group, manual commits), forwards them in
# batches to api-backend's ingest endpoint, and sends records the backend rejects as invalid
# to the dead-letter topic. Serves /metrics and /health/* on 8000. Needs BOOTSTRAP_SERVER and
# API_BASE_URL (see .env.example).
#
# Build (from the workspace root):   docker build -f docker/consumer.Dockerfile -t srmon/consumer .
# Runs as the unprivileged user srmon (uid 10001); it needs no host access.

FROM rust:1-bookworm AS builder
# The bundled librdkafka (rdkafka-sys, mklove build; every workspace member that links it,
# and Cargo.lock resolves the whole workspace) needs a C/C++ toolchain, make, perl, python3
# (linker-script generator), pkg-config, zlib and OpenSSL headers (Kafka TLS/SASL); most are in the base image
# already, listed here so the requirement is explicit.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        build-essential pkg-config zlib1g-dev libssl-dev perl python3 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# sqlx macros (if any) use the checked-in offline data, never a live database.
ENV SQLX_OFFLINE=true
RUN cargo build --release --locked -p consumer \
    && install -D -m 0755 target/release/consumer /out/consumer

FROM debian:bookworm-slim
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates libssl3 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin srmon
COPY --from=builder /out/consumer /usr/local/bin/consumer
USER 10001:10001
EXPOSE 8000
# Plain bash, no curl in the image: GET /health/live must answer 200.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8000 && printf 'GET /health/live HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["/usr/local/bin/consumer"]
