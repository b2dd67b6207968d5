#!/usr/bin/env python3
"""Seed moto's EC2 for the EBS snapshot demo (README, "EBS snapshots").

Makes, in the first region (default us-east-1), instances with attached EBS
volumes tagged as the seed's Lambdas expect, and snapshots an older job and an
operator left behind:

  web-1      Backup=Yes Retention=3 Copy_Dest=<second region>   root + /dev/sdf
  db-1       Backup=Yes                                         root + /dev/sdf + /dev/sdg
  odd-1      Backup=Yes Retention=fortnight (bad: 7 days used)  root
  build-box  no Backup tag (never snapshotted; a restore target)  root
  snapshots of build-box's root volume:
    legacy, past DeleteOn      Type=Automated DeleteOn=today-2   (expired by the next run)
    legacy, future DeleteOn    Type=Automated DeleteOn=today+4   (expired on that day)
    legacy, KeepForever        Type=Automated DeleteOn=today-9 KeepForever=Yes (never expired)
    manual                     no Type tag                       (never expired)

and in the second region (default us-west-2):

  dr-1       Backup=Yes Copy_Dest=<first region>                root
  spare-1    no Backup tag (a restore target)                   root

Everything it makes carries Demo=seed_ec2, so a second run finds it and only
prints it again ("already seeded"). Prints the instance ids and the commands to
try. Also, for the README's "four days later" step:

  seed_ec2.py keep-forever --name web-1 --device /dev/sda1 [--value audit-2026]

tags the named instance's newest Lifeboat snapshot of that device KeepForever.

Endpoint: --endpoint, else AWS_ENDPOINT_URL, else http://127.0.0.1:$MOTO_PORT
(5000). Credentials: the environment's, else test/test.
"""
import argparse
import datetime
import os
import sys

import boto3

MARK = ("Demo", "seed_ec2")
IMAGE = "ami-0123456789abcdef0"  # moto runs any image id; the tests use this one


def ec2(args, region):
    return boto3.client(
        "ec2",
        region_name=region,
        endpoint_url=args.endpoint,
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
    )


def tags(d):
    return [{"Key": k, "Value": v} for k, v in d.items()]


def tag_map(resource):
    return {t["Key"]: t["Value"] for t in resource.get("Tags", [])}


def seeded_instances(api):
    """Name -> instance of what an earlier run seeded (not terminated)."""
    out = {}
    pages = api.get_paginator("describe_instances").paginate(
        Filters=[
            {"Name": "tag:" + MARK[0], "Values": [MARK[1]]},
            {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]},
        ]
    )
    for page in pages:
        for r in page["Reservations"]:
            for i in r["Instances"]:
                out[tag_map(i).get("Name", i["InstanceId"])] = i
    return out


def run_instance(api, zone, name, instance_tags, devices):
    """One instance (moto gives it a root volume at /dev/sda1) plus a new 1 GiB
    volume attached at each extra device. Returns the instance id."""
    t = dict(instance_tags, Name=name)
    t[MARK[0]] = MARK[1]
    i = api.run_instances(
        ImageId=IMAGE, MinCount=1, MaxCount=1, InstanceType="t3.micro",
        Placement={"AvailabilityZone": zone},
        TagSpecifications=[{"ResourceType": "instance", "Tags": tags(t)}],
    )["Instances"][0]
    iid = i["InstanceId"]
    for dev in devices:
        v = api.create_volume(
            AvailabilityZone=zone, Size=1, VolumeType="gp3",
            TagSpecifications=[{"ResourceType": "volume", "Tags": tags({"Name": f"{name} {dev}", MARK[0]: MARK[1]})}],
        )
        api.attach_volume(VolumeId=v["VolumeId"], InstanceId=iid, Device=dev)
    return iid


def root_volume(api, iid):
    i = api.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    for m in i.get("BlockDeviceMappings", []):
        if m["DeviceName"] == i.get("RootDeviceName", "/dev/sda1"):
            return m["Ebs"]["VolumeId"]
    raise SystemExit(f"seed_ec2: {iid} has no root volume")


def devices(api, iid):
    i = api.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    return ", ".join(f"{m['DeviceName']} {m['Ebs']['VolumeId']}" for m in i.get("BlockDeviceMappings", []))


def snapshot(api, volume, description, snap_tags):
    t = dict(snap_tags)
    t[MARK[0]] = MARK[1]
    return api.create_snapshot(
        VolumeId=volume, Description=description,
        TagSpecifications=[{"ResourceType": "snapshot", "Tags": tags(t)}],
    )["SnapshotId"]


