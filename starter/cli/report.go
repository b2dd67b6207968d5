package cli

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/registry"
	"github.com/lifeboat-dev/lifeboat/internal/report"
)

// reportFormat is report's --output: the list commands' table and json,
// plus csv and html.
type reportFormat string

func (f *reportFormat) String() string { return string(*f) }
func (f *reportFormat) Type() string   { return strings.Join(report.Formats, "|") }
func (f *reportFormat) Set(s string) error {
	for _, v := range report.Formats {
		if s == v {
			*f = reportFormat(s)
			return nil
		}
	}
	return fmt.Errorf("want %s", strings.Join(report.Formats, ", "))
}

func (a *app) reportCommand() *cobra.Command {
	format := reportFormat(report.FormatTable)
	var opt report.Options
	cmd := &cobra.Command{
		Use:   "report [--output table|json|csv|html] [--kind dataset,redis,instance] [--env-id E] [--regions r1,r2] [--backup-location s3://...]",
		Short: "Show, for every protected resource, its last backup against its RPO target, last verification and restore test, last failure",
		Long: `One row per protected resource: every dataset in the registry, every registered Redis cluster,
and every EC2 instance with Lifeboat snapshot groups or tagged Backup=Yes in the regions of the
snapshot schedules (or --regions). For each: the newest complete backup and its age; the RPO
target (the resource's own, set with --rpo on dataset create / redis cluster register or with
set-rpo, else the interval of the schedule backing it up); the status (ok: within target, late:
older than the target, none: no backup, unknown: no target or its backups could not be found);
the last verification (verified.json, tag lifeboat:verified) and restore test with its measured
RTO (restore-test.json, tag lifeboat:restore-tested) among its recent backups; and the last
failed backup run with its reason.

Coverage: green within target and verified or restore-tested (passed) within --proof-window;
amber within target (or no target) but not proven recently; red outside target, never backed
up, backups unreadable, a backup run failed after the newest backup, or the newest verification
or restore test failed.

Backups are looked for where the schedules covering a resource write them, else where its
newest completed backup run wrote (Temporal visibility), else under --backup-location.
Only backup folders and their small records are listed and read, never the exported data.

--output html writes one self-contained page (inline CSS and SVG, nothing fetched):
lifeboat report --output html > report.html

Exit codes: 0 every resource with an RPO target is within it, 1 one or more are not (late,
none, or unreadable: the report is still printed, and stderr names them), 2 bad flags.`,
		Example: `  lifeboat report
  lifeboat report --output html > report.html
  lifeboat report --kind dataset --env-id prod --output csv > prod.csv
  lifeboat report --kind instance --regions us-east-1,eu-west-1 --output json`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opt.Parallel < 1 {
				return usagef("--parallel %d: want at least 1", opt.Parallel)
			}
			if opt.ProofWindow <= 0 {
				return usagef("--proof-window %s: want a positive duration", opt.ProofWindow)
			}
			if opt.EnvID != "" && !given(cmd, "kind") {
				opt.Kinds = []string{report.KindDataset} // an environment holds datasets only
			}
			for i, k := range opt.Kinds {
				opt.Kinds[i] = strings.TrimSpace(k)
			}
			if len(opt.Regions) > 0 {
				regions, err := checkRegions(opt.Regions)
				if err != nil {
					return err
				}
				opt.Regions = regions
			}
			if opt.Location != "" {
				if _, err := backupstore.ParseLocation(opt.Location); err != nil {
					return err
				}
			}
			// Flags checked: build the clients.
			reg, err := a.registry(cmd.Context())
			if err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			awsc := a.aws
			src := report.Sources{
				Registry: reg, S3: awsc.Buckets, Temporal: c.ReportSource(),
				EC2: func(region string) report.EC2API { return awsc.EC2(region) },
			}
			rep, err := report.Collect(cmd.Context(), src, opt)
			if err != nil {
				var inv *report.InvalidOptionsError
				if errors.As(err, &inv) {
					return usageError{err}
				}
				return err
			}
			if err := report.Render(a.out, rep, string(format)); err != nil {
				return err
			}
			return rep.Check()
		},
	}
	f := cmd.Flags()
	f.VarP(&format, "output", "o", "table (for people), json (one document: see README, Report), csv (a header row, then one row per resource) or html (one self-contained page)")
	f.StringSliceVar(&opt.Kinds, "kind", nil, "report only these kinds: dataset, redis, instance (comma-separated; default all)")
	f.StringVar(&opt.EnvID, "env-id", "", "report only this environment's datasets (implies --kind dataset unless --kind is given)")
	f.StringSliceVar(&opt.Regions, "regions", nil, "look for instances in these regions (default: the regions of the snapshot schedules)")
	f.StringVar(&opt.Location, "backup-location", "", "where to look for backups of datasets and clusters that no schedule or recent backup run points at: s3://bucket/prefix")
	f.DurationVar(&opt.ProofWindow, "proof-window", report.DefaultProofWindow, "a passed verification or restore test older than this no longer makes a resource green: "+durationFormat)
	f.IntVar(&opt.Parallel, "parallel", report.DefaultParallel, "how many resources to read at once (a number)")
	return cmd
}

