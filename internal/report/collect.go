package report

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"golang.org/x/sync/errgroup"

	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/ebsgroups"
	"github.com/lifeboat-dev/lifeboat/internal/ebstags"
	"github.com/lifeboat-dev/lifeboat/internal/redisbackup"
	"github.com/lifeboat-dev/lifeboat/internal/registry"
)

// Registry is the part of the control-table registry the report reads.
type Registry interface {
	ListEnvironments(context.Context) ([]registry.Environment, error)
	ListDatasets(ctx context.Context, env string) ([]registry.Dataset, error)
	ListRedisClusters(context.Context) ([]registry.RedisCluster, error)
}

// EC2API is the part of a region's EC2 client the report reads: snapshot
// groups and the instances tagged for backup.
type EC2API interface {
	ebsgroups.API
	ec2.DescribeInstancesAPIClient
}

// Schedule is one Lifeboat backup schedule as the report needs it: what it
// backs up, where to, and how often (its RPO target).
type Schedule struct {
	ID string
	// Interval is the time between its runs (the longest gap between its
	// next runs for a cron timetable); 0 when unknown.
	Interval time.Duration
	Paused   bool
	Datasets []DatasetTarget // a dataset backup schedule's datasets
	Redis    []RedisTarget   // a Redis backup schedule's cluster
	Regions  []string        // a snapshots schedule's regions
}

// DatasetTarget is a dataset a schedule backs up, and where to.
type DatasetTarget struct{ EnvID, DatasetID, Location string }

// RedisTarget is a Redis cluster a schedule backs up, and where to.
type RedisTarget struct{ Cluster, Location string }

// Resource names one resource for the Temporal look-ups.
type Resource struct {
	Kind              string
	EnvID, DatasetID  string // datasets
	Cluster           string // Redis clusters
	Region            string // instances: their runs are per region
	Schedules         []string
	scheduleLocations []string
}

// Temporal is what the report asks Temporal (starter/client implements it).
type Temporal interface {
	// Schedules lists Lifeboat's backup and snapshot schedules.
	Schedules(context.Context) ([]Schedule, error)
	// LastFailure is the resource's newest failed backup run (for an
	// instance: its region's newest failed snapshot run), nil if none is
	// in visibility.
	LastFailure(context.Context, Resource) (*Failure, error)
	// LastBackupLocation is the backup location of the resource's newest
	// completed backup run, "" if none is in visibility: where to look for
	// backups of a resource no schedule covers.
	LastBackupLocation(context.Context, Resource) (string, error)
}

// Sources are where Collect reads from. Temporal may be nil: no schedules,
// no failures (explicit targets and Options.Location still work).
type Sources struct {
	Registry Registry
	S3       backupstore.API
	EC2      func(region string) EC2API
	Temporal Temporal
}

// Options narrow and tune a report.
type Options struct {
	// Kinds are the kinds of resource reported; all when empty.
	Kinds []string
	// EnvID reports only that environment's datasets.
	EnvID string
	// Regions are where instances are looked for; the snapshot schedules'
	// regions when empty.
	Regions []string
	// Location is where to look for backups of datasets and clusters no
	// schedule and no recent backup run points at (s3://bucket/prefix).
	Location string
	// ProofWindow: a passed verification or restore test older than this
	// no longer makes a resource green. DefaultProofWindow when 0.
	ProofWindow time.Duration
	// Parallel bounds the resources read at once. DefaultParallel when 0.
	Parallel int
	// Lookback is how many of a resource's newest backups are searched for
	// its last verification and restore test. DefaultLookback when 0.
	Lookback int
	Now      func() time.Time
}

// Defaults of Options.
const (
	DefaultProofWindow = 7 * 24 * time.Hour
	DefaultParallel    = 16
	DefaultLookback    = 10
)

// InvalidOptionsError says a report option is unusable.
type InvalidOptionsError struct{ Msg string }

func (e *InvalidOptionsError) Error() string { return e.Msg }

