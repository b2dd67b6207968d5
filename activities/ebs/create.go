package ebs

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"go.temporal.io/sdk/activity"

	"github.com/lifeboat-dev/lifeboat/activities"
	"github.com/lifeboat-dev/lifeboat/internal/ebstags"
)

// InstanceCursor is where FindBackupInstances resumes: an EC2 page token and
// how many instances of that page were already returned. A page can hold
// more instances than one batch (moto pages by reservation).
type InstanceCursor struct {
	Token  string `json:"token,omitempty"`
	Offset int    `json:"offset,omitempty"`
}

// FindBackupInstancesInput asks for the next instances with Backup=Yes.
type FindBackupInstancesInput struct {
	Region string         `json:"region"`
	Cursor InstanceCursor `json:"cursor"`
	// Limit is how many instances to return at most.
	Limit int `json:"limit"`
}

// AttachedVolume is an EBS volume attached to an instance.
type AttachedVolume struct {
	VolumeID string `json:"volumeId"`
	Device   string `json:"device"`
}

// BackupInstance is an instance to snapshot, with its configuration.
type BackupInstance struct {
	InstanceID    string           `json:"instanceId"`
	Name          string           `json:"name,omitempty"`
	RetentionDays int              `json:"retentionDays"`
	CopyDest      []string         `json:"copyDest,omitempty"`
	Volumes       []AttachedVolume `json:"volumes"`
}

// InstanceProblem is something wrong with an instance's tags or state,
// reported but not fatal (a default was used, or the instance skipped).
type InstanceProblem struct {
	InstanceID string `json:"instanceId"`
	Problem    string `json:"problem"`
}

// FindBackupInstancesResult is one batch of instances.
type FindBackupInstancesResult struct {
	Instances []BackupInstance  `json:"instances"`
	Problems  []InstanceProblem `json:"problems,omitempty"`
	// Next is where to continue; nil when every instance has been seen.
	Next *InstanceCursor `json:"next,omitempty"`
}

// FindBackupInstances returns up to Limit instances of a region tagged
// Backup=Yes (paginated; pending, running, stopping or stopped), with their
// attached EBS volumes and configuration. Instances with another Backup
// value are reported (Backup=yes is probably a typo), as are bad Retention
// and Copy_Dest values, for which the defaults are used.
func (a *EBS) FindBackupInstances(ctx context.Context, in FindBackupInstancesInput) (*FindBackupInstancesResult, error) {
	hb := activities.KeepAlive(ctx, activities.HeartbeatEvery, nil)
	defer hb.Stop()
	limit := in.Limit
	if limit <= 0 {
		limit = 100
	}
	api := a.EC2(in.Region)
	out := &FindBackupInstancesResult{}
	tok, offset := in.Cursor.Token, in.Cursor.Offset
	for {
		params := &ec2.DescribeInstancesInput{
			Filters:    []types.Filter{ec2Filter("tag-key", ebstags.Backup), ec2Filter("instance-state-name", ec2LiveStates...)},
			MaxResults: aws.Int32(int32(min(max(limit, 5), 1000))),
		}
		if tok != "" {
			params.NextToken = aws.String(tok)
		}
		page, err := api.DescribeInstances(ctx, params)
		if err != nil {
			return nil, classifyEC2(err, "describe instances in %s", in.Region)
		}
		var all []types.Instance
		owner := map[string]string{} // instance id -> account, for Copy_Dest's account:region
		for _, r := range page.Reservations {
			all = append(all, r.Instances...)
			for _, i := range r.Instances {
				owner[aws.ToString(i.InstanceId)] = aws.ToString(r.OwnerId)
			}
		}
		for i := offset; i < len(all); i++ {
			if len(out.Instances) == limit {
				out.Next = &InstanceCursor{Token: tok, Offset: i}
				return out, nil
			}
			inst := all[i]
			id := aws.ToString(inst.InstanceId)
			cfg := ebstags.ParseInstanceIn(owner[id], in.Region, TagMap(inst.Tags))
			for _, p := range cfg.Problems {
				out.Problems = capAppend(out.Problems, InstanceProblem{InstanceID: id, Problem: p})
			}
			if !cfg.Enabled {
				continue
			}
			b := BackupInstance{InstanceID: id, Name: cfg.Name, RetentionDays: cfg.RetentionDays, CopyDest: cfg.CopyDest}
			for _, m := range inst.BlockDeviceMappings {
				if m.Ebs != nil && m.Ebs.VolumeId != nil {
					b.Volumes = append(b.Volumes, AttachedVolume{VolumeID: aws.ToString(m.Ebs.VolumeId), Device: aws.ToString(m.DeviceName)})
				}
			}
			if len(b.Volumes) == 0 {
				out.Problems = capAppend(out.Problems, InstanceProblem{InstanceID: id, Problem: "no EBS volumes attached: nothing to snapshot"})
				continue
			}
			out.Instances = append(out.Instances, b)
		}
		if page.NextToken == nil || aws.ToString(page.NextToken) == "" {
			return out, nil
		}
		tok, offset = aws.ToString(page.NextToken), 0
		if len(out.Instances) == limit {
			out.Next = &InstanceCursor{Token: tok}
			return out, nil
		}
	}
}

