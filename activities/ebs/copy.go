package ebs

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"go.temporal.io/sdk/activity"

	"github.com/lifeboat-dev/lifeboat/activities"
	"github.com/lifeboat-dev/lifeboat/internal/ebstags"
)

// PlanSnapshotCopiesInput asks what a region's copier has to do.
type PlanSnapshotCopiesInput struct {
	Region string `json:"region"`
	// MaxPerDestination bounds one run's work per destination; the rest is
	// left to the next run.
	MaxPerDestination int `json:"maxPerDestination,omitempty"`
}

// CopyPlan is the work for one destination region.
type CopyPlan struct {
	Destination string `json:"destination"`
	// ToCopy are completed primary snapshots without a copy there, oldest first.
	ToCopy []string `json:"toCopy"`
	// AlreadyCopied counts primaries that have a copy there already.
	AlreadyCopied int `json:"alreadyCopied"`
	// InFlight are copies into the destination still in progress: they take
	// slots of the destination's concurrent copy limit.
	InFlight []string `json:"inFlight,omitempty"`
	// Deferred counts snapshots beyond MaxPerDestination, left for the next run.
	Deferred int `json:"deferred,omitempty"`
}

// PlanSnapshotCopiesResult is the copier's work, per destination.
type PlanSnapshotCopiesResult struct {
	Destinations []CopyPlan `json:"destinations"`
	// SourcePending counts primaries not completed yet: a later run copies them.
	SourcePending int `json:"sourcePending"`
	// SourceErrored counts primaries in the error state: never copied.
	SourceErrored int `json:"sourceErrored"`
	// SeedSkipped counts primaries the seed's creator made: Lifeboat never
	// copies them (ebstags.Copyable); the seed's copier, or nobody, does.
	SeedSkipped int      `json:"seedSkipped,omitempty"`
	Problems    []string `json:"problems,omitempty"`
}

// PlanSnapshotCopies lists the region's completed primary snapshots
// (Lifeboat's own, not copies, not the seed's) whose Copy_Dest names other regions, and
// looks in each destination for copies already there (by
// Source_SnapshotId), so only missing copies are planned.
func (a *EBS) PlanSnapshotCopies(ctx context.Context, in PlanSnapshotCopiesInput) (*PlanSnapshotCopiesResult, error) {
	hb := activities.KeepAlive(ctx, activities.HeartbeatEvery, nil)
	defer hb.Stop()
	maxPer := in.MaxPerDestination
	if maxPer <= 0 {
		maxPer = 5000
	}
	api := a.EC2(in.Region)
	res := &PlanSnapshotCopiesResult{}
	type source struct {
		id    string
		start time.Time
	}
	byDest := map[string][]source{}
	problems := map[string]bool{}
	err := eachSnapshot(ctx, api, []types.Filter{ec2Filter("tag-key", ebstags.CopyDest), ec2TagFilter(ebstags.Type, ebstags.TypeAutomated)}, func(s types.Snapshot) {
		t := TagMap(s.Tags)
		if ebstags.IsCopy(t) {
			return // never copy a copy: that would loop
		}
		if !ebstags.Copyable(t) {
			res.SeedSkipped++
			return
		}
		switch {
		case s.State == types.SnapshotStateError:
			res.SourceErrored++
			return
		case s.State != types.SnapshotStateCompleted, ebstags.IsManaged(t) && t[ebstags.Device] == "":
			// Not completed, or its group is still being tagged: next run.
			res.SourcePending++
			return
		}
		dests, bad := ebstags.ParseCopyDestinations(t[ebstags.CopyDest], aws.ToString(s.OwnerId), in.Region)
		for _, p := range bad {
			problems[p] = true
		}
		for _, d := range dests {
			if d.CrossAccount() && a.EC2In == nil {
				problems[fmt.Sprintf("%s: %s is in another account and the worker has no --ebs-copy-role: not copied", ebstags.CopyDest, d)] = true
				continue
			}
			byDest[d.String()] = append(byDest[d.String()], source{id: aws.ToString(s.SnapshotId), start: aws.ToTime(s.StartTime)})
		}
	})
	if err != nil {
		return nil, err
	}
	for p := range problems {
		res.Problems = append(res.Problems, p)
	}
	sort.Strings(res.Problems)
	dests := make([]string, 0, len(byDest))
	for d := range byDest {
		dests = append(dests, d)
	}
	sort.Strings(dests)
	for _, d := range dests {
		srcs := byDest[d]
		sort.Slice(srcs, func(i, j int) bool {
			if !srcs[i].start.Equal(srcs[j].start) {
				return srcs[i].start.Before(srcs[j].start)
			}
			return srcs[i].id < srcs[j].id
		})
		ids := make([]string, len(srcs))
		for i, s := range srcs {
			ids[i] = s.id
		}
		// Every copy in the destination, from any source, in one listing:
		// the look-before-copy for the whole run, and the copies in progress
		// that hold slots of the destination's limit.
		existing := map[string][]types.Snapshot{}
		plan := CopyPlan{Destination: d}
		dapi, _, err := a.destEC2(d)
		if err != nil {
			return nil, err
		}
		err = eachSnapshot(ctx, dapi, []types.Filter{ec2Filter("tag-key", ebstags.SourceSnapshotID)}, func(s types.Snapshot) {
			src := TagMap(s.Tags)[ebstags.SourceSnapshotID]
			existing[src] = append(existing[src], s)
			if s.State == types.SnapshotStatePending {
				plan.InFlight = append(plan.InFlight, aws.ToString(s.SnapshotId))
			}
		})
		if err != nil {
			return nil, fmt.Errorf("look for copies in %s: %w", d, err)
		}
		for _, id := range ids {
			if usableCopy(existing[id]) != nil {
				plan.AlreadyCopied++
				continue
			}
			if len(plan.ToCopy) >= maxPer {
				plan.Deferred++
				continue
			}
			plan.ToCopy = append(plan.ToCopy, id)
		}
		sort.Strings(plan.InFlight)
		res.Destinations = append(res.Destinations, plan)
	}
	return res, nil
}

