#!/usr/bin/env bash
# Real-server tooling for integration tests: Redis, PostgreSQL 15, MongoDB-wire
# (mongo-java-server, in memory), RabbitMQ and Kafka (KRaft), all running as
# plain processes on 127.0.0.1 without Docker (docker-compose.yml has the Docker
# equivalent). Installs what is missing (apt-get, mvn), caches builds and data
# under $CRM_SERVICES_CACHE (default: <repo>/.cache/services); data survives
# restarts, except Mongo's (see below).
#
# Usage:
#   scripts/services.sh up      [redis|postgres|mongo|rabbitmq|kafka ...]  # install + start + wait; prints env lines
#   scripts/services.sh down    [names...]                          # stop (all when no names)
#   scripts/services.sh start   <name...>                           # start + wait for readiness
#   scripts/services.sh stop    <name...>                           # stop, wait until the port is closed
#   scripts/services.sh restart <name...>                           # stop + start
#   scripts/services.sh status  [names...]
#   scripts/services.sh env     [--export] [names...]               # print the env lines
#
# Env lines go to stdout (one KEY=VALUE a line), progress goes to stderr, so:
#   export $(scripts/services.sh up)
#   eval "$(scripts/services.sh env --export)"
# The lines: REDIS_URL=redis://127.0.0.1:6379
#   POSTGRES_URL=postgres://postgres@127.0.0.1:5433/crm_automation
#   MONGODB_URI=mongodb://127.0.0.1:27017
#   RABBITMQ_URL=amqp://guest:guest@127.0.0.1:5672  KAFKA_BROKERS=127.0.0.1:9092
#
# PostgreSQL: Debian's postgresql-15, but never its system cluster (none is
# created on install; an existing one is left alone): a cluster of our own in
# $CACHE/postgres/data, run as the postgres OS user, on 127.0.0.1:5433 (5432 is
# the system cluster's), unix socket in $CACHE/postgres/run, databases
# crm_automation and crm_automation_test. `restart postgres` really stops and
# starts the server; data survives.
#
# Mongo is mongo-java-server (scripts/mongo-java-server/, built once with mvn),
# not FerretDB: the engine relies on MongoDB's per-document atomicity, e.g. a
# findOneAndUpdate from pending to claimed under concurrent claimers; FerretDB v1
# runs it as read, filter, then write by _id, so one document was claimed many
# times (16 claimers, 300 triggers: 1,517 claims), while mongo-java-server
# claims each exactly once (scripts/mongo-java-server/atomicity-probe.mjs).
# Its data is IN MEMORY: `restart mongo` starts empty, so restart-recovery
# tests cut connections through a proxy instead of restarting it.
# If MONGODB_URI is set and points anywhere but 127.0.0.1:27017, `up mongo`
# only pings that server and does not start mongo-java-server.
# Kafka: single node, auto.create.topics.enable=true, num.partitions=3.
# Optional, only when named (`up secantus`; never part of `up`/`down` without
# names, nor of CI): secantus, secantusd-rs (crate secantus-mdb, GPL-2.0, beta)
# on 127.0.0.1:27018, a MongoDB-wire server with index use and `explain`, for
# benchmarks; built once with cargo under $HOME/.cache/crm-automation/secantus
# (see scripts/secantus/README.md). Its env line is SECANTUS_MONGODB_URI=...
# Knobs: CRM_SERVICES_CACHE, CRM_SERVICES_PORT_OFFSET (shift all ports, for an
# isolated second set), CRM_SERVICES_START_TIMEOUT (s, default 120),
# CRM_SERVICES_STOP_TIMEOUT (s before SIGKILL, default 30),
# CRM_SERVICES_EXTERNAL_TIMEOUT (s to wait for an external MONGODB_URI, default 30),
# CRM_MONGO_HEAP (mongo-java-server's -Xmx, default 2g),
# CRM_MONGO_SERVER_VERSION (what mongo-java-server reports: 4.0 or 5.0, default 5.0).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${CRM_SERVICES_CACHE:-$REPO/.cache/services}"
ALL_SERVICES=(redis postgres mongo rabbitmq kafka)

# CRM_SERVICES_PORT_OFFSET shifts every port (e.g. 10000 -> redis on 16379) so a
# second, isolated set of servers can run next to the default one (use it with
# its own CRM_SERVICES_CACHE). Default 0: the standard ports below.
PORT_OFFSET="${CRM_SERVICES_PORT_OFFSET:-0}"
[[ "$PORT_OFFSET" =~ ^[0-9]+$ ]] || { echo "[services] ERROR: CRM_SERVICES_PORT_OFFSET must be a number" >&2; exit 1; }
REDIS_PORT=$((6379 + PORT_OFFSET))
POSTGRES_PORT=$((5433 + PORT_OFFSET))
MONGO_PORT=$((27017 + PORT_OFFSET))
RABBIT_PORT=$((5672 + PORT_OFFSET))
RABBIT_DIST_PORT=$((25672 + PORT_OFFSET))
KAFKA_PORT=$((9092 + PORT_OFFSET))
KAFKA_CONTROLLER_PORT=$((9093 + PORT_OFFSET))

POSTGRES_MAJOR=15
KAFKA_VERSION=3.9.1
SLF4J_VERSION=1.7.36
if (( PORT_OFFSET == 0 )); then RABBIT_NODE=rabbit@localhost; else RABBIT_NODE="rabbit${PORT_OFFSET}@localhost"; fi

DEFAULT_MONGODB_URI="mongodb://127.0.0.1:${MONGO_PORT}"

# Readiness timeouts (seconds); override for slow machines.
START_TIMEOUT="${CRM_SERVICES_START_TIMEOUT:-120}"
STOP_TIMEOUT="${CRM_SERVICES_STOP_TIMEOUT:-30}"

