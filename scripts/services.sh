#!/usr/bin/env bash
# Real-server tooling for integration tests: Redis, MongoDB-wire (FerretDB on
# SQLite), RabbitMQ and Kafka (KRaft), all running as plain processes on
# 127.0.0.1 without Docker (docker-compose.yml has the Docker equivalent).
# Installs what is missing (apt-get, go, mvn), caches builds and data under
# $CRM_SERVICES_CACHE (default: <repo>/.cache/services); data survives restarts.
#
# Usage:
#   scripts/services.sh up      [redis|mongo|rabbitmq|kafka ...]   # install + start + wait; prints env lines
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
# The lines: REDIS_URL=redis://127.0.0.1:6379  MONGODB_URI=mongodb://127.0.0.1:27017
#   RABBITMQ_URL=amqp://guest:guest@127.0.0.1:5672  KAFKA_BROKERS=127.0.0.1:9092
#
# If MONGODB_URI is set and points anywhere but 127.0.0.1:27017, `up mongo`
# only pings that server and does not start FerretDB.
# Kafka: single node, auto.create.topics.enable=true, num.partitions=3.
# Knobs: CRM_SERVICES_CACHE, CRM_SERVICES_PORT_OFFSET (shift all ports, for an
# isolated second set), CRM_SERVICES_START_TIMEOUT (s, default 120),
# CRM_SERVICES_STOP_TIMEOUT (s before SIGKILL, default 30),
# CRM_SERVICES_EXTERNAL_TIMEOUT (s to wait for an external MONGODB_URI, default 30).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${CRM_SERVICES_CACHE:-$REPO/.cache/services}"
ALL_SERVICES=(redis mongo rabbitmq kafka)

# CRM_SERVICES_PORT_OFFSET shifts every port (e.g. 10000 -> redis on 16379) so a
# second, isolated set of servers can run next to the default one (use it with
# its own CRM_SERVICES_CACHE). Default 0: the standard ports below.
PORT_OFFSET="${CRM_SERVICES_PORT_OFFSET:-0}"
[[ "$PORT_OFFSET" =~ ^[0-9]+$ ]] || { echo "[services] ERROR: CRM_SERVICES_PORT_OFFSET must be a number" >&2; exit 1; }
REDIS_PORT=$((6379 + PORT_OFFSET))
MONGO_PORT=$((27017 + PORT_OFFSET))
RABBIT_PORT=$((5672 + PORT_OFFSET))
RABBIT_DIST_PORT=$((25672 + PORT_OFFSET))
KAFKA_PORT=$((9092 + PORT_OFFSET))
KAFKA_CONTROLLER_PORT=$((9093 + PORT_OFFSET))

FERRETDB_VERSION=v1.24.2
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

# -------------------------------------------------------- mongo (FerretDB) --

FERRET_BIN="$CACHE/bin/ferretdb"
FERRET_DIR="$CACHE/ferretdb"
FERRET_DATA="$FERRET_DIR/data"
FERRET_PID="$FERRET_DIR/ferretdb.pid"
FERRET_LOG="$FERRET_DIR/ferretdb.log"

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
  node_probe mongo "${hp[0]}" "${hp[1]}"
}

