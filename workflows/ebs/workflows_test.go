package ebs_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/lifeboat-dev/lifeboat/activities"
	ebsact "github.com/lifeboat-dev/lifeboat/activities/ebs"
	"github.com/lifeboat-dev/lifeboat/workflows"
	"github.com/lifeboat-dev/lifeboat/workflows/ebs"
)

// The snapshot workflows run against ec2World, a small model of EC2 in
// several regions whose methods are the mocked activities: instances to
// snapshot, groups taken, copies made and snapshots expired are recorded,
// so tests assert on what a run did and what it still did after a failure.

var snapDay = time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)

const (
	east = "us-east-1"
	west = "us-west-2"
)

type ec2World struct {
	mu sync.Mutex
	// instances per region, with Backup=Yes.
	instances map[string][]ebsact.BackupInstance
	// sources per region: completed primaries to copy, per destination.
	sources map[string]map[string][]string
	// failing makes every call of an activity fail, by activity name and
	// subject (region, instance, snapshot or destination); "" is any subject.
	failing map[string]map[string]error
	// errored snapshots the wait finds in the error state, per region.
	errored map[string][]string
	// copyBatch is how many in-flight copies one wait sees completing (0: all).
	copyBatch int
	// waitDelay is how long (workflow time) one copy wait takes.
	waitDelay time.Duration
	// others are copies in progress in a destination that no run of the
	// test started, by destination.
	others map[string][]string
	// batches records the size of every CopySnapshotsToRegion call.
	batches []int

	calls    []string
	groups   map[string]bool   // group ids taken
	copies   map[string]string // "destination/copy id" -> source id
	inflight map[string]map[string]bool
	maxIn    map[string]int // destination -> most copies in flight at once
	expired  map[string]ebsact.ExpireSnapshotsInput
	carried  []string
	volumes  []string // volumes created by restores
	deleted  []string // volumes deleted by restore cleanup
}

func newWorld() *ec2World {
	return &ec2World{
		instances: map[string][]ebsact.BackupInstance{}, sources: map[string]map[string][]string{},
		failing: map[string]map[string]error{}, errored: map[string][]string{},
		groups: map[string]bool{}, copies: map[string]string{}, inflight: map[string]map[string]bool{},
		maxIn: map[string]int{}, expired: map[string]ebsact.ExpireSnapshotsInput{}, others: map[string][]string{},
	}
}

// addInstances adds n instances with two volumes each to a region.
func (w *ec2World) addInstances(region string, n int) {
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("i-%s-%02d", region, i)
		w.instances[region] = append(w.instances[region], ebsact.BackupInstance{
			InstanceID: id, RetentionDays: 7, CopyDest: []string{west},
			Volumes: []ebsact.AttachedVolume{{VolumeID: "vol-a-" + id, Device: "/dev/sda1"}, {VolumeID: "vol-b-" + id, Device: "/dev/sdf"}},
		})
	}
}

// addSources adds n completed primaries in region to copy to dest.
func (w *ec2World) addSources(region, dest string, n int) []string {
	if w.sources[region] == nil {
		w.sources[region] = map[string][]string{}
	}
	var ids []string
	for i := 1; i <= n; i++ {
		ids = append(ids, fmt.Sprintf("snap-%s-%03d", region, i))
	}
	w.sources[region][dest] = append(w.sources[region][dest], ids...)
	return ids
}

func (w *ec2World) fail(activity, subject string, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failing[activity] == nil {
		w.failing[activity] = map[string]error{}
	}
	w.failing[activity][subject] = err
}

// record logs a call and returns the injected error, if any. Caller holds the lock.
func (w *ec2World) record(activity string, subjects ...string) error {
	w.calls = append(w.calls, activity+" "+strings.Join(subjects, " "))
	if f := w.failing[activity]; f != nil {
		if err, ok := f[""]; ok {
			return err
		}
		for _, s := range subjects {
			if err, ok := f[s]; ok {
				return err
			}
		}
	}
	return nil
}

func (w *ec2World) called(activity string, subject ...string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, c := range w.calls {
		name, rest, _ := strings.Cut(c, " ")
		if name == activity && (len(subject) == 0 || strings.Contains(" "+rest+" ", " "+subject[0]+" ")) {
			n++
		}
	}
	return n
}

func (w *ec2World) handlers() map[string]any {
	return map[string]any{
		"FindBackupInstances":     w.findBackupInstances,
		"FindInstanceGroups":      w.findInstanceGroups,
		"CreateInstanceSnapshots": w.createInstanceSnapshots,
		"WaitSnapshotsCompleted":  w.waitSnapshotsCompleted,
		"PlanSnapshotCopies":      w.planSnapshotCopies,
		"CopySnapshotsToRegion":   w.copySnapshotsToRegion,
		"WaitSnapshotCopies":      w.waitSnapshotCopies,
		"FindCopyDestinations":    w.findCopyDestinations,
		"CarryKeepForever":        w.carryKeepForever,
		"ExpireSnapshots":         w.expireSnapshots,
		"PlanVolumeRestore":       w.planVolumeRestore,
		"CreateRestoreVolume":     w.createRestoreVolume,
		"WaitRestoreVolumes":      w.waitRestoreVolumes,
		"AttachRestoreVolume":     w.attachRestoreVolume,
		"DeleteRestoreVolumes":    w.deleteRestoreVolumes,
	}
}

