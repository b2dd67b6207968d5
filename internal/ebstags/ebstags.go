// Package ebstags names the EC2 tags Lifeboat's EBS snapshot lifecycle reads
// and writes, and holds the pure logic over them: an instance's backup
// configuration, DeleteOn arithmetic, snapshot descriptions, group ids and
// the expiry rule.
//
// Configuration and tracking tags are the seed's (the ebs-snapshot-creator,
// -copier and -manager Lambdas), so snapshots taken by those jobs are
// expired by Lifeboat too. Group lineage tags follow the Datafy snapshot
// tags: every snapshot taken together of one instance shares a group id.
package ebstags

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Instance configuration tags, set by operators.
const (
	Backup    = "Backup"    // "Yes" enables snapshots of the instance
	Retention = "Retention" // days to keep its snapshots (DefaultRetentionDays when absent)
	CopyDest  = "Copy_Dest" // comma-separated destinations to copy snapshots to: region or account:region
	Name      = "Name"      // used in snapshot descriptions

	BackupEnabled = "Yes"
)

// Snapshot tracking tags, set by Lifeboat (KeepForever by operators).
const (
	Type             = "Type"
	TypeAutomated    = "Automated"
	DeleteOn         = "DeleteOn"          // YYYY-mm-dd: expire on or after this UTC date
	Description      = "Description"       // "name (instance) - volume (device) - region"
	KeepForever      = "KeepForever"       // any value: never expire
	SourceSnapshotID = "Source_SnapshotId" // on copies: the primary snapshot
	SourceRegion     = "Source_Region"     // on copies: the primary's region
	SourceAccount    = "Source_Account"    // on copies into another account: the primary's account
)

// Group lineage tags, set by Lifeboat and replicated to copies.
const (
	ManagedBy         = "Managed-By"
	ManagedByLifeboat = "Lifeboat"
	GroupID           = "lifeboat:group-id"           // shared by the snapshots of one CreateSnapshots call
	Generation        = "lifeboat:generation"         // 0 for an instance's first group, then +1
	GroupSize         = "lifeboat:group-size"         // how many snapshots the group holds
	SourceInstanceID  = "lifeboat:source-instance-id" // the instance snapshotted
	SourceVolumeID    = "lifeboat:source-volume-id"   // the volume snapshotted (copies carry bogus VolumeIds)
	Device            = "lifeboat:device"             // the volume's device name on the instance
	CreatedOn         = "lifeboat:created-on"         // the run's UTC date, YYYY-mm-dd
	CreatedAt         = "lifeboat:created-at"         // the snapshot's start time, RFC3339 (copies get a new StartTime)
)

// Restored volume tags.
const (
	RestoreID    = "lifeboat:restore-id"    // the restore workflow that created the volume
	RestoredFrom = "lifeboat:restored-from" // the snapshot the volume was created from
)

// DefaultRetentionDays applies when an instance has no (valid) Retention tag.
const DefaultRetentionDays = 7

// DateLayout is the layout of DeleteOn, created-on and --as-of dates.
const DateLayout = "2006-01-02"

// InstanceConfig is an instance's backup configuration, read from its tags.
type InstanceConfig struct {
	Enabled       bool
	RetentionDays int
	CopyDest      []string // valid destinations other than the instance's own region (Dest.String), in tag order
	Name          string
	// Problems are bad tag values: each is reported, and a default used.
	Problems []string
}

// ParseInstance reads an instance's configuration from its tags. The
// instance lives in region; copying to that same region is ignored.
func ParseInstance(region string, tags map[string]string) InstanceConfig {
	return ParseInstanceIn("", region, tags)
}

// ParseInstanceIn is ParseInstance for an instance of a known account:
// Copy_Dest naming that account and the instance's region is the source
// itself, ignored and reported.
func ParseInstanceIn(account, region string, tags map[string]string) InstanceConfig {
	c := InstanceConfig{RetentionDays: DefaultRetentionDays, Name: tags[Name]}
	b, ok := tags[Backup]
	c.Enabled = b == BackupEnabled
	// Only the seed's exact "Yes" enables backups; anything but a plain "No"
	// is probably meant as yes, so it is reported rather than silently skipped.
	if ok && !c.Enabled && !strings.EqualFold(strings.TrimSpace(b), "no") {
		c.Problems = append(c.Problems, fmt.Sprintf("%s=%q is not %q: not backed up", Backup, b, BackupEnabled))
	}
	if v, ok := tags[Retention]; ok {
		days, err := ParseRetention(v)
		if err != nil {
			c.Problems = append(c.Problems, fmt.Sprintf("%s: %v: using %d days", Retention, err, DefaultRetentionDays))
		} else {
			c.RetentionDays = days
		}
	}
	if v, ok := tags[CopyDest]; ok {
		dests, problems := ParseCopyDestinations(v, account, region)
		for _, d := range dests {
			c.CopyDest = append(c.CopyDest, d.String())
		}
		c.Problems = append(c.Problems, problems...)
	}
	return c
}

