#!/usr/bin/env bash
# Run a command (e.g. ../shared/bench/bench_api.py) while `flask worker` runs beside it
# against the same PostgreSQL database, so that audit entries are sequenced during
# the measurement as in production. The worker is restarted if it exits (the
# benchmark may drop and recreate the database under it) and stopped at the end.
#
#   benchmarks/with_worker.sh postgresql+psycopg://postgres@127.0.0.1:5432/perf \
#       python3 ../shared/bench/bench_api.py --db postgres --project . ...
set -u
cd "$(dirname "$0")/.."
url="$1"; shift
export CONSENTMGR_DATABASE_URL="$url"
export CONSENTMGR_MASTER_KEYS="${CONSENTMGR_MASTER_KEYS:-perf1:$(python3 -c 'import base64,os;print(base64.b64encode(os.urandom(32)).decode())')}"
(
  while true; do
    .venv/bin/flask --app wsgi worker --name bench-worker >>"${WORKER_LOG:-/tmp/bench-worker.log}" 2>&1
    sleep 1
  done
) &
loop=$!
trap 'kill $loop 2>/dev/null; pkill -f "worker --name bench-worker"; wait $loop 2>/dev/null' EXIT
"$@" --env "CONSENTMGR_MASTER_KEYS=$CONSENTMGR_MASTER_KEYS"