log() { printf '[services] %s\n' "$*" >&2; }
die() { printf '[services] ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- helpers ----

now() { date +%s; }

# port_open PORT -> 0 when something accepts TCP connections on 127.0.0.1:PORT
port_open() {
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# wait_port_closed NAME PORT TIMEOUT
wait_port_closed() {
  local name=$1 port=$2 t=$3 start
  start=$(now)
  while port_open "$port"; do
    if (( $(now) - start >= t )); then
      die "$name: port $port still open after ${t}s"
    fi
    sleep 0.2
  done
}

# pid_alive PID
pid_alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; }

# cmd_matches PID REGEX -> the process's command line matches REGEX (guards
# against stale pid files whose pid was reused by an unrelated process)
cmd_matches() {
  [[ -z "${2:-}" ]] && return 0
  tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -Eq -- "$2"
}

# read_pid FILE [REGEX] -> prints pid if the file exists, the process is alive
# (and its command line matches REGEX)
read_pid() {
  local f=$1 pid
  [[ -f "$f" ]] || return 1
  pid=$(tr -dc '0-9' <"$f")
  pid_alive "$pid" || return 1
  cmd_matches "$pid" "${2:-}" || return 1
  printf '%s\n' "$pid"
}

# pid_on_port PORT [REGEX] -> pid of the process listening on 127.0.0.1:PORT
# (if any, and if its command line matches REGEX)
pid_on_port() {
  local port=$1 pid=""
  if command -v ss >/dev/null 2>&1; then
    pid=$(ss -Hltnp "sport = :$port" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n1 | cut -d= -f2 || true)
  fi
  if [[ -z "$pid" ]] && command -v fuser >/dev/null 2>&1; then
    pid=$(fuser -n tcp "$port" 2>/dev/null | tr -s ' ' '\n' | grep -E '^[0-9]+$' | head -n1 || true)
  fi
  [[ -n "$pid" ]] || return 1
  cmd_matches "$pid" "${2:-}" || return 1
  printf '%s\n' "$pid"
}

# kill_and_wait NAME PID PORT : SIGTERM, wait STOP_TIMEOUT, SIGKILL, wait for port close
kill_and_wait() {
  local name=$1 pid=$2 port=$3 start
  start=$(now)
  kill -TERM "$pid" 2>/dev/null || true
  while pid_alive "$pid"; do
    if (( $(now) - start >= STOP_TIMEOUT )); then
      log "$name: pid $pid did not exit after ${STOP_TIMEOUT}s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
      break
    fi
    sleep 0.2
  done
  wait_port_closed "$name" "$port" 15
}

# spawn NAME PIDFILE LOGFILE CMD... : run CMD detached (own session), pid -> PIDFILE
spawn() {
  local name=$1 pidfile=$2 logfile=$3
  shift 3
  rm -f "$pidfile"
  {
    printf '\n===== %s starting %s at %s =====\n' "$name" "$*" "$(date -Is)"
  } >>"$logfile"
  # The inner shell records its own pid and then execs the server, so the pid
  # file holds the server's pid.
  # 9>&-: do not leak the with_lock file descriptor into the long-lived server.
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" \
    </dev/null >>"$logfile" 2>&1 9>&- &
  local _
  for _ in $(seq 1 50); do
    [[ -s "$pidfile" ]] && return 0
    sleep 0.1
  done
  die "$name: failed to spawn (see $logfile)"
}

# wait_ready NAME TIMEOUT PIDFILE LOGFILE CHECK_FN [ARGS...]
wait_ready() {
  local name=$1 t=$2 pidfile=$3 logfile=$4 start
  shift 4
  start=$(now)
  while ! "$@" >/dev/null 2>&1; do
    if [[ -n "$pidfile" ]] && ! read_pid "$pidfile" >/dev/null; then
      log "$name: process exited during startup; last log lines ($logfile):"
      tail -n 30 "$logfile" >&2 || true
      die "$name failed to start"
    fi
    if (( $(now) - start >= t )); then
      log "$name: not ready after ${t}s; last log lines ($logfile):"
      tail -n 30 "$logfile" >&2 || true
      die "$name failed to become ready"
    fi
    sleep 0.3
  done
  log "$name: ready after $(( $(now) - start ))s"
}

with_lock() {
  # Serialise concurrent invocations for the same service.
  local name=$1
  shift
  mkdir -p "$CACHE/locks"
  (
    flock -w 900 9 || die "$name: could not acquire lock $CACHE/locks/$name.lock"
    "$@"
  ) 9>"$CACHE/locks/$name.lock"
}

# apt_install PKG... : install Debian packages without starting their services.
apt_install() {
  local created_policy=0 rc=0
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install $* manually"
  [[ $(id -u) -eq 0 ]] || die "need root to apt-get install $* (or install it manually)"
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    # Prevent postinst scripts from starting services (no systemd here).
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    created_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  log "apt-get install $*"
  if ! apt-get install -y -q --no-install-recommends "$@" >&2; then
    log "apt-get install failed; running apt-get update and retrying"
    apt-get update -q >&2 || true
    apt-get install -y -q --no-install-recommends "$@" >&2 || rc=$?
  fi
  if (( created_policy )); then rm -f /usr/sbin/policy-rc.d; fi
  (( rc == 0 )) || die "apt-get install $* failed"
}

# node_probe KIND HOST PORT : raw-wire readiness probes (no npm packages needed)
#   mongo: OP_MSG {ping:1,$db:"admin"} -> ok == 1
#   kafka: Metadata v0 request -> at least one live broker
node_probe() {
  command -v node >/dev/null 2>&1 || die "node is required for readiness probes"
  node - "$@" <<'EOF'
const net = require('net');
const [kind, host, port] = process.argv.slice(2);
const fail = (m) => { if (process.env.PROBE_DEBUG) console.error(m); process.exit(1); };
setTimeout(() => fail('timeout'), 4000).unref();

function bsonPing() {
  const parts = [];
  const cstr = (s) => Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]);
  const i32 = (n) => { const b = Buffer.alloc(4); b.writeInt32LE(n); return b; };
  parts.push(Buffer.from([0x10]), cstr('ping'), i32(1));
  const db = cstr('admin');
  parts.push(Buffer.from([0x02]), cstr('$db'), i32(db.length), db);
  const body = Buffer.concat([...parts, Buffer.from([0])]);
  return Buffer.concat([i32(body.length + 4), body]);
}

// Minimal top-level BSON reader: returns the value of `key` for simple types.
function bsonGet(doc, key) {
  let off = 4;
  const end = doc.readInt32LE(0) - 1;
  while (off < end) {
    const type = doc[off++];
    const z = doc.indexOf(0, off);
    const name = doc.toString('utf8', off, z);
    off = z + 1;
    let val, len;
    switch (type) {
      case 0x01: val = doc.readDoubleLE(off); len = 8; break;
      case 0x02: case 0x0d: case 0x0e: len = 4 + doc.readInt32LE(off); val = doc.toString('utf8', off + 4, off + len - 1); break;
      case 0x03: case 0x04: case 0x0f: len = doc.readInt32LE(off); break;
      case 0x05: len = 5 + doc.readInt32LE(off); break;
      case 0x07: len = 12; break;
      case 0x08: val = doc[off] === 1; len = 1; break;
      case 0x09: case 0x11: case 0x12: len = 8; val = type === 0x12 ? Number(doc.readBigInt64LE(off)) : undefined; break;
      case 0x0a: case 0x06: case 0xff: case 0x7f: len = 0; val = null; break;
      case 0x10: val = doc.readInt32LE(off); len = 4; break;
      case 0x13: len = 16; break;
      default: return undefined;
    }
    if (name === key) return val;
    off += len;
  }
  return undefined;
}

