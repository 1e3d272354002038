#!/usr/bin/env bash
# An optional second MongoDB-wire server for benchmarks and explain output: secantusd-rs, the Rust server
# of SecantusDB (crate secantus-mdb, GPL-2.0-only, beta) over WiredTiger. Unlike mongo-java-server (the
# CI server) it plans queries on indexes (IXSCAN), answers `explain`, runs TTL indexes and transactions,
# and keeps its data across restarts. CI does not use it. Run as a separate process only: never embed,
# link or vendor it (see README.md beside this file).
#
# Usage:
#   scripts/secantus/secantus.sh start     # build once if needed, start on 127.0.0.1:27018, wait for ping
#   scripts/secantus/secantus.sh stop      # SIGTERM (WiredTiger closes cleanly), wait until the port is closed
#   scripts/secantus/secantus.sh restart
#   scripts/secantus/secantus.sh status
#   scripts/secantus/secantus.sh build     # only the cached build (cargo install from crates.io)
#   scripts/secantus/secantus.sh env       # SECANTUS_MONGODB_URI=mongodb://127.0.0.1:27018
#   scripts/secantus/secantus.sh wipe      # delete the data directory (server must be stopped)
#
# start and env print SECANTUS_MONGODB_URI=... on stdout (progress goes to stderr); point the suites at it
# with MONGODB_URI=mongodb://127.0.0.1:27018. `start` is idempotent: a server that already answers ping
# on the port is left running.
#
# The build lives outside the clone (CRM_SECANTUS_ROOT, default $HOME/.cache/crm-automation/secantus), so
# fresh clones reuse it; it is redone only when the binary is missing or reports another version.
# Building needs a Rust toolchain >= 1.98 (the crate's rust-version; `+nightly` is tried first), cmake
# and a C/C++ compiler (WiredTiger is compiled from the crate's bundled source). It runs at nice 19 with
# one cargo job by default: 10-20 minutes on 2 cores (18 min 47 s measured under a load average of 7-11).
#
# Knobs: CRM_SECANTUS_ROOT, CRM_SECANTUS_VERSION (default 0.5.3-beta.196), CRM_SECANTUS_PORT (27018),
# CRM_SECANTUS_CACHE_SIZE (WiredTiger cache, default 2G; the server's own default is 4G),
# CRM_SECANTUS_BUILD_JOBS (cargo -j, default 1), CRM_SECANTUS_TOOLCHAIN (a rustup toolchain name to use
# instead of the search), CRM_SECANTUS_UNLOCKED=1 (build without --locked),
# CRM_SECANTUS_START_TIMEOUT (s, default 60), CRM_SECANTUS_STOP_TIMEOUT (s before SIGKILL, default 60).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="${CRM_SECANTUS_ROOT:-$HOME/.cache/crm-automation/secantus}"
VERSION="${CRM_SECANTUS_VERSION:-0.5.3-beta.196}"
PORT="${CRM_SECANTUS_PORT:-27018}"
CACHE_SIZE="${CRM_SECANTUS_CACHE_SIZE:-2G}"
JOBS="${CRM_SECANTUS_BUILD_JOBS:-1}"
START_TIMEOUT="${CRM_SECANTUS_START_TIMEOUT:-60}"
STOP_TIMEOUT="${CRM_SECANTUS_STOP_TIMEOUT:-60}"
# The crate's rust-version (Cargo.toml of secantus-mdb 0.5.3-beta.196).
MIN_RUST_MINOR=98

BIN="$ROOT/bin/secantusd-rs"
DATA="$ROOT/data"
PIDFILE="$ROOT/secantusd.pid"
LOG="$ROOT/secantusd.log"
BUILD_LOG="$ROOT/build.log"
# An empty config passed with --config: without it the server also reads ./secantusd.toml,
# ~/.secantus/secantusd.toml and /etc/secantus/secantusd.toml, so a stray file could change a benchmark.
CONFIG="$ROOT/secantusd.toml"

log() { printf '[secantus] %s\n' "$*" >&2; }
die() { printf '[secantus] ERROR: %s\n' "$*" >&2; exit 1; }
now() { date +%s; }

