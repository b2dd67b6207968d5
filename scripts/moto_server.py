#!/usr/bin/env python3
"""Run moto server with one request at a time.

moto applies a DynamoDB transaction by deep-copying the tables it touches and
restoring those copies when a condition fails. Under concurrent requests that
rollback can undo other clients' committed writes and control-table updates,
which real DynamoDB never does. Lifeboat's write gate relies on transactions
being atomic, so locally we serialize requests: each API call is then atomic,
as it is on AWS. Background export and import jobs still run concurrently.

Usage: moto_server.py [--host 127.0.0.1] [--port 5000]
"""
import argparse
import os
import signal
import sys
import threading

from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app


class Serialized:
    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            # Buffer the body so the lock covers the whole request.
            return list(self.app(environ, start_response))


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
