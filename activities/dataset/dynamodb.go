package dataset

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/lifeboat-dev/lifeboat/activities"
	"github.com/lifeboat-dev/lifeboat/internal/registry"
)

// DynamoDBAPI is the part of the DynamoDB client exports and imports need.
type DynamoDBAPI interface {
	registry.API
	ExportTableToPointInTime(context.Context, *dynamodb.ExportTableToPointInTimeInput, ...func(*dynamodb.Options)) (*dynamodb.ExportTableToPointInTimeOutput, error)
	DescribeExport(context.Context, *dynamodb.DescribeExportInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeExportOutput, error)
	ImportTable(context.Context, *dynamodb.ImportTableInput, ...func(*dynamodb.Options)) (*dynamodb.ImportTableOutput, error)
	DescribeImport(context.Context, *dynamodb.DescribeImportInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeImportOutput, error)
	ListImports(context.Context, *dynamodb.ListImportsInput, ...func(*dynamodb.Options)) (*dynamodb.ListImportsOutput, error)
}

// DynamoDB runs and watches DynamoDB exports to S3 and imports from S3.
type DynamoDB struct {
	DB DynamoDBAPI
	// PollInterval is how often a running export or import is checked.
	PollInterval time.Duration
}

func (a *DynamoDB) poll() time.Duration {
	if a.PollInterval > 0 {
		return a.PollInterval
	}
	return 5 * time.Second
}

// clientToken derives an idempotency token from the workflow run and the
// step, so an activity retry asks DynamoDB for the same job again.
func clientToken(ctx context.Context, step string) string {
	info := activity.GetInfo(ctx)
	sum := sha256.Sum256([]byte(info.WorkflowExecution.ID + "/" + info.WorkflowExecution.RunID + "/" + step))
	return hex.EncodeToString(sum[:16])
}

// StartExportInput asks for a point-in-time export of one table.
type StartExportInput struct {
	TableName  string    `json:"tableName"`
	ExportTime time.Time `json:"exportTime"`
	Bucket     string    `json:"bucket"`
	Prefix     string    `json:"prefix"`
	// BucketOwner is the bucket's account, when known: AWS requires it
	// for a bucket of another account.
	BucketOwner string `json:"bucketOwner,omitempty"`
	// KMSKeyID, when set, has DynamoDB write the export with SSE-KMS.
	KMSKeyID string `json:"kmsKeyId,omitempty"`
}

// StartExportResult names the export.
type StartExportResult struct {
	ExportArn string `json:"exportArn"`
	TableArn  string `json:"tableArn"`
}

// StartExport starts ExportTableToPointInTime at the backup's cut time.
// The client token, derived from the workflow run and the table, makes a
// repeated call (an SDK retry after a lost response, or an activity retry)
// return the export already started rather than a second one: DynamoDB
// honours a token for 8 hours (ExportTableToPointInTime API reference,
// ClientToken). So a retry costs one call, whatever the table's history.
func (a *DynamoDB) StartExport(ctx context.Context, in StartExportInput) (*StartExportResult, error) {
	desc, err := a.DB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(in.TableName)})
	if err != nil {
		return nil, fmt.Errorf("describe table %s: %w", in.TableName, err)
	}
	tableArn := aws.ToString(desc.Table.TableArn)
	out, err := a.DB.ExportTableToPointInTime(ctx, exportInput(in, tableArn, clientToken(ctx, "export/"+in.TableName)))
	if err != nil {
		var pitr *types.PointInTimeRecoveryUnavailableException
		var bad *types.InvalidExportTimeException
		var conflict *types.ExportConflictException
		switch {
		case errors.As(err, &bad) && time.Since(in.ExportTime) < exportTimeSkew:
			// A cut a moment ago can look "in the future" to a DynamoDB
			// whose clock is behind ours: it is valid a moment later.
			return nil, fmt.Errorf("export %s at %s: %w (retrying: the cut is only %s old)",
				in.TableName, in.ExportTime.Format(time.RFC3339), err, time.Since(in.ExportTime).Round(time.Millisecond))
		case errors.As(err, &pitr), errors.As(err, &bad), errors.As(err, &conflict):
			return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("export %s: %v", in.TableName, err), activities.ErrExportFailed, err)
		}
		return nil, fmt.Errorf("export %s: %w", in.TableName, err)
	}
	arn := aws.ToString(out.ExportDescription.ExportArn)
	activity.GetLogger(ctx).Info("Export started", "table", in.TableName, "export", arn, "exportTime", in.ExportTime)
	return &StartExportResult{ExportArn: arn, TableArn: tableArn}, nil
}