function mongo() {
  const doc = bsonPing();
  const hdr = Buffer.alloc(16 + 4 + 1);
  hdr.writeInt32LE(16 + 4 + 1 + doc.length, 0);
  hdr.writeInt32LE(1, 4);      // requestID
  hdr.writeInt32LE(0, 8);      // responseTo
  hdr.writeInt32LE(2013, 12);  // OP_MSG
  hdr.writeUInt32LE(0, 16);    // flagBits
  hdr[20] = 0;                 // section kind 0 (body)
  const msg = Buffer.concat([hdr, doc]);
  const sock = net.connect({ host, port: +port }, () => sock.write(msg));
  let buf = Buffer.alloc(0);
  sock.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    if (buf.length < 4 || buf.length < buf.readInt32LE(0)) return;
    const opCode = buf.readInt32LE(12);
    if (opCode !== 2013) fail('unexpected opCode ' + opCode);
    if (buf[20] !== 0) fail('unexpected section kind');
    const ok = bsonGet(buf.subarray(21), 'ok');
    sock.destroy();
    if (ok === 1 || ok === true) process.exit(0);
    fail('ping not ok: ' + ok);
  });
  sock.on('error', (e) => fail(e.message));
  // A peer that hangs up without a reply (e.g. PostgreSQL on that port) is not ready: without this the
  // process would just run out of work and exit 0.
  sock.on('close', () => fail('connection closed before a reply'));
}

function kafka() {
  const clientId = Buffer.from('crm-services-probe');
  const body = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length + 4);
  let o = 0;
  o = body.writeInt16BE(3, o);           // api_key Metadata
  o = body.writeInt16BE(0, o);           // api_version 0
  o = body.writeInt32BE(42, o);          // correlation_id
  o = body.writeInt16BE(clientId.length, o);
  o += clientId.copy(body, o);
  o = body.writeInt32BE(0, o);           // topics: [] (v0: all topics)
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length);
  const sock = net.connect({ host, port: +port }, () => sock.write(Buffer.concat([size, body])));
  let buf = Buffer.alloc(0);
  sock.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    if (buf.length < 4 || buf.length < 4 + buf.readInt32BE(0)) return;
    const corr = buf.readInt32BE(4);
    if (corr !== 42) fail('bad correlation id');
    const brokers = buf.readInt32BE(8);
    sock.destroy();
    if (brokers > 0) process.exit(0);
    fail('no live brokers yet');
  });
  sock.on('error', (e) => fail(e.message));
  sock.on('close', () => fail('connection closed before a reply'));
}

if (kind === 'mongo') mongo();
else if (kind === 'kafka') kafka();
else fail('unknown probe ' + kind);
EOF
}

# -------------------------------------------------------------------- redis --

REDIS_DIR="$CACHE/redis"
REDIS_PID="$REDIS_DIR/redis.pid"
REDIS_LOG="$REDIS_DIR/redis.log"

redis_env() { echo "REDIS_URL=redis://127.0.0.1:${REDIS_PORT}"; }

redis_ready() {
  [[ "$(timeout 3 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" == "PONG" ]]
}

redis_install() {
  if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
    apt_install redis-server redis-tools
  fi
}

redis_start() {
  redis_install
  if redis_ready; then log "redis: already running on 127.0.0.1:$REDIS_PORT"; return 0; fi
  port_open "$REDIS_PORT" && die "redis: port $REDIS_PORT is in use by something that does not answer PING"
  mkdir -p "$REDIS_DIR"
  log "redis: starting"
  rm -f "$REDIS_PID"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes \
    --save '' --appendonly no --dir "$REDIS_DIR" \
    --pidfile "$REDIS_PID" --logfile "$REDIS_LOG" </dev/null >&2 9>&- \
    || die "redis: redis-server failed (see $REDIS_LOG)"
  local start
  start=$(now)
  while ! redis_ready; do
    (( $(now) - start >= START_TIMEOUT )) && { tail -n 20 "$REDIS_LOG" >&2 || true; die "redis: not ready after ${START_TIMEOUT}s"; }
    sleep 0.1
  done
  log "redis: ready after $(( $(now) - start ))s"
}

redis_stop() {
  local pid
  pid=$(read_pid "$REDIS_PID" redis-server || pid_on_port "$REDIS_PORT" redis-server || true)
  if [[ -z "$pid" ]]; then
    port_open "$REDIS_PORT" && timeout 5 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
    wait_port_closed redis "$REDIS_PORT" 15
    log "redis: stopped"
    return 0
  fi
  log "redis: stopping pid $pid"
  kill_and_wait redis "$pid" "$REDIS_PORT"
  rm -f "$REDIS_PID"
  log "redis: stopped"
}

redis_status() {
  if redis_ready; then echo "redis     running  pid=$(read_pid "$REDIS_PID" redis-server || pid_on_port "$REDIS_PORT" redis-server || echo '?')  redis://127.0.0.1:$REDIS_PORT"
  else echo "redis     stopped"; fi
}

# ---------------------------------------------------------------- postgres --

PG_BIN="/usr/lib/postgresql/${POSTGRES_MAJOR}/bin"
# absolute: the postgres-user commands run from / (root's cwd may be closed to them)
PG_DIR="$(realpath -m "$CACHE")/postgres"
PG_DATA="$PG_DIR/data"
PG_RUN="$PG_DIR/run"
PG_LOG="$PG_DIR/postgres.log"
PG_USER=postgres
PG_DATABASES=(crm_automation crm_automation_test)

postgres_env() { echo "POSTGRES_URL=postgres://postgres@127.0.0.1:${POSTGRES_PORT}/${PG_DATABASES[0]}"; }

# as_pg CMD... : run CMD as the postgres OS user (initdb and the server refuse root)
as_pg() { (cd / && runuser -u "$PG_USER" -- "$@"); }