func (o *Options) fill() error {
	if o.ProofWindow == 0 {
		o.ProofWindow = DefaultProofWindow
	}
	if o.Parallel <= 0 {
		o.Parallel = DefaultParallel
	}
	if o.Lookback <= 0 {
		o.Lookback = DefaultLookback
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	for _, k := range o.Kinds {
		if !slices.Contains(Kinds, k) {
			return &InvalidOptionsError{Msg: fmt.Sprintf("kind %q: want %s", k, strings.Join(Kinds, ", "))}
		}
	}
	if o.Location != "" {
		if _, err := backupstore.ParseLocation(o.Location); err != nil {
			return err
		}
	}
	for _, r := range o.Regions {
		if !ebstags.ValidRegion(r) {
			return &InvalidOptionsError{Msg: fmt.Sprintf("%q is not an AWS region name (like us-east-1)", r)}
		}
	}
	return nil
}

func (o *Options) wants(kind string) bool { return len(o.Kinds) == 0 || slices.Contains(o.Kinds, kind) }

// collector is one Collect call.
type collector struct {
	src       Sources
	opt       Options
	schedules []Schedule
}

// Collect gathers every protected resource's row and evaluates it. Reading
// is concurrent, at most Options.Parallel resources at a time; per resource
// it lists backup folders one level at a time (never a backup's data) and
// reads the newest manifest, verified.json and restore-test.json. An S3
// error on one resource is shown on its row; registry, EC2 and Temporal
// errors fail the report.
func Collect(ctx context.Context, src Sources, opt Options) (*Report, error) {
	if err := opt.fill(); err != nil {
		return nil, err
	}
	c := &collector{src: src, opt: opt}
	if src.Temporal != nil {
		s, err := src.Temporal.Schedules(ctx)
		if err != nil {
			return nil, err
		}
		c.schedules = s
	}
	var rows []Row
	if opt.wants(KindDataset) {
		rs, err := c.datasets(ctx)
		if err != nil {
			return nil, err
		}
		rows = append(rows, rs...)
	}
	if opt.wants(KindRedis) {
		rs, err := c.clusters(ctx)
		if err != nil {
			return nil, err
		}
		rows = append(rows, rs...)
	}
	if opt.wants(KindInstance) {
		rs, err := c.instances(ctx)
		if err != nil {
			return nil, err
		}
		rows = append(rows, rs...)
	}
	return Finish(rows, opt.Now(), opt.ProofWindow), nil
}

// cover is what the schedules say about one resource.
type cover struct {
	ids        []string
	locations  []string
	interval   time.Duration
	intervalBy string
}

func (cv *cover) add(s Schedule, location string) {
	if !slices.Contains(cv.ids, s.ID) {
		cv.ids = append(cv.ids, s.ID)
	}
	if location != "" && !slices.Contains(cv.locations, location) {
		cv.locations = append(cv.locations, location)
	}
	if s.Interval > 0 && (cv.interval == 0 || s.Interval < cv.interval) {
		cv.interval, cv.intervalBy = s.Interval, s.ID
	}
}

// target is the explicit RPO, else the shortest schedule interval.
func (cv *cover) target(r *Row, explicit time.Duration) {
	switch {
	case explicit > 0:
		r.SetTarget(explicit, "explicit")
	case cv.interval > 0:
		r.SetTarget(cv.interval, "schedule "+cv.intervalBy)
	}
}

// each runs fn for every index below n, at most Parallel at a time.
func (c *collector) each(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.opt.Parallel)
	for i := range n {
		g.Go(func() error { return fn(gctx, i) })
	}
	return g.Wait()
}

