#!/usr/bin/env bash
# Start and stop the real local services the tests and the local run use:
#
#   mariadb  MariaDB (Debian)          127.0.0.1:${SRMON_MYSQL_PORT:-3306}, user srmon/srmon
#   tansu    tansu Kafka-protocol broker 127.0.0.1:${SRMON_KAFKA_PORT:-9092}, memory storage
#   podman   podman's Docker-API service unix://$SRMON_SERVICES_DIR/podman.sock
#
# Usage: scripts/services.sh up|down|status|env [mariadb|tansu|podman ...]
#
#   up      install what is missing (Debian packages; tansu is built once into
#           $SRMON_CACHE/tansu-<version>), start the services that are not running
#           (running ones are reused), write $SRMON_SERVICES_DIR/env. Idempotent.
#   down    stop the services this script started (found by their pid files); data stays.
#   status  print up/down per service; exit 0 only when every named service is up.
#   env     print the env file (`. "$SRMON_SERVICES_DIR/env"` in a shell).
#
# Environment:
#   SRMON_CACHE          cache root                      (~/.cache/srmon)
#   SRMON_SERVICES_DIR   data, logs, pid files, env file ($SRMON_CACHE/services)
#   SRMON_MYSQL_PORT     MariaDB TCP port                (3306)
#   SRMON_MYSQL_BUFFER_POOL  InnoDB buffer pool size          (1G)
#   SRMON_MYSQL_ARGS     extra mariadbd options, e.g. --performance-schema=ON (benchmark diagnosis)
#   SRMON_KAFKA_PORT     broker TCP port                 (9092)
#   SRMON_STARTED_FILE   when set, `up` appends the name of every service it started
#                        (not the reused ones) to this file, one a line; scripts/test.sh
#                        uses it to stop only what it started.
#
# Logs: $SRMON_SERVICES_DIR/logs/<service>.log; pid files: $SRMON_SERVICES_DIR/pids/.
# Needs root (or sudo) for apt-get and for rootful podman.
set -euo pipefail

SRMON_CACHE="${SRMON_CACHE:-$HOME/.cache/srmon}"
SRMON_SERVICES_DIR="${SRMON_SERVICES_DIR:-$SRMON_CACHE/services}"
SRMON_MYSQL_PORT="${SRMON_MYSQL_PORT:-3306}"
SRMON_KAFKA_PORT="${SRMON_KAFKA_PORT:-9092}"

TANSU_VERSION=0.6.0
TANSU_ROOT="$SRMON_CACHE/tansu-$TANSU_VERSION"
TANSU_BIN="$TANSU_ROOT/bin/tansu"
TANSU_BUILD_LOG="$SRMON_CACHE/tansu-build.log"
KAFKA_TOPICS=("server-metrics:3" "server-metrics.dlq:1")

IMAGE=localhost/busybox:local
ALL_SERVICES=(mariadb tansu podman)

LOG_DIR="$SRMON_SERVICES_DIR/logs"
PID_DIR="$SRMON_SERVICES_DIR/pids"
ENV_FILE="$SRMON_SERVICES_DIR/env"
MYSQL_DATADIR="$SRMON_SERVICES_DIR/mariadb"
MYSQL_SOCK="$SRMON_SERVICES_DIR/mariadb.sock"
TANSU_WORKDIR="$SRMON_SERVICES_DIR/tansu"
PODMAN_SOCK="$SRMON_SERVICES_DIR/podman.sock"

# Packages `up` needs (prometheus and chromium for the tests: a real Prometheus, the
# dashboard in headless Chromium). Build tools are for cargo (tansu, and the workspace's bundled
# librdkafka: make, a C/C++ compiler, zlib, pkg-config, perl and python3 for its mklove
# build; cmake for tansu's aws-lc-sys).
RUNTIME_PACKAGES=(mariadb-server mariadb-client podman runc busybox-static prometheus chromium docker-compose curl ca-certificates procps python3-venv)
BUILD_PACKAGES=(build-essential cmake pkg-config zlib1g-dev libssl-dev perl python3)

if [[ $(id -u) -eq 0 ]]; then SUDO=(); else SUDO=(sudo); fi