// exportInput is the ExportTableToPointInTime request of a backup: the
// bucket by name, its owner when known, SSE-KMS when a key is given.
func exportInput(in StartExportInput, tableArn, token string) *dynamodb.ExportTableToPointInTimeInput {
	req := &dynamodb.ExportTableToPointInTimeInput{
		TableArn:     aws.String(tableArn),
		S3Bucket:     aws.String(in.Bucket),
		S3Prefix:     aws.String(in.Prefix),
		ExportTime:   aws.Time(in.ExportTime),
		ExportFormat: types.ExportFormatDynamodbJson,
		ExportType:   types.ExportTypeFullExport,
		ClientToken:  aws.String(token),
	}
	if in.BucketOwner != "" {
		req.S3BucketOwner = aws.String(in.BucketOwner)
	}
	if in.KMSKeyID != "" {
		req.S3SseAlgorithm = types.S3SseAlgorithmKms
		req.S3SseKmsKeyId = aws.String(in.KMSKeyID)
	}
	return req
}

// exportTimeSkew is how recent a cut may be for DynamoDB's "export time in
// the future" answer to be taken as clock skew, and retried.
const exportTimeSkew = time.Minute

// WaitExportInput names an export to wait for.
type WaitExportInput struct {
	ExportArn string `json:"exportArn"`
	TableName string `json:"tableName"`
}

// WaitExportResult is a finished export.
type WaitExportResult struct {
	ItemCount int64 `json:"itemCount"`
	Bytes     int64 `json:"bytes"`
	// ManifestKey is the key of the export's manifest-summary.json.
	ManifestKey string `json:"manifestKey,omitempty"`
}

// JobProgress is the heartbeat detail of a running export or import, shown in
// the Web UI and by `lifeboat backup-status --workflow-id`.
type JobProgress struct {
	Arn     string `json:"arn"`
	Table   string `json:"table"`
	Status  string `json:"status"`
	Items   int64  `json:"items"`
	Polls   int    `json:"polls"`
	Elapsed string `json:"elapsed"`
	// Started is when the first attempt began waiting.
	Started time.Time `json:"started"`
}

// resumeJob reads the last heartbeat of an earlier attempt of a wait, so a
// retry reports the job's whole wait, not just its own.
func resumeJob(ctx context.Context) (start time.Time, polls int) {
	start = time.Now()
	if activity.HasHeartbeatDetails(ctx) {
		var last JobProgress
		if err := activity.GetHeartbeatDetails(ctx, &last); err == nil && !last.Started.IsZero() {
			return last.Started, last.Polls
		}
	}
	return start, 0
}

// WaitExport polls an export until it completes, heartbeating its status
// at every poll. An export of a large table takes hours; a retry after a
// lost worker goes on counting from the last heartbeat.
func (a *DynamoDB) WaitExport(ctx context.Context, in WaitExportInput) (*WaitExportResult, error) {
	start, polls0 := resumeJob(ctx)
	hb := activities.KeepAlive(ctx, activities.HeartbeatInPause, nil)
	defer hb.Stop()
	hb.Record(JobProgress{Arn: in.ExportArn, Table: in.TableName, Polls: polls0, Started: start}) // a retry keeps the count
	for polls := polls0 + 1; ; polls++ {
		out, err := a.DB.DescribeExport(ctx, &dynamodb.DescribeExportInput{ExportArn: aws.String(in.ExportArn)})
		if err != nil {
			return nil, fmt.Errorf("describe export %s: %w", in.ExportArn, err)
		}
		d := out.ExportDescription
		hb.Record(JobProgress{
			Arn: in.ExportArn, Table: in.TableName, Status: string(d.ExportStatus),
			Items: aws.ToInt64(d.ItemCount), Polls: polls, Elapsed: time.Since(start).Round(time.Second).String(), Started: start,
		})
		switch d.ExportStatus {
		case types.ExportStatusCompleted:
			return &WaitExportResult{
				ItemCount: aws.ToInt64(d.ItemCount), Bytes: aws.ToInt64(d.BilledSizeBytes), ManifestKey: aws.ToString(d.ExportManifest),
			}, nil
		case types.ExportStatusFailed:
			msg := fmt.Sprintf("export of %s failed: %s: %s", in.TableName, aws.ToString(d.FailureCode), aws.ToString(d.FailureMessage))
			return nil, temporal.NewNonRetryableApplicationError(msg, activities.ErrExportFailed, nil)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(a.poll()):
		}
	}
}