func (w *ec2World) findBackupInstances(_ context.Context, in ebsact.FindBackupInstancesInput) (*ebsact.FindBackupInstancesResult, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.record("FindBackupInstances", in.Region); err != nil {
		return nil, err
	}
	all := w.instances[in.Region]
	from := in.Cursor.Offset
	to := min(from+in.Limit, len(all))
	out := &ebsact.FindBackupInstancesResult{Instances: all[from:to]}
	if to < len(all) {
		out.Next = &ebsact.InstanceCursor{Offset: to}
	}
	return out, nil
}

func groupID(instance string, date time.Time) string {
	return "lbg-" + instance + "-" + date.Format("20060102")
}

func (w *ec2World) findInstanceGroups(_ context.Context, in ebsact.FindInstanceGroupsInput) (*ebsact.FindInstanceGroupsResult, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.record("FindInstanceGroups", in.Region); err != nil {
		return nil, err
	}
	res := &ebsact.FindInstanceGroupsResult{}
	for _, id := range in.InstanceIDs {
		g := ebsact.InstanceGroups{InstanceID: id, GroupID: groupID(id, in.Date)}
		if w.groups[g.GroupID] {
			g.Exists, g.Complete, g.Snapshots = true, true, 2
		}
		res.Instances = append(res.Instances, g)
	}
	return res, nil
}

func (w *ec2World) createInstanceSnapshots(_ context.Context, in ebsact.CreateInstanceSnapshotsInput) (*ebsact.CreateInstanceSnapshotsResult, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.record("CreateInstanceSnapshots", in.Region, in.Instance.InstanceID); err != nil {
		return nil, err
	}
	group := groupID(in.Instance.InstanceID, in.Date)
	res := &ebsact.CreateInstanceSnapshotsResult{InstanceID: in.Instance.InstanceID, GroupID: group, DeleteOn: in.Date.AddDate(0, 0, 7).Format("2006-01-02")}
	for _, v := range in.Instance.Volumes {
		res.Snapshots = append(res.Snapshots, ebsact.GroupSnapshot{SnapshotID: "snap-" + v.VolumeID, VolumeID: v.VolumeID, Device: v.Device, State: "pending"})
	}
	switch {
	case w.groups[group]:
		res.Existing = true
	case !in.DryRun:
		w.groups[group] = true
		res.Created = true
	}
	return res, nil
}

func (w *ec2World) waitSnapshotsCompleted(_ context.Context, in ebsact.WaitSnapshotsCompletedInput) (*ebsact.WaitSnapshotsCompletedResult, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.record("WaitSnapshotsCompleted", in.Region); err != nil {
		return nil, err
	}
	res := &ebsact.WaitSnapshotsCompletedResult{Completed: 2 * len(w.instances[in.Region])}
	for _, id := range w.errored[in.Region] {
		res.Errored = append(res.Errored, ebsact.SnapshotFailure{SnapshotID: id, Region: in.Region, Message: "snapshot failed: internal error"})
		res.Completed--
	}
	return res, nil
}

func (w *ec2World) planSnapshotCopies(_ context.Context, in ebsact.PlanSnapshotCopiesInput) (*ebsact.PlanSnapshotCopiesResult, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.record("PlanSnapshotCopies", in.Region); err != nil {
		return nil, err
	}
	res := &ebsact.PlanSnapshotCopiesResult{}
	var dests []string
	for d := range w.sources[in.Region] {
		dests = append(dests, d)
	}
	sort.Strings(dests)
	for _, d := range dests {
		plan := ebsact.CopyPlan{Destination: d, InFlight: w.others[d]}
		for _, id := range w.sources[in.Region][d] {
			if w.copyOf(d, id) != "" {
				plan.AlreadyCopied++
			} else {
				plan.ToCopy = append(plan.ToCopy, id)
			}
		}
		res.Destinations = append(res.Destinations, plan)
	}
	return res, nil
}

func (w *ec2World) copyOf(dest, source string) string {
	for key, s := range w.copies {
		if d, c, _ := strings.Cut(key, "/"); d == dest && s == source {
			return c
		}
	}
	return ""
}

func (w *ec2World) copySnapshotsToRegion(_ context.Context, in ebsact.CopySnapshotsToRegionInput) (*ebsact.CopySnapshotsToRegionResult, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.record("CopySnapshotsToRegion", append([]string{in.Destination}, in.SnapshotIDs...)...); err != nil {
		return nil, err
	}
	w.batches = append(w.batches, len(in.SnapshotIDs))
	if w.inflight[in.Destination] == nil {
		w.inflight[in.Destination] = map[string]bool{}
	}
	res := &ebsact.CopySnapshotsToRegionResult{}
	for _, id := range in.SnapshotIDs {
		if c := w.copyOf(in.Destination, id); c != "" {
			res.Existing = append(res.Existing, ebsact.CopyStarted{SourceSnapshotID: id, CopySnapshotID: c, State: "completed"})
			continue
		}
		c := "copy-of-" + id + "-in-" + in.Destination
		w.copies[in.Destination+"/"+c] = id
		w.inflight[in.Destination][c] = true
		res.Started = append(res.Started, ebsact.CopyStarted{SourceSnapshotID: id, CopySnapshotID: c, State: "pending"})
	}
	if n := len(w.inflight[in.Destination]); n > w.maxIn[in.Destination] {
		w.maxIn[in.Destination] = n
	}
	return res, nil
}

func (w *ec2World) waitSnapshotCopies(_ context.Context, in ebsact.WaitSnapshotCopiesInput) (*ebsact.WaitSnapshotCopiesResult, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.record("WaitSnapshotCopies", in.Destination); err != nil {
		return nil, err
	}
	res := &ebsact.WaitSnapshotCopiesResult{}
	for _, id := range in.CopyIDs {
		if w.copyBatch == 0 || len(res.Completed) < w.copyBatch {
			res.Completed = append(res.Completed, id)
			delete(w.inflight[in.Destination], id)
		} else {
			res.Pending = append(res.Pending, id)
		}
	}
	return res, nil
}