[[ "$PORT" =~ ^[0-9]+$ ]] || die "CRM_SECANTUS_PORT must be a number, got '$PORT'"
[[ "$JOBS" =~ ^[1-9][0-9]*$ ]] || die "CRM_SECANTUS_BUILD_JOBS must be a positive number, got '$JOBS'"
[[ "$CACHE_SIZE" =~ ^[0-9]+[KMGT]?B?$ ]] || die "CRM_SECANTUS_CACHE_SIZE must look like 2G or 512M, got '$CACHE_SIZE'"

uri() { echo "mongodb://127.0.0.1:$PORT"; }
print_env() { echo "SECANTUS_MONGODB_URI=$(uri)"; }

port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT" 2>/dev/null; }

ready() {
  command -v node >/dev/null 2>&1 || die "node is required for the readiness probe"
  node "$HERE/ping.mjs" 127.0.0.1 "$PORT" >/dev/null 2>&1
}

# The pid in the pid file, if that process is alive and is secantusd-rs (a reused pid is not ours).
server_pid() {
  local pid
  [[ -f "$PIDFILE" ]] || return 1
  pid=$(tr -dc '0-9' <"$PIDFILE")
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- 'secantusd-rs' || return 1
  echo "$pid"
}

binary_current() {
  [[ -x "$BIN" ]] && "$BIN" --version 2>/dev/null | grep -qF -- "$VERSION"
}

# Prints the cargo arguments that select a toolchain able to build the crate ("+nightly", or nothing for
# the default toolchain), or fails.
pick_toolchain() {
  local candidates=() tc version minor
  if [[ -n "${CRM_SECANTUS_TOOLCHAIN:-}" ]]; then candidates=("+$CRM_SECANTUS_TOOLCHAIN")
  else candidates=("+nightly" ""); fi
  for tc in "${candidates[@]}"; do
    # shellcheck disable=SC2086 # an empty $tc must vanish, not become an empty argument
    version=$(rustc $tc --version 2>/dev/null) || continue
    cargo $tc --version >/dev/null 2>&1 || continue
    minor=$(sed -nE 's/^rustc 1\.([0-9]+)\..*/\1/p' <<<"$version")
    if [[ -n "$minor" ]] && (( minor >= MIN_RUST_MINOR )); then
      log "toolchain: ${tc:-default} ($version)"
      echo "$tc"
      return 0
    fi
    log "toolchain ${tc:-default} is too old ($version; the crate needs 1.$MIN_RUST_MINOR+)"
  done
  return 1
}