func (c *collector) datasets(ctx context.Context) ([]Row, error) {
	var envs []string
	if c.opt.EnvID != "" {
		envs = []string{c.opt.EnvID}
	} else {
		es, err := c.src.Registry.ListEnvironments(ctx)
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			envs = append(envs, e.ID)
		}
	}
	perEnv := make([][]registry.Dataset, len(envs))
	if err := c.each(ctx, len(envs), func(ctx context.Context, i int) error {
		ds, err := c.src.Registry.ListDatasets(ctx, envs[i])
		perEnv[i] = ds
		return err
	}); err != nil {
		return nil, err
	}
	covers := map[string]*cover{}
	for _, s := range c.schedules {
		for _, d := range s.Datasets {
			key := d.EnvID + "/" + d.DatasetID
			if covers[key] == nil {
				covers[key] = &cover{}
			}
			covers[key].add(s, d.Location)
		}
	}
	var all []registry.Dataset
	for _, ds := range perEnv {
		all = append(all, ds...)
	}
	rows := make([]Row, len(all))
	err := c.each(ctx, len(all), func(ctx context.Context, i int) error {
		d := all[i]
		r := &rows[i]
		*r = Row{Kind: KindDataset, Resource: d.EnvID + "/" + d.ID}
		cv := covers[r.Resource]
		if cv == nil {
			cv = &cover{}
		}
		cv.target(r, d.RPO())
		r.Schedules = cv.ids
		res := Resource{Kind: KindDataset, EnvID: d.EnvID, DatasetID: d.ID, Schedules: cv.ids, scheduleLocations: cv.locations}
		return c.fill(ctx, r, res, func(ctx context.Context, loc backupstore.Location) (scan, error) {
			return scanDataset(ctx, c.src.S3, loc, d.EnvID, d.ID, c.opt.Lookback)
		})
	})
	return rows, err
}

func (c *collector) clusters(ctx context.Context) ([]Row, error) {
	cs, err := c.src.Registry.ListRedisClusters(ctx)
	if err != nil {
		return nil, err
	}
	covers := map[string]*cover{}
	for _, s := range c.schedules {
		for _, t := range s.Redis {
			if covers[t.Cluster] == nil {
				covers[t.Cluster] = &cover{}
			}
			covers[t.Cluster].add(s, t.Location)
		}
	}
	rows := make([]Row, len(cs))
	err = c.each(ctx, len(cs), func(ctx context.Context, i int) error {
		cl := cs[i]
		r := &rows[i]
		*r = Row{Kind: KindRedis, Resource: cl.Name}
		cv := covers[cl.Name]
		if cv == nil {
			cv = &cover{}
		}
		cv.target(r, cl.RPO())
		r.Schedules = cv.ids
		res := Resource{Kind: KindRedis, Cluster: cl.Name, Schedules: cv.ids, scheduleLocations: cv.locations}
		return c.fill(ctx, r, res, func(ctx context.Context, loc backupstore.Location) (scan, error) {
			return scanRedis(ctx, c.src.S3, loc, cl.Name, c.opt.Lookback)
		})
	})
	return rows, err
}

// fill finds where a dataset's or cluster's backups are, reads them and
// its last failure.
func (c *collector) fill(ctx context.Context, r *Row, res Resource, read func(context.Context, backupstore.Location) (scan, error)) error {
	locations := res.scheduleLocations
	if len(locations) == 0 && c.src.Temporal != nil {
		l, err := c.src.Temporal.LastBackupLocation(ctx, res)
		if err != nil {
			return err
		}
		if l != "" {
			locations = []string{l}
		}
	}
	if len(locations) == 0 && c.opt.Location != "" {
		locations = []string{c.opt.Location}
	}
	r.Locations = locations
	if c.src.Temporal != nil {
		f, err := c.src.Temporal.LastFailure(ctx, res)
		if err != nil {
			return err
		}
		r.LastFailure = f
	}
	if len(locations) == 0 {
		r.ReadFailed("no schedule and no backup run found: backup location unknown (give --backup-location)")
		return nil
	}
	var all scan
	for _, l := range locations {
		loc, err := backupstore.ParseLocation(l)
		if err == nil {
			var s scan
			s, err = read(ctx, loc)
			all.merge(s)
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			r.ReadFailed("cannot read backups: " + err.Error())
			return nil
		}
	}
	r.LastBackup, r.Verification, r.RestoreTest = all.last, all.verification, all.restoreTest
	if len(res.Schedules) == 0 && r.Note == "" {
		r.Note = "no schedule"
	}
	return nil
}

// scan is what a resource's backups say.
type scan struct {
	last                      *Backup
	verification, restoreTest *Proof
}

