package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/api/serviceerror"

	"github.com/lifeboat-dev/lifeboat/internal/awsx"
	"github.com/lifeboat-dev/lifeboat/internal/backupstore"
	"github.com/lifeboat-dev/lifeboat/internal/ids"
	"github.com/lifeboat-dev/lifeboat/starter/client"
	"github.com/lifeboat-dev/lifeboat/workflows"
	"github.com/lifeboat-dev/lifeboat/workflows/dataset"
)

// validateTimeout bounds the wait for a worker to validate a request.
const validateTimeout = 2 * time.Minute

func (a *app) backupCommand() *cobra.Command {
	var envID, datasetID, location, pit, file string
	var wait bool
	var drain time.Duration
	var verify bool
	var bo bucketOptions
	cmd := &cobra.Command{
		Use:   "backup-dataset (--env-id E --dataset-id D --backup-location s3://bucket/prefix [--point-in-time T] | --datasets FILE) [--verify]",
		Short: "Back up datasets to S3: pause writes, drain, export at one cut time, resume",
		Example: `  lifeboat backup-dataset --env-id demo --dataset-id orders --backup-location s3://my-bucket/backups --wait
  lifeboat backup-dataset --env-id demo --dataset-id orders --backup-location s3://my-bucket/backups --point-in-time 2026-11-22T06:00:00Z
  lifeboat backup-dataset --env-id demo --datasets datasets.json --verify --wait`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			in := dataset.BackupInput{DrainTimeoutSeconds: int(drain / time.Second), Verify: verify}
			var err error
			if in.Datasets, err = backupDatasets(cmd, envID, datasetID, location, pit, file); err != nil {
				return err
			}
			for i := range in.Datasets {
				bo.apply(&in.Datasets[i])
			}
			if err := in.Validate(); err != nil {
				return usageError{err}
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			run, err := a.start(cmd.Context(), func(ctx context.Context) (client.Run, error) { return c.StartBackup(ctx, in) })
			if err != nil {
				return err
			}
			fmt.Fprintln(a.out, run.ID)
			if !wait {
				return nil
			}
			res, err := c.WaitBackup(cmd.Context(), run.ID, a.printProgress())
			if err != nil {
				return err
			}
			for _, d := range res.Datasets {
				fmt.Fprintf(a.out, "%s/%s: %d items, %d bytes, cut %s -> %s\n", d.EnvID, d.DatasetID, d.ItemCount, d.Bytes, d.CutTime.Format(time.RFC3339Nano), d.ManifestURL)
				if d.Verified {
					fmt.Fprintf(a.out, "%s/%s: verified: every file downloaded and checked against the manifest\n", d.EnvID, d.DatasetID)
				}
				if len(d.Pruned) > 0 {
					fmt.Fprintf(a.out, "%s/%s: retention deleted %s\n", d.EnvID, d.DatasetID, strings.Join(d.Pruned, ", "))
				}
				if d.RetentionWarning != "" {
					fmt.Fprintf(a.out, "%s/%s: warning: retention failed (the backup is good): %s\n", d.EnvID, d.DatasetID, d.RetentionWarning)
				}
			}
			fmt.Fprintf(a.out, "writes paused for %d ms\n", res.PauseWindowMillis)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&envID, "env-id", "", "environment id (default for entries of --datasets without envId)")
	f.StringVar(&datasetID, "dataset-id", "", "dataset id")
	f.StringVar(&location, "backup-location", "", "where to back up to: s3://bucket/prefix")
	f.StringVar(&pit, "point-in-time", "", "export this past moment from PITR, without pausing writes: "+timeFormats+", a date meaning 00:00 UTC")
	f.StringVar(&file, "datasets", "", "path of a JSON file: an array of {envId, datasetId, backupLocation, pointInTime, allowUnversioned, kmsKeyId, roleArn, externalId, bucketOwner, copyTo: [{location, roleArn, externalId}]}")
	f.BoolVar(&wait, "wait", false, "wait for the backup, showing progress; exit non-zero if it fails")
	f.DurationVar(&drain, "drain-timeout", time.Duration(dataset.DefaultDrainTimeoutSeconds)*time.Second, "how long to wait for in-flight writes before giving up: "+durationFormat)
	verifyFlag(cmd, &verify)
	bo.add(cmd)
	return cmd
}

// bucketOptions are the backup bucket flags shared by the backup commands.
type bucketOptions struct {
	allowUnversioned bool
	kmsKeyID         string
	access           accessOptions
	copyTo           []string
	copyAccess       backupstore.Access
}

func (o *bucketOptions) add(cmd *cobra.Command) {
	allowUnversionedFlag(cmd, &o.allowUnversioned)
	cmd.Flags().StringVar(&o.kmsKeyID, "kms-key-id", "", "encrypt what the backup writes with this KMS key (SSE-KMS): id, ARN or alias")
	o.access.add(cmd)
	f := cmd.Flags()
	f.StringArrayVar(&o.copyTo, "copy-to", nil, "after the backup succeeded, copy it to this s3://bucket/prefix too (repeatable; a failed copy is a warning, the backup stands)")
	f.StringVar(&o.copyAccess.RoleARN, "copy-role-arn", "", "assume this IAM role to write the --copy-to locations (a bucket in another account)")
	f.StringVar(&o.copyAccess.ExternalID, "copy-external-id", "", "external id the --copy-role-arn role's trust policy requires")
}

// accessOptions are the flags of a backup location in another account.
type accessOptions struct{ backupstore.Access }

func (o *accessOptions) add(cmd *cobra.Command) { accessFlags(cmd, &o.Access) }

// accessFlags binds --role-arn, --external-id and --bucket-owner.
func accessFlags(cmd *cobra.Command, a *backupstore.Access) {
	f := cmd.Flags()
	f.StringVar(&a.RoleARN, "role-arn", "", "assume this IAM role for the backup location's S3 calls (a bucket in another account): arn:aws:iam::ACCOUNT:role/NAME")
	f.StringVar(&a.ExternalID, "external-id", "", "external id the role's trust policy requires (with --role-arn)")
	f.StringVar(&a.BucketOwner, "bucket-owner", "", "account id owning the bucket, when not the role's account")
}

// accessError makes a role that cannot be assumed, or a bucket its
// credentials may not use, bad input (exit 2); nil for other errors.
func accessError(loc backupstore.Location, err error) error {
	var ar *awsx.AssumeRoleError
	if errors.As(err, &ar) {
		return usageError{fmt.Errorf("backup location %s: %w", loc, ar)}
	}
	var ba *backupstore.BucketAccessError
	if errors.As(err, &ba) {
		return usageError{ba}
	}
	return nil
}

// apply sets the flags on an entry; a --datasets entry's own roleArn,
// externalId or bucketOwner stays when the flag is not given.
func (o *accessOptions) apply(a *backupstore.Access) {
	if o.RoleARN != "" {
		a.RoleARN, a.ExternalID = o.RoleARN, o.ExternalID
	} else if o.ExternalID != "" && a.ExternalID == "" {
		a.ExternalID = o.ExternalID
	}
	if o.BucketOwner != "" {
		a.BucketOwner = o.BucketOwner
	}
}

func allowUnversionedFlag(cmd *cobra.Command, v *bool) {
	cmd.Flags().BoolVar(v, "allow-unversioned", false,
		"accept a backup bucket without versioning (refused otherwise: a backup there can be overwritten or deleted for good)")
}

// apply sets the flags on a dataset entry; a --datasets entry's own
// allowUnversioned or kmsKeyId stays when the flag is not given.
func (o *bucketOptions) apply(d *dataset.BackupDataset) {
	d.AllowUnversioned = d.AllowUnversioned || o.allowUnversioned
	if o.kmsKeyID != "" {
		d.KMSKeyID = o.kmsKeyID
	}
	o.access.apply(&d.Access)
	for _, c := range o.copyTo {
		d.CopyTo = append(d.CopyTo, dataset.CopyDestination{Location: c, Access: o.copyAccess})
	}
}

func (a *app) restoreCommand() *cobra.Command {
	var envID, datasetID, source, sourceEnv, newID, location, backupID, file string
	var wait bool
	var drain time.Duration
	var access accessOptions
	cmd := &cobra.Command{
		Use:   "restore-dataset (--env-id E --dataset-id D [--source-dataset-id S] --backup-location s3://... | --datasets FILE) [--new-store-id N]",
		Short: "Restore datasets from S3 into a new store and switch the environment to it",
		Example: `  lifeboat restore-dataset --env-id demo --dataset-id orders --backup-location s3://my-bucket/backups --wait
  lifeboat restore-dataset --env-id demo --dataset-id orders --backup-location s3://my-bucket/backups --backup-id 20261122T020556.939Z
  lifeboat restore-dataset --env-id demo --datasets datasets.json --new-store-id r2 --wait`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if newID == "" {
				newID = ids.TimestampID(time.Now())
			}
			if err := ids.Validate("store", newID); err != nil {
				return err
			}
			in := dataset.RestoreInput{NewStoreID: newID, DrainTimeoutSeconds: int(drain / time.Second)}
			if file != "" {
				if err := readDatasetsFile(file, &in.Datasets); err != nil {
					return err
				}
				for i := range in.Datasets {
					if in.Datasets[i].EnvID == "" {
						in.Datasets[i].EnvID = envID
					}
				}
			} else {
				if err := requireFlags(cmd, "env-id", "dataset-id", "backup-location"); err != nil {
					return err
				}
				in.Datasets = []dataset.RestoreDataset{{
					EnvID: envID, DatasetID: datasetID, SourceDatasetID: source, SourceEnvID: sourceEnv,
					BackupLocation: location, BackupID: backupID,
				}}
			}
			for i, d := range in.Datasets {
				if err := checkRequest(d.EnvID, d.DatasetID, d.BackupLocation); err != nil {
					return err
				}
				access.apply(&in.Datasets[i].Access)
			}
			if err := in.Validate(); err != nil {
				return usageError{err}
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			run, err := a.start(cmd.Context(), func(ctx context.Context) (client.Run, error) { return c.StartRestore(ctx, in) })
			if err != nil {
				return err
			}
			fmt.Fprintln(a.out, run.ID)
			if !wait {
				return nil
			}
			res, err := c.WaitRestore(cmd.Context(), run.ID, a.printProgress())
			if err != nil {
				return err
			}
			for _, d := range res.Datasets {
				fmt.Fprintf(a.out, "%s/%s: %d items from %s backup %s -> %s\n", d.EnvID, d.DatasetID, d.ItemCount, d.SourceDatasetID, d.BackupID, d.TableName)
			}
			for _, s := range res.Switched {
				fmt.Fprintf(a.out, "switched %s\n", s)
			}
			fmt.Fprintf(a.out, "writes paused for %d ms\n", res.PauseWindowMillis)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&envID, "env-id", "", "environment id (default for entries of --datasets without envId)")
	f.StringVar(&datasetID, "dataset-id", "", "dataset to restore into")
	f.StringVar(&source, "source-dataset-id", "", "dataset id in the backup, if different")
	f.StringVar(&sourceEnv, "source-env-id", "", "environment the backup was taken from, when the location holds several")
	f.StringVar(&newID, "new-store-id", "", "id of the new store (default: a timestamp id like 20210901T120000Z)")
	f.StringVar(&location, "backup-location", "", "where the backup was written: s3://bucket/prefix (the backup root or a folder below it)")
	f.StringVar(&backupID, "backup-id", "", "restore this backup, an id like 20261122T020556.939Z as backup list shows it (default: the latest)")
	f.StringVar(&file, "datasets", "", "path of a JSON file: an array of {envId, datasetId, sourceDatasetId, sourceEnvId, backupLocation, backupId, roleArn, externalId, bucketOwner}")
	access.add(cmd)
	f.BoolVar(&wait, "wait", false, "wait for the restore, showing progress; exit non-zero if it fails")
	f.DurationVar(&drain, "drain-timeout", time.Duration(dataset.DefaultDrainTimeoutSeconds)*time.Second, "how long to wait for in-flight writes before giving up: "+durationFormat)
	alias(cmd, "new-store-id", "new-id")
	return cmd
}

// backupDatasets reads the datasets to back up from the flags: one
// dataset (--env-id, --dataset-id, --backup-location, --point-in-time) or
// a --datasets file whose entries default to --env-id.
func backupDatasets(cmd *cobra.Command, envID, datasetID, location, pit, file string) ([]dataset.BackupDataset, error) {
	var out []dataset.BackupDataset
	if file != "" {
		if err := readDatasetsFile(file, &out); err != nil {
			return nil, err
		}
		for i := range out {
			if out[i].EnvID == "" {
				out[i].EnvID = envID
			}
		}
	} else {
		if err := requireFlags(cmd, "env-id", "dataset-id", "backup-location"); err != nil {
			return nil, err
		}
		d := dataset.BackupDataset{EnvID: envID, DatasetID: datasetID, BackupLocation: location}
		if pit != "" {
			w, err := parseTime("point-in-time", pit)
			if err != nil {
				return nil, err
			}
			t := w.start()
			d.PointInTime = &t
		}
		out = []dataset.BackupDataset{d}
	}
	for _, d := range out {
		if err := checkRequest(d.EnvID, d.DatasetID, d.BackupLocation); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// start runs a start call, which waits for the worker to validate the request.
func (a *app) start(ctx context.Context, start func(context.Context) (client.Run, error)) (client.Run, error) {
	vctx, cancel := context.WithTimeout(ctx, validateTimeout)
	defer cancel()
	run, err := start(vctx)
	if err != nil && vctx.Err() != nil && ctx.Err() == nil {
		return run, fmt.Errorf("workflow %q was started but not validated within %s: is a worker polling task queue %q?", run.ID, validateTimeout, a.cfg.TaskQueue)
	}
	return run, err
}

// checkRequest catches malformed input before a workflow is started.
func checkRequest(env, dataset, location string) error {
	if env == "" {
		return usagef("dataset %q has no environment id (give --env-id or envId)", dataset)
	}
	if err := ids.Validate("environment", env); err != nil {
		return err
	}
	if err := ids.Validate("dataset", dataset); err != nil {
		return err
	}
	_, err := backupstore.ParseLocation(location)
	return err
}

func readDatasetsFile(path string, into any) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return usagef("--datasets: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		return usagef("--datasets file %q: %v", path, err)
	}
	if dec.More() {
		return usagef("--datasets file %q: trailing data after the JSON array", path)
	}
	return nil
}

// printProgress prints a line to stderr whenever a workflow's progress changes.
func (a *app) printProgress() func(dataset.Progress) {
	return func(p dataset.Progress) {
		var parts []string
		for _, d := range p.Datasets {
			s := fmt.Sprintf("%s/%s %s", d.EnvID, d.DatasetID, d.Step)
			if d.Items > 0 {
				s += fmt.Sprintf(" (%d items)", d.Items)
			}
			parts = append(parts, s)
		}
		fmt.Fprintf(a.err, "%s  %-16s %s\n", time.Now().Format("15:04:05"), p.Step, strings.Join(parts, ", "))
	}
}

func (a *app) statusCommand(name string) *cobra.Command {
	op := "backup"
	if name == "restore-status" {
		op = "restore"
	}
	var workflowID string
	var filter client.RunFilter
	var out *output
	cmd := &cobra.Command{
		Use:   name + " [--workflow-id W | --env-id E --dataset-id D --schedule-id S] [--output table|json]",
		Short: "Show recent " + op + " runs (found by Lifeboat's search attributes), or one run with its progress",
		Example: "  lifeboat " + name + "\n  lifeboat " + name + " --env-id demo --dataset-id orders --limit 5\n" +
			"  lifeboat " + name + " --workflow-id " + op + "-demo-orders-20261122T001953.882Z --output json",
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			if workflowID != "" {
				return a.showRun(cmd.Context(), c, workflowID, out)
			}
			filter.Operation = op
			if filter.Dataset != "" {
				if filter.EnvID == "" {
					return usagef("--dataset-id needs --env-id")
				}
				// Match the dataset wherever it is in a multi-dataset run.
				filter.Dataset, filter.EnvID = filter.EnvID+"/"+filter.Dataset, ""
			}
			runs, err := c.ListRuns(cmd.Context(), filter)
			if err != nil {
				return err
			}
			doc := make([]runJSON, 0, len(runs))
			for _, r := range runs {
				j := runJSON{WorkflowID: r.WorkflowID, RunID: r.RunID, Type: r.Type, Status: r.Status, StartTime: r.Start,
					Datasets: r.Datasets, ScheduleID: r.ScheduleID}
				if !r.Close.IsZero() {
					t := r.Close
					j.CloseTime = &t
				}
				if j.Datasets == nil {
					j.Datasets = []string{}
				}
				doc = append(doc, j)
			}
			return a.render(out, doc, func(tw io.Writer) {
				fmt.Fprintln(tw, "WORKFLOW ID\tSTATUS\tSTARTED\tDURATION\tDATASETS\tSCHEDULE")
				for _, r := range runs {
					dur := "-"
					if !r.Close.IsZero() {
						dur = r.Close.Sub(r.Start).Round(time.Millisecond).String()
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.WorkflowID, r.Status, r.Start.Format(time.RFC3339), dur,
						dash(strings.Join(r.Datasets, ",")), dash(r.ScheduleID))
				}
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&workflowID, "workflow-id", "", "show this run with its progress (a workflow id, as backup-dataset prints it)")
	fl.StringVar(&filter.EnvID, "env-id", "", "only runs whose (first) dataset is in this environment")
	fl.StringVar(&filter.Dataset, "dataset-id", "", "only runs covering this dataset (with --env-id)")
	fl.StringVar(&filter.ScheduleID, "schedule-id", "", "only runs started by this schedule")
	fl.IntVar(&filter.Limit, "limit", 20, "how many runs to list, newest first (a number)")
	out = outputFlag(cmd)
	return cmd
}

// runJSON is one run in the JSON of backup-status and restore-status.
type runJSON struct {
	WorkflowID string     `json:"workflowId"`
	RunID      string     `json:"runId"`
	Type       string     `json:"type"`
	Status     string     `json:"status"`
	StartTime  time.Time  `json:"startTime"`
	CloseTime  *time.Time `json:"closeTime,omitempty"`
	Datasets   []string   `json:"datasets"`
	ScheduleID string     `json:"scheduleId,omitempty"`
}

// runStatusJSON is one run with its progress, as --workflow-id shows it.
type runStatusJSON struct {
	WorkflowID string `json:"workflowId"`
	RunID      string `json:"runId"`
	Type       string `json:"type"`
	Status     string `json:"status"`
	// Progress is the run's progress query answer, whatever the
	// workflow type (absent when the run cannot answer it).
	Progress          json.RawMessage   `json:"progress,omitempty"`
	PendingActivities []pendingActivity `json:"pendingActivities"`
}

type pendingActivity struct {
	ActivityType string `json:"activityType"`
	Attempt      int32  `json:"attempt"`
	Heartbeat    string `json:"heartbeat,omitempty"`
	LastFailure  string `json:"lastFailure,omitempty"`
}

func (a *app) showRun(ctx context.Context, c *client.Client, workflowID string, out *output) error {
	d, err := c.Temporal.DescribeWorkflowExecution(ctx, workflowID, "")
	if err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return &notFoundError{fmt.Errorf("no workflow %q in namespace %q", workflowID, a.cfg.Namespace)}
		}
		return fmt.Errorf("describe workflow %q: %w", workflowID, err)
	}
	info := d.WorkflowExecutionInfo
	doc := runStatusJSON{
		WorkflowID: workflowID, RunID: info.Execution.GetRunId(), Type: info.Type.Name,
		Status: strings.TrimPrefix(info.Status.String(), "WORKFLOW_EXECUTION_STATUS_"), PendingActivities: []pendingActivity{},
	}
	for _, pa := range d.PendingActivities {
		p := pendingActivity{ActivityType: pa.ActivityType.Name, Attempt: pa.Attempt}
		if pa.HeartbeatDetails != nil && len(pa.HeartbeatDetails.Payloads) > 0 {
			p.Heartbeat = strings.TrimSpace(string(pa.HeartbeatDetails.Payloads[0].Data))
		}
		if pa.LastFailure != nil {
			p.LastFailure = pa.LastFailure.Message
		}
		doc.PendingActivities = append(doc.PendingActivities, p)
	}
	if *out == outputJSON {
		if v, err := c.Temporal.QueryWorkflow(ctx, workflowID, "", workflows.ProgressQuery); err == nil {
			_ = v.Get(&doc.Progress)
		}
		return a.render(out, doc, nil)
	}
	fmt.Fprintf(a.out, "workflow %s (%s): %s\n", workflowID, doc.Type, doc.Status)
	if p, err := c.Progress(ctx, workflowID); err == nil {
		fmt.Fprintf(a.out, "step: %s (started %s)\n", p.Step, p.StartedAt.Format(time.RFC3339))
		if p.StoreID != "" {
			fmt.Fprintf(a.out, "new store: %s\n", p.StoreID)
		}
		tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "DATASET\tSTEP\tITEMS\tBYTES\tDETAIL")
		for _, ds := range p.Datasets {
			fmt.Fprintf(tw, "%s/%s\t%s\t%d\t%d\t%s\n", ds.EnvID, ds.DatasetID, ds.Step, ds.Items, ds.Bytes, dash(ds.Detail))
		}
		_ = tw.Flush()
		if p.Error != "" {
			fmt.Fprintf(a.out, "error: %s\n", p.Error)
		}
	}
	for _, p := range doc.PendingActivities {
		line := fmt.Sprintf("running activity %s (attempt %d)", p.ActivityType, p.Attempt)
		if p.Heartbeat != "" {
			line += ": " + p.Heartbeat
		}
		if p.LastFailure != "" {
			line += " last failure: " + p.LastFailure
		}
		fmt.Fprintln(a.out, line)
	}
	return nil
}
