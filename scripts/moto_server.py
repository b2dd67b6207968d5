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

Usage: moto_server.py [--host 127.0.0.1] [--port 5000]
"""
import argparse
import copy
import os
import signal
import sys
import threading

from werkzeug.serving import run_simple
from moto.core.model_instances import reset_model_data
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
import moto.dynamodb.models as dynamodb_models


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


class Serialized:
    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            try:
                # Buffer the body so the lock covers the whole request.
                return list(self.app(environ, start_response))
            finally:
                reset_model_data()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(args.host, args.port, Serialized(app), threaded=True)


if __name__ == "__main__":
    main()