func (w *ec2World) findCopyDestinations(_ context.Context, in ebsact.FindCopyDestinationsInput) (*ebsact.FindCopyDestinationsResult, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.record("FindCopyDestinations", in.Region); err != nil {
		return nil, err
	}
	res := &ebsact.FindCopyDestinationsResult{Destinations: []string{}}
	for d := range w.sources[in.Region] {
		res.Destinations = append(res.Destinations, d)
	}
	sort.Strings(res.Destinations)
	return res, nil
}

func (w *ec2World) carryKeepForever(_ context.Context, in ebsact.CarryKeepForeverInput) (*ebsact.CarryKeepForeverResult, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.record("CarryKeepForever", in.SourceRegion, in.Destination); err != nil {
		return nil, err
	}
	w.carried = append(w.carried, in.Destination)
	return &ebsact.CarryKeepForeverResult{Carried: []string{"copy-kept-in-" + in.Destination}}, nil
}

func (w *ec2World) expireSnapshots(_ context.Context, in ebsact.ExpireSnapshotsInput) (*ebsact.ExpireSnapshotsResult, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.record("ExpireSnapshots", in.Region, "owner="+in.Owner); err != nil {
		return nil, err
	}
	w.expired[in.Region+"/"+in.Owner] = in
	return &ebsact.ExpireSnapshotsResult{
		Region: in.Region, DeletedCount: 2,
		Deleted: []ebsact.ExpiredSnapshot{{SnapshotID: "snap-old-1-" + in.Region, Region: in.Region, DeleteOn: "2026-11-20"}, {SnapshotID: "snap-old-2-" + in.Region, Region: in.Region, DeleteOn: "2026-11-22"}},
	}, nil
}

func (w *ec2World) planVolumeRestore(_ context.Context, in ebsact.PlanVolumeRestoreInput) (*ebsact.PlanVolumeRestoreResult, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.record("PlanVolumeRestore", in.GroupID); err != nil {
		return nil, err
	}
	return &ebsact.PlanVolumeRestoreResult{GroupID: in.GroupID, InstanceID: "i-src", GroupSize: 2, Snapshots: []ebsact.RestoreSnapshot{
		{SnapshotID: "snap-1", Device: "/dev/sdf"}, {SnapshotID: "snap-2", Device: "/dev/sdg"},
	}}, nil
}

func (w *ec2World) createRestoreVolume(_ context.Context, in ebsact.CreateRestoreVolumeInput) (*ebsact.CreateRestoreVolumeResult, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.record("CreateRestoreVolume", in.SnapshotID); err != nil {
		return nil, err
	}
	id := "vol-from-" + in.SnapshotID
	w.volumes = append(w.volumes, id)
	return &ebsact.CreateRestoreVolumeResult{VolumeID: id, Created: true}, nil
}

func (w *ec2World) waitRestoreVolumes(_ context.Context, in ebsact.WaitRestoreVolumesInput) (*ebsact.WaitRestoreVolumesResult, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.record("WaitRestoreVolumes", in.VolumeIDs...); err != nil {
		return nil, err
	}
	return &ebsact.WaitRestoreVolumesResult{}, nil
}

func (w *ec2World) attachRestoreVolume(_ context.Context, in ebsact.AttachRestoreVolumeInput) (*ebsact.AttachRestoreVolumeResult, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.record("AttachRestoreVolume", in.VolumeID, in.Device); err != nil {
		return nil, err
	}
	return &ebsact.AttachRestoreVolumeResult{}, nil
}

func (w *ec2World) deleteRestoreVolumes(_ context.Context, in ebsact.DeleteRestoreVolumesInput) (*ebsact.DeleteRestoreVolumesResult, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.record("DeleteRestoreVolumes", in.VolumeIDs...); err != nil {
		return nil, err
	}
	w.deleted = append(w.deleted, in.VolumeIDs...)
	return &ebsact.DeleteRestoreVolumesResult{Deleted: in.VolumeIDs}, nil
}

// snapFixture is a test workflow environment with every snapshot workflow
// registered and the activities mocked by an ec2World.
type snapFixture struct {
	t     *testing.T
	env   *testsuite.TestWorkflowEnvironment
	world *ec2World
}

func newSnapFixture(t *testing.T) *snapFixture {
	t.Helper()
	return newSnapFixtureOn(t, &testsuite.WorkflowTestSuite{})
}

// newSnapFixtureOn is newSnapFixture on a suite set up by the test (its
// metrics handler).
func newSnapFixtureOn(t *testing.T, suite *testsuite.WorkflowTestSuite) *snapFixture {
	t.Helper()
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(snapDay)
	for name, fn := range map[string]any{
		ebs.RunName: ebs.Run, ebs.ChainName: ebs.Chain,
		ebs.CreateName: ebs.Create, ebs.CreateBatchName: ebs.CreateBatch,
		ebs.CopyName: ebs.Copy, ebs.CopyDestinationName: ebs.CopyDestination,
		ebs.ExpireName: ebs.Expire, ebs.RestoreName: ebs.Restore,
	} {
		env.RegisterWorkflowWithOptions(fn, workflow.RegisterOptions{Name: name})
	}
	env.RegisterActivity(&ebsact.EBS{})
	return &snapFixture{t: t, env: env, world: newWorld()}
}