// InstanceGroups is what a region holds of some instances' Lifeboat groups:
// the day's group, if taken, and the generation of the next one.
type InstanceGroups struct {
	InstanceID string `json:"instanceId"`
	GroupID    string `json:"groupId"`
	// Exists: the day's group is there; Complete: every member is fully tagged.
	Exists     bool   `json:"exists"`
	Complete   bool   `json:"complete"`
	Generation int    `json:"generation"` // the day's group's, or the next one's
	Snapshots  int    `json:"snapshots"`
	DeleteOn   string `json:"deleteOn,omitempty"`
}

// FindInstanceGroupsInput names a batch of instances and the run's date.
type FindInstanceGroupsInput struct {
	Region      string    `json:"region"`
	InstanceIDs []string  `json:"instanceIds"`
	Date        time.Time `json:"date"`
}

// FindInstanceGroupsResult holds one entry per instance, in input order.
type FindInstanceGroupsResult struct {
	Instances []InstanceGroups `json:"instances"`
}

// FindInstanceGroups looks up a batch's groups with one paginated
// DescribeSnapshots (per 100 instances) instead of one per instance:
// DescribeSnapshots is among EC2's most throttled calls.
func (a *EBS) FindInstanceGroups(ctx context.Context, in FindInstanceGroupsInput) (*FindInstanceGroupsResult, error) {
	hb := activities.KeepAlive(ctx, activities.HeartbeatEvery, nil)
	defer hb.Stop()
	found, err := findGroups(ctx, a.EC2(in.Region), in.InstanceIDs, ebstags.Day(in.Date))
	if err != nil {
		return nil, err
	}
	res := &FindInstanceGroupsResult{Instances: make([]InstanceGroups, len(in.InstanceIDs))}
	for i, id := range in.InstanceIDs {
		res.Instances[i] = found[id].summary(id, ebstags.Day(in.Date))
	}
	return res, nil
}

// instanceSnapshots is one instance's Lifeboat primaries in a region.
type instanceSnapshots struct {
	members     []types.Snapshot // of the day's group
	generations []string         // of its other groups
}

func (g *instanceSnapshots) summary(instanceID string, day time.Time) InstanceGroups {
	out := InstanceGroups{InstanceID: instanceID, GroupID: ebstags.GroupIDFor(instanceID, day)}
	if g == nil {
		return out
	}
	out.Generation = ebstags.NextGeneration(g.generations)
	if len(g.members) == 0 {
		return out
	}
	t := TagMap(g.members[0].Tags)
	out.Exists, out.Complete, out.Snapshots, out.DeleteOn = true, true, len(g.members), t[ebstags.DeleteOn]
	out.Generation, _ = ebstags.ParseGeneration(t[ebstags.Generation])
	for _, s := range g.members {
		mt := TagMap(s.Tags)
		for _, k := range memberTags {
			if _, ok := mt[k]; !ok {
				out.Complete = false
			}
		}
	}
	return out
}

// memberTags are the tags each member gets after CreateSnapshots.
var memberTags = []string{ebstags.Description, ebstags.SourceVolumeID, ebstags.Device, ebstags.GroupSize, ebstags.CreatedAt}