# The postmaster's pid: first line of postmaster.pid, if that process is alive
# and is a postgres.
postgres_pid() {
  local pid
  [[ -f "$PG_DATA/postmaster.pid" ]] || return 1
  pid=$(head -n1 "$PG_DATA/postmaster.pid" 2>/dev/null | tr -dc '0-9')
  pid_alive "$pid" || return 1
  cmd_matches "$pid" 'postgres' || return 1
  printf '%s\n' "$pid"
}

postgres_ready() {
  [[ -x "$PG_BIN/pg_isready" ]] || return 1
  port_open "$POSTGRES_PORT" || return 1
  timeout 5 "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$POSTGRES_PORT" -U postgres -d postgres >/dev/null 2>&1
}

# psql over TCP as the postgres role (trust on loopback, see postgres_write_config)
postgres_psql() {
  timeout 30 "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$POSTGRES_PORT" -U postgres "$@"
}

postgres_install() {
  if [[ -x "$PG_BIN/postgres" && -x "$PG_BIN/initdb" && -x "$PG_BIN/pg_ctl" ]]; then
    return 0
  fi
  # Debian's postinst creates and starts a system cluster (15/main on 5432)
  # unless createcluster.conf says no. Only when postgresql-15 is not installed
  # yet: install postgresql-common first (it owns that conffile), switch the
  # main cluster off, then install the server. An existing installation and its
  # clusters are left as they are.
  if ! dpkg-query -W -f='${Status}' "postgresql-${POSTGRES_MAJOR}" 2>/dev/null | grep -q 'ok installed'; then
    if ! dpkg-query -W -f='${Status}' postgresql-common 2>/dev/null | grep -q 'ok installed'; then
      apt_install postgresql-common
    fi
    local conf=/etc/postgresql-common/createcluster.conf
    if [[ -f "$conf" ]] && grep -Eq '^[#[:space:]]*create_main_cluster' "$conf"; then
      sed -i -E 's/^[#[:space:]]*create_main_cluster[[:space:]]*=.*/create_main_cluster = false/' "$conf"
    else
      echo 'create_main_cluster = false' >>"$conf"
    fi
    log "postgres: $conf: create_main_cluster = false (no system cluster on install)"
  fi
  apt_install "postgresql-${POSTGRES_MAJOR}" "postgresql-client-${POSTGRES_MAJOR}"
  [[ -x "$PG_BIN/postgres" ]] || die "postgres: $PG_BIN/postgres not found after install"
}

# The data directory and everything the server writes must belong to the
# postgres OS user, and every parent directory must be traversable by it.
postgres_prepare_dirs() {
  id -u "$PG_USER" >/dev/null 2>&1 || die "postgres: OS user '$PG_USER' not found (installed by postgresql-common)"
  [[ $(id -u) -eq 0 ]] || die "postgres: need root (to run the server as the '$PG_USER' user)"
  mkdir -p "$CACHE"
  install -d -o "$PG_USER" -g "$PG_USER" -m 0700 "$PG_DIR"
  install -d -o "$PG_USER" -g "$PG_USER" -m 0755 "$PG_RUN"
  [[ -e "$PG_LOG" ]] || install -o "$PG_USER" -g "$PG_USER" -m 0640 /dev/null "$PG_LOG"
  as_pg test -w "$PG_DIR" \
    || die "postgres: user '$PG_USER' cannot write $PG_DIR (a parent directory of $CACHE is not traversable by it; set CRM_SERVICES_CACHE elsewhere)"
}

postgres_initdb() {
  [[ -f "$PG_DATA/PG_VERSION" ]] && return 0
  log "postgres: initdb (first time only, data in $PG_DATA)"
  rm -rf "$PG_DATA"
  as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >>"$PG_LOG" 2>&1 \
    || { tail -n 20 "$PG_LOG" >&2; die "postgres: initdb failed (see $PG_LOG)"; }
}

postgres_write_config() {
  # Rewritten on every start, so a changed port offset or setting takes effect;
  # postgresql.conf only includes it (settings later in the file win).
  as_pg tee "$PG_DATA/crm-services.conf" >/dev/null <<EOF
# generated by scripts/services.sh -- test cluster, not for production data
listen_addresses = '127.0.0.1'
port = ${POSTGRES_PORT}
unix_socket_directories = '${PG_RUN}'
max_connections = 200
shared_buffers = 256MB
# fsync and synchronous_commit stay at their defaults (on): restart tests
# expect committed data to be there after a stop.
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
log_min_messages = warning
log_connections = off
log_disconnections = off
EOF
  grep -q "^include 'crm-services.conf'" "$PG_DATA/postgresql.conf" \
    || printf "\n# scripts/services.sh\ninclude 'crm-services.conf'\n" | as_pg tee -a "$PG_DATA/postgresql.conf" >/dev/null
  # Trust on loopback (and the private socket directory) only: a throwaway test
  # cluster that listens on 127.0.0.1 alone, so tests and tools connect as
  # `postgres` without a password, as the docker-compose service does.
  as_pg tee "$PG_DATA/pg_hba.conf" >/dev/null <<'EOF'
# generated by scripts/services.sh -- test cluster: trust on loopback only
# TYPE  DATABASE        USER            ADDRESS                 METHOD
local   all             all                                     trust
host    all             all             127.0.0.1/32            trust
host    all             all             ::1/128                 trust
local   replication     all                                     trust
host    replication     all             127.0.0.1/32            trust
EOF
}

postgres_create_databases() {
  local db exists
  for db in "${PG_DATABASES[@]}"; do
    exists=$(postgres_psql -d postgres -tA -c "select 1 from pg_database where datname = '$db'") \
      || die "postgres: cannot query pg_database"
    if [[ "$exists" != 1 ]]; then
      log "postgres: creating database $db"
      postgres_psql -d postgres -c "create database \"$db\"" >/dev/null || die "postgres: create database $db failed"
    fi
  done
}

postgres_start() {
  postgres_install
  if postgres_ready; then
    log "postgres: already running on 127.0.0.1:$POSTGRES_PORT"
    postgres_create_databases
    return 0
  fi
  port_open "$POSTGRES_PORT" && die "postgres: port $POSTGRES_PORT is in use by something that is not a ready PostgreSQL"
  postgres_prepare_dirs
  postgres_initdb
  postgres_write_config
  log "postgres: starting PostgreSQL ${POSTGRES_MAJOR} (data in $PG_DATA)"
  # pg_ctl detaches the postmaster (its own session, stdio to the log file);
  # -W: readiness is waited for below, like the other services.
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -W -s start </dev/null >>"$PG_LOG" 2>&1 9>&- \
    || { tail -n 20 "$PG_LOG" >&2; die "postgres: pg_ctl start failed (see $PG_LOG)"; }
  local start
  start=$(now)
  while ! postgres_ready; do
    if (( $(now) - start >= 3 )) && ! postgres_pid >/dev/null; then
      log "postgres: server exited during startup; last log lines ($PG_LOG):"
      tail -n 30 "$PG_LOG" >&2 || true
      die "postgres failed to start"
    fi
    if (( $(now) - start >= START_TIMEOUT )); then
      tail -n 30 "$PG_LOG" >&2 || true
      die "postgres failed to become ready after ${START_TIMEOUT}s"
    fi
    sleep 0.2
  done
  log "postgres: ready after $(( $(now) - start ))s"
  postgres_create_databases
}