def seed(args):
    today = datetime.datetime.now(datetime.timezone.utc).date()
    day = lambda n: (today + datetime.timedelta(days=n)).isoformat()
    main, dr = args.regions[0], (args.regions[1] if len(args.regions) > 1 else None)
    copy_dest = dr or "us-west-2"

    plan = {
        main: [
            ("web-1", {"Backup": "Yes", "Retention": "3", "Copy_Dest": copy_dest}, ["/dev/sdf"]),
            ("db-1", {"Backup": "Yes"}, ["/dev/sdf", "/dev/sdg"]),
            ("odd-1", {"Backup": "Yes", "Retention": "fortnight"}, []),
            ("build-box", {}, []),
        ],
    }
    if dr:
        plan[dr] = [
            ("dr-1", {"Backup": "Yes", "Copy_Dest": main}, []),
            ("spare-1", {}, []),
        ]

    ids = {}
    for region, instances in plan.items():
        api = ec2(args, region)
        have = seeded_instances(api)
        if have:
            print(f"{region}: already seeded (instances tagged {MARK[0]}={MARK[1]} exist); nothing made")
            ids[region] = {name: i["InstanceId"] for name, i in have.items()}
        else:
            zone = region + "a"
            ids[region] = {name: run_instance(api, zone, name, t, devs) for name, t, devs in instances}
        for name, _, _ in instances:
            iid = ids[region].get(name)
            if iid:
                t = tag_map(api.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0])
                shown = " ".join(f"{k}={t[k]}" for k in ("Backup", "Retention", "Copy_Dest") if k in t) or "no Backup tag"
                print(f"{region}: {name:<9} {iid}  {shown}  ({devices(api, iid)})")
        if region == main and not have:
            # As the seed's Lambdas tagged them: Type, DeleteOn and the Description tag.
            iid = ids[region]["build-box"]
            root = root_volume(api, iid)
            legacy = {"Type": "Automated", "Description": f"build-box ({iid}) - {root} (/dev/sda1) - {region}"}
            snaps = [
                ("legacy, DeleteOn " + day(-2), snapshot(api, root, "legacy Lambda", dict(legacy, DeleteOn=day(-2)))),
                ("legacy, DeleteOn " + day(4), snapshot(api, root, "legacy Lambda", dict(legacy, DeleteOn=day(4)))),
                ("legacy, DeleteOn " + day(-9) + " KeepForever=Yes", snapshot(api, root, "legacy Lambda", dict(legacy, DeleteOn=day(-9), KeepForever="Yes"))),
                ("manual, no Type", snapshot(api, root, "build-box by hand", {"Name": "build-box manual"})),
            ]
            for what, sid in snaps:
                print(f"{region}: snapshot  {sid}  {what}")

    # The commands of the README's session, with this run's ids.
    stamp = today.strftime("%Y%m%d")
    m = ids[main]
    regions = ",".join(args.regions)
    print(f"""
now try (bin/lifeboat, with TEMPORAL_ADDRESS and AWS_* set as 'make up' printed):
  bin/lifeboat snapshots create --region {main} --dry-run
  bin/lifeboat snapshots expire --region {main} --dry-run
  bin/lifeboat snapshots run --regions {regions} --wait
  bin/lifeboat snapshots list --region {main}
  bin/lifeboat snapshots restore --region {main} --group-id lbg-{m['db-1']}-{stamp} \\
      --target-instance-id {m['build-box']} --availability-zone {main}a --devices /dev/sdf,/dev/sdg --wait""")
    if dr:
        later = (today + datetime.timedelta(days=4)).isoformat()
        print(f"""  scripts/seed_ec2.py keep-forever --name web-1 --device /dev/sda1 --value audit-{today.year}
  bin/lifeboat snapshots run --regions {regions} --as-of {later} --wait
  bin/lifeboat snapshots list --region {dr}
  bin/lifeboat snapshots restore --region {dr} --source-instance-id {m['web-1']} --at {today.isoformat()} \\
      --target-instance-id {ids[dr]['spare-1']} --availability-zone {dr}a --devices /dev/sdf --wait""")


def keep_forever(args):
    """Tag the newest Lifeboat primary snapshot of an instance's device."""
    region = args.regions[0]
    api = ec2(args, region)
    inst = seeded_instances(api).get(args.name)
    if not inst:
        raise SystemExit(f"seed_ec2: no seeded instance named {args.name} in {region}")
    iid = inst["InstanceId"]
    best = None
    pages = api.get_paginator("describe_snapshots").paginate(
        OwnerIds=["self"],
        Filters=[
            {"Name": "tag:lifeboat:source-instance-id", "Values": [iid]},
            {"Name": "tag:lifeboat:device", "Values": [args.device]},
        ],
    )
    for page in pages:
        for s in page["Snapshots"]:
            t = tag_map(s)
            if "Source_SnapshotId" in t:
                continue  # a copy; KeepForever goes on the primary and is carried
            if best is None or t.get("lifeboat:created-at", "") > tag_map(best).get("lifeboat:created-at", ""):
                best = s
    if best is None:
        raise SystemExit(f"seed_ec2: no Lifeboat snapshot of {args.name} ({iid}) {args.device} in {region}: run the chain first")
    api.create_tags(Resources=[best["SnapshotId"]], Tags=tags({"KeepForever": args.value}))
    print(f"{region}: {best['SnapshotId']} ({tag_map(best).get('lifeboat:group-id')}, {args.name} {args.device}) tagged KeepForever={args.value}")


def main():
    default_endpoint = os.environ.get("AWS_ENDPOINT_URL") or "http://127.0.0.1:%s" % os.environ.get("MOTO_PORT", "5000")
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--endpoint", default=default_endpoint, help="EC2 endpoint (default %(default)s)")
    p.add_argument("--regions", default="us-east-1,us-west-2",
                   help="the demo's region, then its copy destination (default %(default)s)")
    sub = p.add_subparsers(dest="cmd")
    k = sub.add_parser("keep-forever", help="tag an instance's newest Lifeboat snapshot of a device KeepForever")
    k.add_argument("--name", required=True, help="seeded instance's Name, e.g. web-1")
    k.add_argument("--device", default="/dev/sda1")
    k.add_argument("--value", default="Yes", help="the tag's value (any value keeps it)")
    args = p.parse_args()
    args.regions = [r.strip() for r in args.regions.split(",") if r.strip()]
    if not args.regions or len(args.regions) > 2:
        p.error("--regions: one or two regions")
    try:
        keep_forever(args) if args.cmd == "keep-forever" else seed(args)
    except Exception as e:  # botocore's connection errors are long: one line is enough
        if type(e).__name__ in ("EndpointConnectionError", "ConnectionRefusedError"):
            raise SystemExit(f"seed_ec2: nothing answers at {args.endpoint}: start the stack with 'make up'")
        raise


if __name__ == "__main__":
    sys.exit(main())
