"""The WSGI wrapper around moto server.

One request at a time (each API call atomic, as on AWS; see moto_server.py),
a bounded log of every AWS request, injected faults, the DynamoDB and EC2
behaviours of dynamo.py and ec2.py, and the control endpoint /_emulator/.
"""
import collections
import io
import json
import random
import re
import threading
import time
import uuid
import zlib
from urllib.parse import parse_qs

from moto.core.model_instances import reset_model_data

from . import dynamo as dynamo_mod
from . import ec2 as ec2_mod

LOG_MAX = 200_000
_SCOPE = re.compile(r"Credential=[^/]*/\d{8}/([^/]+)/([^/]+)/aws4_request")

ID_PARAMS = {  # EC2 action -> query parameter prefix holding ids checked for settling
    "DescribeSnapshots": "SnapshotId.",
    "DescribeVolumes": "VolumeId.",
    "CreateTags": "ResourceId.",
    "DeleteTags": "ResourceId.",
}


def _ec2_error(code, message, status):
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
            f"<Code>{code}</Code><Message>{message}</Message></Error></Errors>"
            f"<RequestID>{uuid.uuid4()}</RequestID></Response>")
    return status, [("Content-Type", "text/xml")], body.encode()


def _s3_error(code, message, status):
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{message}</Message>"
            f"<RequestId>{uuid.uuid4().hex[:16].upper()}</RequestId></Error>")
    return status, [("Content-Type", "application/xml")], body.encode()


def _s3_redirect(bucket, region, method):
    """S3's answer to a request signed for another region than the bucket's:
    301 PermanentRedirect naming the bucket's region in x-amz-bucket-region
    (HEAD: the status and headers, no body)."""
    headers = [("x-amz-bucket-region", region), ("Content-Type", "application/xml")]
    if method == "HEAD":
        return 301, headers, b""
    endpoint = f"{bucket}.s3.{region}.amazonaws.com"
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n'
            "<Error><Code>PermanentRedirect</Code><Message>The bucket you are attempting to access must be addressed "
            "using the specified endpoint. Please send all future requests to this endpoint.</Message>"
            f"<Endpoint>{endpoint}</Endpoint><Bucket>{bucket}</Bucket>"
            f"<RequestId>{uuid.uuid4().hex[:16].upper()}</RequestId></Error>")
    return 301, headers, body.encode()


def _bucket_region(bucket):
    """The region moto recorded for a bucket at CreateBucket (its
    LocationConstraint), or None when there is no such bucket."""
    from moto.s3.models import s3_backends
    where = s3_backends.bucket_accounts.get(bucket)
    if where is None:
        return None
    partition, account = where
    b = s3_backends[account][partition].buckets.get(bucket)
    return b.region_name if b is not None else None


# S3 actions that never redirect: they name no existing bucket to route by.
_S3_UNROUTED = {"ListBuckets", "CreateBucket"}


# The request being answered, as the client sent it (requests are
# answered one at a time): see _signed_request.
_raw_uri = {"uri": None}


def _signed_request(create):
    """moto checks a signature (under IAM enforcement) over the request
    path and query it decoded, so every S3 request whose query holds an
    escaped character (ListObjectsV2 with prefix=a/b, as %2F) fails with
    SignatureDoesNotMatch. The client signed them as sent: check that."""
    def wrapper(self):
        req = create(self)
        if _raw_uri["uri"]:
            req.url = _raw_uri["uri"]
        return req
    return wrapper


def _patch_moto_signature():
    from moto.iam.access_control import IAMRequestBase
    IAMRequestBase._create_aws_request = _signed_request(IAMRequestBase._create_aws_request)


_patch_moto_signature()