for _port in "$SRMON_MYSQL_PORT" "$SRMON_KAFKA_PORT"; do
    if ! [[ $_port =~ ^[0-9]+$ ]] || ((_port < 1 || _port > 65535)); then
        echo "[services] invalid port '$_port' (SRMON_MYSQL_PORT / SRMON_KAFKA_PORT must be 1-65535)" >&2
        exit 2
    fi
done

# ---------------------------------------------------------------- helpers

log() { printf '[services] %s\n' "$*" >&2; }

die() {
    # die STEP MESSAGE [LOGFILE]
    local step=$1 msg=$2 logfile=${3:-}
    printf '\n[services] FAILED at step "%s": %s\n' "$step" "$msg" >&2
    if [[ -n $logfile ]]; then
        printf '[services] log: %s (last 30 lines below)\n' "$logfile" >&2
        if [[ -f $logfile ]]; then tail -n 30 "$logfile" | sed 's/^/    | /' >&2; fi
    fi
    exit 1
}

canon() {
    case "$1" in
        mariadb | mysql) echo mariadb ;;
        tansu | kafka) echo tansu ;;
        podman | docker) echo podman ;;
        *) echo "unknown service '$1' (known: ${ALL_SERVICES[*]})" >&2; exit 2 ;;
    esac
}

# pid_of NAME: the pid from the pid file if that process is alive and is what we started.
pid_of() {
    local name=$1 file="$PID_DIR/$1.pid" pid expect
    [[ -f $file ]] || return 1
    pid=$(<"$file")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ -r /proc/$pid/cmdline ]] || return 1
    case "$name" in
        mariadb) expect=mariadbd ;;
        tansu) expect=tansu ;;
        podman) expect=podman ;;
    esac
    local cmdline
    cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ $cmdline == *"$expect"* ]] || return 1
    echo "$pid"
}

is_up() { pid_of "$1" >/dev/null; }

# mark_started NAME: remember that this run started NAME (for SRMON_STARTED_FILE), at once,
# so a caller can stop it even when a later step of `up` fails.
mark_started() {
    STARTED+=("$1")
    if [[ -n ${SRMON_STARTED_FILE:-} ]]; then printf '%s\n' "$1" >>"$SRMON_STARTED_FILE"; fi
}

tcp_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start_bg NAME LOGFILE CMD...: start CMD detached (own session, stdin from /dev/null),
# output appended to LOGFILE, pid written to the pid file.
start_bg() {
    local name=$1 logfile=$2
    shift 2
    mkdir -p "$PID_DIR" "$LOG_DIR"
    if [[ -f $logfile ]] && (($(stat -c %s "$logfile") > 50 * 1024 * 1024)); then
        mv -f "$logfile" "$logfile.old"
    fi
    printf '\n===== %s: starting %s\n' "$(date -u +%FT%TZ)" "$*" >>"$logfile"
    # 9>&-: do not hand the lock of `up` to the daemon.
    setsid "$@" </dev/null >>"$logfile" 2>&1 9>&- &
    echo $! >"$PID_DIR/$name.pid"
}

# alive PID: the process exists and is not a zombie.
alive() { [[ -d /proc/$1 ]] && [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]; }

# wait_for NAME LOGFILE SECONDS CHECK...: poll CHECK until it succeeds; fail if the
# process died or the time ran out. While starting, the process is checked by its pid only:
# right after the fork it is still a copy of this script, not yet the program (is_up, which
# matches the command line, would call it gone).
wait_for() {
    local name=$1 logfile=$2 secs=$3
    shift 3
    local deadline=$((SECONDS + secs)) pid
    pid=$(<"$PID_DIR/$name.pid") 2>/dev/null || pid=
    until "$@" >/dev/null 2>&1; do
        if [[ -n $pid ]] && alive "$pid"; then :; else is_up "$name" || die "start $name" "$name exited during start-up" "$logfile"; fi
        ((SECONDS < deadline)) || die "start $name" "$name did not answer within ${secs}s" "$logfile"
        sleep 0.5
    done
}

stop_pid() {
    local name=$1 pid
    pid=$(pid_of "$name") || { rm -f "$PID_DIR/$name.pid"; return 0; }
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    local i
    for ((i = 0; i < 120; i++)); do
        alive "$pid" || break
        sleep 0.25
    done
    if alive "$pid"; then
        log "$name did not stop within 30s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.5
    fi
    rm -f "$PID_DIR/$name.pid"
}