func (s *scan) merge(o scan) {
	if o.last != nil && (s.last == nil || o.last.At.After(s.last.At)) {
		s.last = o.last
	}
	if o.verification != nil && (s.verification == nil || o.verification.At.After(s.verification.At)) {
		s.verification = o.verification
	}
	if o.restoreTest != nil && (s.restoreTest == nil || o.restoreTest.At.After(s.restoreTest.At)) {
		s.restoreTest = o.restoreTest
	}
}

// done reports whether nothing older can change the scan.
func (s *scan) done() bool { return s.last != nil && s.verification != nil && s.restoreTest != nil }

// folder is one backup folder: its id and the files directly in it.
type folder struct {
	id, prefix string // prefix without the trailing slash
	files      []string
}

func (f folder) has(name string) bool { return slices.Contains(f.files, name) }

// level lists the folders and file names directly under prefix (which ends
// in "/"): one listing with a delimiter, never the data below.
func level(ctx context.Context, api backupstore.API, bucket, prefix string) (folders, files []string, err error) {
	p := s3.NewListObjectsV2Paginator(api, &s3.ListObjectsV2Input{
		Bucket: aws.String(bucket), Prefix: aws.String(prefix), Delimiter: aws.String("/"),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			if backupstore.IsNotFound(err) {
				return nil, nil, fmt.Errorf("bucket %q does not exist", bucket)
			}
			return nil, nil, fmt.Errorf("list s3://%s/%s: %w", bucket, prefix, err)
		}
		for _, cp := range page.CommonPrefixes {
			if name := strings.TrimSuffix(strings.TrimPrefix(aws.ToString(cp.Prefix), prefix), "/"); name != "" {
				folders = append(folders, name)
			}
		}
		for _, o := range page.Contents {
			files = append(files, strings.TrimPrefix(aws.ToString(o.Key), prefix))
		}
	}
	return folders, files, nil
}

// walk reads backup folders newest first: the newest with a good manifest
// is the last backup (read by manifest), and the newest verification and
// restore test among the first lookback folders are its proofs.
func walk(ctx context.Context, api backupstore.API, bucket string, folders []folder, lookback int, location string,
	manifestName string, manifest func(ctx context.Context, f folder) (time.Time, bool, error)) (scan, error) {
	var s scan
	for i, f := range folders {
		if s.last != nil && (i >= lookback || s.done()) {
			break
		}
		_, files, err := level(ctx, api, bucket, f.prefix+"/")
		if err != nil {
			return s, err
		}
		f.files = files
		if s.last == nil && f.has(manifestName) {
			at, ok, err := manifest(ctx, f)
			if err != nil {
				return s, err
			}
			if ok {
				s.last = &Backup{ID: f.id, At: at.UTC(), Location: location}
			}
		}
		if i >= lookback {
			continue
		}
		if s.verification == nil && f.has(backupstore.VerifiedName) {
			v, err := backupstore.ReadVerification(ctx, api, bucket, f.prefix)
			if err != nil {
				return s, err
			}
			if v != nil {
				s.verification = &Proof{At: v.At.UTC(), Outcome: v.Outcome, BackupID: f.id, Problem: oneLine(v.Problem)}
			}
		}
		if s.restoreTest == nil && f.has(backupstore.RestoreTestName) {
			t, err := backupstore.ReadRestoreTest(ctx, api, bucket, f.prefix)
			if err != nil {
				return s, err
			}
			if t != nil {
				rto := t.RTOSeconds
				s.restoreTest = &Proof{At: t.At.UTC(), Outcome: t.Outcome, BackupID: f.id, RTOSeconds: &rto, Problem: oneLine(t.Problem)}
			}
		}
	}
	return s, nil
}