func (fx *snapFixture) run(name string, in any) {
	fx.t.Helper()
	for activity, fn := range fx.world.handlers() {
		if activity == "WaitSnapshotCopies" && fx.world.waitDelay > 0 {
			fx.env.OnActivity(activity, mock.Anything, mock.Anything).After(fx.world.waitDelay).Return(fn)
			continue
		}
		fx.env.OnActivity(activity, mock.Anything, mock.Anything).Return(fn)
	}
	fx.env.ExecuteWorkflow(name, in)
	require.True(fx.t, fx.env.IsWorkflowCompleted())
}

// result decodes a successful workflow's result.
func result[T any](fx *snapFixture) *T {
	fx.t.Helper()
	require.NoError(fx.t, fx.env.GetWorkflowError())
	var out T
	require.NoError(fx.t, fx.env.GetWorkflowResult(&out))
	return &out
}

// failedWith checks the workflow failed with activities.ErrSnapshotFailures and
// returns the result carried in the error's details.
func failedWith[T any](fx *snapFixture) (*T, string) {
	fx.t.Helper()
	err := fx.env.GetWorkflowError()
	require.Error(fx.t, err)
	var app *temporal.ApplicationError
	require.True(fx.t, errors.As(err, &app), "want an application error, got %v", err)
	require.Equal(fx.t, activities.ErrSnapshotFailures, app.Type(), "error: %v", err)
	var out T
	require.NoError(fx.t, app.Details(&out))
	return &out, app.Message()
}

func step(r *ebs.ChainResult, name string) ebs.StepOutcome {
	for _, s := range r.Steps {
		if s.Step == name {
			return s
		}
	}
	return ebs.StepOutcome{}
}

func retryable(msg string) error { return errors.New(msg) }

func TestSnapshotChainHappyPath(t *testing.T) {
	fx := newSnapFixture(t)
	fx.world.addInstances(east, 5)
	fx.world.addSources(east, west, 10)
	fx.run(ebs.ChainName, ebs.ChainInput{Region: east, Options: ebs.Options{BatchSize: 2}})
	res := result[ebs.ChainResult](fx)

	require.Len(t, res.Steps, 4)
	for _, s := range res.Steps {
		assert.Equal(t, ebs.OutcomeOK, s.Status, "step %s: %s", s.Step, s.Error)
	}
	assert.Equal(t, "2026-11-22", res.Date)
	assert.Equal(t, 5, res.Create.Instances)
	assert.Equal(t, 5, res.Create.GroupsCreated)
	assert.Equal(t, 10, res.Create.Snapshots)
	assert.Equal(t, 3, res.Create.Batches, "5 instances in batches of 2")
	require.Len(t, res.Copy.Destinations, 1)
	assert.Equal(t, 10, res.Copy.Destinations[0].Copied)
	assert.Equal(t, 0, res.Copy.Destinations[0].Pending)
	assert.Equal(t, 4, res.Expire.DeletedCount, "source and destination")
	assert.Equal(t, []string{west}, fx.world.carried, "KeepForever carried to the destination")
	assert.Equal(t, snapDay.Truncate(24*time.Hour), fx.world.expired[west+"/"+east].Today)

	// The steps ran in order: create, wait, copy, expire.
	order := []string{"CreateInstanceSnapshots", "WaitSnapshotsCompleted", "PlanSnapshotCopies", "ExpireSnapshots"}
	last := -1
	for _, name := range order {
		first := -1
		for i, c := range fx.world.calls {
			if strings.HasPrefix(c, name+" ") {
				first = i
				break
			}
		}
		require.Greater(t, first, last, "%s out of order: %v", name, fx.world.calls)
		last = first
	}
}

func TestSnapshotChainSecondRunTakesNoGroup(t *testing.T) {
	fx := newSnapFixture(t)
	fx.world.addInstances(east, 3)
	fx.world.groups["lbg-i-us-east-1-01-20261122"] = true
	fx.world.groups["lbg-i-us-east-1-02-20261122"] = true
	fx.run(ebs.ChainName, ebs.ChainInput{Region: east})
	res := result[ebs.ChainResult](fx)
	assert.Equal(t, 1, res.Create.GroupsCreated)
	assert.Equal(t, 2, res.Create.GroupsExisting)
	assert.Equal(t, 2, res.Create.Snapshots, "only the new group's snapshots count")
}

func TestSnapshotCreateBatchSkipsExistingGroupsWithoutACall(t *testing.T) {
	fx := newSnapFixture(t)
	fx.world.addInstances(east, 3)
	fx.world.groups["lbg-i-us-east-1-02-20261122"] = true
	fx.run(ebs.CreateName, ebs.CreateInput{Region: east})
	res := result[ebs.CreateResult](fx)
	assert.Equal(t, 2, res.GroupsCreated)
	assert.Equal(t, 1, res.GroupsExisting)
	assert.Equal(t, 0, fx.world.called("CreateInstanceSnapshots", "i-us-east-1-02"), "the batch lookup found its group")
	assert.Equal(t, 1, fx.world.called("FindInstanceGroups"))
}

func TestSnapshotCreateBatchLookupFailsEachInstanceLooks(t *testing.T) {
	fx := newSnapFixture(t)
	fx.world.addInstances(east, 2)
	fx.world.fail("FindInstanceGroups", "", temporal.NewNonRetryableApplicationError("UnauthorizedOperation", activities.ErrEC2Rejected, nil))
	var mu sync.Mutex
	var known []*ebsact.InstanceGroups
	fx.env.OnActivity("CreateInstanceSnapshots", mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in ebsact.CreateInstanceSnapshotsInput) (*ebsact.CreateInstanceSnapshotsResult, error) {
			mu.Lock()
			known = append(known, in.Known)
			mu.Unlock()
			return fx.world.createInstanceSnapshots(ctx, in)
		})
	fx.run(ebs.CreateName, ebs.CreateInput{Region: east})
	res := result[ebs.CreateResult](fx)
	assert.Equal(t, 2, res.GroupsCreated)
	assert.Equal(t, []*ebsact.InstanceGroups{nil, nil}, known, "without the batch lookup each activity looks itself")
}