// rpoFlag adds --rpo to a command.
func rpoFlag(cmd *cobra.Command, rpo *time.Duration, what string) {
	cmd.Flags().DurationVar(rpo, "rpo", 0, "the "+what+"'s recovery point objective: the age its newest backup may reach (lifeboat report), "+
		durationFormat+"; it overrides the interval of the schedule backing it up")
}

// checkRPO refuses an RPO that is not a whole number of seconds (bad input).
func checkRPO(rpo time.Duration) error {
	if err := registry.CheckRPO(rpo); err != nil {
		return usageError{fmt.Errorf("--rpo: %w", err)}
	}
	return nil
}

// rpoText is an RPO as set-rpo confirms it.
func rpoText(rpo time.Duration) string {
	if rpo == 0 {
		return "cleared (the schedule's interval applies)"
	}
	return rpo.String()
}

func (a *app) datasetSetRPOCommand() *cobra.Command {
	var envID, datasetID string
	var rpo time.Duration
	cmd := &cobra.Command{
		Use:     "set-rpo --env-id E --dataset-id D --rpo DURATION",
		Short:   "Set a dataset's RPO target (lifeboat report); --rpo 0 clears it",
		Example: "  lifeboat dataset set-rpo --env-id prod --dataset-id orders --rpo 6h",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "env-id", "dataset-id", "rpo"); err != nil {
				return err
			}
			if err := checkRPO(rpo); err != nil {
				return err
			}
			reg, err := a.registry(cmd.Context())
			if err != nil {
				return err
			}
			if err := reg.SetDatasetRPO(cmd.Context(), envID, datasetID, rpo); err != nil {
				return err
			}
			fmt.Fprintf(a.out, "dataset %s/%s: RPO target %s\n", envID, datasetID, rpoText(rpo))
			return nil
		},
	}
	cmd.Flags().StringVar(&envID, "env-id", "", "environment id")
	cmd.Flags().StringVar(&datasetID, "dataset-id", "", "dataset id")
	rpoFlag(cmd, &rpo, "dataset")
	return cmd
}

func (a *app) redisSetRPOCommand() *cobra.Command {
	var cluster string
	var rpo time.Duration
	cmd := &cobra.Command{
		Use:     "set-rpo --cluster-id C --rpo DURATION",
		Short:   "Set a Redis cluster's RPO target (lifeboat report); --rpo 0 clears it",
		Example: "  lifeboat redis cluster set-rpo --cluster-id shop --rpo 1h",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "cluster-id", "rpo"); err != nil {
				return err
			}
			if err := checkRPO(rpo); err != nil {
				return err
			}
			reg, err := a.registry(cmd.Context())
			if err != nil {
				return err
			}
			if err := reg.SetRedisClusterRPO(cmd.Context(), cluster, rpo); err != nil {
				return redisInputError(err)
			}
			fmt.Fprintf(a.out, "Redis cluster %s: RPO target %s\n", cluster, rpoText(rpo))
			return nil
		},
	}
	cmd.Flags().StringVar(&cluster, "cluster-id", "", "registered cluster id")
	rpoFlag(cmd, &rpo, "cluster")
	return cmd
}
