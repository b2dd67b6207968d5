#!/usr/bin/env bash
# Starts or stops Lifeboat's local stack in the background: the Temporal dev
# server (Web UI included), moto server and two workers. Logs and pids live
# under $LIFEBOAT_STATE (default .lifeboat/ in the repo, git-ignored).
#
#   scripts/stack.sh up | down | status
#
# Ports: TEMPORAL_PORT (7233), TEMPORAL_UI_PORT (8233), MOTO_PORT (5000),
# worker N serves Prometheus metrics on METRICS_PORT_BASE+N (9090+N).
# Lifeboat's search attributes are registered on the dev server at start.
# The AWS emulator runs with EMULATOR_PROFILE (aws: AWS's timings, the
# default; fast: everything at once) plus any EMULATOR_ARGS, e.g.
# EMULATOR_ARGS="--job-seconds 2 --fault-rate 0.05" (docs/emulator.md).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
state=${LIFEBOAT_STATE:-$root/.lifeboat}
temporal_port=${TEMPORAL_PORT:-7233}
ui_port=${TEMPORAL_UI_PORT:-8233}
moto_port=${MOTO_PORT:-5000}
workers=${LIFEBOAT_WORKERS:-2}
metrics_base=${METRICS_PORT_BASE:-9090}
emulator_profile=${EMULATOR_PROFILE:-aws}
read -r -a emulator_args <<<"${EMULATOR_ARGS:-}"
# Keep in step with workflows/searchattrs.go (workers also register them).
search_attributes=(LifeboatOperation=Keyword LifeboatEnvironment=Keyword LifeboatDatasets=KeywordList
  LifeboatRegions=KeywordList LifeboatScheduleId=Keyword)
temporal_bin=${TEMPORAL_BIN:-$(command -v temporal || echo "$(go env GOPATH)/bin/temporal")}

mkdir -p "$state/logs" "$state/pids"

running() { [ -f "$state/pids/$1.pid" ] && kill -0 "$(cat "$state/pids/$1.pid")" 2>/dev/null; }

wait_port() { # name port
  for _ in $(seq 1 150); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  echo "stack: $1 did not open port $2; see $state/logs/$1.log" >&2
  tail -n 20 "$state/logs/$1.log" >&2 || true
  return 1
}

# holder PORT: "name (pid N)" of the process listening on 127.0.0.1:PORT or
# any address, "another process" when ss cannot say; empty if the port is free.
holder() {
  local line
  line=$(ss -Hltnp "sport = :$1" 2>/dev/null | head -n 1) || true
  if [ -z "$line" ]; then
    # No ss, or no listener it can see: probe the port itself.
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && echo "another process"
    return 0
  fi
  if [[ $line =~ users:\(\(\"([^\"]+)\",pid=([0-9]+) ]]; then
    echo "${BASH_REMATCH[1]} (pid ${BASH_REMATCH[2]})"
  else
    echo "another process"
  fi
}

# check_port NAME PORT WHAT: refuse to start NAME when PORT is taken by
# something that is not this stack's NAME, instead of reporting the stack up
# with its workers on someone else's server. One line, exit 1.
check_port() {
  local name=$1 port=$2 what=$3 who
  running "$name" && return 0
  who=$(holder "$port")
  [ -z "$who" ] && return 0
  echo "stack: port $port ($what) is taken by $who, not by this stack: stop it or pick another port (e.g. make up ${4:-}=<port>)" >&2
  exit 1
}

start() { # name command...
  local name=$1; shift
  if running "$name"; then echo "stack: $name already running (pid $(cat "$state/pids/$name.pid"))"; return 0; fi
  nohup "$@" >"$state/logs/$name.log" 2>&1 &
  echo $! >"$state/pids/$name.pid"
}

up() {
  [ -x "$temporal_bin" ] || { echo "stack: Temporal CLI not found; run 'make tools'" >&2; exit 1; }
  check_port temporal "$temporal_port" "Temporal frontend" TEMPORAL_PORT
  check_port temporal "$ui_port" "Temporal Web UI" TEMPORAL_UI_PORT
  check_port moto "$moto_port" "moto, the AWS emulator" MOTO_PORT
  for i in $(seq 1 "$workers"); do
    check_port "worker$i" "$((metrics_base + i))" "worker$i metrics" METRICS_PORT_BASE
  done
  start temporal "$temporal_bin" server start-dev --ip 127.0.0.1 --port "$temporal_port" --ui-port "$ui_port" \
    --db-filename "$state/temporal.db" --log-level warn \
    "${search_attributes[@]/#/--search-attribute=}"
  start moto python3 "$root/scripts/moto_server.py" --port "$moto_port" --profile "$emulator_profile" \
    ${emulator_args[@]+"${emulator_args[@]}"}
  wait_port temporal "$temporal_port"
  wait_port moto "$moto_port"
  # The dev server opens its port before the default namespace is ready.
  for _ in $(seq 1 100); do
    "$temporal_bin" operator namespace describe --address "127.0.0.1:$temporal_port" default >/dev/null 2>&1 && break
    sleep 0.2
  done
  make -C "$root" --no-print-directory build >/dev/null
  export TEMPORAL_ADDRESS=127.0.0.1:$temporal_port
  export AWS_ENDPOINT_URL=http://127.0.0.1:$moto_port
  export AWS_REGION=${AWS_REGION:-us-east-1} AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-test} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-test}
  export LIFEBOAT_POLL_INTERVAL=${LIFEBOAT_POLL_INTERVAL:-500ms}
  for i in $(seq 1 "$workers"); do
    LIFEBOAT_METRICS_ADDR=127.0.0.1:$((metrics_base + i)) start "worker$i" "$root/bin/worker"
  done
  # The bucket README's commands use (versioned, as a backup bucket must be).
  python3 - "${DEMO_BUCKET:-lifeboat-demo}" <<'PY' || { echo "stack: could not create the demo bucket on moto" >&2; exit 1; }
import os, sys, boto3
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ["AWS_REGION"])
try:
    s3.create_bucket(Bucket=sys.argv[1])
except (s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):
    pass
s3.put_bucket_versioning(Bucket=sys.argv[1], VersioningConfiguration={"Status": "Enabled"})
PY
  sleep 1
  for i in $(seq 1 "$workers"); do
    running "worker$i" || { echo "stack: worker$i exited; see $state/logs/worker$i.log" >&2; tail -n 20 "$state/logs/worker$i.log" >&2; exit 1; }
  done
  cat <<MSG
stack up: Temporal 127.0.0.1:$temporal_port, Web UI http://127.0.0.1:$ui_port, moto http://127.0.0.1:$moto_port (profile $emulator_profile), $workers workers
bucket: s3://${DEMO_BUCKET:-lifeboat-demo} (versioned; README's commands use it)
metrics: http://127.0.0.1:$((metrics_base + 1))/metrics ... http://127.0.0.1:$((metrics_base + workers))/metrics
logs: $state/logs
to use the CLI against it:
  export TEMPORAL_ADDRESS=127.0.0.1:$temporal_port AWS_ENDPOINT_URL=http://127.0.0.1:$moto_port AWS_REGION=${AWS_REGION} AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
MSG
}

down() {
  for f in "$state"/pids/*.pid; do
    [ -e "$f" ] || continue
    pid=$(cat "$f")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$f"
  done
  echo "stack down"
}

status() {
  for f in "$state"/pids/*.pid; do
    [ -e "$f" ] || continue
    name=$(basename "$f" .pid)
    if running "$name"; then echo "$name: running (pid $(cat "$f"))"; else echo "$name: stopped"; fi
  done
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