func TestSnapshotChainCopyFailsAfterRetries(t *testing.T) {
	fx := newSnapFixture(t)
	fx.world.addInstances(east, 2)
	ids := fx.world.addSources(east, west, 6)
	// The batch holding the 3rd snapshot fails on every attempt.
	fx.world.fail("CopySnapshotsToRegion", ids[2], retryable("RequestLimitExceeded: slow down"))
	fx.run(ebs.ChainName, ebs.ChainInput{Region: east, Options: ebs.Options{MaxConcurrentCopies: 2}})
	res, msg := failedWith[ebs.ChainResult](fx)

	assert.Contains(t, msg, "copy")
	assert.Equal(t, ebs.OutcomeOK, step(res, "create").Status)
	assert.Equal(t, ebs.OutcomeFailed, step(res, "copy").Status)
	assert.Contains(t, step(res, "copy").Error, "2 copies to us-west-2 failed")
	// The batch was retried (throttling is retryable), then given up.
	assert.Equal(t, 10, fx.world.called("CopySnapshotsToRegion", ids[2]), "retried up to the policy's attempts")
	// The other copies were still made.
	d := res.Copy.Destinations[0]
	assert.Equal(t, 4, d.Copied)
	assert.Equal(t, 2, d.FailedCount)
	assert.ElementsMatch(t, []string{ids[2], ids[3]}, []string{d.Failed[0].SnapshotID, d.Failed[1].SnapshotID})
	// And expiry still ran, in both regions.
	assert.Equal(t, ebs.OutcomeOK, step(res, "expire").Status)
	assert.Equal(t, 1, fx.world.called("ExpireSnapshots", east+" owner="+east))
	assert.Equal(t, 1, fx.world.called("ExpireSnapshots", west))
	assert.Equal(t, 4, res.Expire.DeletedCount)
}

func TestSnapshotChainSnapshotInErrorState(t *testing.T) {
	fx := newSnapFixture(t)
	fx.world.addInstances(east, 2)
	fx.world.addSources(east, west, 3)
	fx.world.errored[east] = []string{"snap-vol-b-i-us-east-1-02"}
	fx.run(ebs.ChainName, ebs.ChainInput{Region: east})
	res, msg := failedWith[ebs.ChainResult](fx)

	assert.Contains(t, msg, "wait: 1 snapshots failed")
	w := step(res, "wait")
	assert.Equal(t, ebs.OutcomeFailed, w.Status)
	assert.Contains(t, w.Error, "snap-vol-b-i-us-east-1-02")
	require.Len(t, res.Wait.Errored, 1)
	assert.Equal(t, 3, res.Wait.Completed)
	// Copy and expiry still ran.
	assert.Equal(t, ebs.OutcomeOK, step(res, "copy").Status)
	assert.Equal(t, 3, res.Copy.Destinations[0].Copied)
	assert.Equal(t, ebs.OutcomeOK, step(res, "expire").Status)
}

func TestSnapshotChainCreateFailsCopyAndExpireStillRun(t *testing.T) {
	fx := newSnapFixture(t)
	fx.world.addInstances(east, 2)
	fx.world.addSources(east, west, 2)
	fx.world.fail("FindBackupInstances", east, temporal.NewNonRetryableApplicationError("not authorized", activities.ErrEC2Rejected, nil))
	fx.run(ebs.ChainName, ebs.ChainInput{Region: east})
	res, _ := failedWith[ebs.ChainResult](fx)
	assert.Equal(t, ebs.OutcomeFailed, step(res, "create").Status)
	assert.Contains(t, step(res, "create").Error, "not authorized")
	assert.Equal(t, 1, fx.world.called("FindBackupInstances"), "EC2Rejected is not retried")
	assert.Equal(t, 0, fx.world.called("CreateInstanceSnapshots"))
	assert.Equal(t, ebs.OutcomeOK, step(res, "copy").Status, "yesterday's snapshots are still copied")
	assert.Equal(t, 2, res.Copy.Destinations[0].Copied)
	assert.Equal(t, ebs.OutcomeOK, step(res, "expire").Status)
}

func TestSnapshotRunOneRegionFails(t *testing.T) {
	fx := newSnapFixture(t)
	fx.world.addInstances(east, 2)
	fx.world.addInstances(west, 2)
	fx.world.addSources(west, "eu-west-1", 2)
	// us-east-1 is down: every call about it fails, retryably.
	for _, a := range []string{"FindBackupInstances", "WaitSnapshotsCompleted", "PlanSnapshotCopies", "FindCopyDestinations", "ExpireSnapshots"} {
		fx.world.fail(a, east, retryable("dial tcp: ec2.us-east-1.amazonaws.com: i/o timeout"))
	}
	fx.run(ebs.RunName, ebs.RunInput{Regions: []string{west, east}})
	res, msg := failedWith[ebs.RunResult](fx)

	assert.Contains(t, msg, "1 of 2 regions failed: us-east-1")
	require.Len(t, res.Regions, 2)
	byRegion := map[string]ebs.RegionOutcome{}
	for _, r := range res.Regions {
		byRegion[r.Region] = r
	}
	e, w := byRegion[east], byRegion[west]
	assert.Equal(t, ebs.OutcomeFailed, e.Status)
	assert.Contains(t, e.Error, "i/o timeout")
	require.NotNil(t, e.Chain, "the failed region still reports its steps")
	assert.Equal(t, ebs.OutcomeFailed, step(e.Chain, "expire").Status)
	// The healthy region did everything.
	assert.Equal(t, ebs.OutcomeOK, w.Status, w.Error)
	assert.Equal(t, "snapshots-chain-us-west-2", w.WorkflowID)
	assert.Equal(t, 2, w.Chain.Create.GroupsCreated)
	assert.Equal(t, 2, w.Chain.Copy.Destinations[0].Copied)
	assert.Equal(t, 4, w.Chain.Expire.DeletedCount)
	assert.Equal(t, "2026-11-22", w.Chain.Date)
}

