"""Profiles and runtime settings of the emulator."""
import threading

# Settings as the control endpoint spells them (JSON), with the launcher flag
# and the type of each.
FIELDS = {
    "jobSeconds": ("--job-seconds", float),
    "jobItemMicros": ("--job-item-micros", float),
    "pitrUnavailableSeconds": ("--pitr-unavailable-seconds", float),
    "ec2SettleSeconds": ("--ec2-settle-seconds", float),
    "snapshotPendingSeconds": ("--snapshot-pending-seconds", float),
    "pitrLatestLagSeconds": ("--pitr-latest-lag-seconds", float),
    "faultRate": ("--fault-rate", float),
    "faultSeed": ("--fault-seed", int),
}

FAULT_KINDS = ("throttle", "error", "lost")

PROFILES = {
    # Timings as on AWS (scaled down where AWS takes minutes; see docs).
    "aws": {
        "jobSeconds": 10.0,
        "jobItemMicros": 20.0,
        "pitrUnavailableSeconds": 3.0,
        "ec2SettleSeconds": 2.0,
        "snapshotPendingSeconds": 3.0,
        "pitrLatestLagSeconds": 300.0,
        "faultRate": 0.0,
        "faultSeed": 0,
    },
    # Everything at once. Point-in-time exports, AWS's export layout and
    # idempotency tokens stay on: they are results, not timings.
    "fast": {
        "jobSeconds": 0.0,
        "jobItemMicros": 0.0,
        "pitrUnavailableSeconds": 0.0,
        "ec2SettleSeconds": 0.0,
        "snapshotPendingSeconds": 0.0,
        "pitrLatestLagSeconds": 0.0,
        "faultRate": 0.0,
        "faultSeed": 0,
    },
}


class Config:
    """The current settings. Read under the request lock; patch() is atomic."""

    def __init__(self, profile="aws"):
        self._mu = threading.Lock()
        self.values = {}
        self.fault_kinds = list(FAULT_KINDS)
        self.on_seed = None  # called with the new seed
        self.patch({"profile": profile})

    def __getitem__(self, key):
        return self.values[key]

    @property
    def profile(self):
        return self.values["profile"]

    def patch(self, changes):
        """Apply a JSON patch: "profile" first (its defaults), then the rest.
        Raises ValueError on an unknown field or bad value."""
        with self._mu:
            new = dict(self.values)
            kinds = self.fault_kinds
            if "profile" in changes:
                p = changes["profile"]
                if p not in PROFILES:
                    raise ValueError(f"unknown profile {p!r} (aws or fast)")
                new.update(PROFILES[p])
                new["profile"] = p
                kinds = list(FAULT_KINDS)
            for k, v in changes.items():
                if k == "profile":
                    continue
                if k == "faultKinds":
                    if isinstance(v, str):
                        v = [s for s in v.split(",") if s]
                    if not v:
                        v = list(FAULT_KINDS)
                    bad = [x for x in v if x not in FAULT_KINDS]
                    if bad:
                        raise ValueError(f"unknown fault kinds {bad} (of {list(FAULT_KINDS)})")
                    kinds = list(v)
                    continue
                if k not in FIELDS:
                    raise ValueError(f"unknown setting {k!r}")
                typ = FIELDS[k][1]
                try:
                    v = typ(v)
                except (TypeError, ValueError):
                    raise ValueError(f"{k}: not a number: {v!r}") from None
                if typ is float and v < 0:
                    raise ValueError(f"{k}: negative")
                if k == "faultRate" and v > 1:
                    raise ValueError("faultRate: above 1")
                new[k] = v
            seed_changed = new.get("faultSeed") != self.values.get("faultSeed") or "faultSeed" in changes
            self.values = new
            self.fault_kinds = kinds
        if seed_changed and self.on_seed:
            self.on_seed(self.values["faultSeed"])
        return self.snapshot()

    def snapshot(self):
        out = dict(self.values)
        out["faultKinds"] = list(self.fault_kinds)
        return out

    def job_duration(self, items):
        return self.values["jobSeconds"] + items * self.values["jobItemMicros"] / 1e6
