// Package ebs holds the EBS snapshot activities (EBS): create, copy, expire,
// list and restore snapshot groups, on one narrow EC2 interface.
package ebs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/lifeboat-dev/lifeboat/activities"
	"github.com/lifeboat-dev/lifeboat/internal/ebsgroups"
	"github.com/lifeboat-dev/lifeboat/internal/ebstags"
)

// EC2API is the part of the EC2 client the EBS activities use.
type EC2API interface {
	ec2.DescribeInstancesAPIClient
	ec2.DescribeSnapshotsAPIClient
	ec2.DescribeVolumesAPIClient
	CreateSnapshots(context.Context, *ec2.CreateSnapshotsInput, ...func(*ec2.Options)) (*ec2.CreateSnapshotsOutput, error)
	CreateTags(context.Context, *ec2.CreateTagsInput, ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error)
	CopySnapshot(context.Context, *ec2.CopySnapshotInput, ...func(*ec2.Options)) (*ec2.CopySnapshotOutput, error)
	DeleteSnapshot(context.Context, *ec2.DeleteSnapshotInput, ...func(*ec2.Options)) (*ec2.DeleteSnapshotOutput, error)
	CreateVolume(context.Context, *ec2.CreateVolumeInput, ...func(*ec2.Options)) (*ec2.CreateVolumeOutput, error)
	AttachVolume(context.Context, *ec2.AttachVolumeInput, ...func(*ec2.Options)) (*ec2.AttachVolumeOutput, error)
	DeleteVolume(context.Context, *ec2.DeleteVolumeInput, ...func(*ec2.Options)) (*ec2.DeleteVolumeOutput, error)
}

// EBS creates, copies, expires and restores EBS snapshots, in any region.
// Dates (today, DeleteOn) always come from the workflow, as input, so that
// replays and --as-of runs decide the same way; the clock only times polls.
type EBS struct {
	// EC2 returns the EC2 client of a region.
	EC2 func(region string) EC2API
	// EC2In returns an EC2 client of a region acting in another account
	// (Copy_Dest account:region), through the worker's --ebs-copy-role;
	// nil: copies into other accounts are not made (reported).
	EC2In func(account, region string) (EC2API, error)
	// KMS returns the KMS client of a region of the worker's account: an
	// encrypted snapshot's key is granted to the copy role of the account
	// it is copied into. CopyRoleARN names that role in an account. Either
	// nil: encrypted snapshots are not copied into other accounts (reported).
	KMS         func(region string) KMSAPI
	CopyRoleARN func(account string) string
	// Account returns the worker's account id: copies into other accounts
	// carry it (Source_Account), and expiry there deletes only those.
	Account func(ctx context.Context) (string, error)
	// Now is the clock for poll deadlines; time.Now when nil.
	Now func() time.Time
	// PollInterval is how often snapshots, copies and volumes are polled.
	PollInterval time.Duration
	// Backoff is the first pause of an in-activity retry (throttling, a
	// create whose answer was lost, a just-created id EC2 does not know yet);
	// it doubles up to 20 s. Default 1 s.
	Backoff time.Duration
	// RetryFor bounds the in-activity retries of one call, and how long a
	// just-created id may answer NotFound (EC2 is eventually consistent).
	// Past it the activity fails retryably and its next attempt looks
	// again. Default 3 minutes.
	RetryFor time.Duration
	// Settle is how long, after a create whose outcome is unknown (a 5xx or
	// a lost response: EC2 may have acted), the activity keeps looking for
	// what it may have made before creating again: a new snapshot can take
	// a moment to be listed. Default 15 s.
	Settle time.Duration
}

// SnapshotSharer shares a snapshot with another account, for a copy there.
type SnapshotSharer interface {
	ModifySnapshotAttribute(context.Context, *ec2.ModifySnapshotAttributeInput, ...func(*ec2.Options)) (*ec2.ModifySnapshotAttributeOutput, error)
}

// destEC2 is the EC2 client of a copy destination, "region" or
// "account:region" (ebstags.Dest.String).
func (a *EBS) destEC2(dest string) (EC2API, ebstags.Dest, error) {
	d, err := ebstags.ParseDest(dest, "", "")
	if err != nil {
		return nil, d, fmt.Errorf("copy destination %s: %w", dest, err)
	}
	if !d.CrossAccount() {
		return a.EC2(d.Region), d, nil
	}
	if a.EC2In == nil {
		return nil, d, fmt.Errorf("copy destination %s is in another account: the worker has no --ebs-copy-role", dest)
	}
	api, err := a.EC2In(d.Account, d.Region)
	if err != nil {
		return nil, d, fmt.Errorf("copy destination %s: %w", dest, err)
	}
	return api, d, nil
}

// ListCap bounds the item lists (snapshot ids, failures) activities and
// workflows return, so a large run's results stay small in history. Counts
// are always exact.
const ListCap = 1000

func (a *EBS) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *EBS) poll() time.Duration {
	if a.PollInterval > 0 {
		return a.PollInterval
	}
	return 15 * time.Second
}