// MaxRetentionDays bounds Retention: beyond it a value is taken for a typo.
const MaxRetentionDays = 36500

// ParseRetention reads a Retention tag: a whole number of days, at least 1.
func ParseRetention(v string) (int, error) {
	s := strings.TrimSpace(v)
	days, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number of days", v)
	}
	if days < 1 || days > MaxRetentionDays {
		return 0, fmt.Errorf("%q is outside 1..%d days", v, MaxRetentionDays)
	}
	return days, nil
}

// regionPattern is AWS's region naming: a known geography, a partition
// marker (GovCloud, ISO), a direction and a number. A typo in the
// geography or the direction (eu-wset-1) is refused rather than copied to;
// a new geography needs adding here.
var regionPattern = regexp.MustCompile(`^(af|ap|ca|cn|eu|il|me|mx|sa|us)(-gov|-iso[a-z]?)?-(central|north|south|east|west|northeast|northwest|southeast|southwest)-[0-9]{1,2}$`)

// ValidRegion reports whether s is an AWS region name (us-east-1).
func ValidRegion(s string) bool { return regionPattern.MatchString(s) }

var accountPattern = regexp.MustCompile(`^[0-9]{12}$`)

// ValidAccount reports whether s is an AWS account id: 12 digits.
func ValidAccount(s string) bool { return accountPattern.MatchString(s) }

// Dest is one Copy_Dest destination: a region, in the instance's own
// account (Account empty) or in another account.
type Dest struct {
	Account string `json:"account,omitempty"`
	Region  string `json:"region"`
}

// String is the destination as Copy_Dest spells it: region or account:region.
func (d Dest) String() string {
	if d.Account == "" {
		return d.Region
	}
	return d.Account + ":" + d.Region
}

// CrossAccount reports whether the destination is in another account.
func (d Dest) CrossAccount() bool { return d.Account != "" }

// ParseDest reads one destination, "region" or "account:region", as
// ParseCopyDestinations does.
func ParseDest(v, sourceAccount, sourceRegion string) (Dest, error) {
	s := strings.ToLower(strings.TrimSpace(v))
	d := Dest{Region: s}
	if acct, region, ok := strings.Cut(s, ":"); ok {
		d = Dest{Account: strings.TrimSpace(acct), Region: strings.TrimSpace(region)}
		if !ValidAccount(d.Account) {
			return Dest{}, fmt.Errorf("%q: %q is not an AWS account id (12 digits)", strings.TrimSpace(v), d.Account)
		}
		if d.Account == sourceAccount {
			d.Account = "" // the instance's own account, named
		}
	}
	switch {
	case !ValidRegion(d.Region) && s == d.Region:
		return Dest{}, fmt.Errorf("%q is not a region", strings.TrimSpace(v))
	case !ValidRegion(d.Region):
		return Dest{}, fmt.Errorf("%q: %q is not a region", strings.TrimSpace(v), d.Region)
	case d.Account == "" && d.Region == sourceRegion:
		return Dest{}, fmt.Errorf("%q is the instance's own region in its own account", strings.TrimSpace(v))
	}
	return d, nil
}

// ParseCopyDestinations reads a Copy_Dest tag: one destination or a
// comma-separated list, each "region" or "account:region" (a 12-digit
// account id). Blanks and duplicates are dropped; an unknown region, a
// malformed account and the source itself (the instance's region in its
// own account, sourceAccount; "" when unknown) are dropped and reported:
// nothing is ever copied there.
func ParseCopyDestinations(v, sourceAccount, sourceRegion string) (dests []Dest, problems []string) {
	seen := map[Dest]bool{}
	for _, part := range strings.Split(v, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		d, err := ParseDest(part, sourceAccount, sourceRegion)
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("%s: %v: ignored", CopyDest, err))
		case !seen[d]:
			seen[d] = true
			dests = append(dests, d)
		}
	}
	return dests, problems
}

// ParseCopyDest reads a Copy_Dest tag's destinations in the source's own
// account, as regions (ParseCopyDestinations has them all): the copies a
// region's chain finds, verifies and expires with its own credentials.
func ParseCopyDest(v, sourceRegion string) (regions, problems []string) {
	dests, problems := ParseCopyDestinations(v, "", sourceRegion)
	for _, d := range dests {
		if !d.CrossAccount() {
			regions = append(regions, d.Region)
		}
	}
	return regions, problems
}