// findGroups reads the Lifeboat primaries of some instances, by instance.
func findGroups(ctx context.Context, api EC2API, instanceIDs []string, day time.Time) (map[string]*instanceSnapshots, error) {
	out := map[string]*instanceSnapshots{}
	for _, c := range ec2Chunks(instanceIDs, ec2FilterChunk) {
		err := eachSnapshot(ctx, api, []types.Filter{
			ec2TagFilter(ebstags.SourceInstanceID, c...), ec2TagFilter(ebstags.ManagedBy, ebstags.ManagedByLifeboat),
		}, func(s types.Snapshot) {
			t := TagMap(s.Tags)
			if ebstags.IsCopy(t) {
				return
			}
			id := t[ebstags.SourceInstanceID]
			g := out[id]
			if g == nil {
				g = &instanceSnapshots{}
				out[id] = g
			}
			if t[ebstags.GroupID] == ebstags.GroupIDFor(id, day) {
				g.members = append(g.members, s)
			} else {
				g.generations = append(g.generations, t[ebstags.Generation])
			}
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// CreateInstanceSnapshotsInput asks for one instance's group of the day.
type CreateInstanceSnapshotsInput struct {
	Region   string         `json:"region"`
	Instance BackupInstance `json:"instance"`
	// Date is the run's UTC date: it names the group and starts DeleteOn.
	Date   time.Time `json:"date"`
	DryRun bool      `json:"dryRun,omitempty"`
	// Known is the batch's lookup (FindInstanceGroups), made by this run
	// just before. A first attempt trusts it when it found no group; a
	// retry always looks again, since an earlier attempt may have made one.
	Known *InstanceGroups `json:"known,omitempty"`
}

// CreateInstanceSnapshotsResult is the instance's group.
type CreateInstanceSnapshotsResult struct {
	InstanceID string `json:"instanceId"`
	GroupID    string `json:"groupId"`
	Generation int    `json:"generation"`
	DeleteOn   string `json:"deleteOn"`
	// Created is true when this call took the group.
	Created bool `json:"created"`
	// Existing is true when the group was there already (a second run the
	// same day, or a retry). Neither is set in a dry run for a new group.
	Existing  bool            `json:"existing"`
	Snapshots []GroupSnapshot `json:"snapshots"`
	// Skipped says why nothing was done (the instance is gone).
	Skipped string `json:"skipped,omitempty"`
}

// CreateInstanceSnapshots snapshots every attached EBS volume of an
// instance together, with one CreateSnapshots call (crash-consistent across
// the volumes), and tags the group. It first looks for the instance's group
// of the day (its id derives from the instance and date) and returns it if
// found, finishing its tags, so a second run or a retried activity never
// takes a second group.
//
// CreateSnapshots takes no client token, so it is called without the SDK's
// retries (ec2Once) and retried here: throttling after a pause, and an
// error after which EC2 may have acted (a 5xx, a lost response) only after
// looking for the group again, for up to Settle, since EC2 can take a moment
// to list new snapshots. The group's tags (TagSpecifications) are what the
// look finds: one call, one group, whatever the network does.
func (a *EBS) CreateInstanceSnapshots(ctx context.Context, in CreateInstanceSnapshotsInput) (*CreateInstanceSnapshotsResult, error) {
	hb := activities.KeepAlive(ctx, activities.HeartbeatEvery, nil)
	defer hb.Stop()
	api := a.EC2(in.Region)
	inst := in.Instance
	day := ebstags.Day(in.Date)
	res := &CreateInstanceSnapshotsResult{
		InstanceID: inst.InstanceID,
		GroupID:    ebstags.GroupIDFor(inst.InstanceID, day),
		DeleteOn:   ebstags.DeleteOnDate(day, inst.RetentionDays),
	}
	devices := map[string]string{}
	for _, v := range inst.Volumes {
		devices[v.VolumeID] = v.Device
	}
	firstAttempt := !activity.IsActivity(ctx) || activity.GetInfo(ctx).Attempt <= 1
	trustKnown := in.Known != nil && !in.Known.Exists && firstAttempt
	if trustKnown {
		res.Generation = in.Known.Generation
	}
	b := a.newBackoff()
	var unsure time.Time // when a create whose outcome is unknown failed
	for {
		if !trustKnown {
			found, err := findGroups(ctx, api, []string{inst.InstanceID}, day)
			if err != nil {
				return nil, err
			}
			if g := found[inst.InstanceID]; g != nil {
				res.Generation = ebstags.NextGeneration(g.generations)
				if len(g.members) > 0 {
					return a.existingGroup(ctx, api, in, res, g.members, devices, !unsure.IsZero())
				}
			}
			if !unsure.IsZero() && a.now().Sub(unsure) < a.settle() {
				// The failed create may have acted and EC2 not list it yet.
				more, err := b.wait(ctx)
				if err != nil {
					return nil, err
				}
				if !more {
					// Retryable: the next attempt looks for the group first.
					return nil, fmt.Errorf("create snapshots of %s: the answer of a create was lost and no group is listed yet after %s", inst.InstanceID, b.elapsed())
				}
				continue
			}
		}
		trustKnown = false

		if in.DryRun {
			for _, v := range inst.Volumes {
				res.Snapshots = append(res.Snapshots, GroupSnapshot{VolumeID: v.VolumeID, Device: v.Device, State: "would be created"})
			}
			return res, nil
		}
		out, err := api.CreateSnapshots(ctx, a.createSnapshotsInput(in, res), ec2Once)
		if err == nil {
			logInfo(ctx, "Snapshot group created", "instance", inst.InstanceID, "group", res.GroupID, "snapshots", len(out.Snapshots), "generation", res.Generation)
			res.Created = true
			res.Snapshots, err = a.tagGroupMembers(ctx, api, in, out.Snapshots, devices, true)
			if err != nil {
				return nil, err
			}
			return res, nil
		}
		code := ec2Code(err)
		switch {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case code == "InvalidInstanceID.NotFound" && unsure.IsZero():
			res.Skipped = "instance no longer exists"
			return res, nil
		case ec2Rejected(code):
			return nil, classifyEC2(err, "create snapshots of %s", inst.InstanceID)
		case ec2Throttled(code):
			// Refused for the rate: nothing was made.
		default:
			unsure = a.now()
		}
		more, werr := b.wait(ctx)
		if werr != nil {
			return nil, werr
		}
		if !more {
			// Retryable: the next attempt looks for the group first.
			return nil, fmt.Errorf("create snapshots of %s: still failing after %d tries in %s: %w", inst.InstanceID, b.tries+1, b.elapsed(), err)
		}
		logInfo(ctx, "CreateSnapshots failed: retrying", "instance", inst.InstanceID, "code", code, "lookFirst", !unsure.IsZero(), "tries", b.tries)
	}
}

// createSnapshotsInput is the one CreateSnapshots call of an instance's
// group. The group's tags are applied by the call itself, atomically: a
// retry after a lost response finds the group by its id.
func (a *EBS) createSnapshotsInput(in CreateInstanceSnapshotsInput, res *CreateInstanceSnapshotsResult) *ec2.CreateSnapshotsInput {
	inst := in.Instance
	common := map[string]string{
		ebstags.Type:             ebstags.TypeAutomated,
		ebstags.DeleteOn:         res.DeleteOn,
		ebstags.ManagedBy:        ebstags.ManagedByLifeboat,
		ebstags.GroupID:          res.GroupID,
		ebstags.Generation:       strconv.Itoa(res.Generation),
		ebstags.SourceInstanceID: inst.InstanceID,
		ebstags.CreatedOn:        ebstags.FormatDate(ebstags.Day(in.Date)),
	}
	if len(inst.CopyDest) > 0 {
		// The copier reads its configuration from the snapshots themselves.
		common[ebstags.CopyDest] = strings.Join(inst.CopyDest, ",")
	}
	name := inst.Name
	if name == "" {
		name = inst.InstanceID
	}
	return &ec2.CreateSnapshotsInput{
		InstanceSpecification: &types.InstanceSpecification{InstanceId: aws.String(inst.InstanceID), ExcludeBootVolume: aws.Bool(false)},
		Description:           aws.String(fmt.Sprintf("Lifeboat %s of %s (%s)", res.GroupID, name, inst.InstanceID)),
		TagSpecifications:     ec2TagSpec(types.ResourceTypeSnapshot, common),
	}
}

// existingGroup returns the day's group found in EC2, finishing its
// members' tags. madeHere says this activity made it (a create whose
// answer was lost): it then counts as created, not as found.
func (a *EBS) existingGroup(ctx context.Context, api EC2API, in CreateInstanceSnapshotsInput, res *CreateInstanceSnapshotsResult,
	members []types.Snapshot, devices map[string]string, madeHere bool) (*CreateInstanceSnapshotsResult, error) {
	t := TagMap(members[0].Tags)
	res.Generation, _ = ebstags.ParseGeneration(t[ebstags.Generation])
	if d := t[ebstags.DeleteOn]; d != "" {
		res.DeleteOn = d
	}
	infos := make([]types.SnapshotInfo, len(members))
	for i, s := range members {
		infos[i] = types.SnapshotInfo{SnapshotId: s.SnapshotId, VolumeId: s.VolumeId, StartTime: s.StartTime, State: s.State, Tags: s.Tags}
	}
	res.Created, res.Existing = madeHere, !madeHere
	var err error
	res.Snapshots, err = a.tagGroupMembers(ctx, api, in, infos, devices, !in.DryRun)
	if err != nil {
		return nil, err
	}
	logInfo(ctx, "Snapshot group exists", "instance", in.Instance.InstanceID, "group", res.GroupID, "snapshots", len(members), "madeHere", madeHere)
	return res, nil
}

// tagGroupMembers gives each snapshot of a group its own tags (Description,
// source volume, device, group size, start time), skipping tags already
// there, and returns the members in device order.
func (a *EBS) tagGroupMembers(ctx context.Context, api EC2API, in CreateInstanceSnapshotsInput, snaps []types.SnapshotInfo, devices map[string]string, write bool) ([]GroupSnapshot, error) {
	var unknown []string
	for _, s := range snaps {
		if _, ok := devices[aws.ToString(s.VolumeId)]; !ok && TagMap(s.Tags)[ebstags.Device] == "" {
			unknown = append(unknown, aws.ToString(s.VolumeId))
		}
	}
	if len(unknown) > 0 {
		// A volume attached after the instance was listed: ask where.
		p := ec2.NewDescribeVolumesPaginator(api, &ec2.DescribeVolumesInput{Filters: []types.Filter{ec2Filter("volume-id", unknown...)}})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, classifyEC2(err, "describe volumes of %s", in.Instance.InstanceID)
			}
			for _, v := range page.Volumes {
				for _, at := range v.Attachments {
					if aws.ToString(at.InstanceId) == in.Instance.InstanceID {
						devices[aws.ToString(v.VolumeId)] = aws.ToString(at.Device)
					}
				}
			}
		}
	}
	var out []GroupSnapshot
	for _, s := range snaps {
		have := TagMap(s.Tags)
		vol := aws.ToString(s.VolumeId)
		if v := have[ebstags.SourceVolumeID]; v != "" {
			vol = v
		}
		dev := devices[vol]
		if dev == "" {
			dev = have[ebstags.Device]
		}
		start := a.now()
		if s.StartTime != nil {
			start = *s.StartTime
		}
		want := map[string]string{
			ebstags.Description:    ebstags.SnapshotDescription(in.Instance.Name, in.Instance.InstanceID, vol, dev, in.Region),
			ebstags.SourceVolumeID: vol,
			ebstags.Device:         dev,
			ebstags.GroupSize:      strconv.Itoa(len(snaps)),
			ebstags.CreatedAt:      start.UTC().Format(time.RFC3339),
		}
		missing := map[string]string{}
		for k, v := range want {
			if _, ok := have[k]; !ok {
				missing[k] = v
			}
		}
		id := aws.ToString(s.SnapshotId)
		if len(missing) > 0 && write {
			// The snapshot is new: EC2 may not know its id everywhere yet.
			err := a.retryNotFound(ctx, func() error {
				_, err := api.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{id}, Tags: ec2Tags(missing)})
				return err
			}, "tag snapshot %s", id)
			if err != nil {
				return nil, err
			}
		}
		state := string(s.State)
		if state == "" {
			state = string(types.SnapshotStatePending)
		}
		out = append(out, GroupSnapshot{SnapshotID: id, VolumeID: vol, Device: dev, State: state})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Device < out[j].Device })
	return out, nil
}