// sleep waits one poll interval, or until ctx ends.
func (a *EBS) sleep(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(a.poll()):
		return nil
	}
}

func (a *EBS) backoffBase() time.Duration {
	if a.Backoff > 0 {
		return a.Backoff
	}
	return time.Second
}

func (a *EBS) retryFor() time.Duration {
	if a.RetryFor > 0 {
		return a.RetryFor
	}
	return 3 * time.Minute
}

func (a *EBS) settle() time.Duration {
	if a.Settle > 0 {
		return a.Settle
	}
	return 15 * time.Second
}

// maxBackoff caps the pauses of in-activity retries.
const maxBackoff = 20 * time.Second

// ec2Backoff paces the in-activity retries of one call: pauses from
// EBS.Backoff, doubling, at most maxBackoff, for at most EBS.RetryFor. The
// activity's keepAlive heartbeats while it sleeps.
type ec2Backoff struct {
	a     *EBS
	next  time.Duration
	start time.Time
	tries int
}

func (a *EBS) newBackoff() *ec2Backoff {
	return &ec2Backoff{a: a, next: a.backoffBase(), start: a.now()}
}

// wait sleeps the next pause. It returns false when the retries are used up
// (the pause would end past RetryFor), and ctx's error if it ended.
func (b *ec2Backoff) wait(ctx context.Context) (bool, error) {
	if b.a.now().Add(b.next).Sub(b.start) > b.a.retryFor() {
		return false, nil
	}
	b.tries++
	select {
	case <-ctx.Done():
		return false, ctx.Err()
	case <-time.After(b.next):
	}
	b.next = min(2*b.next, maxBackoff)
	return true, nil
}

func (b *ec2Backoff) elapsed() time.Duration { return b.a.now().Sub(b.start).Round(time.Millisecond) }

// ec2Once is the per-call option of EC2's creates that take no client token
// (CreateSnapshots, CopySnapshot): the SDK must not
// retry them on its own, since a retry after a response lost once EC2 has
// acted makes a second snapshot or copy. Lifeboat retries them
// itself, looking for what the earlier try may have made first.
func ec2Once(o *ec2.Options) { o.RetryMaxAttempts = 1 }

// ec2Throttled reports whether EC2 refused a request for the request rate
// (it did nothing: retrying after a pause is safe).
func ec2Throttled(code string) bool {
	switch code {
	case "RequestLimitExceeded", "Throttling", "ThrottlingException", "RequestThrottled", "RequestThrottledException",
		"TooManyRequestsException", "SlowDown", "EC2ThrottledException":
		return true
	}
	return false
}

// errStillNotFound marks a new id EC2 kept answering NotFound for.
var errStillNotFound = errors.New("still not found")

// retryNotFound calls fn, which acts on ids EC2 has just made (tags a new
// snapshot, attaches a new volume), until it succeeds: EC2 is eventually
// consistent, so a new id can answer NotFound for a while (see "Eventual
// consistency in the Amazon EC2 API"). NotFound is retried with backoff for
// at most RetryFor, then returned as a retryable error (the activity's next
// attempt starts over from what EC2 lists); every other error is
// classified as usual. The SDK's own retries handle throttling inside fn.
func (a *EBS) retryNotFound(ctx context.Context, fn func() error, format string, args ...any) error {
	b := a.newBackoff()
	for {
		err := fn()
		if err == nil || !ec2NotFound(err) {
			return classifyEC2(err, format, args...)
		}
		more, werr := b.wait(ctx)
		if werr != nil {
			return werr
		}
		if !more {
			return fmt.Errorf("%s: %w %s after it was created (EC2 eventual consistency): %w",
				fmt.Sprintf(format, args...), errStillNotFound, b.elapsed(), err)
		}
		logInfo(ctx, "EC2 does not know a new id yet: retrying", "what", fmt.Sprintf(format, args...), "tries", b.tries)
	}
}

func logInfo(ctx context.Context, msg string, kv ...any) {
	if activity.IsActivity(ctx) {
		activity.GetLogger(ctx).Info(msg, kv...)
	}
}

// ec2Code is the AWS error code of err, or "".
func ec2Code(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return ""
}

// rejected reports whether EC2 refused a request for what it is, rather than
// for the moment (throttling, limits, eventual consistency).
func ec2Rejected(code string) bool {
	switch code {
	case "MissingParameter", "UnknownParameter", "UnauthorizedOperation", "AuthFailure", "OptInRequired",
		"UnsupportedOperation", "Unsupported", "InvalidClientTokenId", "SignatureDoesNotMatch":
		return true
	}
	return strings.HasPrefix(code, "Invalid")
}

// classifyEC2 wraps an EC2 error with what was being done, as a
// non-retryable EC2Rejected error when retrying cannot help.
func classifyEC2(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	msg := fmt.Sprintf(format, args...)
	if code := ec2Code(err); ec2Rejected(code) {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: %v", msg, err), activities.ErrEC2Rejected, err)
	}
	return fmt.Errorf("%s: %w", msg, err)
}

