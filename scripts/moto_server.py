#!/usr/bin/env python3
"""Run moto server with one request at a time.

moto applies a DynamoDB transaction by deep-copying the tables it touches and
restoring those copies when a condition fails. Under concurrent requests that
rollback can undo other clients' committed writes and control-table updates,
which real DynamoDB never does. Lifeboat's write gate relies on transactions
being atomic, so locally we serialize requests: each API call is then atomic,
as it is on AWS. Background export and import jobs still run concurrently.

Two more local fixes keep long runs usable (neither changes an API's result):
- moto copies a table once per *action* of a transaction; here once per table.
- moto keeps every model object it ever made (for its dashboard), copies
  included, so memory grows by a table copy per write; the list is cleared
  after each request.

On top of that the emulator package (scripts/emulator/, docs/emulator.md)
makes moto behave like AWS where Lifeboat depends on it: point-in-time
exports, AWS's export layout, job durations, idempotency tokens, EBS
eventual consistency, injected faults, and a control endpoint /_emulator/.

Usage: moto_server.py [--host 127.0.0.1] [--port 5000] [--profile aws|fast]
                      [--job-seconds S] [--fault-rate R] ... (--help)
"""
import argparse
import copy
import json
import os
import signal
import sys

from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
import moto.dynamodb.models as dynamodb_models

from emulator.app import Emulator
from emulator.config import FIELDS, PROFILES, Config


class _CopyOncePerTable:
    """Stands in for the copy module inside one transact_write_items call."""

    def __init__(self):
        self.copies = {}

    def deepcopy(self, obj):
        if id(obj) not in self.copies:
            self.copies[id(obj)] = copy.deepcopy(obj)
        return self.copies[id(obj)]


_transact_write_items = dynamodb_models.DynamoDBBackend.transact_write_items


def _transact_copying_once(self, transact_items):
    # Safe to swap the module's global: requests run one at a time.
    dynamodb_models.copy = _CopyOncePerTable()
    try:
        return _transact_write_items(self, transact_items)
    finally:
        dynamodb_models.copy = copy


dynamodb_models.DynamoDBBackend.transact_write_items = _transact_copying_once


def main():
    parser = argparse.ArgumentParser(description="moto server with AWS-like behaviour (docs/emulator.md)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--profile", choices=sorted(PROFILES), default=os.environ.get("EMULATOR_PROFILE") or "aws",
                        help="aws: AWS's timings; fast: everything at once (default $EMULATOR_PROFILE, else aws)")
    for key, (flag, typ) in FIELDS.items():
        parser.add_argument(flag, dest=key, type=typ, default=None,
                            help=f"{key} (aws: {PROFILES['aws'][key]}, fast: {PROFILES['fast'][key]})")
    parser.add_argument("--fault-kinds", dest="faultKinds", default=None,
                        help="comma-separated subset of throttle,error,lost (default all)")
    args = parser.parse_args()
    cfg = Config(args.profile)
    cfg.patch({k: v for k, v in vars(args).items() if k in FIELDS or k == "faultKinds" if v is not None})
    os.environ.setdefault("MOTO_PORT", str(args.port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = Emulator(DomainDispatcherApplication(create_backend_app), cfg)
    print(f"emulator: profile {cfg.profile} on http://{args.host}:{args.port} "
          f"config {json.dumps(cfg.snapshot(), sort_keys=True)}", flush=True)
    run_simple(args.host, args.port, app, threaded=True)


if __name__ == "__main__":
    main()