func TestSnapshotRunRefusesBadInput(t *testing.T) {
	for _, in := range []ebs.RunInput{
		{},
		{Regions: []string{"us-east-1", "mars"}},
		{Regions: []string{"us-east-1"}, Options: ebs.Options{AsOf: "tomorrow"}},
	} {
		fx := newSnapFixture(t)
		fx.run(ebs.RunName, in)
		var app *temporal.ApplicationError
		require.True(t, errors.As(fx.env.GetWorkflowError(), &app), "%+v", in)
		assert.Equal(t, activities.ErrInvalidInput, app.Type())
		assert.Empty(t, fx.world.calls)
	}
}

func TestSnapshotCreateOneInstanceFails(t *testing.T) {
	fx := newSnapFixture(t)
	fx.world.addInstances(east, 4)
	fx.world.fail("CreateInstanceSnapshots", "i-us-east-1-03", temporal.NewNonRetryableApplicationError("InvalidParameterValue: bad", activities.ErrEC2Rejected, nil))
	fx.run(ebs.CreateName, ebs.CreateInput{Region: east})
	res, msg := failedWith[ebs.CreateResult](fx)
	assert.Contains(t, msg, "1 of 4 instances in us-east-1 failed, e.g. i-us-east-1-03")
	assert.Equal(t, 3, res.GroupsCreated)
	assert.Equal(t, 1, res.FailedCount)
	assert.Equal(t, "i-us-east-1-03", res.Failed[0].InstanceID)
}

func TestSnapshotCreateAsOfAndDryRun(t *testing.T) {
	fx := newSnapFixture(t)
	fx.world.addInstances(east, 2)
	fx.run(ebs.CreateName, ebs.CreateInput{Region: east, Options: ebs.Options{AsOf: "2026-12-01", DryRun: true}})
	res := result[ebs.CreateResult](fx)
	assert.Equal(t, "2026-12-01", res.Date)
	assert.True(t, res.DryRun)
	assert.Equal(t, 0, res.GroupsCreated)
	assert.Equal(t, 2, res.GroupsToCreate)
	assert.Equal(t, 4, res.Snapshots, "snapshots a real run would take")
	assert.Equal(t, "lbg-i-us-east-1-01-20261201", res.Groups[0].GroupID)
	assert.Empty(t, fx.world.groups, "a dry run takes nothing")
}

func TestSnapshotCreateContinuesAsNew(t *testing.T) {
	fx := newSnapFixture(t)
	fx.world.addInstances(east, 5)
	fx.env.SetCurrentHistoryLength(500)
	fx.run(ebs.CreateName, ebs.CreateInput{Region: east, Options: ebs.Options{BatchSize: 2, HistoryLimit: 100}})
	err := fx.env.GetWorkflowError()
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(err, &can), "want continue-as-new, got %v", err)
	// The first batch is finished before handing over, and its counts travel on.
	assert.Equal(t, 2, fx.world.called("CreateInstanceSnapshots"))
	assert.Equal(t, ebs.CreateName, can.WorkflowType.Name)
}

func TestSnapshotCopyNeverExceedsConcurrencyLimit(t *testing.T) {
	fx := newSnapFixture(t)
	fx.world.addSources(east, west, 45)
	fx.world.addSources(east, "eu-west-1", 7)
	fx.world.copyBatch = 2 // copies finish two at a time
	fx.run(ebs.CopyName, ebs.CopyInput{Region: east, Options: ebs.Options{MaxConcurrentCopies: 5}})
	res := result[ebs.CopyResult](fx)
	require.Len(t, res.Destinations, 2)
	total := 0
	for _, d := range res.Destinations {
		assert.Equal(t, 0, d.Pending, d.Destination)
		assert.Empty(t, d.InFlight, d.Destination)
		total += d.Copied
	}
	assert.Equal(t, 52, total)
	assert.Equal(t, 5, fx.world.maxIn[west], "at most 5 copies in progress in %s", west)
	assert.Equal(t, 5, fx.world.maxIn["eu-west-1"])
}

func TestSnapshotCopyCountsSlotsHeldByOtherCopies(t *testing.T) {
	fx := newSnapFixture(t)
	fx.world.addSources(east, west, 10)
	fx.world.others[west] = []string{"snap-copy-by-another-region-1", "snap-copy-by-another-region-2", "snap-copy-by-another-region-3"}
	fx.run(ebs.CopyName, ebs.CopyInput{Region: east, Options: ebs.Options{MaxConcurrentCopies: 5}})
	res := result[ebs.CopyResult](fx)
	assert.Equal(t, 2, fx.world.batches[0], "3 of 5 slots are taken by copies this run did not start")
	assert.Equal(t, 10, res.Destinations[0].Copied, "the other copies are not counted as ours")
	assert.Equal(t, 10, res.Destinations[0].Started)
}