# ---------------------------------------------------------------- installation

APT_UPDATED=0
apt_install() {
    # apt_install PKG...: install the packages that are not installed yet.
    local missing=() p
    for p in "$@"; do
        if [[ $(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true) != installed ]]; then
            missing+=("$p")
        fi
    done
    ((${#missing[@]})) || return 0
    command -v apt-get >/dev/null || die "install packages" "missing packages ${missing[*]} and no apt-get (Debian 12 expected)"
    mkdir -p "$LOG_DIR"
    local apt_log="$LOG_DIR/apt.log"
    log "installing Debian packages: ${missing[*]} (log: $apt_log)"
    # Keep package scripts from starting daemons (mariadb-server, prometheus would
    # otherwise try to start system services); we start our own on our own ports.
    local policy=/usr/sbin/policy-rc.d made_policy=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\n# temporary, written by srmon scripts/services.sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
        "${SUDO[@]}" chmod 755 "$policy"
        made_policy=1
    fi
    local rc=0
    {
        if ((APT_UPDATED == 0)); then
            "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update && APT_UPDATED=1
        fi
        "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
    } >>"$apt_log" 2>&1 </dev/null || rc=$?
    if ((made_policy)); then "${SUDO[@]}" rm -f "$policy"; fi
    ((rc == 0)) || die "install packages" "apt-get install ${missing[*]} failed" "$apt_log"
}

find_cargo() {
    if command -v cargo >/dev/null; then return 0; fi
    if [[ -x $HOME/.cargo/bin/cargo ]]; then PATH="$HOME/.cargo/bin:$PATH"; return 0; fi
    return 1
}

ensure_tansu() {
    [[ -x $TANSU_BIN ]] && return 0
    if command -v pgrep >/dev/null && pgrep -f 'cargo install tansu' >/dev/null; then
        log "a build of tansu is already running (log: $TANSU_BUILD_LOG); waiting for it"
        local waited=0
        while pgrep -f 'cargo install tansu' >/dev/null; do
            sleep 10
            if ((++waited % 6 == 0)); then log "... still waiting for the tansu build ($((waited / 6)) min)"; fi
        done
        [[ -x $TANSU_BIN ]] && return 0
        log "that build ended without $TANSU_BIN; building it here"
    fi
    find_cargo || die "build tansu" "cargo not found: install Rust with rustup first (https://rustup.rs)"
    apt_install "${BUILD_PACKAGES[@]}"
    mkdir -p "$SRMON_CACHE"
    log "building tansu $TANSU_VERSION into $TANSU_ROOT (once; ~15-25 min on 2 cores; log: $TANSU_BUILD_LOG)"
    # A target dir of its own so an interrupted build resumes, and so the workspace's
    # CARGO_TARGET_DIR is not filled with tansu's artifacts; removed after success.
    CARGO_TARGET_DIR="$SRMON_CACHE/tansu-build-target" \
        cargo install tansu --version "$TANSU_VERSION" --locked --features dynostore \
        --root "$TANSU_ROOT" >"$TANSU_BUILD_LOG" 2>&1 </dev/null 9>&- &
    local pid=$! rc=0 ticks=0
    while kill -0 "$pid" 2>/dev/null; do
        sleep 1
        if ((++ticks % 60 == 0)); then
            log "... still building tansu ($((ticks / 60)) min, $(grep -c Compiling "$TANSU_BUILD_LOG" || true) crates compiled)"
        fi
    done
    wait "$pid" || rc=$?
    ((rc == 0)) || die "build tansu" "cargo install tansu $TANSU_VERSION failed (exit $rc)" "$TANSU_BUILD_LOG"
    [[ -x $TANSU_BIN ]] || die "build tansu" "cargo install finished but $TANSU_BIN is missing" "$TANSU_BUILD_LOG"
    rm -rf "$SRMON_CACHE/tansu-build-target"
}

# ---------------------------------------------------------------- MariaDB

mysql_root() { mariadb --no-defaults --protocol=socket --socket="$MYSQL_SOCK" -uroot "$@"; }

mysql_setup_users() {
    local logfile="$LOG_DIR/mariadb.log" anon
    # Anonymous accounts (''@'localhost') would shadow 'srmon'@'%' for 127.0.0.1.
    anon=$(mysql_root -N -B -e "SELECT CONCAT('DROP USER IF EXISTS ''''@''', host, ''';') FROM mysql.user WHERE user=''" 2>>"$logfile") ||
        die "configure mariadb" "cannot query accounts as root over $MYSQL_SOCK" "$logfile"
    mysql_root 2>>"$logfile" <<SQL || die "configure mariadb" "creating user srmon / database srmon failed" "$logfile"
$anon
CREATE USER IF NOT EXISTS 'srmon'@'%' IDENTIFIED BY 'srmon';
CREATE USER IF NOT EXISTS 'srmon'@'localhost' IDENTIFIED BY 'srmon';
ALTER USER 'srmon'@'%' IDENTIFIED BY 'srmon';
ALTER USER 'srmon'@'localhost' IDENTIFIED BY 'srmon';
GRANT ALL PRIVILEGES ON *.* TO 'srmon'@'%' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO 'srmon'@'localhost' WITH GRANT OPTION;
CREATE DATABASE IF NOT EXISTS srmon CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;
FLUSH PRIVILEGES;
SQL
    mariadb --no-defaults -h127.0.0.1 -P"$SRMON_MYSQL_PORT" -usrmon -psrmon -e 'SELECT 1' srmon >/dev/null 2>>"$logfile" ||
        die "configure mariadb" "srmon/srmon cannot log in over TCP 127.0.0.1:$SRMON_MYSQL_PORT" "$logfile"
}

up_mariadb() {
    local logfile="$LOG_DIR/mariadb.log"
    apt_install mariadb-server mariadb-client
    mkdir -p "$LOG_DIR"
    if is_up mariadb; then
        log "mariadb: already running (pid $(pid_of mariadb)), reusing"
        wait_for mariadb "$logfile" 60 mariadb-admin --no-defaults --socket="$MYSQL_SOCK" -uroot ping
        mysql_setup_users
        return 0
    fi
    if tcp_open "$SRMON_MYSQL_PORT"; then
        die "start mariadb" "port 127.0.0.1:$SRMON_MYSQL_PORT is taken by a process this script did not start; stop it or set SRMON_MYSQL_PORT"
    fi
    if [[ ! -d $MYSQL_DATADIR/mysql ]]; then
        log "mariadb: initialising $MYSQL_DATADIR"
        rm -rf "$MYSQL_DATADIR"
        mkdir -p "$MYSQL_DATADIR"
        mariadb-install-db --no-defaults --user="$(id -un)" --datadir="$MYSQL_DATADIR" \
            --auth-root-authentication-method=normal --skip-test-db >>"$logfile" 2>&1 </dev/null ||
            die "initialise mariadb" "mariadb-install-db failed" "$logfile"
    fi
    rm -f "$MYSQL_SOCK"
    log "mariadb: starting on 127.0.0.1:$SRMON_MYSQL_PORT (log: $logfile)"
    # Test/bench tuning kept harmless: more connections (many tests run in parallel); a buffer
    # pool that holds the sample tables' hot pages (each monitored machine appends to its own
    # page of the (machine_id, sampled_at) keys: 22,000 machines are ~350 MB; with the 128 MB
    # default MariaDB read ~3,900 pages/s from disk at 2,000 hosts x 10 containers).
    # Durability settings stay at their defaults, as in production.
    start_bg mariadb "$logfile" "$(command -v mariadbd)" --no-defaults --user="$(id -un)" \
        --datadir="$MYSQL_DATADIR" --socket="$MYSQL_SOCK" --port="$SRMON_MYSQL_PORT" \
        --bind-address=127.0.0.1 --pid-file="$SRMON_SERVICES_DIR/mariadb/mariadbd.pid" \
        --max-connections=500 --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
        --innodb-buffer-pool-size="${SRMON_MYSQL_BUFFER_POOL:-1G}" --skip-log-bin ${SRMON_MYSQL_ARGS:-}
    mark_started mariadb
    wait_for mariadb "$logfile" 120 mariadb-admin --no-defaults --socket="$MYSQL_SOCK" -uroot ping
    mysql_setup_users
}

# ---------------------------------------------------------------- tansu

create_topics() {
    local logfile="$LOG_DIR/tansu.log" spec name parts out
    for spec in "${KAFKA_TOPICS[@]}"; do
        name=${spec%%:*}
        parts=${spec##*:}
        if out=$(cd "$TANSU_WORKDIR" && "$TANSU_BIN" topic create "$name" --partitions "$parts" \
            --broker "tcp://127.0.0.1:$SRMON_KAFKA_PORT" 2>&1 </dev/null); then
            log "tansu: topic $name ($parts partitions) created"
        elif grep -qiE 'already ?exists' <<<"$out"; then
            :
        else
            printf '%s\n' "$out" >>"$logfile"
            die "create topic $name" "tansu topic create $name failed: $(tail -n 3 <<<"$out")" "$logfile"
        fi
    done
}

up_tansu() {
    local logfile="$LOG_DIR/tansu.log"
    ensure_tansu
    mkdir -p "$LOG_DIR" "$TANSU_WORKDIR"
    if is_up tansu; then
        log "tansu: already running (pid $(pid_of tansu)), reusing"
        wait_for tansu "$logfile" 60 tcp_open "$SRMON_KAFKA_PORT"
        create_topics
        return 0
    fi
    if tcp_open "$SRMON_KAFKA_PORT"; then
        die "start tansu" "port 127.0.0.1:$SRMON_KAFKA_PORT is taken by a process this script did not start; stop it or set SRMON_KAFKA_PORT"
    fi
    log "tansu: starting broker on 127.0.0.1:$SRMON_KAFKA_PORT, memory storage (log: $logfile)"
    # Run from a folder of its own: tansu reads a .env file from its working directory.
    (
        cd "$TANSU_WORKDIR"
        start_bg tansu "$logfile" "$TANSU_BIN" broker \
            --listener-url "tcp://127.0.0.1:$SRMON_KAFKA_PORT" \
            --advertised-listener-url "tcp://127.0.0.1:$SRMON_KAFKA_PORT" \
            --storage-engine memory://tansu/
    )
    mark_started tansu
    wait_for tansu "$logfile" 60 tcp_open "$SRMON_KAFKA_PORT"
    create_topics
}

# ---------------------------------------------------------------- podman

CONF_MARKER='# srmon: written by scripts/services.sh'

containers_conf_path() {
    if [[ $(id -u) -eq 0 ]]; then echo /etc/containers/containers.conf; else echo "${XDG_CONFIG_HOME:-$HOME/.config}/containers/containers.conf"; fi
}

# The sandbox these machines run in forbids raising rlimits (podman's default
# nofile/nproc), and crun fails on the hybrid cgroup layout; runc works.
write_containers_conf() {
    local conf tmp
    conf=$(containers_conf_path)
    mkdir -p "$(dirname "$conf")"
    tmp=$(mktemp)
    if [[ ! -s $conf ]] || grep -qF "$CONF_MARKER" "$conf"; then
        cat >"$tmp" <<EOF
$CONF_MARKER (safe to edit: remove this line to keep your changes)
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1000:1000"]

[engine]
runtime = "runc"
EOF
    else
        # Someone else's file: set our two keys in their sections, keep everything else.
        awk -v ul='default_ulimits = ["nofile=1024:1024", "nproc=1000:1000"]' -v rt='runtime = "runc"' '
            function flush_missing() {
                if (sec == "containers" && !did_c) { print ul; did_c = 1 }
                if (sec == "engine" && !did_e) { print rt; did_e = 1 }
            }
            /^[[:space:]]*\[[^]]+\][[:space:]]*$/ {
                flush_missing()
                s = $0; gsub(/[[:space:]\[\]]/, "", s); sec = s
                print
                next
            }
            sec == "containers" && /^[[:space:]]*default_ulimits[[:space:]]*=/ { if (!did_c) { print ul; did_c = 1 }; skip = ($0 ~ /\[[^]]*$/); next }
            skip { if ($0 ~ /\]/) skip = 0; next }
            sec == "engine" && /^[[:space:]]*runtime[[:space:]]*=/ { if (!did_e) { print rt; did_e = 1 }; next }
            { print }
            END {
                flush_missing()
                if (!did_c) { print ""; print "[containers]"; print ul }
                if (!did_e) { print ""; print "[engine]"; print rt }
            }' "$conf" >"$tmp"
    fi
    if ! cmp -s "$tmp" "$conf" 2>/dev/null; then
        log "podman: writing $conf"
        cat "$tmp" >"$conf"
    fi
    rm -f "$tmp"
}

build_image() {
    local logfile="$LOG_DIR/podman.log"
    if podman image exists "$IMAGE" 2>/dev/null; then return 0; fi
    log "podman: building $IMAGE from busybox-static"
    local bb tmp a
    bb=$(dpkg -L busybox-static 2>/dev/null | grep -E '/bin/busybox$' | head -n1 || true)
    [[ -n $bb && -x $bb ]] || die "build image" "busybox-static's /bin/busybox not found"
    tmp=$(mktemp -d)
    mkdir -p "$tmp/rootfs"/{bin,etc,tmp,proc,sys,dev,root,var/tmp}
    cp "$bb" "$tmp/rootfs/bin/busybox"
    for a in $("$tmp/rootfs/bin/busybox" --list); do
        [[ $a == busybox ]] || ln -sf busybox "$tmp/rootfs/bin/$a"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$tmp/rootfs/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$tmp/rootfs/etc/group"
    chmod 1777 "$tmp/rootfs/tmp" "$tmp/rootfs/var/tmp"
    tar -C "$tmp/rootfs" -cf "$tmp/busybox.tar" .
    podman import --change 'CMD ["/bin/sh"]' --change 'ENV PATH=/bin' \
        "$tmp/busybox.tar" "$IMAGE" >>"$logfile" 2>&1 </dev/null ||
        { rm -rf "$tmp"; die "build image" "podman import of $IMAGE failed" "$logfile"; }
    rm -rf "$tmp"
}

podman_ping() { [[ $(curl -sS --max-time 3 --unix-socket "$PODMAN_SOCK" http://d/_ping 2>/dev/null) == OK ]]; }

up_podman() {
    local logfile="$LOG_DIR/podman.log"
    apt_install podman runc busybox-static curl
    mkdir -p "$LOG_DIR"
    write_containers_conf
    build_image
    if is_up podman; then
        log "podman: Docker-API service already running (pid $(pid_of podman)), reusing"
        wait_for podman "$logfile" 30 podman_ping
    else
        rm -f "$PODMAN_SOCK"
        log "podman: starting Docker-API service on unix://$PODMAN_SOCK (log: $logfile)"
        start_bg podman "$logfile" "$(command -v podman)" system service --time=0 "unix://$PODMAN_SOCK"
        mark_started podman
        wait_for podman "$logfile" 60 podman_ping
    fi
    local out
    if ! out=$(podman run --rm --network none "$IMAGE" /bin/true 2>&1 </dev/null); then
        printf '%s\n' "$out" >>"$logfile"
        die "run a container" "podman run --rm --network none $IMAGE /bin/true failed: $(tail -n 5 <<<"$out")" "$logfile"
    fi
}

# ---------------------------------------------------------------- schemathesis

# schemathesis (PyPI), for the API description tests (crates/e2e/tests/schemathesis.rs):
# installed once into a virtualenv in the cache.
SCHEMATHESIS_VERSION=4.32.5
SCHEMATHESIS_VENV="$SRMON_CACHE/tools/schemathesis-$SCHEMATHESIS_VERSION"
SCHEMATHESIS_BIN="$SCHEMATHESIS_VENV/bin/st"

ensure_schemathesis() {
    [[ -x $SCHEMATHESIS_BIN ]] && return 0
    log "installing schemathesis $SCHEMATHESIS_VERSION into $SCHEMATHESIS_VENV (once)"
    local logfile="$LOG_DIR/schemathesis-install.log"
    rm -rf "$SCHEMATHESIS_VENV"
    python3 -m venv "$SCHEMATHESIS_VENV" >"$logfile" 2>&1 \
        && "$SCHEMATHESIS_VENV/bin/pip" install --quiet "schemathesis==$SCHEMATHESIS_VERSION" >>"$logfile" 2>&1 \
        || die "install schemathesis" "pip install schemathesis==$SCHEMATHESIS_VERSION failed" "$logfile"
}

# ---------------------------------------------------------------- env file

q() { printf '%q' "$1"; }

write_env() {
    mkdir -p "$SRMON_SERVICES_DIR"
    local tmp="$ENV_FILE.tmp.$$" promtool compose
    {
        echo "# Written by scripts/services.sh; source it: . $(q "$ENV_FILE")"
        if is_up mariadb; then echo "export SRMON_TEST_MYSQL_URL=$(q "mysql://srmon:srmon@127.0.0.1:$SRMON_MYSQL_PORT")"; fi
        if is_up tansu; then echo "export SRMON_TEST_BOOTSTRAP=$(q "127.0.0.1:$SRMON_KAFKA_PORT")"; fi
        if is_up podman; then
            echo "export SRMON_TEST_DOCKER_HOST=$(q "unix://$PODMAN_SOCK")"
            echo "export SRMON_TEST_IMAGE=$(q "$IMAGE")"
        fi
        if [[ -x $TANSU_BIN ]]; then echo "export SRMON_TANSU=$(q "$TANSU_BIN")"; fi
        if promtool=$(command -v promtool); then echo "export SRMON_PROMTOOL=$(q "$promtool")"; fi
        if compose=$(command -v docker-compose); then echo "export SRMON_DOCKER_COMPOSE=$(q "$compose")"; fi
        if [[ -x $SCHEMATHESIS_BIN ]]; then echo "export SRMON_SCHEMATHESIS=$(q "$SCHEMATHESIS_BIN")"; fi
    } >"$tmp"
    mv -f "$tmp" "$ENV_FILE"
}

# ---------------------------------------------------------------- commands

status_line() {
    local name=$1 pid
    if pid=$(pid_of "$name"); then
        case "$name" in
            mariadb) printf '%-8s up    pid %-7s 127.0.0.1:%s  log %s\n' "$name" "$pid" "$SRMON_MYSQL_PORT" "$LOG_DIR/mariadb.log" ;;
            tansu) printf '%-8s up    pid %-7s 127.0.0.1:%s  log %s\n' "$name" "$pid" "$SRMON_KAFKA_PORT" "$LOG_DIR/tansu.log" ;;
            podman) printf '%-8s up    pid %-7s unix://%s  log %s\n' "$name" "$pid" "$PODMAN_SOCK" "$LOG_DIR/podman.log" ;;
        esac
        return 0
    fi
    printf '%-8s down\n' "$name"
    return 1
}

main() {
    local cmd=${1:-}
    [[ $# -gt 0 ]] && shift
    local names=() n
    for n in "$@"; do names+=("$(canon "$n")"); done
    ((${#names[@]})) || names=("${ALL_SERVICES[@]}")

    case "$cmd" in
        up)
            mkdir -p "$SRMON_SERVICES_DIR" "$LOG_DIR" "$PID_DIR"
            # One `up`/`down` at a time on this machine.
            exec 9>"$SRMON_SERVICES_DIR/.lock"
            flock 9
            STARTED=()
            # Build tools too: scripts/test.sh and run-local.sh build the workspace next.
            apt_install "${RUNTIME_PACKAGES[@]}" "${BUILD_PACKAGES[@]}"
            ensure_schemathesis
            for n in "${names[@]}"; do "up_$n"; done
            write_env
            log "up: ${names[*]} (started now: ${STARTED[*]:-none}); env file: $ENV_FILE"
            ;;
        down)
            mkdir -p "$SRMON_SERVICES_DIR"
            exec 9>"$SRMON_SERVICES_DIR/.lock"
            flock 9
            for n in "${names[@]}"; do stop_pid "$n"; done
            write_env
            ;;
        status)
            local rc=0
            for n in "${names[@]}"; do status_line "$n" || rc=3; done
            return $rc
            ;;
        env)
            [[ -f $ENV_FILE ]] || { echo "no env file at $ENV_FILE: run scripts/services.sh up" >&2; return 1; }
            cat "$ENV_FILE"
            ;;
        *)
            sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
            return 2
            ;;
    esac
}

main "$@"