// StartImportInput asks for a new table populated from exported data.
type StartImportInput struct {
	TableName  string `json:"tableName"`
	Bucket     string `json:"bucket"`
	DataPrefix string `json:"dataPrefix"`
	// BucketOwner is the bucket's account when it is another account's:
	// ImportTable needs it to read there.
	BucketOwner string `json:"bucketOwner,omitempty"`
}

// StartImportResult names the import.
type StartImportResult struct {
	ImportArn string `json:"importArn"`
}

// StartImport starts ImportTable into a new table. The client token makes a
// retry return the same import; if the table exists anyway, the import that
// created it is looked up instead of starting another.
func (a *DynamoDB) StartImport(ctx context.Context, in StartImportInput) (*StartImportResult, error) {
	if activity.HasHeartbeatDetails(ctx) {
		var arn string
		if err := activity.GetHeartbeatDetails(ctx, &arn); err == nil && arn != "" {
			return &StartImportResult{ImportArn: arn}, nil
		}
	}
	// Inside a restore's pause: beat every few seconds, so that a dead
	// worker is noticed in seconds.
	hb := activities.KeepAlive(ctx, activities.HeartbeatInPause, nil)
	defer hb.Stop()
	attrs, keys := registry.DataTableKeySchema()
	out, err := a.DB.ImportTable(ctx, &dynamodb.ImportTableInput{
		ClientToken:          aws.String(clientToken(ctx, "import/"+in.TableName)),
		InputFormat:          types.InputFormatDynamodbJson,
		InputCompressionType: types.InputCompressionTypeGzip,
		S3BucketSource:       importSource(in),
		TableCreationParameters: &types.TableCreationParameters{
			TableName:            aws.String(in.TableName),
			AttributeDefinitions: attrs,
			KeySchema:            keys,
			BillingMode:          types.BillingModePayPerRequest,
		},
	})
	if err == nil {
		arn := aws.ToString(out.ImportTableDescription.ImportArn)
		hb.Record(arn)
		activity.GetLogger(ctx).Info("Import started", "table", in.TableName, "import", arn)
		return &StartImportResult{ImportArn: arn}, nil
	}
	var inUse *types.ResourceInUseException
	if !errors.As(err, &inUse) {
		return nil, fmt.Errorf("import into %s: %w", in.TableName, err)
	}
	arn, lerr := a.findImport(ctx, in.TableName)
	if lerr != nil {
		return nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("import into %s: table exists and the import that created it cannot be found: %v", in.TableName, lerr),
			activities.ErrImportFailed, lerr)
	}
	return &StartImportResult{ImportArn: arn}, nil
}

func (a *DynamoDB) findImport(ctx context.Context, table string) (string, error) {
	desc, err := a.DB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		return "", fmt.Errorf("describe table %s: %w", table, err)
	}
	out, err := a.DB.ListImports(ctx, &dynamodb.ListImportsInput{TableArn: desc.Table.TableArn})
	if err != nil {
		return "", fmt.Errorf("list imports of %s: %w", table, err)
	}
	for _, s := range out.ImportSummaryList {
		if s.ImportStatus != types.ImportStatusFailed && s.ImportStatus != types.ImportStatusCancelled {
			return aws.ToString(s.ImportArn), nil
		}
	}
	return "", fmt.Errorf("no import of %s found", table)
}

// WaitImportInput names an import to wait for and the item count it must reach.
type WaitImportInput struct {
	ImportArn     string `json:"importArn"`
	TableName     string `json:"tableName"`
	ExpectedItems int64  `json:"expectedItems"`
}