postgres_stop() {
  local pid
  pid=$(postgres_pid || pid_on_port "$POSTGRES_PORT" '^([^ ]*/)?postgres( |$)' || true)
  if [[ -z "$pid" ]]; then
    wait_port_closed postgres "$POSTGRES_PORT" 5
    log "postgres: stopped"
    return 0
  fi
  log "postgres: stopping pid $pid"
  # fast shutdown: disconnect clients, checkpoint, exit (SIGTERM would be a
  # "smart" shutdown that waits for every client to leave)
  if [[ -f "$PG_DATA/postmaster.pid" ]]; then
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t "$STOP_TIMEOUT" -s stop >>"$PG_LOG" 2>&1 9>&- \
      || log "postgres: pg_ctl stop failed; signalling pid $pid"
  else
    kill -INT "$pid" 2>/dev/null || true
  fi
  if pid_alive "$pid"; then kill_and_wait postgres "$pid" "$POSTGRES_PORT"; fi
  wait_port_closed postgres "$POSTGRES_PORT" 15
  log "postgres: stopped"
}

postgres_status() {
  if postgres_ready; then echo "postgres  running  pid=$(postgres_pid || pid_on_port "$POSTGRES_PORT" || echo '?')  $(postgres_env | cut -d= -f2-)  (data in $PG_DATA)"
  else echo "postgres  stopped"; fi
}

# ----------------------------------------------- mongo (mongo-java-server) --

MJS_SRC="$REPO/scripts/mongo-java-server"
MJS_DIR="$CACHE/mongo-java-server"
MJS_JAR="$MJS_DIR/crm-mongo-java-server.jar"
MJS_STAMP="$MJS_DIR/jar.sha256"
MJS_PID="$MJS_DIR/mongo.pid"
MJS_LOG="$MJS_DIR/mongo.log"
MJS_CMD_RE='crm-mongo-java-server[.]jar'
MONGO_HEAP="${CRM_MONGO_HEAP:-2g}"
MONGO_SERVER_VERSION="${CRM_MONGO_SERVER_VERSION:-5.0}"

# MONGODB_URI set and pointing anywhere but our own local port -> external server.
mongo_external() {
  [[ -n "${MONGODB_URI:-}" ]] || return 1
  local hp
  read -r -a hp <<<"$(mongo_hostport "$MONGODB_URI")"
  case "${hp[0]}" in
    127.0.0.1|localhost|::1) [[ "${hp[1]}" != "$MONGO_PORT" ]] ;;
    *) return 0 ;;
  esac
}

mongo_uri() { if mongo_external; then echo "$MONGODB_URI"; else echo "$DEFAULT_MONGODB_URI"; fi; }

mongo_env() { echo "MONGODB_URI=$(mongo_uri)"; }