// WaitSnapshotsCompletedInput names the snapshots to wait for: the primary
// Lifeboat snapshots of a region created on a date.
type WaitSnapshotsCompletedInput struct {
	Region    string `json:"region"`
	CreatedOn string `json:"createdOn"`
	// MaxWaitSeconds bounds the wait; what is still pending then is reported
	// (and copied by a later run once completed).
	MaxWaitSeconds int `json:"maxWaitSeconds"`
	// Deadline, when set, ends the wait instead (the workflow's start plus
	// the wait), so a retried attempt does not wait all over again.
	Deadline *time.Time `json:"deadline,omitempty"`
	// Expect is how many snapshots the create step made: EC2 may take a
	// while to list new ones, so fewer listed count as pending (for up to
	// RetryFor), and the wait does not end before they are seen.
	Expect int `json:"expect,omitempty"`
}

// WaitSnapshotsCompletedResult is the state of the day's snapshots when the
// wait ended.
type WaitSnapshotsCompletedResult struct {
	Completed int               `json:"completed"`
	Pending   []string          `json:"pending,omitempty"`
	Errored   []SnapshotFailure `json:"errored,omitempty"`
	TimedOut  bool              `json:"timedOut,omitempty"`
}

// SnapshotWaitProgress is the heartbeat detail of WaitSnapshotsCompleted.
type SnapshotWaitProgress struct {
	Completed int    `json:"completed"`
	Pending   int    `json:"pending"`
	Errored   int    `json:"errored"`
	Polls     int    `json:"polls"`
	Elapsed   string `json:"elapsed"`
}

