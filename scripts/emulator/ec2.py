"""EBS as AWS does it: eventual consistency, pending snapshots, copy limits.

- A snapshot or volume made by CreateSnapshot(s), CopySnapshot or
  CreateVolume is unknown to CreateTags and to DescribeSnapshots /
  DescribeVolumes *by id* for ec2SettleSeconds (checked in app.Emulator,
  before moto sees the request). Filtered describes without ids list it.
- Such a snapshot is "pending" (Progress below 100%) for
  snapshotPendingSeconds, then "completed".
- More than 20 pending CopySnapshot per destination region: the 21st is
  refused with ResourceLimitExceeded.
- CopySnapshot of another account's snapshot works when that snapshot is
  shared with the caller's account (createVolumePermission), as on AWS;
  moto looks only in the caller's account.
- Encrypted snapshots as AWS keeps them: a snapshot carries its volume's
  KMS key; the default key behind alias/aws/ebs is AWS managed
  (KeyManager AWS) and a snapshot under it cannot be shared; a shared
  encrypted snapshot is copied into another account only when a grant
  gives that account Decrypt on its key, and the copy is encrypted with
  the KmsKeyId asked for or the destination's default EBS key.
- KMS CreateGrant with a Name returns the existing grant when the same
  name and parameters are sent again.
"""
import time

from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models.elastic_block_store import EBSBackend, Snapshot, Volume
from moto.ec2.utils import random_snapshot_id

COPY_LIMIT = 20
CREATING_ACTIONS = {"CreateSnapshot", "CreateSnapshots", "CopySnapshot", "CreateVolume"}


class EC2State:
    def __init__(self, cfg):
        self.cfg = cfg
        self.action = None     # the EC2 action being handled (requests are serialized)
        self.young = {}        # resource id -> time created
        self.pending = {}      # snapshot id -> (start, due)
        self.copies = {}       # (account, region) -> [snapshot id of copies]

    def unknown(self, ids):
        """The first id still inside its settle window, or None."""
        if not self.young:
            return None
        now, settle = time.time(), self.cfg["ec2SettleSeconds"]
        for k in [k for k, t in self.young.items() if now >= t + max(settle, 60)]:
            del self.young[k]
        for i in ids:
            t = self.young.get(i)
            if t is not None and now < t + settle:
                return i
        return None

    def created(self, rid, snapshot):
        if self.action not in CREATING_ACTIONS:
            return
        now = time.time()
        self.young[rid] = now
        if snapshot and self.cfg["snapshotPendingSeconds"] > 0:
            self.pending[rid] = (now, now + self.cfg["snapshotPendingSeconds"])

    def is_pending(self, sid):
        p = self.pending.get(sid)
        if p is None:
            return False
        if time.time() >= p[1]:
            del self.pending[sid]
            return False
        return True


STATE = None

AWS_MANAGED_SHARE = ("Snapshots encrypted with the AWS Managed CMK can't be shared. "
                     "Specify another snapshot.")


def _key(account, region, key_id):
    """The KMS key (moto's model) key_id names in account and region, or None."""
    from moto.kms import kms_backends
    if not key_id:
        return None
    try:
        return kms_backends[account][region].describe_key(key_id)
    except Exception:  # noqa: an unknown key is "no key" to the callers
        return None


def _granted(key, account, operation):
    """Whether a grant on key gives a principal of account the operation."""
    for g in key.grants.values():
        p = g.grantee_principal or ""
        if (p == account or f":{account}:" in p) and operation in (g.operations or []):
            return True
    return False


def _shared_from_elsewhere(account, snapshot_id, region):
    """Another account's snapshot shared with account, or None (then moto's
    own lookup runs: the caller's snapshot, or InvalidSnapshot.NotFound)."""
    from moto.ec2.models import ec2_backends
    if snapshot_id in ec2_backends[account][region].snapshots:
        return None
    for other in list(ec2_backends.keys()):
        if other == account or region not in ec2_backends[other].regions:
            continue
        snap = ec2_backends[other][region].snapshots.get(snapshot_id)
        if snap is not None and (account in snap.create_volume_permission_userids
                                 or "all" in snap.create_volume_permission_groups):
            return snap
    return None


