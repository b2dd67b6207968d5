#!/usr/bin/env bash
# The demo scenario, run against the stack `make up` started: create an
# environment and a dataset, load items, back up, write more, restore, and
# print a short report. Safe to run again: each run uses new ids.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
temporal_port=${TEMPORAL_PORT:-7233}
ui_port=${TEMPORAL_UI_PORT:-8233}
moto_port=${MOTO_PORT:-5000}
items=${DEMO_ITEMS:-1000}
export TEMPORAL_ADDRESS=127.0.0.1:$temporal_port
export AWS_ENDPOINT_URL=http://127.0.0.1:$moto_port
export AWS_REGION=${AWS_REGION:-us-east-1} AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-test} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-test}
lifeboat="$root/bin/lifeboat"

run=$(date -u +%H%M%S)
env="demo-$run"
dataset="orders"
bucket="${DEMO_BUCKET:-lifeboat-demo}"
location="s3://$bucket/backups"

ms() { date +%s%3N; }
step() { printf '\n== %s\n' "$*"; }

# The bucket: `make up` (scripts/stack.sh) made it, versioned, as a backup
# bucket must be (a user would point at a real one).

step "environment $env, dataset $dataset"
"$lifeboat" env create --env-id "$env"
"$lifeboat" dataset create --env-id "$env" --dataset-id "$dataset"

step "load $items items"
t0=$(ms)
"$lifeboat" data load --env-id "$env" --dataset-id "$dataset" --count "$items"
load_ms=$(( $(ms) - t0 ))
before=$("$lifeboat" data count --env-id "$env" --dataset-id "$dataset")

step "back up to $location"
t0=$(ms)
backup_out=$("$lifeboat" backup-dataset --env-id "$env" --dataset-id "$dataset" --backup-location "$location" --wait)
backup_ms=$(( $(ms) - t0 ))
echo "$backup_out"
backup_id=$(head -n1 <<<"$backup_out")
backup_pause=$(sed -n 's/^writes paused for \([0-9]*\) ms$/\1/p' <<<"$backup_out")

step "write more after the backup"
"$lifeboat" data load --env-id "$env" --dataset-id "$dataset" --count 250 --prefix after-backup
"$lifeboat" data put --env-id "$env" --dataset-id "$dataset" --key item-000001 --value changed-after-backup
after=$("$lifeboat" data count --env-id "$env" --dataset-id "$dataset")

step "restore into a new store"
t0=$(ms)
restore_out=$("$lifeboat" restore-dataset --env-id "$env" --dataset-id "$dataset" --backup-location "$location" --wait)
restore_ms=$(( $(ms) - t0 ))
echo "$restore_out"
restore_id=$(head -n1 <<<"$restore_out")
restore_pause=$(sed -n 's/^writes paused for \([0-9]*\) ms$/\1/p' <<<"$restore_out")
restored=$("$lifeboat" data count --env-id "$env" --dataset-id "$dataset")
first=$("$lifeboat" data get --env-id "$env" --dataset-id "$dataset" --key item-000001)

step "datasets"
"$lifeboat" dataset list --env-id "$env"

cat <<REPORT

==================== Lifeboat demo report ====================
environment / dataset   $env / $dataset
items loaded            $before (in ${load_ms} ms)
items after more writes $after
items after restore     $restored   (item-000001 = "$first")
backup                  ${backup_ms} ms, writes paused ${backup_pause} ms   workflow $backup_id
restore                 ${restore_ms} ms, writes paused ${restore_pause} ms   workflow $restore_id
Temporal Web UI         http://127.0.0.1:$ui_port/namespaces/default/workflows
  backup:  http://127.0.0.1:$ui_port/namespaces/default/workflows/$backup_id
  restore: http://127.0.0.1:$ui_port/namespaces/default/workflows/$restore_id
The stack stays up: 'make down' stops it.
==============================================================
REPORT
if [ "$restored" != "$before" ] || [ "$first" != "value of item #1" ]; then
  echo "demo: restored data does not match the backup" >&2
  exit 1
fi