func TestSnapshotCopyWindowLeavesTheRestForTheNextRun(t *testing.T) {
	fx := newSnapFixture(t)
	fx.world.addSources(east, west, 30)
	fx.world.copyBatch = 5
	fx.world.waitDelay = 40 * time.Minute // each wait for a slot takes 40 minutes
	fx.run(ebs.CopyName, ebs.CopyInput{Region: east, Options: ebs.Options{
		MaxConcurrentCopies: 10, CopyWindowSeconds: 3600,
	}})
	res := result[ebs.CopyResult](fx)
	d := res.Destinations[0]
	// Window of 1h: 10 started, 5 done after 40m, 5 more started, 5 done
	// at 80m, after the window closed: nothing more starts.
	assert.Equal(t, 15, d.Started)
	assert.Equal(t, 10, d.Copied)
	assert.Equal(t, 15, d.Pending, "not started: the next run copies them")
	assert.Len(t, d.InFlight, 5, "still in progress: the next run finds them")
	assert.LessOrEqual(t, fx.world.maxIn[west], 10)

	// The next run copies only what is left.
	fx2 := newSnapFixture(t)
	fx2.world = fx.world
	fx2.world.waitDelay = 0
	fx2.run(ebs.CopyName, ebs.CopyInput{Region: east, Options: ebs.Options{MaxConcurrentCopies: 10}})
	res2 := result[ebs.CopyResult](fx2)
	assert.Equal(t, 15, res2.Destinations[0].AlreadyCopied)
	assert.Equal(t, 15, res2.Destinations[0].Started)
	assert.Len(t, fx.world.copies, 30, "one copy per source, never two")
}

func TestSnapshotCopyDryRunStartsNothing(t *testing.T) {
	fx := newSnapFixture(t)
	fx.world.addSources(east, west, 3)
	fx.run(ebs.CopyName, ebs.CopyInput{Region: east, Options: ebs.Options{DryRun: true}})
	res := result[ebs.CopyResult](fx)
	assert.Equal(t, 3, res.Destinations[0].Pending)
	assert.Len(t, res.Destinations[0].Copies, 3)
	assert.Equal(t, 0, fx.world.called("CopySnapshotsToRegion"))
}

func TestSnapshotExpireCarryFailsDestinationNotExpired(t *testing.T) {
	fx := newSnapFixture(t)
	fx.world.addSources(east, west, 1)
	fx.world.addSources(east, "eu-west-1", 1)
	fx.world.fail("CarryKeepForever", west, temporal.NewNonRetryableApplicationError("UnauthorizedOperation", activities.ErrEC2Rejected, nil))
	fx.run(ebs.ExpireName, ebs.ExpireInput{Region: east, Options: ebs.Options{AsOf: "2026-12-24"}})
	res, msg := failedWith[ebs.ExpireResult](fx)
	assert.Contains(t, msg, "us-west-2: carry KeepForever")
	assert.Equal(t, 0, fx.world.called("ExpireSnapshots", west), "no deletion where KeepForever could not be carried")
	assert.Equal(t, 1, fx.world.called("ExpireSnapshots", "eu-west-1"))
	assert.Equal(t, 1, fx.world.called("ExpireSnapshots", east+" owner="+east))
	assert.Equal(t, 4, res.DeletedCount)
	assert.Equal(t, time.Date(2026, 12, 24, 0, 0, 0, 0, time.UTC), fx.world.expired[east+"/"+east].Today, "--as-of decides the day")
}

func TestSnapshotExpireDryRun(t *testing.T) {
	fx := newSnapFixture(t)
	fx.world.addSources(east, west, 1)
	fx.run(ebs.ExpireName, ebs.ExpireInput{Region: east, Options: ebs.Options{DryRun: true}})
	res := result[ebs.ExpireResult](fx)
	assert.True(t, res.DryRun)
	assert.True(t, fx.world.expired[east+"/"+east].DryRun)
	assert.True(t, fx.world.expired[west+"/"+east].DryRun)
	require.Len(t, res.Regions, 2)
	assert.Len(t, res.Regions[1].Deleted, 2, "the list of what would go")
}

func TestSnapshotRestoreHappyPath(t *testing.T) {
	fx := newSnapFixture(t)
	fx.run(ebs.RestoreName, ebs.RestoreInput{Region: east, GroupID: "lbg-i-src-20261122", TargetInstanceID: "i-target", AvailabilityZone: "us-east-1a"})
	res := result[ebs.RestoreResult](fx)
	require.Len(t, res.Volumes, 2)
	assert.Equal(t, ebs.RestoredVolume{Device: "/dev/sdf", SnapshotID: "snap-1", VolumeID: "vol-from-snap-1"}, res.Volumes[0])
	assert.Equal(t, 1, fx.world.called("AttachRestoreVolume", "/dev/sdg"))
	assert.Empty(t, fx.world.deleted)
}

func TestSnapshotRestoreRefusedCreatesNothing(t *testing.T) {
	fx := newSnapFixture(t)
	fx.world.fail("PlanVolumeRestore", "", temporal.NewNonRetryableApplicationError("snapshot group g is incomplete in us-east-1: 1 of 2 snapshots", activities.ErrInvalidInput, nil))
	fx.run(ebs.RestoreName, ebs.RestoreInput{Region: east, GroupID: "g", TargetInstanceID: "i-target", AvailabilityZone: "us-east-1a"})
	var app *temporal.ApplicationError
	require.True(t, errors.As(fx.env.GetWorkflowError(), &app))
	assert.Equal(t, activities.ErrInvalidInput, app.Type())
	assert.Equal(t, 0, fx.world.called("CreateRestoreVolume"))
}