// FormatCopyDest spells destinations as a Copy_Dest tag value.
func FormatCopyDest(dests []Dest) string {
	parts := make([]string, len(dests))
	for i, d := range dests {
		parts[i] = d.String()
	}
	return strings.Join(parts, ",")
}

// Day is t's UTC calendar date, at midnight.
func Day(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// FormatDate formats t's UTC date as YYYY-mm-dd.
func FormatDate(t time.Time) string { return t.UTC().Format(DateLayout) }

// ParseDate reads a YYYY-mm-dd date as UTC midnight.
func ParseDate(s string) (time.Time, error) {
	t, err := time.Parse(DateLayout, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a date (want YYYY-mm-dd)", s)
	}
	return t, nil
}

// DeleteOnDate is the DeleteOn value of a snapshot taken on run's UTC date
// and kept for days: the run date plus days, in calendar days.
func DeleteOnDate(run time.Time, days int) string {
	return FormatDate(Day(run).AddDate(0, 0, days))
}

// Due reports whether a DeleteOn date has come: DeleteOn <= today (UTC).
func Due(deleteOn string, today time.Time) (bool, error) {
	d, err := ParseDate(deleteOn)
	if err != nil {
		return false, err
	}
	return !d.After(Day(today)), nil
}

// SnapshotDescription is the seed's Description tag:
// "instance_name (instance_id) - vol_id (dev_name) - source_region".
// An instance without a Name is named by its id.
func SnapshotDescription(name, instanceID, volumeID, device, region string) string {
	if strings.TrimSpace(name) == "" {
		name = instanceID
	}
	return fmt.Sprintf("%s (%s) - %s (%s) - %s", name, instanceID, volumeID, device, region)
}

var descriptionPattern = regexp.MustCompile(`^.* \((i-[0-9a-zA-Z]+)\) - (\S+) \(([^)]*)\) - \S+$`)

// ParseDescription reads the instance, volume and device from a Description
// tag in the seed's format (see SnapshotDescription); ok is false for any
// other text.
func ParseDescription(d string) (instanceID, volumeID, device string, ok bool) {
	m := descriptionPattern.FindStringSubmatch(strings.TrimSpace(d))
	if m == nil {
		return "", "", "", false
	}
	return m[1], m[2], m[3], true
}

// GroupIDFor is the id of the group an instance's snapshots get on a UTC
// date. It is derived, not random, so a retried or repeated run on the same
// day finds the group it already made instead of taking another.
func GroupIDFor(instanceID string, day time.Time) string {
	return "lbg-" + instanceID + "-" + Day(day).Format("20060102")
}

// ParseGeneration reads a generation tag; ok is false when it is absent or bad.
func ParseGeneration(v string) (int, bool) {
	g, err := strconv.Atoi(strings.TrimSpace(v))
	return g, err == nil && g >= 0
}

// NextGeneration is the generation of an instance's next group, given the
// generation tags of its existing groups: one more than the highest, 0 for
// the first.
func NextGeneration(existing []string) int {
	next := 0
	for _, v := range existing {
		if g, ok := ParseGeneration(v); ok && g+1 > next {
			next = g + 1
		}
	}
	return next
}

// IsCopy reports whether a snapshot is a copy made by a copier (it names its
// source). Copies are never copied again: that would loop.
func IsCopy(tags map[string]string) bool {
	_, ok := tags[SourceSnapshotID]
	return ok
}

// IsAutomated reports whether a snapshot was made by an automated job
// (Lifeboat or the seed's Lambdas): only those are ever expired.
func IsAutomated(tags map[string]string) bool { return tags[Type] == TypeAutomated }

// IsManaged reports whether a snapshot carries Lifeboat's group lineage.
func IsManaged(tags map[string]string) bool { return tags[ManagedBy] == ManagedByLifeboat }

// IsSeed reports whether a snapshot was made by the seed's creator or
// copier Lambdas: Type=Automated without Lifeboat's lineage. Lifeboat
// expires such snapshots on their DeleteOn but never copies them (see
// Copyable).
func IsSeed(tags map[string]string) bool {
	return IsAutomated(tags) && !IsManaged(tags) && tags[GroupID] == ""
}

// SeedGroupPrefix starts the synthetic group id `snapshots list` gives a
// seed snapshot: "seed:<snapshot id>".
const SeedGroupPrefix = "seed:"

// Copyable reports whether a region's copier may copy a snapshot: only
// Lifeboat's own primaries. Copies are never copied (that would loop), and
// the seed's primaries are left to the seed's copier: while both run during
// a migration, neither sees the other's copy in flight, so a primary would
// be copied twice.
func Copyable(tags map[string]string) bool { return IsManaged(tags) && !IsCopy(tags) }

// CopySourceRegion is the region a copy was made from: its Source_Region
// tag (Lifeboat's copies), else, for a copy the seed's copier made (it sets
// only Source_SnapshotId), the region its Description tag ends with (the
// seed's "name (instance) - volume (device) - source_region", which the
// copier carries over). It is "" for a primary, or a copy whose source
// region is unknown.
func CopySourceRegion(tags map[string]string) string {
	if !IsCopy(tags) {
		return ""
	}
	if r, ok := tags[SourceRegion]; ok {
		return r
	}
	d := tags[Description]
	i := strings.LastIndex(d, " - ")
	if i < 0 {
		return ""
	}
	if r := strings.TrimSpace(d[i+3:]); ValidRegion(r) {
		return r
	}
	return ""
}

// OwnerRegion is the region whose expiry run deletes a snapshot found in
// region: for a copy from another region, that source region (its run
// carries KeepForever to the copy first and knows the primary); otherwise
// the region itself. A seed copy whose source is unknown (its Description
// names no region) is its own region's, as the seed's per-region manager
// treated it.
func OwnerRegion(tags map[string]string, region string) string {
	if src := CopySourceRegion(tags); src != "" && src != region {
		return src
	}
	return region
}

// HasKeepForever reports whether a snapshot must never expire.
func HasKeepForever(tags map[string]string) bool {
	_, ok := tags[KeepForever]
	return ok
}

// CopyTags are the tags of a copy of a snapshot: every tag of the source
// (DeleteOn, KeepForever, Type, Description, lineage and the operator's own)
// except AWS-reserved ones, plus the source snapshot and region.
func CopyTags(source map[string]string, sourceSnapshotID, sourceRegion string) map[string]string {
	out := make(map[string]string, len(source)+2)
	for k, v := range source {
		// AWS's own tags cannot be set; a verification speaks of the
		// snapshots it checked, not of a copy made after it.
		if strings.HasPrefix(strings.ToLower(k), "aws:") || k == Verified {
			continue
		}
		out[k] = v
	}
	out[SourceSnapshotID] = sourceSnapshotID
	out[SourceRegion] = sourceRegion
	return out
}

// Reasons a snapshot is kept by expiry.
const (
	KeepNotAutomated = "not automated"
	KeepForeverSet   = "KeepForever"
	KeepOtherOwner   = "copy from another region"
	KeepNoDeleteOn   = "no DeleteOn"
	KeepBadDeleteOn  = "bad DeleteOn"
	KeepNotDue       = "not due"
	KeepNotOurs      = "not Lifeboat's copy from this account and region"
)

// Verdict is what expiry does with one snapshot.
type Verdict struct {
	Delete bool
	// Reason says why a snapshot is kept (one of the Keep* constants).
	Reason string
}

// Expiry decides whether the expiry run of owner (a source region), looking
// at a snapshot in region, deletes it. Only snapshots tagged Type=Automated
// whose DeleteOn is today or earlier go, never one with KeepForever, and
// only those owner owns (OwnerRegion): in a region, copies made from
// another region belong to that region's run (which carries KeepForever to
// them first); in a destination region, a run deletes only its own copies,
// Lifeboat's and the seed's alike.
func Expiry(tags map[string]string, region, owner string, today time.Time) Verdict {
	if !IsAutomated(tags) {
		return Verdict{Reason: KeepNotAutomated}
	}
	if HasKeepForever(tags) {
		return Verdict{Reason: KeepForeverSet}
	}
	if OwnerRegion(tags, region) != owner {
		return Verdict{Reason: KeepOtherOwner}
	}
	v, ok := tags[DeleteOn]
	if !ok {
		return Verdict{Reason: KeepNoDeleteOn}
	}
	due, err := Due(v, today)
	if err != nil {
		return Verdict{Reason: KeepBadDeleteOn}
	}
	if !due {
		return Verdict{Reason: KeepNotDue}
	}
	return Verdict{Delete: true}
}

// ExpiryInAccount decides whether the expiry run of owner (a region of
// ownerAccount), looking at a snapshot in another account (a Copy_Dest
// account:region), deletes it. There only Lifeboat's copies of owner's
// snapshots go: Managed-By=Lifeboat, Source_Account ownerAccount and
// Source_Region owner, as CopySnapshotsToRegion tags them. Anything else in
// that account (its own snapshots, the seed's copies, copies another
// Lifeboat made) is never touched. Then the rule of Expiry applies.
func ExpiryInAccount(tags map[string]string, ownerAccount, owner string, today time.Time) Verdict {
	if !IsManaged(tags) || !IsCopy(tags) || ownerAccount == "" || tags[SourceAccount] != ownerAccount || tags[SourceRegion] != owner {
		return Verdict{Reason: KeepNotOurs}
	}
	return Expiry(tags, owner, owner, today)
}