// usableCopy is a copy that is done or on its way (not failed), if any.
func usableCopy(copies []types.Snapshot) *types.Snapshot {
	for i := range copies {
		if copies[i].State != types.SnapshotStateError {
			return &copies[i]
		}
	}
	return nil
}

// CopySnapshotsToRegionInput asks for copies of some snapshots in a destination.
type CopySnapshotsToRegionInput struct {
	SourceRegion string   `json:"sourceRegion"`
	Destination  string   `json:"destination"`
	SnapshotIDs  []string `json:"snapshotIds"`
	// Planned says this run's plan (PlanSnapshotCopies) found no copy of
	// these snapshots in the destination. A first attempt trusts it; a
	// retry looks again, since an earlier attempt may have started copies.
	Planned bool `json:"planned,omitempty"`
}

// CopyStarted pairs a source snapshot with its copy.
type CopyStarted struct {
	SourceSnapshotID string `json:"sourceSnapshotId"`
	CopySnapshotID   string `json:"copySnapshotId"`
	State            string `json:"state"`
}

// CopySnapshotsToRegionResult says what became of each snapshot.
type CopySnapshotsToRegionResult struct {
	Started []CopyStarted `json:"started,omitempty"`
	// Existing copies were found in the destination: nothing was started.
	Existing []CopyStarted `json:"existing,omitempty"`
	// Deferred snapshots hit the destination's concurrent copy limit: try later.
	Deferred []string          `json:"deferred,omitempty"`
	Failed   []SnapshotFailure `json:"failed,omitempty"`
}

// copyLimitCodes mean the destination has too many copies in progress.
var copyLimitCodes = map[string]bool{"ResourceLimitExceeded": true, "PendingSnapshotLimitExceeded": true, "SnapshotCopyLimitExceeded": true}