mongo_install() {
  [[ -x "$FERRET_BIN" ]] && return 0
  if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then PATH="/usr/local/go/bin:$PATH"; fi
  command -v go >/dev/null 2>&1 || die "mongo: go (1.24+) is required to build FerretDB"
  mkdir -p "$CACHE/bin"
  log "mongo: building FerretDB $FERRETDB_VERSION (first time only; about a minute)"
  local start src mod
  start=$(now)
  # A plain `go install .../cmd/ferretdb@v1.24.2` builds a binary that panics at
  # start ("Invalid build/version/version.txt"): the release's version.txt is
  # generated, not part of the module. So fetch the module, copy it, add
  # version.txt and build the real CLI from the copy.
  mod=$(cd / && GOWORK=off GOFLAGS='' go mod download -json "github.com/FerretDB/FerretDB@${FERRETDB_VERSION}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' | head -n1) \
    || die "mongo: go mod download of FerretDB failed"
  [[ -n "$mod" && -d "$mod/cmd/ferretdb" ]] || die "mongo: FerretDB module source not found (go mod download)"
  src="$CACHE/src/ferretdb-${FERRETDB_VERSION}"
  rm -rf "$src"
  mkdir -p "$src"
  cp -R "$mod/." "$src/"
  chmod -R u+w "$src"
  echo "$FERRETDB_VERSION" >"$src/build/version/version.txt"
  echo "crm-services" >"$src/build/version/package.txt"
  (cd "$src" && CGO_ENABLED=0 GOFLAGS='' GOTOOLCHAIN=local go build -buildvcs=false -trimpath \
      -o "$FERRET_BIN.tmp" ./cmd/ferretdb) >&2 \
    || die "mongo: building FerretDB failed"
  "$FERRET_BIN.tmp" --version >/dev/null 2>&1 || die "mongo: built FerretDB binary does not run"
  mv -f "$FERRET_BIN.tmp" "$FERRET_BIN"
  rm -rf "$src"
  rmdir "$CACHE/src" 2>/dev/null || true
  log "mongo: FerretDB built in $(( $(now) - start ))s"
}

mongo_start() {
  if mongo_external; then
    log "mongo: MONGODB_URI is set ($(mongo_uri)); pinging it instead of starting FerretDB"
    local start t=${CRM_SERVICES_EXTERNAL_TIMEOUT:-30}
    start=$(now)
    until mongo_ready >/dev/null 2>&1; do
      (( $(now) - start >= t )) && die "mongo: MONGODB_URI=$(mongo_uri) did not answer ping within ${t}s (unset MONGODB_URI to use the local FerretDB)"
      sleep 0.5
    done
    log "mongo: external server answers ping"
    return 0
  fi
  if mongo_ready; then log "mongo: already running on 127.0.0.1:$MONGO_PORT"; return 0; fi
  port_open "$MONGO_PORT" && die "mongo: port $MONGO_PORT is in use by something that does not answer ping"
  mongo_install
  mkdir -p "$FERRET_DATA"
  log "mongo: starting FerretDB (sqlite backend, data in $FERRET_DATA)"
  spawn mongo "$FERRET_PID" "$FERRET_LOG" "$FERRET_BIN" \
    --handler=sqlite \
    --sqlite-url="file:$FERRET_DATA/" \
    --listen-addr="127.0.0.1:$MONGO_PORT" \
    --state-dir=- \
    --debug-addr=- \
    --telemetry=disable \
    --log-level=warn
  wait_ready mongo "$START_TIMEOUT" "$FERRET_PID" "$FERRET_LOG" mongo_ready
}

mongo_stop() {
  if mongo_external; then
    die "mongo: MONGODB_URI points to an external server ($(mongo_uri)); not managed by this script"
  fi
  local pid
  pid=$(read_pid "$FERRET_PID" ferretdb || pid_on_port "$MONGO_PORT" ferretdb || true)
  if [[ -z "$pid" ]]; then
    wait_port_closed mongo "$MONGO_PORT" 5
    log "mongo: stopped"
    return 0
  fi
  log "mongo: stopping pid $pid"
  kill_and_wait mongo "$pid" "$MONGO_PORT"
  rm -f "$FERRET_PID"
  log "mongo: stopped"
}

mongo_status() {
  if mongo_external; then
    if mongo_ready; then echo "mongo     external running  $(mongo_uri)"; else echo "mongo     external NOT reachable  $(mongo_uri)"; fi
  elif mongo_ready; then echo "mongo     running  pid=$(read_pid "$FERRET_PID" ferretdb || pid_on_port "$MONGO_PORT" ferretdb || echo '?')  $(mongo_uri)  (FerretDB/sqlite)"
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

# --------------------------------------------------------------- dispatch --

canon() {
  case "$1" in
    redis) echo redis ;;
    mongo|mongodb|ferretdb) echo mongo ;;
    rabbit|rabbitmq|amqp) echo rabbitmq ;;
    kafka) echo kafka ;;
    *) die "unknown service '$1' (expected: ${ALL_SERVICES[*]})" ;;
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
