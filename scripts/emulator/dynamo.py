"""DynamoDB as AWS does it, on moto's tables.

- Point-in-time recovery: every committed write to a table with PITR on is
  recorded per key (item image or deletion, with its commit time); a key's
  image at the time PITR was enabled is taken at its first write after that.
  An export at time T is the live table with each recorded key replaced by
  its latest image committed at or before T.
- ExportTableToPointInTime / DescribeExport / ListExports and ImportTable /
  DescribeImport / ListImports are answered here (not by moto): AWS's export
  layout, job durations, client tokens, import error counting, the new
  table CREATING until its import completes.
- UpdateContinuousBackups is refused for a while after a table is created
  or imported; DescribeContinuousBackups reports a moving window.
- TransactWriteItems honours ClientRequestToken (10 minutes).

Requests are serialized by the caller (app.Emulator), so all of this runs
under one lock; jobs complete lazily, at the first request after they are
due (tick).
"""
import base64
import bisect
import datetime
import gzip
import hashlib
import io
import json
import os
import time
import uuid

from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from moto.dynamodb.models.utilities import dynamo_json_dump

ERR = "com.amazonaws.dynamodb.v20120810#"
EXPORT_TOKEN_TTL = 8 * 3600   # ExportTableToPointInTime / ImportTable ClientToken
TXN_TOKEN_TTL = 10 * 60       # TransactWriteItems ClientRequestToken
ITEMS_PER_FILE_MIN = 100      # at most one data file per this many items ...
DATA_FILES_MAX = 8            # ... and up to this many files, until
ITEMS_PER_FILE_MAX = 10000    # files would hold more than this: then more files

# Item-level actions: refused while a table is CREATING (as AWS: the table
# is not usable before it is ACTIVE), throttled as ProvisionedThroughputExceeded.
DATA_PLANE = {
    "GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan",
    "BatchGetItem", "BatchWriteItem", "TransactGetItems", "TransactWriteItems",
    "ExecuteStatement", "BatchExecuteStatement", "ExecuteTransaction",
}