// CopySnapshotsToRegion copies completed primary snapshots to a destination
// region with all their tags (DeleteOn, KeepForever, Type, Description and
// group lineage) plus Source_SnapshotId and Source_Region, applied by
// CopySnapshot itself. CopySnapshot takes no client token, so a copy is
// found by its Source_SnapshotId tag: by the run's plan, and, on a retry (or
// when unplanned), by looking in the destination again before copying, so
// a retried activity finds what an earlier attempt started. Only one copier
// per source region runs at a time (a fixed workflow id per region).
func (a *EBS) CopySnapshotsToRegion(ctx context.Context, in CopySnapshotsToRegionInput) (*CopySnapshotsToRegionResult, error) {
	hb := activities.KeepAlive(ctx, activities.HeartbeatEvery, nil)
	defer hb.Stop()
	src := a.EC2(in.SourceRegion)
	dst, dest, err := a.destEC2(in.Destination)
	if err != nil {
		return nil, activities.Invalid(err)
	}
	sources, err := snapshotsByID(ctx, src, in.SnapshotIDs)
	if err != nil {
		return nil, fmt.Errorf("describe sources in %s: %w", in.SourceRegion, err)
	}
	existing := map[string][]types.Snapshot{}
	if !in.Planned || (activity.IsActivity(ctx) && activity.GetInfo(ctx).Attempt > 1) {
		if existing, err = copiesOf(ctx, dst, in.SnapshotIDs); err != nil {
			return nil, fmt.Errorf("look for copies in %s: %w", in.Destination, err)
		}
	}
	res := &CopySnapshotsToRegionResult{}
	for i, id := range in.SnapshotIDs {
		hb.Record(i)
		s, ok := sources[id]
		if !ok {
			res.Failed = append(res.Failed, SnapshotFailure{SnapshotID: id, Region: in.SourceRegion, Message: "source snapshot no longer exists"})
			continue
		}
		tags := TagMap(s.Tags)
		switch {
		case ebstags.IsCopy(tags):
			res.Failed = append(res.Failed, snapshotFailure(s, in.SourceRegion, "is a copy: copies are never copied"))
			continue
		case !ebstags.Copyable(tags):
			res.Failed = append(res.Failed, snapshotFailure(s, in.SourceRegion, "not a Lifeboat snapshot (no Managed-By=Lifeboat): only Lifeboat's groups are copied"))
			continue
		case s.State != types.SnapshotStateCompleted:
			res.Failed = append(res.Failed, snapshotFailure(s, in.SourceRegion, "source snapshot is "+string(s.State)))
			continue
		}
		if c := usableCopy(existing[id]); c != nil {
			res.Existing = append(res.Existing, CopyStarted{SourceSnapshotID: id, CopySnapshotID: aws.ToString(c.SnapshotId), State: string(c.State)})
			continue
		}
		desc := tags[ebstags.Description]
		if desc == "" {
			desc = aws.ToString(s.Description)
		}
		params := &ec2.CopySnapshotInput{
			SourceRegion:      aws.String(in.SourceRegion),
			SourceSnapshotId:  aws.String(id),
			Description:       aws.String(desc),
			TagSpecifications: ec2TagSpec(types.ResourceTypeSnapshot, ebstags.CopyTags(tags, id, in.SourceRegion)),
		}
		if dest.CrossAccount() {
			// The destination account copies the snapshot from here: it
			// must be shared with that account first (idempotent), and
			// so must its KMS key when it is encrypted.
			params.TagSpecifications = ec2TagSpec(types.ResourceTypeSnapshot, crossAccountCopyTags(tags, id, in.SourceRegion, aws.ToString(s.OwnerId)))
			if aws.ToBool(s.Encrypted) {
				if why := a.shareKey(ctx, in.SourceRegion, s, dest.Account); why != "" {
					res.Failed = append(res.Failed, snapshotFailure(s, in.SourceRegion, why))
					continue
				}
			}
			if err := shareSnapshot(ctx, src, id, dest.Account); err != nil {
				res.Failed = append(res.Failed, snapshotFailure(s, in.SourceRegion, err.Error()))
				continue
			}
		}
		c, err := a.copyOnce(ctx, dst, in, params)
		switch {
		case err != nil:
			return nil, err
		case c.deferred:
			res.Deferred = append(res.Deferred, in.SnapshotIDs[i:]...)
			logInfo(ctx, "Destination refuses copies for now", "destination", in.Destination, "deferred", len(in.SnapshotIDs)-i, "why", c.why)
			return res, nil
		case c.failed != "":
			res.Failed = append(res.Failed, snapshotFailure(s, in.SourceRegion, c.failed))
		default:
			logInfo(ctx, "Snapshot copy started", "source", id, "destination", in.Destination, "copy", c.id)
			res.Started = append(res.Started, CopyStarted{SourceSnapshotID: id, CopySnapshotID: c.id, State: c.state})
		}
	}
	return res, nil
}

