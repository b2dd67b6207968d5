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
            snap = Snapshot(self, random_snapshot_id(), volume=shared.volume, description=description,
                            encrypted=shared.encrypted, kms_key_id=kms_key_id)
            self.snapshots[snap.id] = snap
        else:
            snap = orig_copy(self, source_snapshot_id, source_region, description, kms_key_id)
        copies.append(snap.id)
        return snap

    Snapshot.__init__, Volume.__init__ = snapshot_init, volume_init
    Snapshot.status = property(get_status, set_status)
    Snapshot.progress = property(progress)
    EBSBackend.copy_snapshot = copy_snapshot
