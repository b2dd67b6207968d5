#!/usr/bin/env bash
# A throw-away production-style Temporal cluster on this machine, without
# Docker: PostgreSQL (Debian's package) and Temporal server v1.29.1 (built
# with go install) as two processes, frontend+worker and history+matching,
# set up by the same deploy/temporal/ scripts and settings docker-compose.yml
# uses (server.env, setup-schema.sh, start-server.sh, config/postgres.yaml,
# setup-namespace.sh). README, "Running on a production Temporal cluster".
#
#   scripts/cluster.sh up | down | status | test
#
# test: up, the integration suites against the cluster (two in-process
# Lifeboat workers per test package; CLUSTER_TEST_RUN narrows them with
# -run), then down whatever happened.
#
# Everything lives in LIFEBOAT_CLUSTER_DIR (default /tmp/lifeboat-cluster):
# the database, logs, pids, the rendered server config; down deletes it.
# Ports: frontend gRPC LIFEBOAT_CLUSTER_PORT (17233), the other services at
# +1 (history), +2 (matching), +6 (worker), frontend HTTP +10, membership
# ports 300 below each gRPC port (as 7233/6933); PostgreSQL
# LIFEBOAT_CLUSTER_PG_PORT (15432). Never those of `make up`.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
deploy=$root/deploy/temporal
state=${LIFEBOAT_CLUSTER_DIR:-${TMPDIR:-/tmp}/lifeboat-cluster}
server_version=${TEMPORAL_SERVER_VERSION:-v1.29.1}
gobin=$(go env GOPATH)/bin
server_bin=${TEMPORAL_SERVER_BIN:-$gobin/server}
sql_bin=${TEMPORAL_SQL_BIN:-$gobin/sql}
temporal_bin=${TEMPORAL_BIN:-$(command -v temporal || echo "$gobin/temporal")}
base=${LIFEBOAT_CLUSTER_PORT:-17233}
pg_port=${LIFEBOAT_CLUSTER_PG_PORT:-15432}
address=127.0.0.1:$base
namespace=default

# name:port of everything that listens.
ports=("frontend:$base" "frontend HTTP:$((base + 10))" "history:$((base + 1))" "matching:$((base + 2))"
  "worker:$((base + 6))" "frontend membership:$((base - 300))" "history membership:$((base + 1 - 300))"
  "matching membership:$((base + 2 - 300))" "worker membership:$((base + 6 - 300))" "PostgreSQL:$pg_port")
# Server processes: name and services.
processes=("frontend:frontend,worker" "history:history,matching")

log() { echo "cluster: $*"; }
die() { echo "cluster: $*" >&2; exit 1; }

running() { [ -f "$state/pids/$1.pid" ] && kill -0 "$(cat "$state/pids/$1.pid")" 2>/dev/null; }

any_running() {
  local p
  for p in "${processes[@]}"; do running "${p%%:*}" && return 0; done
  [ -f "$state/pg/postmaster.pid" ] && kill -0 "$(head -n1 "$state/pg/postmaster.pid")" 2>/dev/null
}

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# PostgreSQL refuses to run as root: its commands run as the postgres user
# then (the Debian package creates it).
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_bindir() {
  if [ -n "${PG_BIN:-}" ]; then echo "$PG_BIN"; return; fi
  find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n1
}

install_postgres() {
  [ -n "$(pg_bindir)" ] && [ -x "$(pg_bindir)/postgres" ] && return 0
  log "installing PostgreSQL (Debian package)..."
  local sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq postgresql >/dev/null
  [ -x "$(pg_bindir)/postgres" ] || die "PostgreSQL not found under /usr/lib/postgresql after installing; set PG_BIN"
}

# The server and its SQL schema tool, built from the module of the same
# release (5 to 10 minutes the first time, on 2 cores; README).
install_server() {
  if [ -x "$server_bin" ] && [ -x "$sql_bin" ] &&
    "$server_bin" --version 2>/dev/null | grep -q "version ${server_version#v}\b"; then
    return 0
  fi
  log "building Temporal server $server_version and its SQL tool with go install (several minutes the first time)..."
  local start=$SECONDS
  GOBIN=$(dirname "$server_bin") go install "go.temporal.io/server/cmd/server@$server_version" \
    "go.temporal.io/server/cmd/tools/sql@$server_version"
  log "built in $((SECONDS - start))s"
}