// crossAccountCopyTags are the tags of a copy into another account: those
// of any copy plus Source_Account, by which the owner's expiry there tells
// its copies from everything else in that account (ebstags.ExpiryInAccount).
func crossAccountCopyTags(source map[string]string, id, region, account string) map[string]string {
	t := ebstags.CopyTags(source, id, region)
	t[ebstags.SourceAccount] = account
	return t
}

// shareSnapshot gives account createVolumePermission on a snapshot, which
// a copy into that account needs. An encrypted snapshot also needs its KMS
// key shared (shareKey, before this).
func shareSnapshot(ctx context.Context, src EC2API, id, account string) error {
	sh, ok := src.(SnapshotSharer)
	if !ok {
		return fmt.Errorf("share %s with account %s: this EC2 client cannot share snapshots", id, account)
	}
	// OperationType+UserIds rather than CreateVolumePermission.Add: the
	// same on AWS, and the form moto reads.
	_, err := sh.ModifySnapshotAttribute(ctx, &ec2.ModifySnapshotAttributeInput{
		SnapshotId: aws.String(id), Attribute: types.SnapshotAttributeNameCreateVolumePermission,
		OperationType: types.OperationTypeAdd, UserIds: []string{account},
	})
	if err != nil {
		return fmt.Errorf("share %s with account %s: %w", id, account, err)
	}
	return nil
}

// copyOutcome is what became of one CopySnapshot.
type copyOutcome struct {
	id, state string
	deferred  bool   // the destination refuses for now: try later
	why       string // why deferred
	failed    string // EC2 refused this copy for good
}

// copyOnce starts one copy, exactly once. CopySnapshot takes no client
// token, so the SDK must not retry it (ec2Once): it is retried here, after
// a pause when EC2 refused for the rate (throttling), and, after an error with which EC2 may have acted (a 5xx,
// a lost response), only once a look in the destination (by the
// Source_SnapshotId tag CopySnapshot sets) has found no copy for Settle.
// At the destination's limit of concurrent copies (ResourceLimitExceeded:
// 20 per destination), or when the retries run out, the copy is deferred:
// the destination workflow tries again later, looking first.
func (a *EBS) copyOnce(ctx context.Context, dst EC2API, in CopySnapshotsToRegionInput, params *ec2.CopySnapshotInput) (copyOutcome, error) {
	id := aws.ToString(params.SourceSnapshotId)
	b := a.newBackoff()
	var unsure time.Time
	var lastCode string
	for {
		if !unsure.IsZero() {
			copies, err := copiesOf(ctx, dst, []string{id})
			if err != nil {
				return copyOutcome{}, fmt.Errorf("look for copies in %s: %w", in.Destination, err)
			}
			if c := usableCopy(copies[id]); c != nil {
				return copyOutcome{id: aws.ToString(c.SnapshotId), state: string(c.State)}, nil
			}
		}
		if unsure.IsZero() || a.now().Sub(unsure) >= a.settle() {
			out, err := dst.CopySnapshot(ctx, params, ec2Once)
			if err == nil {
				return copyOutcome{id: aws.ToString(out.SnapshotId), state: string(types.SnapshotStatePending)}, nil
			}
			code := ec2Code(err)
			switch {
			case ctx.Err() != nil:
				return copyOutcome{}, ctx.Err()
			case copyLimitCodes[code]:
				// The destination's limit of copies in progress: the
				// destination workflow waits for a slot (a copy of its own
				// finishing, or a pause) and tries again, looking first.
				return copyOutcome{deferred: true, why: code}, nil
			case ec2Throttled(code):
				// Refused for the rate: nothing was started.
			case ec2Rejected(code):
				return copyOutcome{failed: fmt.Sprintf("copy to %s: %v", in.Destination, err)}, nil
			default:
				unsure = a.now()
			}
			lastCode = code
			if lastCode == "" {
				lastCode = err.Error()
			}
		}
		more, err := b.wait(ctx)
		if err != nil {
			return copyOutcome{}, err
		}
		if !more {
			return copyOutcome{deferred: true, why: lastCode}, nil
		}
	}
}

