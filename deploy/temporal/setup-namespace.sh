#!/bin/sh
# Waits for the Temporal frontend, creates the namespace if it is missing and
# registers Lifeboat's custom search attributes in it. Idempotent: an existing
# namespace is kept and attributes already registered with the same type are
# skipped by the CLI. The workers register the same attributes at start-up too.
# Runs in temporalio/admin-tools (Temporal CLI `temporal`) and from
# scripts/cluster.sh (TEMPORAL_BIN: the CLI `make tools` installs).
set -eu

address=${TEMPORAL_ADDRESS:-temporal:7233}
namespace=${TEMPORAL_NAMESPACE:-default}
retention=${NAMESPACE_RETENTION:-168h}
cli=${TEMPORAL_BIN:-temporal}

# retry N COMMAND...: runs COMMAND until it succeeds, N tries 2s apart.
retry() {
  tries=$1; shift
  n=1
  until "$@"; do
    if [ "$n" -ge "$tries" ]; then
      echo "setup: gave up after $tries tries: $*" >&2
      return 1
    fi
    n=$((n + 1))
    sleep 2
  done
}

t() { "$cli" --address "$address" "$@"; }

echo "setup: waiting for Temporal at $address"
retry 90 t operator cluster health >/dev/null

# Describe, else create; a failed create (server still starting, or a
# concurrent create) is retried and the next describe settles it.
ensure_namespace() {
  t operator namespace describe --namespace "$namespace" >/dev/null 2>&1 && return 0
  echo "setup: creating namespace $namespace (retention $retention)"
  t operator namespace create --namespace "$namespace" --retention "$retention"
}
retry 30 ensure_namespace
echo "setup: namespace $namespace ready"

# One attribute per call: the CLI pairs each --name with a --type. A new
# namespace takes a few seconds to reach every service, hence the retries.
echo "setup: search attributes in $namespace"
for attr in LifeboatOperation:Keyword LifeboatEnvironment:Keyword LifeboatDatasets:KeywordList \
  LifeboatRegions:KeywordList LifeboatScheduleId:Keyword; do
  retry 30 t operator search-attribute create --namespace "$namespace" --name "${attr%%:*}" --type "${attr#*:}"
done
t operator search-attribute list --namespace "$namespace" | grep Lifeboat
echo "setup: done"