// WaitSnapshotsCompleted polls the day's snapshots until none is pending,
// heartbeating counts, for at most MaxWaitSeconds. Snapshots in the error
// state are reported, not waited for.
func (a *EBS) WaitSnapshotsCompleted(ctx context.Context, in WaitSnapshotsCompletedInput) (*WaitSnapshotsCompletedResult, error) {
	hb := activities.KeepAlive(ctx, activities.HeartbeatEvery, nil)
	defer hb.Stop()
	api := a.EC2(in.Region)
	start := a.now()
	deadline := start.Add(time.Duration(in.MaxWaitSeconds) * time.Second)
	if in.Deadline != nil {
		deadline = *in.Deadline
	}
	for polls := 1; ; polls++ {
		res := &WaitSnapshotsCompletedResult{}
		pending := 0
		err := eachSnapshot(ctx, api, []types.Filter{
			ec2TagFilter(ebstags.ManagedBy, ebstags.ManagedByLifeboat), ec2TagFilter(ebstags.CreatedOn, in.CreatedOn),
		}, func(s types.Snapshot) {
			if ebstags.IsCopy(TagMap(s.Tags)) {
				return
			}
			switch s.State {
			case types.SnapshotStateCompleted:
				res.Completed++
			case types.SnapshotStateError:
				res.Errored = capAppend(res.Errored, snapshotFailure(s, in.Region, "snapshot failed: "+aws.ToString(s.StateMessage)))
			default:
				pending++
				res.Pending = capAppend(res.Pending, aws.ToString(s.SnapshotId))
			}
		})
		if err != nil {
			return nil, err
		}
		if listed := res.Completed + pending + len(res.Errored); listed < in.Expect && a.now().Sub(start) < a.retryFor() {
			pending += in.Expect - listed // made, not listed yet
		}
		hb.Record(SnapshotWaitProgress{Completed: res.Completed, Pending: pending, Errored: len(res.Errored), Polls: polls,
			Elapsed: a.now().Sub(start).Round(time.Second).String()})
		if pending == 0 {
			return res, nil
		}
		if !a.now().Before(deadline) {
			res.TimedOut = true
			return res, nil
		}
		if err := a.sleep(ctx); err != nil {
			return nil, err
		}
	}
}
