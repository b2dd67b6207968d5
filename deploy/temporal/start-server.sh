#!/bin/sh
# Starts a Temporal server process with config/postgres.yaml, which the
# server renders from the environment (DB, POSTGRES_SEEDS, DB_PORT,
# POSTGRES_USER, POSTGRES_PWD, BIND_ON_IP, the ports; see that file).
# SERVICES (comma-separated, default all four) picks the services this
# process runs: docker-compose.yml and scripts/cluster.sh both run two
# processes, frontend+worker and history+matching, which find each other
# through the cluster_membership table and ringpop.
# Runs in temporalio/server (TEMPORAL_SERVER=temporal-server, the default)
# and from scripts/cluster.sh (the go-installed binary, named `server`).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
server=${TEMPORAL_SERVER:-temporal-server}
services=${SERVICES:-frontend,history,matching,worker}
: "${DYNAMIC_CONFIG_FILE_PATH:=$here/dynamicconfig/development-sql.yaml}"
export DYNAMIC_CONFIG_FILE_PATH

# Bound to every interface, ringpop must still tell the other processes an
# address they can reach: this container's, as the image's own entrypoint does.
if [ "${BIND_ON_IP:-}" = 0.0.0.0 ] && [ -z "${TEMPORAL_BROADCAST_ADDRESS:-}" ]; then
  TEMPORAL_BROADCAST_ADDRESS=$(getent hosts "$(hostname)" | awk '{print $1; exit}')
  export TEMPORAL_BROADCAST_ADDRESS
fi

set --
for s in $(echo "$services" | tr ',' ' '); do
  set -- "$@" --service "$s"
done
echo "server: starting $services"
# No authorizer: the frontend is reached only from the compose network or
# loopback (--allow-no-auth says so instead of warning at every start).
exec "$server" --root "$here" --config config --env postgres --allow-no-auth start "$@"