def _authorize(environ, action, body_json):
    """moto's IAM check for a DynamoDB request the emulator answers itself
    (exports, imports, continuous backups): moto checks the requests it
    answers once its IAM enforcement is on (INITIAL_NO_AUTH_ACTION_COUNT,
    POST /moto-api/reset-auth), and these never reach it. None when allowed
    (or enforcement is off), else moto's error answer. Like moto, it checks
    the action only: DynamoDB resources are not matched."""
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.iam.access_control import IAMRequest
    from moto.iam.models import get_account_id_from
    from werkzeug.exceptions import HTTPException

    if ActionAuthenticatorMixin.request_count < settings.INITIAL_NO_AUTH_ACTION_COUNT:
        ActionAuthenticatorMixin.request_count += 1
        return None
    headers = {k[5:].replace("_", "-").title(): v for k, v in environ.items() if k.startswith("HTTP_")}
    if "CONTENT_TYPE" in environ:
        headers["Content-Type"] = environ["CONTENT_TYPE"]
    if "CONTENT_LENGTH" in environ:
        headers["Content-Length"] = environ["CONTENT_LENGTH"]
    headers["X-Amz-Date"] = environ.get("HTTP_X_AMZ_DATE", "")
    headers["Authorization"] = environ.get("HTTP_AUTHORIZATION", "")
    if "HTTP_X_AMZ_SECURITY_TOKEN" in environ:
        headers["X-Amz-Security-Token"] = environ["HTTP_X_AMZ_SECURITY_TOKEN"]
    m = re.search(r"Credential=([^/]+)/", headers["Authorization"])
    account = get_account_id_from(m.group(1)) if m else ""
    raw = environ["wsgi.input"].getvalue() if hasattr(environ["wsgi.input"], "getvalue") else b""
    path = environ.get("PATH_INFO", "/") or "/"
    if environ.get("QUERY_STRING"):
        path += "?" + environ["QUERY_STRING"]
    try:
        req = IAMRequest(account_id=account, method=environ["REQUEST_METHOD"], path=path,
                         data=body_json, body=raw, headers=headers, action=action)
        req.check_signature()
        req.check_action_permitted("*")
    except HTTPException as e:
        # DynamoDB's spelling of moto's AccessDenied (which moto gives its
        # own DynamoDB answers too).
        code = getattr(e, "error_type", "AccessDenied")
        return _ddb_error(code, getattr(e, "message", str(e)), e.code or 400)
    return None


def _denied_as(error, body, code=None):
    """moto's AccessDenied (an IAM-style XML ErrorResponse, which it sends
    for every service) in the dialect of the service asked: DynamoDB's JSON,
    EC2's Response/Errors (code UnauthorizedOperation, as EC2 says it).
    The message, naming the action, is kept."""
    text = body.decode("utf-8", "replace")
    m = re.search(r"<Code>([^<]*)</Code>", text)
    msg = re.search(r"<Message>([^<]*)</Message>", text)
    return error(code or (m.group(1) if m else "AccessDenied"), msg.group(1) if msg else "Access Denied", 403)


