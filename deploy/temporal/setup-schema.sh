#!/bin/sh
# Creates Temporal's two PostgreSQL databases and brings their schemas to the
# server's version. Idempotent: runs on every `docker compose up` (an existing
# database is kept, setup-schema skips a set-up one, update-schema applies only
# what is missing). Runs in temporalio/admin-tools, whose temporal-sql-tool and
# /etc/temporal/schema match the server image's version, and from
# scripts/cluster.sh (make up-cluster), which sets SQL_TOOL to the
# go-installed tool (named `sql`) and SCHEMA_DIR to the server module's
# schema/postgresql/v12 of the same release.
set -eu

host=${POSTGRES_SEEDS:-postgresql}
port=${DB_PORT:-5432}
user=${POSTGRES_USER:-temporal}
export SQL_PASSWORD="${POSTGRES_PWD:?POSTGRES_PWD is not set}"
schema=${SCHEMA_DIR:-/etc/temporal/schema/postgresql/v12}
tool=${SQL_TOOL:-temporal-sql-tool}
plugin=${DB:-postgres12}

sql() { "$tool" --plugin "$plugin" --ep "$host" -p "$port" -u "$user" "$@"; }

for pair in temporal:temporal temporal_visibility:visibility; do
  db=${pair%%:*}
  dir=$schema/${pair#*:}/versioned
  echo "schema: database $db"
  sql --db "$db" create
  sql --db "$db" setup-schema -v 0.0
  sql --db "$db" update-schema -d "$dir"
done
echo "schema: done"