# host and port of the first host in a mongodb:// URI
mongo_hostport() {
  local rest=${1#*://}
  rest=${rest#*@}          # strip credentials
  rest=${rest%%/*}         # strip path/options
  rest=${rest%%\?*}
  rest=${rest%%,*}         # first host of a seed list
  local host=${rest%:*} port=${rest##*:}
  [[ "$rest" == *:* ]] || { host=$rest; port=27017; }
  host=${host#[}; host=${host%]}
  echo "$host $port"
}

mongo_ready() {
  local hp
  read -r -a hp <<<"$(mongo_hostport "$(mongo_uri)")"
  if ! mongo_external; then port_open "${hp[1]}" || return 1; fi
  node_probe mongo "${hp[0]}" "${hp[1]}"
}

# Hash of the launcher's sources: the jar is rebuilt only when they change.
mongo_source_hash() { cat "$MJS_SRC/pom.xml" "$MJS_SRC/Main.java" | sha256sum | cut -c1-16; }

mongo_install() {
  local sum
  sum=$(mongo_source_hash)
  [[ -f "$MJS_JAR" && "$(cat "$MJS_STAMP" 2>/dev/null)" == "$sum" ]] && return 0
  command -v java >/dev/null 2>&1 || die "mongo: java (17+) is required for mongo-java-server"
  command -v mvn >/dev/null 2>&1 || die "mongo: mvn is required to build the mongo-java-server launcher"
  local build="$MJS_DIR/build" start
  start=$(now)
  log "mongo: building the mongo-java-server launcher with mvn (only when scripts/mongo-java-server changes)"
  # Built in a copy under the cache, so target/ never lands in the work tree.
  rm -rf "$build"
  mkdir -p "$build"
  cp "$MJS_SRC/pom.xml" "$MJS_SRC/Main.java" "$build/"
  (cd "$build" && mvn -B -q -Dstyle.color=never -DskipTests package) >"$MJS_DIR/mvn.log" 2>&1 \
    || { tail -n 30 "$MJS_DIR/mvn.log" >&2; die "mongo: mvn package failed (see $MJS_DIR/mvn.log)"; }
  [[ -f "$build/target/crm-mongo-java-server.jar" ]] || die "mongo: $build/target/crm-mongo-java-server.jar missing after mvn"
  cp -f "$build/target/crm-mongo-java-server.jar" "$MJS_JAR.tmp"
  mv -f "$MJS_JAR.tmp" "$MJS_JAR"
  echo "$sum" >"$MJS_STAMP"
  rm -rf "$build"
  log "mongo: launcher built in $(( $(now) - start ))s"
}

mongo_start() {
  if mongo_external; then
    log "mongo: MONGODB_URI is set ($(mongo_uri)); pinging it instead of starting mongo-java-server"
    local start t=${CRM_SERVICES_EXTERNAL_TIMEOUT:-30}
    start=$(now)
    until mongo_ready >/dev/null 2>&1; do
      (( $(now) - start >= t )) && die "mongo: MONGODB_URI=$(mongo_uri) did not answer ping within ${t}s (unset MONGODB_URI to use the local mongo-java-server)"
      sleep 0.5
    done
    log "mongo: external server answers ping"
    return 0
  fi
  [[ "$MONGO_HEAP" =~ ^[0-9]+[kKmMgG]?$ ]] || die "mongo: CRM_MONGO_HEAP must look like 2g or 512m, got '$MONGO_HEAP'"
  if mongo_ready; then log "mongo: already running on 127.0.0.1:$MONGO_PORT"; return 0; fi
  port_open "$MONGO_PORT" && die "mongo: port $MONGO_PORT is in use by something that does not answer ping"
  mkdir -p "$MJS_DIR"
  mongo_install
  log "mongo: starting mongo-java-server (in memory, -Xmx$MONGO_HEAP, reports MongoDB $MONGO_SERVER_VERSION)"
  spawn mongo "$MJS_PID" "$MJS_LOG" java "-Xmx$MONGO_HEAP" -XX:+UseG1GC -Djava.awt.headless=true \
    -jar "$MJS_JAR" --host 127.0.0.1 --port "$MONGO_PORT" --server-version "$MONGO_SERVER_VERSION"
  wait_ready mongo "$START_TIMEOUT" "$MJS_PID" "$MJS_LOG" mongo_ready
}

mongo_stop() {
  if mongo_external; then
    die "mongo: MONGODB_URI points to an external server ($(mongo_uri)); not managed by this script"
  fi
  local pid
  pid=$(read_pid "$MJS_PID" "$MJS_CMD_RE" || pid_on_port "$MONGO_PORT" "$MJS_CMD_RE" || true)
  if [[ -z "$pid" ]]; then
    wait_port_closed mongo "$MONGO_PORT" 5
    log "mongo: stopped"
    return 0
  fi
  log "mongo: stopping pid $pid (in-memory data is dropped)"
  kill_and_wait mongo "$pid" "$MONGO_PORT"
  rm -f "$MJS_PID"
  log "mongo: stopped"
}

mongo_status() {
  if mongo_external; then
    if mongo_ready; then echo "mongo     external running  $(mongo_uri)"; else echo "mongo     external NOT reachable  $(mongo_uri)"; fi
  elif mongo_ready; then echo "mongo     running  pid=$(read_pid "$MJS_PID" "$MJS_CMD_RE" || pid_on_port "$MONGO_PORT" "$MJS_CMD_RE" || echo '?')  $(mongo_uri)  (mongo-java-server, in memory)"
  else echo "mongo     stopped"; fi
}

# ----------------------------------------------------------------- rabbitmq --

RABBIT_DIR="$CACHE/rabbitmq"
RABBIT_PIDFILE="$RABBIT_DIR/rabbit.pid"
RABBIT_LOG="$RABBIT_DIR/startup.log"
RABBIT_SBIN=/usr/lib/rabbitmq/bin

rabbit_env() { echo "RABBITMQ_URL=amqp://guest:guest@127.0.0.1:${RABBIT_PORT}"; }

rabbit_install() {
  if [[ ! -x "$RABBIT_SBIN/rabbitmq-server" ]]; then
    apt_install rabbitmq-server
  fi
  [[ -x "$RABBIT_SBIN/rabbitmq-server" ]] || die "rabbitmq: $RABBIT_SBIN/rabbitmq-server not found after install"
}

# Environment for the rabbit server and CLI tools. We call the real scripts in
# /usr/lib/rabbitmq/bin directly (Debian's /usr/sbin wrappers switch to the
# rabbitmq user and its /var/lib/rabbitmq paths), so the node runs as the
# current user with everything under the cache dir. The Erlang cookie is the
# invoking user's ~/.erlang.cookie (created on first start).
rabbit_exports() {
  export RABBITMQ_NODENAME="$RABBIT_NODE" NODENAME="$RABBIT_NODE"
  export RABBITMQ_USE_LONGNAME=false
  export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$RABBIT_PORT"
  export RABBITMQ_DIST_PORT="$RABBIT_DIST_PORT"
  export ERL_EPMD_ADDRESS=127.0.0.1
  export RABBITMQ_CONFIG_FILE="$RABBIT_DIR/rabbitmq.conf"
  export RABBITMQ_ADVANCED_CONFIG_FILE="$RABBIT_DIR/advanced.config"
  export RABBITMQ_CONF_ENV_FILE="$RABBIT_DIR/rabbitmq-env.conf"
  export RABBITMQ_ENABLED_PLUGINS_FILE="$RABBIT_DIR/enabled_plugins"
  export RABBITMQ_MNESIA_BASE="$RABBIT_DIR/mnesia"
  export RABBITMQ_LOG_BASE="$RABBIT_DIR/log"
  export RABBITMQ_PID_FILE="$RABBIT_PIDFILE"
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
}

rabbit_ready() {
  port_open "$RABBIT_PORT" && timeout 20 "$RABBIT_SBIN/rabbitmqctl" -n "$RABBIT_NODE" -q await_startup --timeout 10 >/dev/null 2>&1
}

rabbit_write_config() {
  mkdir -p "$RABBIT_DIR/mnesia" "$RABBIT_DIR/log"
  cat >"$RABBIT_DIR/rabbitmq.conf" <<EOF
# generated by scripts/services.sh
listeners.tcp.1 = 127.0.0.1:${RABBIT_PORT}
# guest/guest may connect from loopback only (the default)
loopback_users.guest = true
disk_free_limit.absolute = 50MB
log.console = false
log.file.level = info
EOF
  echo '[].' >"$RABBIT_DIR/advanced.config"
  : >"$RABBIT_DIR/rabbitmq-env.conf"
  [[ -f "$RABBIT_DIR/enabled_plugins" ]] || echo '[].' >"$RABBIT_DIR/enabled_plugins"
}

rabbit_start() {
  rabbit_install
  rabbit_exports
  if port_open "$RABBIT_PORT" && rabbit_ready; then
    log "rabbitmq: already running on 127.0.0.1:$RABBIT_PORT (node $RABBIT_NODE)"; return 0
  fi
  port_open "$RABBIT_PORT" && die "rabbitmq: port $RABBIT_PORT is in use but node $RABBIT_NODE is not answering"
  rabbit_write_config
  log "rabbitmq: starting node $RABBIT_NODE (data in $RABBIT_DIR/mnesia)"
  spawn rabbitmq "$RABBIT_DIR/server.pid" "$RABBIT_LOG" "$RABBIT_SBIN/rabbitmq-server"
  wait_ready rabbitmq "$START_TIMEOUT" "$RABBIT_DIR/server.pid" "$RABBIT_LOG" rabbit_ready
}

rabbit_stop() {
  rabbit_install
  rabbit_exports
  local pid=""
  pid=$(read_pid "$RABBIT_PIDFILE" rabbit || read_pid "$RABBIT_DIR/server.pid" rabbit || pid_on_port "$RABBIT_PORT" rabbit || true)
  if [[ -z "$pid" ]] && ! port_open "$RABBIT_PORT"; then
    log "rabbitmq: stopped"
    return 0
  fi
  log "rabbitmq: stopping node $RABBIT_NODE${pid:+ (pid $pid)}"
  if ! timeout "$((STOP_TIMEOUT + 15))" "$RABBIT_SBIN/rabbitmqctl" -n "$RABBIT_NODE" -q stop ${pid:+"$RABBIT_PIDFILE"} >/dev/null 2>&1; then
    log "rabbitmq: rabbitmqctl stop failed; killing"
  fi
  if [[ -n "$pid" ]] && pid_alive "$pid"; then
    kill_and_wait rabbitmq "$pid" "$RABBIT_PORT"
  else
    wait_port_closed rabbitmq "$RABBIT_PORT" "$STOP_TIMEOUT"
  fi
  # the node must also be gone from epmd before it can be started again
  local start
  start=$(now)
  while port_open "$RABBIT_DIST_PORT"; do
    (( $(now) - start >= 15 )) && break
    sleep 0.2
  done
  rm -f "$RABBIT_DIR/server.pid"
  log "rabbitmq: stopped"
}

rabbit_status() {
  if [[ -x "$RABBIT_SBIN/rabbitmqctl" ]]; then rabbit_exports; fi
  if [[ -x "$RABBIT_SBIN/rabbitmqctl" ]] && rabbit_ready; then
    echo "rabbitmq  running  pid=$(read_pid "$RABBIT_PIDFILE" rabbit || pid_on_port "$RABBIT_PORT" rabbit || echo '?')  amqp://127.0.0.1:$RABBIT_PORT  node=$RABBIT_NODE"
  else echo "rabbitmq  stopped"; fi
}

# -------------------------------------------------------------------- kafka --

KAFKA_DIR="$CACHE/kafka"
KAFKA_LIB="$KAFKA_DIR/lib"
KAFKA_DATA="$KAFKA_DIR/data"
KAFKA_PROPS="$KAFKA_DIR/server.properties"
KAFKA_CLUSTER_ID_FILE="$KAFKA_DIR/cluster-id"
KAFKA_PID="$KAFKA_DIR/kafka.pid"
KAFKA_LOG="$KAFKA_DIR/kafka.log"

kafka_env() { echo "KAFKA_BROKERS=127.0.0.1:${KAFKA_PORT}"; }

kafka_ready() { port_open "$KAFKA_PORT" && node_probe kafka 127.0.0.1 "$KAFKA_PORT"; }

kafka_pom() {
  cat <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!-- generated by scripts/services.sh: resolves the Kafka ${KAFKA_VERSION} broker jars -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.crm-automation</groupId>
  <artifactId>kafka-server-jars</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <!-- the broker (kafka.Kafka) and kafka.tools.StorageTool; brings kafka-raft,
         kafka-metadata, kafka-storage, kafka-group-coordinator, reload4j, ... -->
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>${KAFKA_VERSION}</version></dependency>
    <!-- slf4j binding, as in the Kafka 3.9 distribution (log4j.properties drives it) -->
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>${SLF4J_VERSION}</version></dependency>
  </dependencies>
</project>
EOF
}

kafka_install() {
  local pom sum marker
  pom=$(kafka_pom)
  sum=$(printf '%s' "$pom" | sha256sum | cut -c1-16)
  marker="$KAFKA_LIB/.complete-$sum"
  [[ -f "$marker" ]] && return 0
  command -v java >/dev/null 2>&1 || die "kafka: java is required"
  command -v mvn >/dev/null 2>&1 || die "kafka: mvn is required to fetch the Kafka jars"
  mkdir -p "$KAFKA_DIR"
  printf '%s\n' "$pom" >"$KAFKA_DIR/pom.xml"
  log "kafka: fetching Kafka $KAFKA_VERSION jars with mvn (first time only)"
  local start
  start=$(now)
  rm -rf "$KAFKA_LIB"
  (cd "$KAFKA_DIR" && mvn -B -q -Dstyle.color=never -f pom.xml dependency:copy-dependencies \
      -DoutputDirectory="$KAFKA_LIB" -DincludeScope=runtime) >"$KAFKA_DIR/mvn.log" 2>&1 \
    || { tail -n 30 "$KAFKA_DIR/mvn.log" >&2; die "kafka: mvn dependency:copy-dependencies failed (see $KAFKA_DIR/mvn.log)"; }
  [[ -f "$KAFKA_LIB/kafka_2.13-$KAFKA_VERSION.jar" && -f "$KAFKA_LIB/kafka-raft-$KAFKA_VERSION.jar" ]] \
    || die "kafka: Kafka jars missing in $KAFKA_LIB after mvn"
  touch "$marker"
  log "kafka: jars fetched in $(( $(now) - start ))s"
}

kafka_java_cmd() {
  KAFKA_JAVA=(java -Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true
    -Dlog4j.configuration="file:$KAFKA_DIR/log4j.properties" -cp "$KAFKA_LIB/*")
}

kafka_java() { kafka_java_cmd; "${KAFKA_JAVA[@]}" "$@"; }

kafka_write_config() {
  mkdir -p "$KAFKA_DATA"
  cat >"$KAFKA_PROPS" <<EOF
# generated by scripts/services.sh -- single-node KRaft (combined broker+controller)
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${KAFKA_CONTROLLER_PORT}
listeners=PLAINTEXT://127.0.0.1:${KAFKA_PORT},CONTROLLER://127.0.0.1:${KAFKA_CONTROLLER_PORT}
advertised.listeners=PLAINTEXT://127.0.0.1:${KAFKA_PORT}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=${KAFKA_DATA}
num.partitions=3
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=true
delete.topic.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.retention.hours=24
log.segment.bytes=16777216
log.cleaner.dedupe.buffer.size=8388608
log.flush.offset.checkpoint.interval.ms=5000
# faster, shutdown-friendly single node
controlled.shutdown.enable=true
controlled.shutdown.max.retries=1
controlled.shutdown.retry.backoff.ms=500
EOF
  cat >"$KAFKA_DIR/log4j.properties" <<'EOF'
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.log.LogCleaner=WARN
log4j.logger.org.apache.kafka.storage.internals.log.LogCleaner=WARN
EOF
}

kafka_format() {
  [[ -f "$KAFKA_DATA/meta.properties" ]] && return 0
  local cid
  if [[ -s "$KAFKA_CLUSTER_ID_FILE" ]]; then
    cid=$(<"$KAFKA_CLUSTER_ID_FILE")
  else
    cid=$(kafka_java kafka.tools.StorageTool random-uuid 2>>"$KAFKA_LOG" | tail -n1) \
      || die "kafka: StorageTool random-uuid failed (see $KAFKA_LOG)"
    echo "$cid" >"$KAFKA_CLUSTER_ID_FILE"
  fi
  log "kafka: formatting storage (cluster id $cid)"
  kafka_java kafka.tools.StorageTool format --ignore-formatted -t "$cid" -c "$KAFKA_PROPS" >>"$KAFKA_LOG" 2>&1 \
    || { tail -n 20 "$KAFKA_LOG" >&2; die "kafka: storage format failed"; }
}

kafka_start() {
  if kafka_ready; then log "kafka: already running on 127.0.0.1:$KAFKA_PORT"; return 0; fi
  port_open "$KAFKA_PORT" && die "kafka: port $KAFKA_PORT is in use by something that is not a ready broker"
  port_open "$KAFKA_CONTROLLER_PORT" && die "kafka: controller port $KAFKA_CONTROLLER_PORT is already in use"
  kafka_install
  kafka_write_config
  kafka_format
  log "kafka: starting broker (KRaft, data in $KAFKA_DATA)"
  kafka_java_cmd
  spawn kafka "$KAFKA_PID" "$KAFKA_LOG" "${KAFKA_JAVA[@]}" kafka.Kafka "$KAFKA_PROPS"
  wait_ready kafka "$START_TIMEOUT" "$KAFKA_PID" "$KAFKA_LOG" kafka_ready
}

kafka_stop() {
  local pid
  pid=$(read_pid "$KAFKA_PID" 'kafka[.]Kafka' || pid_on_port "$KAFKA_PORT" 'kafka[.]Kafka' || pid_on_port "$KAFKA_CONTROLLER_PORT" 'kafka[.]Kafka' || true)
  if [[ -z "$pid" ]]; then
    wait_port_closed kafka "$KAFKA_PORT" 5
    log "kafka: stopped"
    return 0
  fi
  log "kafka: stopping pid $pid"
  kill_and_wait kafka "$pid" "$KAFKA_PORT"
  wait_port_closed kafka "$KAFKA_CONTROLLER_PORT" 15
  rm -f "$KAFKA_PID"
  log "kafka: stopped"
}

kafka_status() {
  if kafka_ready; then echo "kafka     running  pid=$(read_pid "$KAFKA_PID" 'kafka[.]Kafka' || pid_on_port "$KAFKA_PORT" 'kafka[.]Kafka' || echo '?')  127.0.0.1:$KAFKA_PORT (KRaft)"
  else echo "kafka     stopped"; fi
}

# ------------------------------------------------- secantus (optional, named) --
# Not in ALL_SERVICES: a 10-20 minute cargo build that CI must never start. The
# work is in scripts/secantus/secantus.sh; here it only follows the port offset.

secantus_cmd() { CRM_SECANTUS_PORT="${CRM_SECANTUS_PORT:-$((27018 + PORT_OFFSET))}" bash "$REPO/scripts/secantus/secantus.sh" "$@"; }
secantus_start() { secantus_cmd start >/dev/null; }
secantus_stop() { secantus_cmd stop; }
secantus_status() { secantus_cmd status; }
secantus_env() { secantus_cmd env; }

# --------------------------------------------------------------- dispatch --

canon() {
  case "$1" in
    redis) echo redis ;;
    postgres|postgresql|pg) echo postgres ;;
    mongo|mongodb|mongo-java-server) echo mongo ;;
    rabbit|rabbitmq|amqp) echo rabbitmq ;;
    kafka) echo kafka ;;
    secantus|secantusd|secantusd-rs|secantus-mdb) echo secantus ;;
    *) die "unknown service '$1' (expected: ${ALL_SERVICES[*]}, or the optional secantus)" ;;
  esac
}

fn_prefix() { case "$1" in rabbitmq) echo rabbit ;; *) echo "$1" ;; esac; }

svc_call() { local s=$1 op=$2; "$(fn_prefix "$s")_$op"; }

svc_start_locked() { with_lock "$1" svc_call "$1" start; }
svc_stop_locked() { with_lock "$1" svc_call "$1" stop; }

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit "${1:-2}"
}

main() {
  local cmd=${1:-}
  [[ $# -gt 0 ]] && shift
  local names=() n export_prefix=""
  if [[ "$cmd" == env && "${1:-}" == --export ]]; then export_prefix="export "; shift; fi
  for n in "$@"; do names+=("$(canon "$n")"); done
  if [[ ${#names[@]} -eq 0 ]]; then
    case "$cmd" in
      start|stop|restart) die "'$cmd' needs at least one service name (${ALL_SERVICES[*]})" ;;
      *) names=("${ALL_SERVICES[@]}") ;;
    esac
  fi
  case "$cmd" in
    up|start)
      local t0 s
      t0=$(now)
      for s in "${names[@]}"; do svc_start_locked "$s"; done
      log "all requested services ready ($(( $(now) - t0 ))s)"
      for s in "${names[@]}"; do svc_call "$s" env; done
      ;;
    down|stop)
      local s
      for s in "${names[@]}"; do
        if [[ "$s" == mongo ]] && mongo_external && [[ "$cmd" == down && $# -eq 0 ]]; then
          log "mongo: external MONGODB_URI, skipping"; continue
        fi
        svc_stop_locked "$s"
      done
      ;;
    restart)
      local s
      for s in "${names[@]}"; do svc_stop_locked "$s"; svc_start_locked "$s"; done
      for s in "${names[@]}"; do svc_call "$s" env; done
      ;;
    status)
      local s
      for s in "${names[@]}"; do svc_call "$s" status; done
      ;;
    env)
      local s
      for s in "${names[@]}"; do printf '%s%s\n' "$export_prefix" "$(svc_call "$s" env)"; done
      ;;
    -h|--help|help) usage 0 ;;
    *) usage 2 ;;
  esac
}

main "$@"