class DynamoError(Exception):
    def __init__(self, code, message, status=400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status

    def response(self):
        return self.status, json.dumps({"__type": ERR + self.code, "message": self.message}).encode()


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def job_id(t):
    # AWS's export and import ids: 14-digit milliseconds, dash, 8 hex.
    return f"{int(t * 1000):014d}-{os.urandom(4).hex()}"


class Pitr:
    __slots__ = ("enabled_at", "history", "existed")

    def __init__(self, t, existed):
        self.enabled_at = t
        self.history = {}       # plain key -> [(commit time, attrs|None)], first entry as at enabled_at
        self.existed = existed  # plain keys of the items the table held at enabled_at


def _image(item):
    return None if item is None else item.to_json()["Attributes"]


def _plain(dt):
    # A key attribute as a cheap, hashable tuple (moto's DynamoType hashes slowly).
    return None if dt is None else (dt.type, dt.value)


def _key_of(table, attrs):
    """The plain key of an item or key given as request JSON, or None."""
    try:
        h = attrs.get(table.hash_key_attr)
        if h is None:
            return None
        r = None
        if table.range_key_attr is not None:
            r = attrs.get(table.range_key_attr)
            if r is None:
                return None
            r = next(iter(r.items()))
        key = (next(iter(h.items())), r)
        hash(key)
        return key
    except Exception:  # malformed: moto will refuse the write itself
        return None


def _dynamo_key(key):
    h, r = key
    return DynamoType({h[0]: h[1]}), (DynamoType({r[0]: r[1]}) if r is not None else None)


def _at(hist, t):
    i = bisect.bisect_right(hist, t, key=lambda e: e[0]) - 1
    return hist[i][1] if i >= 0 else None


class Job:
    """An export or import: IN_PROGRESS until due, then completed by tick."""

    def __init__(self, kind, arn, region, token, params, started, due):
        self.kind, self.arn, self.region = kind, arn, region
        self.token, self.params = token, params
        self.start_time, self.due, self.end_time = started, due, None
        self.status = "IN_PROGRESS"
        self.failure_code = self.failure_message = None


class DynamoState:
    def __init__(self, cfg):
        self.cfg = cfg
        self.pitr = {}            # (account, region, table) -> Pitr
        self.pending = []         # keys touched by the current request
        self.created = {}         # (account, region, table) -> time created / imported
        self.table_ids = {}       # table arn -> TableId
        self.jobs = {}            # arn -> Job (exports and imports)
        self.tokens = {}          # (kind, account, region, token) -> (fingerprint, arn, time)
        self.creating = {}        # (account, region, table) -> import Job
        self.txn_tokens = {}      # (account, region, token) -> (fingerprint, time, status, body)

    # --- write recording (called from the patched model methods) ---

    def touch(self, table, key):
        """Before a write to key: keep the key's image as at PITR's start."""
        p = self.pitr.get((table.account_id, table.region_name, table.name))
        if p is None or key is None or key in p.history:
            return
        pre = None
        if key in p.existed:
            try:
                pre = _image(table.get_item(*_dynamo_key(key)))
            except Exception:
                return
        p.history[key] = [(p.enabled_at, pre)]

    def record(self, table, key, image):
        """After a write to key: its new image (None: deleted), kept until
        the request's outcome is known (commit)."""
        p = self.pitr.get((table.account_id, table.region_name, table.name))
        if p is not None and key is not None and key in p.history:
            self.pending.append((p, table.account_id, table.region_name, table.name, key, image))

    def commit(self, ok):
        """After a request: its writes become history if it succeeded."""
        pend, self.pending = self.pending, []
        if not ok or not pend:
            return
        now = time.time()
        last = {}
        for p, acct, region, name, key, image in pend:
            if self.pitr.get((acct, region, name)) is p:
                last[(id(p), key)] = (p, key, image)
        for p, key, image in last.values():
            hist = p.history[key]
            if hist[-1][1] != image:
                hist.append((now, image))

    # --- helpers ---

    def backend(self, region):
        return dynamodb_backends[DEFAULT_ACCOUNT_ID][region]

    def table_by_arn(self, region, arn):
        for t in self.backend(region).tables.values():
            if t.table_arn == arn:
                return t
        raise DynamoError("TableNotFoundException", f"Table not found: {arn}")

    def table_id(self, arn):
        if arn not in self.table_ids:
            self.table_ids[arn] = str(uuid.uuid4())
        return self.table_ids[arn]

    def s3(self):
        from moto.s3.models import s3_backends
        return s3_backends[DEFAULT_ACCOUNT_ID]["aws"]

    def s3_for(self, bucket, owner):
        """The S3 backend holding bucket, as an export or import reaches it,
        or None and the job's failure. A bucket of another account than the
        caller's is reached only when S3BucketOwner names that account, as
        AWS requires (its bucket policy is assumed to grant the caller);
        an S3BucketOwner that is not the bucket's account is refused."""
        from moto.s3.models import s3_backends
        where = s3_backends.bucket_accounts.get(bucket)
        if where is None:
            return None, ("S3NoSuchBucket", "The specified bucket does not exist")
        partition, account = where
        if (owner or DEFAULT_ACCOUNT_ID) != account:
            return None, ("S3AccessDenied", f"Access Denied: bucket {bucket} belongs to account {account}, "
                                            f"S3BucketOwner is {owner or 'not set'}")
        return s3_backends[account][partition], None

    def pitr_window(self, table):
        """(earliest, latest) restorable times, or None if PITR is off."""
        p = self.pitr.get((table.account_id, table.region_name, table.name))
        if p is None:
            return None
        now = time.time()
        return p.enabled_at, max(p.enabled_at, now - self.cfg["pitrLatestLagSeconds"])

    def unavailable(self, acct, region, name):
        t = self.created.get((acct, region, name))
        return t is not None and time.time() < t + self.cfg["pitrUnavailableSeconds"]

    # --- request dispatch ---

    def before(self, action, region, body):
        """Answer the request here, or None to let moto answer it."""
        h = HANDLERS.get(action)
        if h is None:
            if action in DATA_PLANE and self.creating:
                for name in _tables_of(body):
                    if (DEFAULT_ACCOUNT_ID, region, name) in self.creating:
                        raise DynamoError("ResourceNotFoundException",
                                          f"Requested resource not found: Table: {name} not found")
            return None
        return h(self, region, body)

    def after(self, action, region, body, status):
        """Bookkeeping once moto answered (status is moto's)."""
        self.commit(status < 300)
        if status >= 300:
            return
        name = body.get("TableName")
        if action == "CreateTable" and name:
            k = (DEFAULT_ACCOUNT_ID, region, name)
            self.created[k] = time.time()
            self.pitr.pop(k, None)
        elif action == "DeleteTable" and name:
            k = (DEFAULT_ACCOUNT_ID, region, name)
            self.created.pop(k, None)
            self.pitr.pop(k, None)
            self.creating.pop(k, None)

    # --- continuous backups ---

    def _cb_description(self, table):
        w = self.pitr_window(table)
        if w is None:
            pd = {"PointInTimeRecoveryStatus": "DISABLED"}
        else:
            pd = {"PointInTimeRecoveryStatus": "ENABLED", "EarliestRestorableDateTime": w[0],
                  "LatestRestorableDateTime": w[1],
                  "RecoveryPeriodInDays": table.continuous_backups["PointInTimeRecoveryDescription"].get("RecoveryPeriodInDays", 35)}
        return {"ContinuousBackupsStatus": "ENABLED", "PointInTimeRecoveryDescription": pd}

    def _table(self, region, name):
        t = self.backend(region).tables.get(name or "")
        if t is None and name and name.startswith("arn:"):
            return self.table_by_arn(region, name)
        if t is None:
            raise DynamoError("TableNotFoundException", f"Table not found: {name}")
        return t

    def describe_continuous_backups(self, region, body):
        t = self._table(region, body.get("TableName"))
        return {"ContinuousBackupsDescription": self._cb_description(t)}

    def update_continuous_backups(self, region, body):
        t = self._table(region, body.get("TableName"))
        k = (t.account_id, t.region_name, t.name)
        if k in self.creating:
            raise DynamoError("TableNotFoundException", f"Table not found: {t.name}")
        if self.unavailable(*k):
            raise DynamoError("ContinuousBackupsUnavailableException",
                              "Backups are being enabled for the table: " + t.name + ". Please retry later")
        spec = body.get("PointInTimeRecoverySpecification") or {}
        self.backend(region).update_continuous_backups(t.name, spec)
        if spec.get("PointInTimeRecoveryEnabled"):
            if k not in self.pitr:
                existed = {(_plain(i.hash_key), _plain(i.range_key)) for i in t.all_items()}
                self.pitr[k] = Pitr(time.time(), existed)
        else:
            self.pitr.pop(k, None)
        return {"ContinuousBackupsDescription": self._cb_description(t)}

    # --- client tokens ---

    def _token(self, kind, region, token, fingerprint, conflict):
        if not token:
            return None
        k = (kind, DEFAULT_ACCOUNT_ID, region, token)
        hit = self.tokens.get(k)
        if hit is None or time.time() > hit[2] + EXPORT_TOKEN_TTL:
            return None
        if hit[0] != fingerprint:
            raise conflict
        return self.jobs[hit[1]]

    # --- exports ---

    def export(self, region, body):
        params = {k: body.get(k) for k in ("TableArn", "ExportTime", "S3Bucket", "S3BucketOwner", "S3Prefix",
                                          "S3SseAlgorithm", "S3SseKmsKeyId", "ExportFormat", "ExportType",
                                          "IncrementalExportSpecification")}
        fp = json.dumps(params, sort_keys=True)
        token = body.get("ClientToken")
        job = self._token("export", region, token, fp, DynamoError(
            "ExportConflictException",
            "There was a conflict when writing to the specified S3 bucket: the client token was used with different parameters"))
        if job is not None:
            return {"ExportDescription": self._export_desc(job)}
        if (body.get("ExportType") or "FULL_EXPORT") != "FULL_EXPORT":
            raise DynamoError("ValidationException", "only FULL_EXPORT is emulated")
        table = self.table_by_arn(region, body.get("TableArn"))
        w = self.pitr_window(table)
        if w is None:
            raise DynamoError("PointInTimeRecoveryUnavailableException",
                              f"Point in time recovery is not enabled for table '{table.name}'")
        now = time.time()
        if body.get("ExportTime") is not None:
            export_time = float(int(float(body["ExportTime"])))  # AWS counts whole seconds
            if export_time < w[0] or export_time > now:
                raise DynamoError(
                    "InvalidExportTimeException",
                    f"ExportTime must be between {iso(w[0])} and {iso(now)}: "
                    "the specified ExportTime is outside of the point in time recovery window")
        else:
            export_time = None
        items = self.items_at(table, export_time)
        started = now
        eid = job_id(started)
        arn = f"{table.table_arn}/export/{eid}"
        job = Job("export", arn, region, token, fp, started, started + self.cfg.job_duration(len(items)))
        job.table_arn, job.table_name, job.table_id = table.table_arn, table.name, self.table_id(table.table_arn)
        job.export_time = export_time if export_time is not None else started
        job.bucket, job.owner = body["S3Bucket"], body.get("S3BucketOwner") or DEFAULT_ACCOUNT_ID
        job.owner_given = body.get("S3BucketOwner")
        job.prefix = body.get("S3Prefix") or ""
        job.format = body.get("ExportFormat") or "DYNAMODB_JSON"
        job.export_type = body.get("ExportType") or "FULL_EXPORT"
        job.items, job.item_count, job.billed = items, len(items), sum(len(line) for _, line in items)
        job.base = (job.prefix.rstrip("/") + "/" if job.prefix else "") + f"AWSDynamoDB/{eid}"
        job.manifest = None
        self.jobs[arn] = job
        if token:
            self.tokens[("export", DEFAULT_ACCOUNT_ID, region, token)] = (fp, arn, started)
        s3, failure = self.s3_for(job.bucket, job.owner_given)
        if failure is not None:
            self._fail(job, *failure)
        else:
            s3.put_object(job.bucket, job.base + "/_started", b"")
            if job.due <= started:
                self._complete_export(job)
        return {"ExportDescription": self._export_desc(job)}

    def items_at(self, table, t):
        """[(key, json line)] of the table as it stood at t (None: now)."""
        p = self.pitr.get((table.account_id, table.region_name, table.name))
        hist = p.history if p is not None and t is not None else {}
        out = []
        seen = set() if hist else None
        for item in table.all_items():
            k = (_plain(item.hash_key), _plain(item.range_key))
            h = hist.get(k) if hist else None
            if h is None:
                img = item.to_json()["Attributes"]
            else:
                seen.add(k)
                img = _at(h, t)
            if img is not None:
                out.append((k, dynamo_json_dump({"Item": img})))
        if hist:
            for k, h in hist.items():
                if k not in seen:
                    img = _at(h, t)
                    if img is not None:
                        out.append((k, dynamo_json_dump({"Item": img})))
        return out

    def _fail(self, job, code, message):
        job.status, job.failure_code, job.failure_message = "FAILED", code, message
        job.end_time = time.time()
        job.items = None

    def _complete_export(self, job):
        s3, failure = self.s3_for(job.bucket, job.owner_given)
        if failure is not None:
            self._fail(job, *failure)
            return
        n = len(job.items)
        files = 1 if n < 2 * ITEMS_PER_FILE_MIN else max(min(n // ITEMS_PER_FILE_MIN, DATA_FILES_MAX),
                                                           -(-n // ITEMS_PER_FILE_MAX))
        buckets = [[] for _ in range(files)]
        for k, line in job.items:
            # Spread by key, as AWS spreads by partition.
            i = int.from_bytes(hashlib.md5(repr(k).encode()).digest()[:4], "big") % files if files > 1 else 0
            buckets[i].append(line)
        end = max(time.time(), job.start_time)
        manifest_lines = []
        for lines in buckets:
            data = gzip.compress(("\n".join(lines) + "\n").encode() if lines else b"", compresslevel=5)
            key = f"{job.base}/data/{base64.b32encode(os.urandom(15)).decode().lower()}.json.gz"
            obj = s3.put_object(job.bucket, key, data)
            manifest_lines.append(json.dumps({
                "itemCount": len(lines),
                "md5Checksum": base64.b64encode(hashlib.md5(data).digest()).decode(),
                "etag": obj.etag.strip('"'),
                "dataFileS3Key": key,
            }))
        files_body = ("\n".join(manifest_lines) + "\n").encode()
        files_key = f"{job.base}/manifest-files.json"
        s3.put_object(job.bucket, files_key, files_body)
        s3.put_object(job.bucket, f"{job.base}/manifest-files.md5", hashlib.md5(files_body).hexdigest().encode())
        summary = json.dumps({
            "version": "2020-06-30",
            "exportArn": job.arn,
            "startTime": iso(job.start_time),
            "endTime": iso(end),
            "tableArn": job.table_arn,
            "tableId": job.table_id,
            "exportTime": iso(job.export_time),
            "s3Bucket": job.bucket,
            "s3Prefix": job.prefix or None,
            "manifestFilesS3Key": files_key,
            "billedSizeBytes": job.billed,
            "itemCount": job.item_count,
            "outputFormat": job.format,
            "exportType": job.export_type,
        }).encode()
        summary_key = f"{job.base}/manifest-summary.json"
        s3.put_object(job.bucket, summary_key, summary)
        s3.put_object(job.bucket, f"{job.base}/manifest-summary.md5", hashlib.md5(summary).hexdigest().encode())
        job.manifest, job.status, job.end_time, job.items = summary_key, "COMPLETED", end, None

    def _export_desc(self, job):
        d = {
            "ExportArn": job.arn, "ExportStatus": job.status, "StartTime": job.start_time,
            "TableArn": job.table_arn, "TableId": job.table_id, "ExportTime": job.export_time,
            "S3Bucket": job.bucket, "S3BucketOwner": job.owner, "S3Prefix": job.prefix,
            "ExportFormat": job.format, "ExportType": job.export_type,
        }
        if job.token:
            d["ClientToken"] = job.token
        if job.status != "IN_PROGRESS":
            d["EndTime"] = job.end_time
        if job.status == "COMPLETED":
            d.update(ExportManifest=job.manifest, ItemCount=job.item_count, BilledSizeBytes=job.billed)
        if job.status == "FAILED":
            d.update(FailureCode=job.failure_code, FailureMessage=job.failure_message)
        return d

    def _job(self, kind, arn):
        job = self.jobs.get(arn or "")
        if job is None or job.kind != kind:
            code = "ExportNotFoundException" if kind == "export" else "ImportNotFoundException"
            raise DynamoError(code, f"{kind.capitalize()} not found: {arn}")
        return job

    def describe_export(self, region, body):
        return {"ExportDescription": self._export_desc(self._job("export", body.get("ExportArn")))}

    def _page(self, jobs, size, token):
        start = int(token) if token else 0
        page = jobs[start:start + size]
        nxt = str(start + size) if start + size < len(jobs) else None
        return page, nxt

    def list_exports(self, region, body):
        jobs = [j for j in self.jobs.values() if j.kind == "export" and j.region == region
                and (not body.get("TableArn") or j.table_arn == body["TableArn"])]
        page, nxt = self._page(jobs, int(body.get("MaxResults") or 25), body.get("NextToken"))
        out = {"ExportSummaries": [{"ExportArn": j.arn, "ExportStatus": j.status, "ExportType": j.export_type}
                                   for j in page]}
        if nxt:
            out["NextToken"] = nxt
        return out

    # --- imports ---

    def import_table(self, region, body):
        params = {k: body.get(k) for k in ("S3BucketSource", "InputFormat", "InputFormatOptions",
                                          "InputCompressionType", "TableCreationParameters")}
        fp = json.dumps(params, sort_keys=True)
        token = body.get("ClientToken")
        job = self._token("import", region, token, fp, DynamoError(
            "ImportConflictException",
            "There was a conflict when importing from the specified S3 source: the client token was used with different parameters"))
        if job is not None:
            return {"ImportTableDescription": self._import_desc(job)}
        tcp = body.get("TableCreationParameters") or {}
        name = tcp.get("TableName")
        backend = self.backend(region)
        if name in backend.tables:
            raise DynamoError("ResourceInUseException", f"Table already exists: {name}")
        fmt = body.get("InputFormat") or "DYNAMODB_JSON"
        if fmt != "DYNAMODB_JSON":
            raise DynamoError("ValidationException", "only InputFormat DYNAMODB_JSON is emulated")
        src = body.get("S3BucketSource") or {}
        # Read the source now (its size sets the job's duration); load at the end.
        lines, failure = [], None
        s3, failure = self.s3_for(src.get("S3Bucket", ""), src.get("S3BucketOwner"))
        if failure is None:
            bucket = s3.buckets[src["S3Bucket"]]
            keys, _, _, _ = s3.list_objects(bucket, prefix=src.get("S3KeyPrefix") or "", delimiter=None,
                                            marker=None, max_keys=None)
            for key in keys:
                raw = key.value
                if (body.get("InputCompressionType") or "NONE") == "GZIP":
                    try:
                        raw = gzip.decompress(raw)
                    except Exception:
                        lines.append(None)  # an unreadable object: one error
                        continue
                for line in raw.decode("utf-8", "replace").splitlines():
                    if line.strip():
                        lines.append(line)
        table = backend.create_table(
            name=name, billing_mode=tcp.get("BillingMode") or "PROVISIONED",
            throughput=tcp.get("ProvisionedThroughput"), schema=tcp.get("KeySchema"),
            global_indexes=tcp.get("GlobalSecondaryIndexes"), indexes=None,
            attr=tcp.get("AttributeDefinitions"), sse_specification=tcp.get("SSESpecification"),
            streams=None, tags=[], deletion_protection_enabled=False, warm_throughput=None)
        started = time.time()
        arn = f"{table.table_arn}/import/{job_id(started)}"
        job = Job("import", arn, region, token, fp, started, started + self.cfg.job_duration(len(lines)))
        job.table_arn, job.table_name, job.table_id = table.table_arn, name, self.table_id(table.table_arn)
        job.source, job.format, job.compression = src, fmt, body.get("InputCompressionType") or "NONE"
        job.tcp, job.lines = tcp, lines
        job.processed = job.imported = job.errors = job.bytes = 0
        self.jobs[arn] = job
        if token:
            self.tokens[("import", DEFAULT_ACCOUNT_ID, region, token)] = (fp, arn, started)
        k = (DEFAULT_ACCOUNT_ID, region, name)
        self.creating[k] = job
        self.pitr.pop(k, None)
        if failure:
            self._fail(job, *failure)
            self.creating.pop(k, None)
            backend.delete_table(name)
        elif job.due <= started:
            self._complete_import(job)
        return {"ImportTableDescription": self._import_desc(job)}

    def _complete_import(self, job):
        k = (DEFAULT_ACCOUNT_ID, job.region, job.table_name)
        self.creating.pop(k, None)
        table = self.backend(job.region).tables.get(job.table_name)
        if table is None:
            self._fail(job, "UNKNOWN", "table deleted during import")
            return
        for line in job.lines:
            job.processed += 1
            if line is None:
                job.errors += 1
                continue
            job.bytes += len(line)
            try:
                # One {"Item": {...}} per line, as exports write them.
                obj = json.loads(line)
                table.put_item(obj["Item"])
                job.imported += 1
            except Exception:  # AWS counts the line as an error and goes on
                job.errors += 1
        job.lines = None
        job.status, job.end_time = "COMPLETED", max(time.time(), job.start_time)
        self.created[k] = job.end_time

    def _import_desc(self, job):
        d = {
            "ImportArn": job.arn, "ImportStatus": job.status, "TableArn": job.table_arn, "TableId": job.table_id,
            "S3BucketSource": job.source, "InputFormat": job.format, "InputCompressionType": job.compression,
            "TableCreationParameters": job.tcp, "StartTime": job.start_time,
            "ProcessedSizeBytes": job.bytes, "ProcessedItemCount": job.processed,
            "ImportedItemCount": job.imported, "ErrorCount": job.errors,
        }
        if job.token:
            d["ClientToken"] = job.token
        if job.status != "IN_PROGRESS":
            d["EndTime"] = job.end_time
        if job.status == "FAILED":
            d.update(FailureCode=job.failure_code, FailureMessage=job.failure_message)
        return d

    def describe_import(self, region, body):
        return {"ImportTableDescription": self._import_desc(self._job("import", body.get("ImportArn")))}

    def list_imports(self, region, body):
        jobs = [j for j in self.jobs.values() if j.kind == "import" and j.region == region
                and (not body.get("TableArn") or j.table_arn == body["TableArn"])]
        page, nxt = self._page(jobs, int(body.get("PageSize") or 25), body.get("NextToken"))
        out = {"ImportSummaryList": [dict(
            ImportArn=j.arn, ImportStatus=j.status, TableArn=j.table_arn, S3BucketSource=j.source,
            InputFormat=j.format, StartTime=j.start_time, **({"EndTime": j.end_time} if j.end_time else {}))
            for j in page]}
        if nxt:
            out["NextToken"] = nxt
        return out

    # --- TransactWriteItems client request token ---

    def txn_lookup(self, region, body):
        """A replayed TransactWriteItems: (status, body) of the first outcome."""
        token = body.get("ClientRequestToken")
        if not token:
            return None
        now = time.time()
        for k in [k for k, v in self.txn_tokens.items() if now > v[1] + TXN_TOKEN_TTL]:
            del self.txn_tokens[k]
        hit = self.txn_tokens.get((DEFAULT_ACCOUNT_ID, region, token))
        if hit is None:
            return None
        if hit[0] != _txn_fingerprint(body):
            raise DynamoError("IdempotentParameterMismatchException",
                              "The request uses the same client token as a previous, but non-identical request.")
        return hit[2], hit[3]

    def txn_store(self, region, body, status, resp):
        token = body.get("ClientRequestToken")
        if token and status < 500:
            self.txn_tokens[(DEFAULT_ACCOUNT_ID, region, token)] = (_txn_fingerprint(body), time.time(), status, resp)

    # --- time passes ---

    def tick(self):
        if not self.jobs:
            return
        now = time.time()
        for job in list(self.jobs.values()):
            if job.status == "IN_PROGRESS" and job.due <= now:
                if job.kind == "export":
                    self._complete_export(job)
                else:
                    self._complete_import(job)


def _txn_fingerprint(body):
    return json.dumps({k: v for k, v in body.items() if k != "ClientRequestToken"}, sort_keys=True)


def _tables_of(body):
    if "TableName" in body:
        return [body["TableName"]]
    names = list((body.get("RequestItems") or {}).keys())
    for ti in body.get("TransactItems") or []:
        for op in ti.values():
            if isinstance(op, dict) and op.get("TableName"):
                names.append(op["TableName"])
    return names


def resource_of(action, body):
    """The table(s) a DynamoDB request is about, for the request log."""
    for k in ("ExportArn", "ImportArn"):
        if body.get(k):
            return body[k].split("/")[1]
    if body.get("TableArn"):
        return body["TableArn"].split("/")[-1]
    if action == "ImportTable":
        return (body.get("TableCreationParameters") or {}).get("TableName", "")
    return ",".join(dict.fromkeys(_tables_of(body)))


HANDLERS = {
    "DescribeContinuousBackups": DynamoState.describe_continuous_backups,
    "UpdateContinuousBackups": DynamoState.update_continuous_backups,
    "ExportTableToPointInTime": DynamoState.export,
    "DescribeExport": DynamoState.describe_export,
    "ListExports": DynamoState.list_exports,
    "ImportTable": DynamoState.import_table,
    "DescribeImport": DynamoState.describe_import,
    "ListImports": DynamoState.list_imports,
}

STATE = None  # the DynamoState, set by install()


def install(state):
    """Patch moto's models to report writes to state."""
    global STATE
    STATE = state
    orig_put, orig_delete, orig_update = Table.put_item, Table.delete_item, DynamoDBBackend.update_item
    orig_describe = Table.describe

    def put_item(self, item_attrs, *a, **kw):
        if not STATE.pitr:
            return orig_put(self, item_attrs, *a, **kw)
        key = _key_of(self, item_attrs)
        STATE.touch(self, key)
        item = orig_put(self, item_attrs, *a, **kw)
        STATE.record(self, key, _image(item))
        return item

    def delete_item(self, hash_key, range_key, *a, **kw):
        if not STATE.pitr:
            return orig_delete(self, hash_key, range_key, *a, **kw)
        key = (_plain(hash_key), _plain(range_key))
        STATE.touch(self, key)
        out = orig_delete(self, hash_key, range_key, *a, **kw)
        STATE.record(self, key, None)
        return out

    def update_item(self, table_name, key, *a, **kw):
        table = self.tables.get(table_name) if STATE.pitr else None
        if table is None:
            return orig_update(self, table_name, key, *a, **kw)
        k = _key_of(table, key)
        STATE.touch(table, k)
        item = orig_update(self, table_name, key, *a, **kw)
        STATE.record(table, k, _image(item))
        return item

    def describe(self, base_key="TableDescription"):
        out = orig_describe(self, base_key)
        d = out[base_key]
        d["TableId"] = STATE.table_id(self.table_arn)
        if (self.account_id, self.region_name, self.name) in STATE.creating:
            d["TableStatus"] = "CREATING"
        return out

    Table.put_item, Table.delete_item, DynamoDBBackend.update_item = put_item, delete_item, update_item
    Table.describe = describe