def install(state):
    global STATE
    STATE = state
    snap_init, vol_init, orig_copy = Snapshot.__init__, Volume.__init__, EBSBackend.copy_snapshot

    def snapshot_init(self, ec2_backend, snapshot_id, *a, **kw):
        snap_init(self, ec2_backend, snapshot_id, *a, **kw)
        STATE.created(snapshot_id, True)

    def volume_init(self, *a, **kw):
        vol_init(self, *a, **kw)
        STATE.created(self.id, False)

    def get_status(self):
        if STATE.is_pending(self.id):
            return "pending"
        return self.__dict__.get("_status", "completed")

    def set_status(self, v):
        self.__dict__["_status"] = v

    def progress(self):
        p = STATE.pending.get(self.id)
        if p is None or not STATE.is_pending(self.id):
            return "100%"
        done = (time.time() - p[0]) / max(p[1] - p[0], 1e-6)
        return f"{min(99, int(done * 100))}%"

    def copy_snapshot(self, source_snapshot_id, source_region, description, kms_key_id):
        k = (self.account_id, self.region_name)
        copies = [s for s in STATE.copies.get(k, []) if STATE.is_pending(s)]
        STATE.copies[k] = copies
        if len(copies) >= COPY_LIMIT:
            raise EC2ClientError(
                "ResourceLimitExceeded",
                f"Too many snapshot copies in progress: {len(copies)} pending copies to {self.region_name} "
                f"(the limit is {COPY_LIMIT} concurrent copies per destination Region).")
        shared = _shared_from_elsewhere(self.account_id, source_snapshot_id, source_region)
        if shared is not None:
            if shared.encrypted:
                key = _key(shared.owner_id, source_region, shared.kms_key_id)
                if key is None or not _granted(key, self.account_id, "Decrypt"):
                    raise EC2ClientError(
                        "InvalidParameterValue",
                        f"The snapshot {source_snapshot_id} is encrypted with KMS key {shared.kms_key_id}, "
                        f"which account {self.account_id} is not allowed to use.")
                if not kms_key_id:
                    kms_key_id = self.default_kms_key_id or self._create_default_encryption_key()
            snap = Snapshot(self, random_snapshot_id(), volume=shared.volume, description=description,
                            encrypted=shared.encrypted, kms_key_id=kms_key_id)
            self.snapshots[snap.id] = snap
        else:
            snap = orig_copy(self, source_snapshot_id, source_region, description, kms_key_id)
        copies.append(snap.id)
        return snap

    orig_default_key, orig_create_snapshot = EBSBackend._create_default_encryption_key, EBSBackend.create_snapshot
    orig_share = EBSBackend.add_create_volume_permission

    def default_key(self):
        arn = orig_default_key(self)
        key = _key(self.account_id, self.region_name, arn)
        if key is not None:
            key.key_manager = "AWS"  # aws/ebs is AWS managed (moto: CUSTOMER)
        return arn

    def create_snapshot(self, volume_id, *a, **kw):
        snap = orig_create_snapshot(self, volume_id, *a, **kw)
        if snap.encrypted and not snap.kms_key_id:
            snap.kms_key_id = self.get_volume(volume_id).kms_key_id  # moto drops it
        return snap

    def add_create_volume_permission(self, snapshot_id, user_ids, groups):
        snap = self.get_snapshot(snapshot_id)
        if snap.encrypted and (user_ids or groups):
            key = _key(self.account_id, self.region_name, snap.kms_key_id)
            if key is not None and key.key_manager == "AWS":
                raise EC2ClientError("InvalidParameter", AWS_MANAGED_SHARE)
        return orig_share(self, snapshot_id, user_ids, groups)

    from moto.kms.models import Key
    orig_add_grant = Key.add_grant

    def add_grant(self, name, grantee_principal, operations, constraints, retiring_principal):
        if name:
            for g in self.grants.values():
                if (g.name == name and g.grantee_principal == grantee_principal
                        and sorted(g.operations or []) == sorted(operations or [])
                        and g.constraints == constraints and g.retiring_principal == retiring_principal):
                    return g
        return orig_add_grant(self, name, grantee_principal, operations, constraints, retiring_principal)

    Key.add_grant = add_grant
    EBSBackend._create_default_encryption_key = default_key
    EBSBackend.create_snapshot = create_snapshot
    EBSBackend.add_create_volume_permission = add_create_volume_permission
    Snapshot.__init__, Volume.__init__ = snapshot_init, volume_init
    Snapshot.status = property(get_status, set_status)
    Snapshot.progress = property(progress)
    EBSBackend.copy_snapshot = copy_snapshot