def _query_error(code, message, status):
    """An error of the query protocol (STS, IAM): one Error in the
    ErrorResponse, where moto nests it in Errors, which the SDKs cannot
    read (they report UnknownError)."""
    body = ('<ErrorResponse><Error><Type>Sender</Type>'
            f"<Code>{code}</Code><Message>{message}</Message></Error>"
            f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>")
    return status, [("Content-Type", "text/xml")], body.encode()


def _assume_role_refusal(environ):
    """STS's 403 AccessDenied for an AssumeRole AWS would refuse: a role that
    does not exist in its account, or a trust policy whose
    sts:ExternalId condition the request does not meet. moto hands out
    credentials for any ARN. Principals are not checked."""
    raw = Emulator._body(environ)
    q = parse_qs(raw.decode("utf-8", "replace") + "&" + environ.get("QUERY_STRING", ""))
    if (q.get("Action") or [""])[0] != "AssumeRole":
        return None
    arn, external = (q.get("RoleArn") or [""])[0], (q.get("ExternalId") or [None])[0]
    m = re.match(r"^arn:aws[\w-]*:iam::(\d{12}):role/", arn)
    why = None
    if m is None:
        why = "not an IAM role ARN"
    else:
        from moto.iam.models import iam_backends
        try:
            role = iam_backends[m.group(1)]["aws"].get_role_by_arn(arn)
        except Exception:
            role = None
        if role is None:
            why = "no such role"
        elif not _trust_allows(role.assume_role_policy_document, external):
            why = "the trust policy's sts:ExternalId condition is not met"
    if why is None:
        return None
    print(f"emulator: AssumeRole {arn} refused: {why}", flush=True)
    body = ('<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
            "<Code>AccessDenied</Code><Message>User is not authorized to perform: sts:AssumeRole on resource: "
            f"{arn}</Message></Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>")
    return 403, [("Content-Type", "text/xml")], body.encode()


def _trust_allows(document, external):
    """Whether an Allow statement of the trust policy admits the external
    id: each sts:ExternalId in a StringEquals condition must match."""
    try:
        doc = json.loads(document) if isinstance(document, str) else document
    except ValueError:
        return True
    statements = doc.get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    for st in statements:
        if st.get("Effect") != "Allow":
            continue
        want = ((st.get("Condition") or {}).get("StringEquals") or {}).get("sts:ExternalId")
        if want is None:
            return True
        if external in (want if isinstance(want, list) else [want]):
            return True
    return False


def _ddb_error(code, message, status):
    body = json.dumps({"__type": dynamo_mod.ERR + code, "message": message}).encode()
    return status, [("Content-Type", "application/x-amz-json-1.0"), ("x-amzn-RequestId", str(uuid.uuid4()))], body


def _kms_error(code, message, status):
    """KMS's JSON error (its SDKs read __type), for moto's XML AccessDenied."""
    body = json.dumps({"__type": code, "message": message}).encode()
    return status, [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-RequestId", str(uuid.uuid4()))], body


def fault_response(service, action, kind):
    """The answer of an injected fault, in the service's own dialect."""
    if kind == "throttle":
        if service == "dynamodb":
            if action in dynamo_mod.DATA_PLANE:
                return _ddb_error("ProvisionedThroughputExceededException",
                                  "The level of configured provisioned throughput for the table was exceeded. "
                                  "Consider increasing your provisioning level with the UpdateTable API.", 400)
            return _ddb_error("ThrottlingException", "Rate of requests exceeds the allowed throughput.", 400)
        if service == "s3":
            return _s3_error("SlowDown", "Please reduce your request rate.", 503)
        return _ec2_error("RequestLimitExceeded", "Request limit exceeded.", 503)
    # "error" and "lost": the server failed (for "lost", after applying the request)
    if service == "dynamodb":
        return _ddb_error("InternalServerError", "Internal server error", 500)
    if service == "s3":
        return _s3_error("InternalError", "We encountered an internal error. Please try again.", 500)
    return _ec2_error("InternalError", "An internal error has occurred", 500)


def _s3_action(method, path, qs, environ):
    parts = path.lstrip("/").split("/", 1)
    bucket = parts[0]
    key = parts[1] if len(parts) > 1 else ""
    q = parse_qs(qs, keep_blank_values=True)
    if not bucket:
        return "ListBuckets", ""
    if not key:
        if method == "GET":
            if "uploads" in q:
                return "ListMultipartUploads", bucket
            return ("ListObjectsV2" if q.get("list-type") == ["2"] else
                    "ListObjectVersions" if "versions" in q else
                    "GetBucketLocation" if "location" in q else
                    "ListObjects" if not q or "prefix" in q or "marker" in q else "GetBucket" + next(iter(q)).capitalize()), bucket
        if method == "POST" and "delete" in q:
            return "DeleteObjects", bucket
        return {"PUT": "CreateBucket", "HEAD": "HeadBucket", "DELETE": "DeleteBucket"}.get(method, method + "Bucket"), bucket
    if method == "PUT":
        if "partNumber" in q:
            return "UploadPart", bucket
        if "tagging" in q:
            return "PutObjectTagging", bucket
        return ("CopyObject" if environ.get("HTTP_X_AMZ_COPY_SOURCE") else "PutObject"), bucket
    if method == "POST":
        return ("CreateMultipartUpload" if "uploads" in q else "CompleteMultipartUpload" if "uploadId" in q
                else "PostObject"), bucket
    if method == "DELETE":
        return ("AbortMultipartUpload" if "uploadId" in q else "DeleteObject"), bucket
    if method == "GET" and "tagging" in q:
        return "GetObjectTagging", bucket
    return {"GET": "GetObject", "HEAD": "HeadObject"}.get(method, method + "Object"), bucket


class Emulator:
    def __init__(self, app, cfg):
        self.app, self.cfg = app, cfg
        self.lock = threading.Lock()
        self.log = collections.deque(maxlen=LOG_MAX)
        self.seq = 0
        self.rng = random.Random(cfg["faultSeed"])
        cfg.on_seed = self._reseed
        self.dynamo = dynamo_mod.DynamoState(cfg)
        self.ec2 = ec2_mod.EC2State(cfg)
        dynamo_mod.install(self.dynamo)
        ec2_mod.install(self.ec2)

    def _reseed(self, seed):
        self.rng = random.Random(seed)

    # --- WSGI ---

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_emulator/"):
            status, headers, body = self.control(environ, path)
        else:
            with self.lock:
                try:
                    status, headers, body = self.handle(environ, path)
                finally:
                    reset_model_data()
        if not any(k.lower() == "content-length" for k, _ in headers):
            headers = list(headers) + [("Content-Length", str(len(body)))]
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            # DynamoDB signs every answer with the CRC32 of its body, and the
            # SDKs check it. moto computes it before serializing some answers
            # (then it is the CRC of nothing), and ours are not moto's.
            headers = [(k, v) for k, v in headers if k.lower() != "x-amz-crc32"]
            headers.append(("x-amz-crc32", str(zlib.crc32(body))))
        start_response(status if isinstance(status, str) else f"{status} {_reason(status)}", headers)
        return [body]

    def moto(self, environ):
        captured = {}

        def sr(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return lambda b: None

        body = b"".join(self.app(environ, sr))
        return int(captured["status"].split()[0]), captured["status"], captured["headers"], body

    def handle(self, environ, path):
        _raw_uri["uri"] = environ.get("RAW_URI") or environ.get("REQUEST_URI")
        if path.startswith("/moto-api"):
            _, status, headers, body = self.moto(environ)
            return status, headers, body
        self.dynamo.tick()
        service, region, action, resource, body_json, ids = self.classify(environ, path)
        fault = ""
        if self.cfg["faultRate"] > 0 and self.rng.random() < self.cfg["faultRate"]:
            fault = self.rng.choice(self.cfg.fault_kinds)
        if fault in ("throttle", "error"):
            status, headers, body = fault_response(service, action, fault)
        else:
            status, headers, body = self.dispatch(environ, service, region, action, resource, body_json, ids)
            if fault == "lost":
                status, headers, body = fault_response(service, action, fault)
        self.seq += 1
        self.log.append({"seq": self.seq, "time": time.time(), "service": service, "action": action,
                         "resource": resource, "region": region, "fault": fault,
                         "status": status if isinstance(status, int) else int(status.split()[0])})
        return status, headers, body

    def classify(self, environ, path):
        auth = environ.get("HTTP_AUTHORIZATION", "")
        m = _SCOPE.search(auth)
        region, service = (m.group(1), m.group(2)) if m else ("us-east-1", "")
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        body_json, ids = None, []
        if target.startswith("DynamoDB_20120810."):
            service, action = "dynamodb", target.split(".", 1)[1]
            raw = self._body(environ)
            try:
                body_json = json.loads(raw or b"{}")
            except ValueError:
                body_json = {}
            resource = dynamo_mod.resource_of(action, body_json) if isinstance(body_json, dict) else ""
            return service, region, action, resource, body_json, ids
        if service in ("ec2",) or (not service and environ.get("CONTENT_TYPE", "").startswith(
                "application/x-www-form-urlencoded") and environ["REQUEST_METHOD"] == "POST" and path in ("", "/")):
            raw = self._body(environ)
            q = parse_qs(raw.decode("utf-8", "replace") + "&" + environ.get("QUERY_STRING", ""))
            action = (q.get("Action") or [""])[0]
            service = service or "ec2"
            prefix = ID_PARAMS.get(action)
            if prefix:
                ids = [v[0] for k, v in sorted(q.items()) if k.startswith(prefix)]
            return service, region, action, region, None, ids
        if service in ("s3", "") and not target:
            action, bucket = _s3_action(environ["REQUEST_METHOD"], path, environ.get("QUERY_STRING", ""), environ)
            return "s3", region, action, bucket, None, ids
        return service or "unknown", region, target.split(".")[-1] if target else environ["REQUEST_METHOD"], "", None, ids

    @staticmethod
    def _body(environ):
        try:
            n = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            n = 0
        raw = environ["wsgi.input"].read(n) if n > 0 else b""
        environ["wsgi.input"] = io.BytesIO(raw)
        return raw

    def dispatch(self, environ, service, region, action, resource, body_json, ids):
        if service == "dynamodb" and isinstance(body_json, dict):
            try:
                if action == "TransactWriteItems":
                    hit = self.dynamo.txn_lookup(region, body_json)
                    if hit is not None:
                        return hit[0], [("Content-Type", "application/x-amz-json-1.0")], hit[1]
                if action in dynamo_mod.HANDLERS:
                    denied = _authorize(environ, action, body_json)
                    if denied is not None:
                        return denied
                out = self.dynamo.before(action, region, body_json)
            except dynamo_mod.DynamoError as e:
                self.dynamo.pending = []
                return _ddb_error(e.code, e.message, e.status)
            if out is not None:
                return 200, [("Content-Type", "application/x-amz-json-1.0"),
                             ("x-amzn-RequestId", str(uuid.uuid4()))], json.dumps(out).encode()
            self.dynamo.pending = []
            code, status, headers, body = self.moto(environ)
            if code == 403 and body.lstrip().startswith(b"<"):
                status, headers, body = _denied_as(_ddb_error, body)
            self.dynamo.after(action, region, body_json, code)
            if action == "TransactWriteItems":
                self.dynamo.txn_store(region, body_json, code, body)
            return status, headers, body
        if service == "ec2":
            if ids:
                young = self.ec2.unknown(ids)
                if young is not None:
                    if young.startswith("snap-"):
                        return _ec2_error("InvalidSnapshot.NotFound", f"The snapshot '{young}' does not exist.", 400)
                    if young.startswith("vol-"):
                        return _ec2_error("InvalidVolume.NotFound", f"The volume '{young}' does not exist.", 400)
            self.ec2.action = action
            try:
                code, status, headers, body = self.moto(environ)
            finally:
                self.ec2.action = None
            if code == 403 and b"<ErrorResponse" in body:
                status, headers, body = _denied_as(_ec2_error, body, "UnauthorizedOperation")
            return status, headers, body
        if service == "sts":
            refusal = _assume_role_refusal(environ)
            if refusal is not None:
                return refusal
        if service == "s3" and action not in _S3_UNROUTED and _SCOPE.search(environ.get("HTTP_AUTHORIZATION", "")):
            # Only signed requests: an unsigned one names no region (on AWS it
            # goes by the endpoint's, and all regions share this endpoint).
            home = _bucket_region(resource)
            if home is not None and home != region:
                return _s3_redirect(resource, home, environ["REQUEST_METHOD"])
        code, status, headers, body = self.moto(environ)
        if service in ("sts", "iam") and code == 403 and b"<Errors>" in body:
            status, headers, body = _denied_as(_query_error, body)
        if service == "kms" and code == 403 and body.lstrip().startswith(b"<"):
            status, headers, body = _denied_as(_kms_error, body, "AccessDeniedException")
        return status, headers, body

    # --- control endpoint ---

    def control(self, environ, path):
        method = environ["REQUEST_METHOD"]
        try:
            if path == "/_emulator/config":
                if method == "POST":
                    patch = json.loads(self._body(environ) or b"{}")
                    if not isinstance(patch, dict):
                        raise ValueError("config patch must be a JSON object")
                    with self.lock:
                        out = self.cfg.patch(patch)
                    print(f"emulator: config {json.dumps(out, sort_keys=True)}", flush=True)
                    return _json(200, out)
                return _json(200, self.cfg.snapshot())
            if path == "/_emulator/requests" and method == "GET":
                with self.lock:
                    entries = list(self.log)
                return _json(200, entries)
            if path == "/_emulator/requests/reset" and method == "POST":
                with self.lock:
                    self.log.clear()
                return _json(200, {"reset": True})
        except ValueError as e:
            return _json(400, {"error": str(e)})
        return _json(404, {"error": f"no such emulator endpoint: {method} {path}"})


def _json(status, obj):
    return status, [("Content-Type", "application/json")], json.dumps(obj).encode()


def _reason(status):
    return {200: "OK", 301: "Moved Permanently", 400: "Bad Request", 404: "Not Found", 500: "Internal Server Error",
            503: "Service Unavailable"}.get(status, "Status")
