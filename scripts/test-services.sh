#!/usr/bin/env bash
# Runs the suites that need real servers: starts them with scripts/services.sh (installing what is
# missing, idempotently), exports their URLs, then runs the vitest `services` project.
# Servers already given through REDIS_URL / POSTGRES_URL / MONGODB_URI / RABBITMQ_URL / KAFKA_BROKERS are used as is
# where scripts/services.sh supports it (MONGODB_URI).
set -euo pipefail
cd "$(dirname "$0")/.."

services=(${CRM_TEST_SERVICES:-redis postgres mongo rabbitmq kafka})
env_lines=$(bash scripts/services.sh up "${services[@]}")
while IFS= read -r line; do
  [[ "$line" == *=* ]] || continue
  name=${line%%=*}
  # A value the caller set wins over the script's default.
  if [[ -z "${!name:-}" ]]; then export "$line"; fi
done <<<"$env_lines"

# The 4-engine exactly-once tests run with 5,000 triggers on every real store (about 10 s on the MongoDB-wire
# server, a few seconds on PostgreSQL); CRM_ENGINES_TEST_TRIGGERS runs them larger or smaller.
export CRM_ENGINES_TEST_TRIGGERS="${CRM_ENGINES_TEST_TRIGGERS:-5000}"

exec npx vitest run --project services "$@"