func TestSnapshotRestoreAttachFailsDeletesVolumes(t *testing.T) {
	fx := newSnapFixture(t)
	fx.world.fail("AttachRestoreVolume", "/dev/sdg", temporal.NewNonRetryableApplicationError("InvalidParameterValue: device in use", activities.ErrEC2Rejected, nil))
	fx.run(ebs.RestoreName, ebs.RestoreInput{Region: east, GroupID: "g", TargetInstanceID: "i-target", AvailabilityZone: "us-east-1a"})
	require.Error(t, fx.env.GetWorkflowError())
	assert.ElementsMatch(t, []string{"vol-from-snap-1", "vol-from-snap-2"}, fx.world.deleted,
		"cleanup is offered every volume; the activity keeps the attached one")
}

func TestSnapshotRestoreCancelledDeletesVolumes(t *testing.T) {
	fx := newSnapFixture(t)
	fx.env.OnActivity("WaitRestoreVolumes", mock.Anything, mock.Anything).After(time.Hour).Return(&ebsact.WaitRestoreVolumesResult{}, nil)
	fx.env.RegisterDelayedCallback(fx.env.CancelWorkflow, 10*time.Minute)
	fx.run(ebs.RestoreName, ebs.RestoreInput{Region: east, GroupID: "g", TargetInstanceID: "i-target", AvailabilityZone: "us-east-1a"})
	require.True(t, temporal.IsCanceledError(fx.env.GetWorkflowError()), "got %v", fx.env.GetWorkflowError())
	assert.ElementsMatch(t, []string{"vol-from-snap-1", "vol-from-snap-2"}, fx.world.deleted)
	assert.Equal(t, 0, fx.world.called("AttachRestoreVolume"))
}

func TestSnapshotProgressQuery(t *testing.T) {
	fx := newSnapFixture(t)
	fx.world.addInstances(east, 3)
	fx.run(ebs.CreateName, ebs.CreateInput{Region: east})
	v, err := fx.env.QueryWorkflow(workflows.ProgressQuery)
	require.NoError(t, err)
	var p ebs.Progress
	require.NoError(t, v.Get(&p))
	assert.Equal(t, workflows.StepDone, p.Step)
	assert.True(t, p.Validated)
	assert.Equal(t, 3, p.GroupsCreated)
	assert.Equal(t, "create us-east-1 2026-11-22: done, 3 instances, 3 groups created, 6 snapshots", p.Summary())
}

// A copy batch handed back by CopySnapshotsToRegion (its first copy's
// answer was lost, then the destination refused) is tried again looking in
// the destination first (Planned=false), so the copy made is found, not
// made twice.
func TestSnapshotCopyDeferredBatchLooksBeforeCopyingAgain(t *testing.T) {
	fx := newSnapFixture(t)
	fx.world.addSources(east, west, 3)
	var planned []bool
	made := map[string]int{}
	fx.env.OnActivity("CopySnapshotsToRegion", mock.Anything, mock.Anything).Return(
		func(_ context.Context, in ebsact.CopySnapshotsToRegionInput) (*ebsact.CopySnapshotsToRegionResult, error) {
			planned = append(planned, in.Planned)
			res := &ebsact.CopySnapshotsToRegionResult{}
			for i, id := range in.SnapshotIDs {
				if !in.Planned && made[id] > 0 {
					res.Existing = append(res.Existing, ebsact.CopyStarted{SourceSnapshotID: id, CopySnapshotID: "copy-" + id, State: "pending"})
					continue
				}
				made[id]++
				if len(planned) == 1 {
					res.Deferred = in.SnapshotIDs[i:]
					return res, nil
				}
				res.Started = append(res.Started, ebsact.CopyStarted{SourceSnapshotID: id, CopySnapshotID: "copy-" + id, State: "pending"})
			}
			return res, nil
		})
	fx.run(ebs.CopyName, ebs.CopyInput{Region: east})
	res := result[ebs.CopyResult](fx)
	require.GreaterOrEqual(t, len(planned), 2)
	assert.True(t, planned[0], "the first batch trusts the plan")
	assert.False(t, planned[1], "a batch of handed-back snapshots looks first")
	for id, n := range made {
		assert.Equal(t, 1, n, "copies of %s", id)
	}
	assert.Equal(t, 0, res.Destinations[0].FailedCount)
	assert.Equal(t, 0, res.Destinations[0].Pending)
}

// The wait gets a deadline fixed by the workflow (a retried attempt does not
// wait all over again) and how many snapshots were just made (EC2 may not
// list them yet).
func TestSnapshotChainWaitGetsDeadlineAndExpect(t *testing.T) {
	fx := newSnapFixture(t)
	fx.world.addInstances(east, 3)
	var got ebsact.WaitSnapshotsCompletedInput
	fx.env.OnActivity("WaitSnapshotsCompleted", mock.Anything, mock.Anything).Return(
		func(_ context.Context, in ebsact.WaitSnapshotsCompletedInput) (*ebsact.WaitSnapshotsCompletedResult, error) {
			got = in
			return &ebsact.WaitSnapshotsCompletedResult{Completed: in.Expect}, nil
		})
	fx.run(ebs.ChainName, ebs.ChainInput{Region: east, Options: ebs.Options{WaitTimeoutSeconds: 8 * 3600}})
	result[ebs.ChainResult](fx)
	assert.Equal(t, 6, got.Expect, "3 instances, 2 volumes each")
	require.NotNil(t, got.Deadline)
	assert.Equal(t, snapDay.Add(8*time.Hour), got.Deadline.UTC().Truncate(time.Second))
}