// WaitSnapshotCopiesInput names copies in progress in a destination.
type WaitSnapshotCopiesInput struct {
	Destination string   `json:"destination"`
	CopyIDs     []string `json:"copyIds"`
	// MinDone is how many copies must finish before returning (all when 0).
	MinDone        int `json:"minDone,omitempty"`
	MaxWaitSeconds int `json:"maxWaitSeconds"`
}

// WaitSnapshotCopiesResult sorts the copies by state.
type WaitSnapshotCopiesResult struct {
	Completed []string          `json:"completed,omitempty"`
	Errored   []SnapshotFailure `json:"errored,omitempty"`
	Pending   []string          `json:"pending,omitempty"`
}

// WaitSnapshotCopies polls copies until MinDone of them have finished
// (completed or failed) or MaxWaitSeconds have passed, heartbeating.
func (a *EBS) WaitSnapshotCopies(ctx context.Context, in WaitSnapshotCopiesInput) (*WaitSnapshotCopiesResult, error) {
	hb := activities.KeepAlive(ctx, activities.HeartbeatEvery, nil)
	defer hb.Stop()
	api, _, err := a.destEC2(in.Destination)
	if err != nil {
		return nil, activities.Invalid(err)
	}
	minDone := in.MinDone
	if minDone <= 0 || minDone > len(in.CopyIDs) {
		minDone = len(in.CopyIDs)
	}
	deadline := a.now().Add(time.Duration(in.MaxWaitSeconds) * time.Second)
	missing := map[string]time.Time{} // since when a copy is not listed
	for polls := 1; ; polls++ {
		found, err := snapshotsByID(ctx, api, in.CopyIDs)
		if err != nil {
			return nil, fmt.Errorf("describe copies in %s: %w", in.Destination, err)
		}
		res := &WaitSnapshotCopiesResult{}
		for _, id := range in.CopyIDs {
			s, ok := found[id]
			switch {
			case !ok:
				// A new copy can take a while to be listed (EC2 is
				// eventually consistent); one that stays missing was deleted.
				if _, seen := missing[id]; !seen {
					missing[id] = a.now()
				}
				if a.now().Sub(missing[id]) > a.retryFor() {
					res.Errored = append(res.Errored, SnapshotFailure{SnapshotID: id, Region: in.Destination, Message: "copy no longer exists"})
				} else {
					res.Pending = append(res.Pending, id)
				}
			case s.State == types.SnapshotStateCompleted:
				res.Completed = append(res.Completed, id)
			case s.State == types.SnapshotStateError:
				res.Errored = append(res.Errored, snapshotFailure(s, in.Destination, "copy failed: "+aws.ToString(s.StateMessage)))
			default:
				res.Pending = append(res.Pending, id)
			}
		}
		done := len(res.Completed) + len(res.Errored)
		hb.Record(map[string]int{"done": done, "pending": len(res.Pending), "polls": polls})
		if done >= minDone || len(res.Pending) == 0 || !a.now().Before(deadline) {
			return res, nil
		}
		if err := a.sleep(ctx); err != nil {
			return nil, err
		}
	}
}