// WaitImportResult is a finished, checked import.
type WaitImportResult struct {
	ImportedItems int64 `json:"importedItems"`
	// CountedItems is ImportedItems (kept for histories that recorded a
	// scan's count here).
	CountedItems int64 `json:"countedItems"`
}

// WaitImport polls an import until it completes, heartbeating at every poll,
// checks DynamoDB's own counts against the backup's manifest (never a scan
// of the new table: DynamoDB counts what it imported), and turns on PITR,
// retrying while DynamoDB says continuous backups are not available yet.
func (a *DynamoDB) WaitImport(ctx context.Context, in WaitImportInput) (*WaitImportResult, error) {
	start, polls0 := resumeJob(ctx)
	// Inside a restore's pause: beat every few seconds (with the last
	// poll's progress), also through a slow DescribeImport and while PITR
	// is enabled, so that a dead worker is noticed in seconds.
	hb := activities.KeepAlive(ctx, activities.HeartbeatInPause, nil)
	defer hb.Stop()
	last := JobProgress{Arn: in.ImportArn, Table: in.TableName, Polls: polls0, Started: start}
	hb.Record(last) // a retry keeps the count
	var d *types.ImportTableDescription
	for polls := polls0 + 1; ; polls++ {
		out, err := a.DB.DescribeImport(ctx, &dynamodb.DescribeImportInput{ImportArn: aws.String(in.ImportArn)})
		if err != nil {
			return nil, fmt.Errorf("describe import %s: %w", in.ImportArn, err)
		}
		d = out.ImportTableDescription
		last = JobProgress{
			Arn: in.ImportArn, Table: in.TableName, Status: string(d.ImportStatus),
			Items: d.ProcessedItemCount, Polls: polls, Elapsed: time.Since(start).Round(time.Second).String(), Started: start,
		}
		hb.Record(last)
		if d.ImportStatus == types.ImportStatusCompleted {
			break
		}
		if d.ImportStatus == types.ImportStatusFailed || d.ImportStatus == types.ImportStatusCancelled {
			msg := fmt.Sprintf("import into %s %s: %s: %s", in.TableName, d.ImportStatus, aws.ToString(d.FailureCode), aws.ToString(d.FailureMessage))
			return nil, temporal.NewNonRetryableApplicationError(msg, activities.ErrImportFailed, nil)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(a.poll()):
		}
	}
	if err := checkImported(in, d); err != nil {
		return nil, err
	}
	// Enabling PITR can take a while after an import: the beats go on.
	reg := &registry.Registry{DB: a.DB}
	if err := reg.EnablePITR(ctx, in.TableName); err != nil {
		return nil, err
	}
	return &WaitImportResult{ImportedItems: d.ImportedItemCount, CountedItems: d.ImportedItemCount}, nil
}

// checkImported fails a completed import whose counts do not match the
// backup: DynamoDB completes an import that met bad lines, counting them in
// ErrorCount (and logging them to CloudWatch), so COMPLETED alone is not
// proof that every item arrived.
func checkImported(in WaitImportInput, d *types.ImportTableDescription) error {
	if d.ErrorCount > 0 {
		msg := fmt.Sprintf("import into %s: %d of %d items could not be imported (see the import's CloudWatch log group %s)",
			in.TableName, d.ErrorCount, d.ProcessedItemCount, aws.ToString(d.CloudWatchLogGroupArn))
		return temporal.NewNonRetryableApplicationError(msg, activities.ErrImportFailed, nil)
	}
	if d.ImportedItemCount != in.ExpectedItems {
		msg := fmt.Sprintf("import into %s holds %d items, the backup's manifest says %d", in.TableName, d.ImportedItemCount, in.ExpectedItems)
		return temporal.NewNonRetryableApplicationError(msg, activities.ErrImportFailed, nil)
	}
	return nil
}

// importSource names the backup's data folder, and the bucket's owner when
// it is another account.
func importSource(in StartImportInput) *types.S3BucketSource {
	src := &types.S3BucketSource{S3Bucket: aws.String(in.Bucket), S3KeyPrefix: aws.String(in.DataPrefix)}
	if in.BucketOwner != "" {
		src.S3BucketOwner = aws.String(in.BucketOwner)
	}
	return src
}
