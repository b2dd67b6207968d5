"""AWS-like behaviour on top of moto server, for Lifeboat's tests and demo.

scripts/moto_server.py is the entry point; this package holds its parts:

- config:  the profiles (aws, fast) and the runtime settings
- app:     the WSGI wrapper (one request at a time, request log, faults,
           the /_emulator/ control endpoint)
- dynamo:  DynamoDB point-in-time recovery, exports and imports in AWS's
           layout, idempotency tokens, continuous-backups windows
- ec2:     EBS eventual consistency, pending snapshots, copy limits

moto itself is never edited: its model classes are patched in this process.
See docs/emulator.md.
"""
