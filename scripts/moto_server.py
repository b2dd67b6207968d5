#!/usr/bin/env python3
"""Run moto server with one request at a time.

moto applies a DynamoDB transaction by deep-copying the tables it touches and
restoring those copies when a condition fails. Under concurrent requests that
rollback can undo other clients' committed writes and control-table updates,
which real DynamoDB never does. Lifeboat's write gate relies on transactions
being atomic, so locally we serialize requests: each API call is then atomic,
as it is on AWS. Background export and import jobs still run concurrently.

Two more local fixes keep long runs usable (neither changes an API's result):
- moto deep-copies every table a transaction touches, to roll it back; here
  conditions are checked first and writes applied after, with no copy.
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
from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)

from emulator.app import Emulator
from emulator.config import FIELDS, PROFILES, Config


def _transact_write_items(self, transact_items):
    """TransactWriteItems without copying tables: check every condition
    first, then apply every write. moto's own version deep-copies each table
    the transaction touches so it can roll back, which costs time and memory
    in the table's size (a gate write to a 100,000-item table took over a
    second) where DynamoDB costs nothing. Requests run one at a time, so
    nothing changes between the checks and the writes; each item appears once
    in a transaction (moto's unicity rule, kept), so a write never changes
    what a later check reads. A write that fails anyway (an invalid update
    expression) puts back the items already written and re-raises, as moto's
    rollback did."""
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    seen = set()
    plan, errors = [], []
    for item in transact_items:
        if len(list(item.keys())) > 1:
            raise TransactWriteSingleOpException
        original_item = None
        try:
            op_type, op = next(iter(item.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            if op_type == "Put":
                table = self.get_table(table_name)
                key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = op["Item"][table.range_key_attr]
            else:
                key = op["Key"]
            ident = (str(table_name), str(dict(sorted(key.items()))))
            if ident in seen:
                raise MultipleTransactionsException()
            seen.add(ident)
            current = self.get_item(table_name, key)
            cond = op.get("ConditionExpression")
            if cond is not None:
                check = get_filter_expression(cond, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues"))
                if not check.expr(current):
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        original_item = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=original_item)
            plan.append((op_type, op, table_name, key, copy.deepcopy(current)))
            errors.append((None, None, None))
        except MockValidationException:
            raise
        except ConditionalCheckFailed as e:
            errors.append(("ConditionalCheckFailed", str(e.message), original_item))
        except Exception as e:  # noqa: as moto: any other failure cancels the transaction
            errors.append((type(e).__name__, str(e), original_item))
    if any(code is not None for code, _, _ in errors):
        raise TransactionCanceledException(errors)
    done = []
    try:
        for op_type, op, table_name, key, before in plan:
            names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
            if op_type == "Put":
                self.put_item(table_name, op["Item"], expression_attribute_names=names, expression_attribute_values=values)
            elif op_type == "Delete":
                self.delete_item(table_name, key, expression_attribute_names=names, expression_attribute_values=values)
            elif op_type == "Update":
                self.update_item(table_name, key, update_expression=op["UpdateExpression"],
                                 expression_attribute_names=names, expression_attribute_values=values)
            done.append((table_name, key, before))
    except Exception:
        for table_name, key, before in reversed(done):
            if before is None:
                self.delete_item(table_name, key)
            else:
                self.put_item(table_name, before.to_json()["Attributes"])
        raise


dynamodb_models.DynamoDBBackend.transact_write_items = _transact_write_items


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
    # S3 refuses another account's bucket (AccessDenied), as AWS does
    # without a bucket policy granting it: a bucket in a backup account is
    # reached only through a role assumed there (docs/emulator.md).
    os.environ.setdefault("MOTO_S3_ALLOW_CROSSACCOUNT_ACCESS", "false")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = Emulator(DomainDispatcherApplication(create_backend_app), cfg)
    print(f"emulator: profile {cfg.profile} on http://{args.host}:{args.port} "
          f"config {json.dumps(cfg.snapshot(), sort_keys=True)}", flush=True)
    run_simple(args.host, args.port, app, threaded=True)


if __name__ == "__main__":
    main()
