# api-backend image: the dashboard at / and the HTTP API (ingest, queries, thresholds,
# alerts, compat /api, SSE, WebSocket, /metrics/machines) over MySQL; applies the sqlx migrations at start. Serves 8004. Needs
# DATABASE_URL (or the DATABASE_* parts; see .env.example).
#
# Build (from the workspace root):   docker build -f docker/api-backend.Dockerfile -t srmon/api-backend .
# Runs as the unprivileged user srmon (uid 10001); it needs no host access.

# The dashboard (web/): built with npm from the committed lock file, embedded by cargo below.
FROM node:20-bookworm-slim AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build

FROM rust:1-bookworm AS builder
# The bundled librdkafka (rdkafka-sys, mklove build; every workspace member that links it,
# and Cargo.lock resolves the whole workspace) needs a C/C++ toolchain, make, perl, python3
# (linker-script generator), pkg-config and zlib headers; most are in the base image
# already, listed here so the requirement is explicit.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        build-essential pkg-config zlib1g-dev libssl-dev perl python3 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
COPY --from=web /web/dist web/dist
# sqlx macros (if any) use the checked-in offline data, never a live database.
ENV SQLX_OFFLINE=true
RUN cargo build --release --locked -p api-backend \
    && install -D -m 0755 target/release/api-backend /out/api-backend

FROM debian:bookworm-slim
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin srmon
COPY --from=builder /out/api-backend /usr/local/bin/api-backend
# sqlx migrations: embedded in the binary at build time; this copy (./migrations from the
# working directory) also serves a binary that reads them at run time.
WORKDIR /app
COPY migrations /app/migrations
USER 10001:10001
EXPOSE 8004
# Plain bash, no curl in the image: GET /health/live must answer 200.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8004 && printf 'GET /health/live HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["/usr/local/bin/api-backend"]