# The schema files of the same server release, from the Go module cache.
schema_dir() {
  local dir
  dir=$(go mod download -json "go.temporal.io/server@$server_version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -d "$dir/schema/postgresql/v12" ] || die "no schema/postgresql/v12 in go.temporal.io/server@$server_version ($dir)"
  echo "$dir/schema/postgresql/v12"
}

# The settings docker-compose.yml gives the server and schema containers,
# with this machine's database address and ports.
server_env() {
  set -a
  # shellcheck source=/dev/null
  . "$deploy/server.env"
  set +a
  export POSTGRES_SEEDS=127.0.0.1 DB_PORT=$pg_port BIND_ON_IP=127.0.0.1
  export FRONTEND_GRPC_PORT=$base FRONTEND_HTTP_PORT=$((base + 10)) FRONTEND_MEMBERSHIP_PORT=$((base - 300))
  export HISTORY_GRPC_PORT=$((base + 1)) HISTORY_MEMBERSHIP_PORT=$((base + 1 - 300))
  export MATCHING_GRPC_PORT=$((base + 2)) MATCHING_MEMBERSHIP_PORT=$((base + 2 - 300))
  export WORKER_GRPC_PORT=$((base + 6)) WORKER_MEMBERSHIP_PORT=$((base + 6 - 300))
  export TEMPORAL_SERVER=$server_bin
}

start_postgres() {
  local bindir pg=$state/pg
  bindir=$(pg_bindir)
  mkdir -p "$pg"
  printf '%s\n' "$POSTGRES_PWD" >"$state/pgpass"
  touch "$state/logs/postgres.log"
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$pg" "$state/pgpass" "$state/logs/postgres.log"; fi
  chmod 700 "$pg"
  # The compose file's postgres image makes POSTGRES_USER the superuser,
  # reached with a password over TCP: the same here.
  as_pg "$bindir/initdb" -D "$pg" -U "$POSTGRES_USER" --pwfile="$state/pgpass" -E UTF8 \
    --auth-local=trust --auth-host=scram-sha-256 >"$state/logs/initdb.log" 2>&1 ||
    { cat "$state/logs/initdb.log" >&2; die "initdb failed"; }
  # Throw-away data: no fsync. Four services per process each open their
  # own connection pools (default plus visibility), hence max_connections.
  as_pg "$bindir/pg_ctl" -D "$pg" -l "$state/logs/postgres.log" -w -t 60 \
    -o "-p $pg_port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$pg -c fsync=off -c max_connections=300" \
    start >/dev/null || { tail -n 20 "$state/logs/postgres.log" >&2; die "PostgreSQL did not start"; }
}

start_server() { # name services
  local name=$1
  SERVICES=$2 nohup sh "$deploy/start-server.sh" >"$state/logs/$name.log" 2>&1 &
  echo $! >"$state/pids/$name.pid"
}

# Waits until ringpop lists every service (cluster_membership is where the
# server processes find each other).
wait_membership() {
  local want=4 n=0
  for _ in $(seq 1 120); do
    n=$(members | wc -l)
    [ "$n" -ge "$want" ] && return 0
    sleep 1
  done
  die "only $n of $want services joined the membership ring; see $state/logs"
}

# "role host:port" of each live member; roles 1-4: frontend, history,
# matching, worker.
members() {
  PGPASSWORD=$POSTGRES_PWD "$(pg_bindir)/psql" -h 127.0.0.1 -p "$pg_port" -U "$POSTGRES_USER" -d temporal -Atq -F ' ' \
    -c "SELECT DISTINCT CASE role WHEN 1 THEN 'frontend' WHEN 2 THEN 'history' WHEN 3 THEN 'matching' WHEN 4 THEN 'worker' ELSE role::text END, rpc_address || ':' || rpc_port FROM cluster_membership WHERE record_expiry > now() AT TIME ZONE 'UTC' ORDER BY 1" 2>/dev/null
}

up() {
  if any_running; then
    log "already up at $address (scripts/cluster.sh status; make down-cluster to stop it)"
    return 0
  fi
  [ -x "$temporal_bin" ] || die "Temporal CLI not found at $temporal_bin; run 'make tools'"
  local p
  for p in "${ports[@]}"; do
    if listening "${p##*:}"; then
      die "port ${p##*:} (${p%:*}) is in use; choose others with LIFEBOAT_CLUSTER_PORT / LIFEBOAT_CLUSTER_PG_PORT"
    fi
  done
  install_postgres
  install_server
  local schema start=$SECONDS
  schema=$(schema_dir)
  rm -rf "$state"
  mkdir -p "$state/logs" "$state/pids"
  chmod 755 "$state" "$state/logs"
  server_env

  log "PostgreSQL on 127.0.0.1:$pg_port"
  start_postgres
  log "schema (deploy/temporal/setup-schema.sh)"
  SQL_TOOL=$sql_bin SCHEMA_DIR=$schema sh "$deploy/setup-schema.sh" >"$state/logs/schema.log" 2>&1 ||
    { tail -n 20 "$state/logs/schema.log" >&2; die "schema setup failed; see $state/logs/schema.log"; }
  "$server_bin" --config "$deploy/config" --env postgres render-config >"$state/temporal-config.yaml" 2>/dev/null || true

  for p in "${processes[@]}"; do
    log "server process ${p%%:*}: ${p#*:}"
    start_server "${p%%:*}" "${p#*:}"
  done
  log "namespace and search attributes (deploy/temporal/setup-namespace.sh)"
  TEMPORAL_ADDRESS=$address TEMPORAL_NAMESPACE=$namespace TEMPORAL_BIN=$temporal_bin \
    sh "$deploy/setup-namespace.sh" >"$state/logs/setup.log" 2>&1 ||
    { tail -n 20 "$state/logs/setup.log" >&2; for p in "${processes[@]}"; do tail -n 5 "$state/logs/${p%%:*}.log" >&2; done; die "namespace setup failed; see $state/logs"; }
  wait_membership
  for p in "${processes[@]}"; do
    running "${p%%:*}" || die "server process ${p%%:*} exited; see $state/logs/${p%%:*}.log"
  done
  printf 'TEMPORAL_ADDRESS=%s\nTEMPORAL_NAMESPACE=%s\nLIFEBOAT_TEST_TEMPORAL_ADDRESS=%s\nLIFEBOAT_TEST_TEMPORAL_NAMESPACE=%s\n' \
    "$address" "$namespace" "$address" "$namespace" >"$state/cluster.env"
  log "up in $((SECONDS - start))s: Temporal $server_version at $address (namespace $namespace), PostgreSQL 127.0.0.1:$pg_port"
  members | sed 's/^/  /'
  cat <<EOF
  $temporal_bin operator namespace describe --address $address --namespace $namespace
  LIFEBOAT_TEST_TEMPORAL_ADDRESS=$address go test -count=1 -run Integration ./internal/integration/
  logs: $state/logs    stop: make down-cluster
EOF
}

down() {
  local p pid
  for p in "${processes[@]}"; do
    if running "${p%%:*}"; then kill "$(cat "$state/pids/${p%%:*}.pid")" 2>/dev/null || true; fi
  done
  for p in "${processes[@]}"; do
    running "${p%%:*}" || continue
    pid=$(cat "$state/pids/${p%%:*}.pid")
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && { log "server process ${p%%:*} still running after 30s: killing it"; kill -9 "$pid" 2>/dev/null || true; }
  done
  if [ -f "$state/pg/postmaster.pid" ]; then
    as_pg "$(pg_bindir)/pg_ctl" -D "$state/pg" -m fast -w stop >/dev/null 2>&1 ||
      { pid=$(head -n1 "$state/pg/postmaster.pid"); kill -9 "$pid" 2>/dev/null || true; }
  fi
  if [ -d "$state" ]; then
    rm -rf "$state"
    log "down (removed $state)"
  else
    log "not running"
  fi
}

status() {
  if ! any_running; then log "not running"; return 1; fi
  local p
  for p in "${processes[@]}"; do
    if running "${p%%:*}"; then log "${p%%:*} (${p#*:}): pid $(cat "$state/pids/${p%%:*}.pid")"; else log "${p%%:*}: not running"; fi
  done
  set -a
  # shellcheck source=/dev/null
  . "$deploy/server.env"
  set +a
  members | sed 's/^/  /'
  "$temporal_bin" operator cluster health --address "$address"
}

run_tests() {
  any_running && die "a cluster is already up in $state: make down-cluster first (test-cluster starts and stops its own)"
  trap down EXIT
  trap 'exit 130' INT TERM
  up
  local start=$SECONDS code=0
  log "go test -race ./internal/integration/... against $address${CLUSTER_TEST_RUN:+ (-run $CLUSTER_TEST_RUN)}"
  (cd "$root" && LIFEBOAT_TEST_TEMPORAL_ADDRESS=$address LIFEBOAT_TEST_TEMPORAL_NAMESPACE=$namespace \
    go test -race -count=1 -timeout 30m ${CLUSTER_TEST_RUN:+-run "$CLUSTER_TEST_RUN"} ./internal/integration/...) || code=$?
  if [ "$code" -ne 0 ]; then
    # down deletes the cluster's folder: keep the server logs for the report.
    local kept
    kept=$(mktemp -d "${TMPDIR:-/tmp}/lifeboat-cluster-logs.XXXXXX")
    cp -r "$state/logs/." "$kept/"
    log "tests failed after $((SECONDS - start))s; the cluster's logs are kept in $kept"
    return "$code"
  fi
  log "tests passed in $((SECONDS - start))s"
}

case ${1:-} in
  up) up ;;
  down) down ;;
  status) status ;;
  test) run_tests ;;
  *) echo "usage: $0 up|down|status|test" >&2; exit 2 ;;
esac