ensure_build_tools() {
  local missing=()
  command -v cmake >/dev/null 2>&1 || missing+=(cmake)
  command -v cc >/dev/null 2>&1 && command -v c++ >/dev/null 2>&1 || missing+=(build-essential)
  (( ${#missing[@]} == 0 )) && return 0
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    log "apt-get install ${missing[*]} (to compile WiredTiger)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 \
      || { apt-get update -q >&2 || true; DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; } \
      || die "apt-get install ${missing[*]} failed"
  else
    die "building WiredTiger needs ${missing[*]}; install them first"
  fi
}

build() {
  mkdir -p "$ROOT"
  (
    # One build at a time; a second caller waits and then finds the binary.
    flock -w 3600 8 || die "could not acquire $ROOT/build.lock"
    if binary_current; then log "secantusd-rs $VERSION already built ($BIN)"; exit 0; fi
    ensure_build_tools
    local tc locked=(--locked) start rc=0
    tc=$(pick_toolchain) || die "no Rust toolchain >= 1.$MIN_RUST_MINOR found (tried: ${CRM_SECANTUS_TOOLCHAIN:-nightly, default}); install one, e.g. 'rustup toolchain install nightly --profile minimal', or set CRM_SECANTUS_TOOLCHAIN"
    [[ "${CRM_SECANTUS_UNLOCKED:-0}" == 1 ]] && locked=()
    start=$(now)
    log "building secantus-mdb $VERSION with cargo install (nice 19, -j $JOBS; log: $BUILD_LOG); this takes ~10+ minutes"
    printf '\n===== build of secantus-mdb %s at %s =====\n' "$VERSION" "$(date -Is)" >>"$BUILD_LOG"
    # shellcheck disable=SC2086
    CARGO_TARGET_DIR="$ROOT/target" nice -n 19 cargo $tc install secantus-mdb --version "=$VERSION" "${locked[@]}" \
      --root "$ROOT" --bin secantusd-rs -j "$JOBS" >>"$BUILD_LOG" 2>&1 || rc=$?
    if (( rc != 0 )); then
      tail -n 30 "$BUILD_LOG" >&2
      die "cargo install failed (exit $rc; the target dir $ROOT/target is kept so a retry resumes)"
    fi
    binary_current || die "$BIN does not report version $VERSION after the build"
    # The binary is what is cached; the intermediate objects are ~GBs.
    rm -rf "$ROOT/target"
    log "built $("$BIN" --version | head -n1) in $(( $(now) - start ))s"
  ) 8>"$ROOT/build.lock"
}

start() {
  if ready; then
    log "already running on $(uri)"
    print_env
    return 0
  fi
  port_open && die "port $PORT is in use by something that does not answer a MongoDB ping"
  binary_current || build
  mkdir -p "$DATA"
  [[ -f "$CONFIG" ]] || printf '# Empty on purpose: see scripts/secantus/secantus.sh.\n' >"$CONFIG"
  log "starting $("$BIN" --version | head -n1) on 127.0.0.1:$PORT (data: $DATA, cache $CACHE_SIZE, log: $LOG)"
  rm -f "$PIDFILE"
  printf '\n===== secantusd-rs starting at %s =====\n' "$(date -Is)" >>"$LOG"
  # Own session, so the server outlives this shell; the inner shell records its pid and execs the
  # server. 8>&- 9>&-: the build lock and scripts/services.sh's service lock must not stay held by it.
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$PIDFILE" "$BIN" --config "$CONFIG" --host 127.0.0.1 \
    --port "$PORT" --storage-path "$DATA" --cache-size "$CACHE_SIZE" </dev/null >>"$LOG" 2>&1 8>&- 9>&- &
  local start
  start=$(now)
  until ready; do
    if [[ -s "$PIDFILE" ]] && ! server_pid >/dev/null; then
      tail -n 30 "$LOG" >&2
      die "secantusd-rs exited during startup (see $LOG)"
    fi
    if (( $(now) - start >= START_TIMEOUT )); then
      tail -n 30 "$LOG" >&2
      die "secantusd-rs did not answer ping within ${START_TIMEOUT}s (see $LOG)"
    fi
    sleep 0.3
  done
  log "ready after $(( $(now) - start ))s, pid $(server_pid || echo '?')"
  print_env
}

stop() {
  local pid start
  pid=$(server_pid || true)
  if [[ -z "$pid" ]]; then
    port_open && die "port $PORT is open but not by the secantusd-rs this script started ($PIDFILE); not stopping it"
    log "stopped"
    return 0
  fi
  log "stopping pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  start=$(now)
  while kill -0 "$pid" 2>/dev/null; do
    if (( $(now) - start >= STOP_TIMEOUT )); then
      log "pid $pid did not exit after ${STOP_TIMEOUT}s, sending SIGKILL (WiredTiger recovers from its log on the next start)"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
      break
    fi
    sleep 0.2
  done
  start=$(now)
  while port_open; do
    (( $(now) - start >= 15 )) && die "port $PORT still open after the server exited"
    sleep 0.2
  done
  rm -f "$PIDFILE"
  log "stopped"
}

status() {
  local pid
  if ready; then
    pid=$(server_pid || echo '?')
    echo "secantus  running  pid=$pid  $(uri)  ($("$BIN" --version 2>/dev/null | head -n1 || echo 'version unknown'), WiredTiger, data in $DATA)"
  elif binary_current; then echo "secantus  stopped  (built: $BIN)"
  else echo "secantus  stopped  (not built)"; fi
}

wipe() {
  server_pid >/dev/null && die "stop the server before wiping its data"
  rm -rf "$DATA"
  log "deleted $DATA"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status) status ;;
  build) build ;;
  env) print_env ;;
  wipe) wipe ;;
  -h|--help|help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//' >&2 ;;
  *) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