// scanDataset reads a dataset's backups under a location, in every store:
// <prefix>/<env>/<store>/<dataset>/<backup id>/.
func scanDataset(ctx context.Context, api backupstore.API, loc backupstore.Location, env, dataset string, lookback int) (scan, error) {
	stores, _, err := level(ctx, api, loc.Bucket, loc.Key(env)+"/")
	if err != nil {
		return scan{}, err
	}
	type entry struct{ id, store string }
	var entries []entry
	for _, store := range stores {
		ids, _, err := level(ctx, api, loc.Bucket, loc.Key(env, store, dataset)+"/")
		if err != nil {
			return scan{}, err
		}
		for _, id := range ids {
			if _, err := time.Parse("20060102T150405.000Z", id); err == nil {
				entries = append(entries, entry{id, store})
			}
		}
	}
	sort.Slice(entries, func(i, j int) bool {
		if entries[i].id != entries[j].id {
			return entries[i].id > entries[j].id
		}
		return entries[i].store < entries[j].store
	})
	folders := make([]folder, len(entries))
	for i, e := range entries {
		folders[i] = folder{id: e.id, prefix: loc.BackupFolder(env, e.store, dataset, e.id)}
	}
	return walk(ctx, api, loc.Bucket, folders, lookback, loc.String(), backupstore.ManifestName, func(ctx context.Context, f folder) (time.Time, bool, error) {
		m, err := backupstore.ReadManifest(ctx, api, loc.Bucket, f.prefix+"/"+backupstore.ManifestName)
		var bad *backupstore.BadManifestError
		switch {
		case errors.As(err, &bad) || backupstore.IsNotFound(err):
			return time.Time{}, false, nil // not a usable backup: an older one may be
		case err != nil:
			return time.Time{}, false, err
		case m.EnvironmentID != env || m.DatasetID != dataset || m.BackupID != f.id:
			return time.Time{}, false, nil
		}
		return m.CutTime, true, nil
	})
}

// scanRedis reads a cluster's backups under a location:
// <prefix>/<cluster>/<backup id>/.
func scanRedis(ctx context.Context, api backupstore.API, loc backupstore.Location, cluster string, lookback int) (scan, error) {
	ids, _, err := level(ctx, api, loc.Bucket, redisbackup.ClusterPrefix(loc, cluster))
	if err != nil {
		return scan{}, err
	}
	var folders []folder
	for _, id := range slices.Backward(slices.Sorted(slices.Values(ids))) {
		if _, err := redisbackup.ParseBackupID(id); err == nil {
			folders = append(folders, folder{id: id, prefix: redisbackup.BackupFolder(loc, cluster, id)})
		}
	}
	return walk(ctx, api, loc.Bucket, folders, lookback, loc.String(), redisbackup.ManifestName, func(ctx context.Context, f folder) (time.Time, bool, error) {
		m, err := redisbackup.ReadManifest(ctx, api, loc.Bucket, redisbackup.ManifestKey(loc, cluster, f.id))
		if err != nil {
			if backupstore.IsNotFound(err) || !isS3Error(err) {
				return time.Time{}, false, nil // missing or does not add up: not a backup
			}
			return time.Time{}, false, err
		}
		return m.StartedAt, true, nil
	})
}

// isS3Error tells an S3 call's failure from a manifest that does not
// decode or check (redisbackup.ReadManifest does not type the difference).
func isS3Error(err error) bool {
	var op *smithy.OperationError
	return errors.As(err, &op)
}

// instances reports every instance with snapshot groups, or tagged for
// backup, in the regions asked for or those of the snapshot schedules.
func (c *collector) instances(ctx context.Context) ([]Row, error) {
	covers := map[string]*cover{}
	regions := c.opt.Regions
	for _, s := range c.schedules {
		for _, region := range s.Regions {
			if covers[region] == nil {
				covers[region] = &cover{}
			}
			covers[region].add(s, "")
			if len(c.opt.Regions) == 0 && !slices.Contains(regions, region) {
				regions = append(regions, region)
			}
		}
	}
	sort.Strings(regions)
	if len(regions) > 0 && c.src.EC2 == nil {
		return nil, errors.New("report instances: no EC2 client")
	}
	perRegion := make([][]Row, len(regions))
	err := c.each(ctx, len(regions), func(ctx context.Context, i int) error {
		rows, err := c.region(ctx, regions[i], covers[regions[i]])
		perRegion[i] = rows
		return err
	})
	if err != nil {
		return nil, err
	}
	var rows []Row
	for _, rs := range perRegion {
		rows = append(rows, rs...)
	}
	return rows, nil
}