// classifyEC2Err is classifyEC2 for an error whose message already says
// what failed.
func classifyEC2Err(err error) error {
	if err == nil {
		return nil
	}
	if code := ec2Code(err); ec2Rejected(code) {
		return temporal.NewNonRetryableApplicationError(err.Error(), activities.ErrEC2Rejected, err)
	}
	return err
}

func ec2NotFound(err error) bool { return strings.HasSuffix(ec2Code(err), ".NotFound") }

// TagMap turns EC2 tags into a map.
func TagMap(tags []types.Tag) map[string]string { return ebsgroups.TagMap(tags) }

// ec2Tags turns a map into EC2 tags, in key order.
func ec2Tags(m map[string]string) []types.Tag {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]types.Tag, 0, len(keys))
	for _, k := range keys {
		out = append(out, types.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return out
}

func ec2TagSpec(rt types.ResourceType, m map[string]string) []types.TagSpecification {
	return []types.TagSpecification{{ResourceType: rt, Tags: ec2Tags(m)}}
}

func ec2Filter(name string, values ...string) types.Filter {
	return types.Filter{Name: aws.String(name), Values: values}
}

func ec2TagFilter(key string, values ...string) types.Filter { return ec2Filter("tag:"+key, values...) }

// chunks splits ids into slices of at most n (EC2 filters take a bounded
// number of values).
func ec2Chunks(ids []string, n int) [][]string {
	var out [][]string
	for len(ids) > n {
		out = append(out, ids[:n])
		ids = ids[n:]
	}
	if len(ids) > 0 {
		out = append(out, ids)
	}
	return out
}

// ec2FilterChunk is how many values one EC2 filter gets.
const ec2FilterChunk = 100

// eachSnapshot calls fn for every snapshot of this account in a region that
// matches the filters, page by page.
func eachSnapshot(ctx context.Context, api EC2API, filters []types.Filter, fn func(types.Snapshot)) error {
	p := ec2.NewDescribeSnapshotsPaginator(api, &ec2.DescribeSnapshotsInput{
		OwnerIds: []string{"self"}, Filters: filters, MaxResults: aws.Int32(1000),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return classifyEC2(err, "describe snapshots")
		}
		for _, s := range page.Snapshots {
			fn(s)
		}
	}
	return nil
}

// snapshotsByID describes the given snapshots (those that exist), by id.
func snapshotsByID(ctx context.Context, api EC2API, ids []string, extra ...types.Filter) (map[string]types.Snapshot, error) {
	out := make(map[string]types.Snapshot, len(ids))
	for _, c := range ec2Chunks(ids, ec2FilterChunk) {
		fs := append([]types.Filter{ec2Filter("snapshot-id", c...)}, extra...)
		if err := eachSnapshot(ctx, api, fs, func(s types.Snapshot) { out[aws.ToString(s.SnapshotId)] = s }); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// copiesOf finds, in a destination region, the snapshots whose
// Source_SnapshotId is one of the given source snapshots.
func copiesOf(ctx context.Context, api EC2API, sourceIDs []string) (map[string][]types.Snapshot, error) {
	out := map[string][]types.Snapshot{}
	for _, c := range ec2Chunks(sourceIDs, ec2FilterChunk) {
		err := eachSnapshot(ctx, api, []types.Filter{ec2TagFilter(ebstags.SourceSnapshotID, c...)}, func(s types.Snapshot) {
			src := TagMap(s.Tags)[ebstags.SourceSnapshotID]
			out[src] = append(out[src], s)
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// eachInstance calls fn for every instance matching the filters, page by page.
func eachInstance(ctx context.Context, api EC2API, filters []types.Filter, fn func(types.Instance)) error {
	p := ec2.NewDescribeInstancesPaginator(api, &ec2.DescribeInstancesInput{Filters: filters, MaxResults: aws.Int32(1000)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return classifyEC2(err, "describe instances")
		}
		for _, r := range page.Reservations {
			for _, i := range r.Instances {
				fn(i)
			}
		}
	}
	return nil
}

// ec2LiveStates are the instance states whose volumes are snapshotted.
var ec2LiveStates = []string{"pending", "running", "stopping", "stopped"}

// token derives an idempotency token, so a retried call asks EC2 for the
// same thing again.
func ec2Token(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "/")))
	return hex.EncodeToString(sum[:16])
}

// SnapshotFailure is one snapshot (or source snapshot) that did not make it.
type SnapshotFailure struct {
	SnapshotID string `json:"snapshotId"`
	Region     string `json:"region"`
	GroupID    string `json:"groupId,omitempty"`
	InstanceID string `json:"instanceId,omitempty"`
	Device     string `json:"device,omitempty"`
	Message    string `json:"message"`
}

func snapshotFailure(s types.Snapshot, region, msg string) SnapshotFailure {
	t := TagMap(s.Tags)
	return SnapshotFailure{
		SnapshotID: aws.ToString(s.SnapshotId), Region: region, GroupID: t[ebstags.GroupID],
		InstanceID: t[ebstags.SourceInstanceID], Device: t[ebstags.Device], Message: msg,
	}
}

func capAppend[T any](list []T, v T) []T {
	if len(list) >= ListCap {
		return list
	}
	return append(list, v)
}