// region reads one region's snapshot groups and tagged instances: two
// paginated listings for the whole region.
func (c *collector) region(ctx context.Context, region string, cv *cover) ([]Row, error) {
	if cv == nil {
		cv = &cover{}
	}
	api := c.src.EC2(region)
	groups, err := ebsgroups.Load(ctx, api, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", region, err)
	}
	tagged := map[string]bool{} // instance -> Backup=Yes
	p := ec2.NewDescribeInstancesPaginator(api, &ec2.DescribeInstancesInput{
		Filters: []ec2types.Filter{
			{Name: aws.String("tag-key"), Values: []string{ebstags.Backup}},
			{Name: aws.String("instance-state-name"), Values: []string{"pending", "running", "stopping", "stopped"}},
		},
		MaxResults: aws.Int32(1000),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describe instances in %s: %w", region, err)
		}
		for _, res := range page.Reservations {
			for _, inst := range res.Instances {
				if ebstags.ParseInstance(region, ebsgroups.TagMap(inst.Tags)).Enabled {
					tagged[aws.ToString(inst.InstanceId)] = true
				}
			}
		}
	}
	byInstance := map[string][]*ebsgroups.Group{}
	for _, g := range groups {
		if g.SourceRegion == "" && g.InstanceID != "" { // primaries: copies are in their source's row
			byInstance[g.InstanceID] = append(byInstance[g.InstanceID], g)
		}
	}
	for id := range tagged {
		if _, ok := byInstance[id]; !ok {
			byInstance[id] = nil
		}
	}
	ids := slices.Sorted(func(yield func(string) bool) {
		for id := range byInstance {
			if !yield(id) {
				return
			}
		}
	})
	var failure *Failure
	if c.src.Temporal != nil && len(ids) > 0 {
		if failure, err = c.src.Temporal.LastFailure(ctx, Resource{Kind: KindInstance, Region: region, Schedules: cv.ids}); err != nil {
			return nil, err
		}
	}
	rows := make([]Row, 0, len(ids))
	for _, id := range ids {
		r := Row{Kind: KindInstance, Resource: region + "/" + id, Locations: []string{"ec2://" + region}, Schedules: cv.ids, LastFailure: failure}
		if tagged[id] {
			cv.target(&r, 0)
			if len(cv.ids) == 0 {
				r.Note = "no schedule"
			}
		} else {
			r.Note = "not tagged " + ebstags.Backup + "=" + ebstags.BackupEnabled + " (or not running): no new snapshots are taken"
		}
		instanceGroups(&r, byInstance[id], region)
		rows = append(rows, r)
	}
	return rows, nil
}

// instanceGroups fills a row from an instance's snapshot groups: the newest
// completed one, and the newest verified and restore-tested tags.
func instanceGroups(r *Row, groups []*ebsgroups.Group, region string) {
	sort.Slice(groups, func(i, j int) bool { return groups[i].CreatedAt.After(groups[j].CreatedAt) })
	for _, g := range groups {
		if r.LastBackup == nil && g.State() == string(ec2types.SnapshotStateCompleted) {
			r.LastBackup = &Backup{ID: g.ID, At: g.CreatedAt.UTC(), Location: "ec2://" + region}
		}
		if g.Verified != "" {
			if at, outcome, err := ebstags.ParseVerified(g.Verified); err == nil && (r.Verification == nil || at.After(r.Verification.At)) {
				r.Verification = &Proof{At: at.UTC(), Outcome: outcome, BackupID: g.ID}
			}
		}
		for _, s := range g.Members {
			v := ebsgroups.TagMap(s.Tags)[ebstags.RestoreTested]
			if v == "" {
				continue
			}
			if at, outcome, rto, err := ebstags.ParseRestoreTested(v); err == nil && (r.RestoreTest == nil || at.After(r.RestoreTest.At)) {
				secs := rto.Seconds()
				r.RestoreTest = &Proof{At: at.UTC(), Outcome: outcome, BackupID: g.ID, RTOSeconds: &secs}
			}
		}
	}
}
