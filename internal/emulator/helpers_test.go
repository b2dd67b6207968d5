package emulator

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// shared is the aws-profile emulator most tests use, with short timings.
// Tests that change its configuration start their own. The EC2 windows
// leave room for the several calls a test makes inside them on a loaded
// CI machine (1 and 2 s were once too short).
var shared *testenv.Emulator

var sharedOpts = testenv.EmulatorOptions{
	Profile: "aws", JobSeconds: 1, PITRUnavailableSeconds: 1, EC2SettleSeconds: 3, SnapshotPendingSeconds: 6,
}

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	var err error
	shared, err = testenv.NewEmulator(context.Background(), sharedOpts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "emulator:", err)
		os.Exit(1)
	}
	code := m.Run()
	if code != 0 {
		shared.KeepLog = true
		fmt.Fprintln(os.Stderr, "emulator: shared launcher log kept in", shared.LogFile)
	}
	_ = shared.Close()
	os.Exit(code)
}

func emu(t *testing.T) *testenv.Emulator {
	t.Helper()
	if testing.Short() {
		t.Skip("starts the emulator: skipped with -short")
	}
	t.Parallel()
	return shared
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

var unique atomic.Int64

// name is a fresh table or bucket name.
func name(t *testing.T, prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid()%10000, unique.Add(1))
}

// errCode is the AWS error code of err, as the SDK parsed it.
func errCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func mustCode(t *testing.T, err error, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want %s, got success", code)
	}
	if got := errCode(err); got != code {
		t.Fatalf("want %s, got %q: %v", code, got, err)
	}
}

func createTable(t *testing.T, db *dynamodb.Client, table string) string {
	t.Helper()
	out, err := db.CreateTable(ctxT(t), &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatalf("create table %s: %v", table, err)
	}
	return aws.ToString(out.TableDescription.TableArn)
}

// enablePITR turns PITR on, waiting out ContinuousBackupsUnavailableException.
func enablePITR(t *testing.T, db *dynamodb.Client, table string) time.Time {
	t.Helper()
	for start := time.Now(); ; {
		out, err := db.UpdateContinuousBackups(ctxT(t), &dynamodb.UpdateContinuousBackupsInput{
			TableName:                        aws.String(table),
			PointInTimeRecoverySpecification: &types.PointInTimeRecoverySpecification{PointInTimeRecoveryEnabled: aws.Bool(true)},
		})
		if err == nil {
			return aws.ToTime(out.ContinuousBackupsDescription.PointInTimeRecoveryDescription.EarliestRestorableDateTime)
		}
		if errCode(err) != "ContinuousBackupsUnavailableException" || time.Since(start) > 20*time.Second {
			t.Fatalf("enable PITR on %s: %v", table, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func put(t *testing.T, db *dynamodb.Client, table, pk, v string) {
	t.Helper()
	_, err := db.PutItem(ctxT(t), &dynamodb.PutItemInput{TableName: aws.String(table), Item: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: pk}, "v": &types.AttributeValueMemberS{Value: v},
	}})
	if err != nil {
		t.Fatalf("put %s: %v", pk, err)
	}
}

func createBucket(t *testing.T, s3c *s3.Client, bucket string) {
	t.Helper()
	if _, err := s3c.CreateBucket(ctxT(t), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("create bucket %s: %v", bucket, err)
	}
}

// waitExport polls an export until it leaves IN_PROGRESS.
func waitExport(t *testing.T, db *dynamodb.Client, arn string) *types.ExportDescription {
	t.Helper()
	for start := time.Now(); ; time.Sleep(100 * time.Millisecond) {
		out, err := db.DescribeExport(ctxT(t), &dynamodb.DescribeExportInput{ExportArn: aws.String(arn)})
		if err != nil {
			t.Fatalf("describe export: %v", err)
		}
		if out.ExportDescription.ExportStatus != types.ExportStatusInProgress {
			return out.ExportDescription
		}
		if time.Since(start) > 45*time.Second {
			t.Fatalf("export %s still in progress after 45s", arn)
		}
	}
}

func getObject(t *testing.T, s3c *s3.Client, bucket, key string) []byte {
	t.Helper()
	out, err := s3c.GetObject(ctxT(t), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get s3://%s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type manifestFile struct {
	ItemCount     int64  `json:"itemCount"`
	MD5Checksum   string `json:"md5Checksum"`
	ETag          string `json:"etag"`
	DataFileS3Key string `json:"dataFileS3Key"`
}

type manifestSummary struct {
	Version            string `json:"version"`
	ExportArn          string `json:"exportArn"`
	StartTime          string `json:"startTime"`
	EndTime            string `json:"endTime"`
	TableArn           string `json:"tableArn"`
	TableID            string `json:"tableId"`
	ExportTime         string `json:"exportTime"`
	S3Bucket           string `json:"s3Bucket"`
	S3Prefix           string `json:"s3Prefix"`
	ManifestFilesS3Key string `json:"manifestFilesS3Key"`
	BilledSizeBytes    int64  `json:"billedSizeBytes"`
	ItemCount          int64  `json:"itemCount"`
	OutputFormat       string `json:"outputFormat"`
	ExportType         string `json:"exportType"`
}

// readExport checks a completed export's layout (AWS's: _started, the
// manifests and their .md5, data files whose count, MD5 and ETag the
// manifest states) and returns its items: pk -> v.
func readExport(t *testing.T, s3c *s3.Client, d *types.ExportDescription) (map[string]string, int) {
	t.Helper()
	bucket := aws.ToString(d.S3Bucket)
	summaryKey := aws.ToString(d.ExportManifest)
	id := aws.ToString(d.ExportArn)[strings.LastIndex(aws.ToString(d.ExportArn), "/")+1:]
	base := strings.TrimSuffix(summaryKey, "manifest-summary.json")
	if want := aws.ToString(d.S3Prefix) + "/AWSDynamoDB/" + id + "/"; base != want {
		t.Fatalf("ExportManifest %q: want it under %q", summaryKey, want)
	}
	if b := getObject(t, s3c, bucket, base+"_started"); len(b) != 0 {
		t.Fatalf("_started holds %d bytes", len(b))
	}
	summaryBody := getObject(t, s3c, bucket, summaryKey)
	if sum := md5.Sum(summaryBody); string(getObject(t, s3c, bucket, base+"manifest-summary.md5")) != hex.EncodeToString(sum[:]) {
		t.Fatal("manifest-summary.md5 does not match manifest-summary.json")
	}
	var summary manifestSummary
	if err := json.Unmarshal(summaryBody, &summary); err != nil {
		t.Fatalf("manifest-summary.json: %v", err)
	}
	if summary.Version != "2020-06-30" || summary.ExportArn != aws.ToString(d.ExportArn) || summary.TableArn != aws.ToString(d.TableArn) ||
		summary.S3Bucket != bucket || summary.ItemCount != aws.ToInt64(d.ItemCount) || summary.BilledSizeBytes != aws.ToInt64(d.BilledSizeBytes) ||
		summary.OutputFormat != "DYNAMODB_JSON" || summary.ExportType != "FULL_EXPORT" || summary.ManifestFilesS3Key != base+"manifest-files.json" ||
		summary.TableID == "" || summary.StartTime == "" || summary.EndTime == "" || summary.ExportTime == "" {
		t.Fatalf("manifest-summary.json does not match DescribeExport %+v: %s", d, summaryBody)
	}
	if et, err := time.Parse(time.RFC3339Nano, summary.ExportTime); err != nil || !et.Equal(aws.ToTime(d.ExportTime)) {
		t.Fatalf("manifest exportTime %s, DescribeExport %s (%v)", summary.ExportTime, aws.ToTime(d.ExportTime), err)
	}
	filesBody := getObject(t, s3c, bucket, summary.ManifestFilesS3Key)
	if sum := md5.Sum(filesBody); string(getObject(t, s3c, bucket, base+"manifest-files.md5")) != hex.EncodeToString(sum[:]) {
		t.Fatal("manifest-files.md5 does not match manifest-files.json")
	}
	items := map[string]string{}
	var total int64
	files := 0
	for line := range strings.SplitSeq(strings.TrimSpace(string(filesBody)), "\n") {
		var f manifestFile
		if err := json.Unmarshal([]byte(line), &f); err != nil {
			t.Fatalf("manifest-files.json line %q: %v", line, err)
		}
		files++
		if !strings.HasPrefix(f.DataFileS3Key, base+"data/") || !strings.HasSuffix(f.DataFileS3Key, ".json.gz") {
			t.Fatalf("data file %s: not under %sdata/ as .json.gz", f.DataFileS3Key, base)
		}
		head, err := s3c.HeadObject(ctxT(t), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(f.DataFileS3Key)})
		if err != nil {
			t.Fatal(err)
		}
		data := getObject(t, s3c, bucket, f.DataFileS3Key)
		sum := md5.Sum(data)
		if f.MD5Checksum != base64.StdEncoding.EncodeToString(sum[:]) || f.ETag != strings.Trim(aws.ToString(head.ETag), `"`) {
			t.Fatalf("data file %s: manifest md5 %s etag %s, object md5 %s etag %s", f.DataFileS3Key, f.MD5Checksum, f.ETag,
				base64.StdEncoding.EncodeToString(sum[:]), aws.ToString(head.ETag))
		}
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("data file %s: %v", f.DataFileS3Key, err)
		}
		plain, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		for l := range strings.SplitSeq(strings.TrimSpace(string(plain)), "\n") {
			if l == "" {
				continue
			}
			var row struct {
				Item map[string]map[string]string `json:"Item"`
			}
			if err := json.Unmarshal([]byte(l), &row); err != nil || row.Item == nil {
				t.Fatalf("data line %q: not {\"Item\":...} (%v)", l, err)
			}
			items[row.Item["pk"]["S"]] = row.Item["v"]["S"]
			n++
		}
		if n != f.ItemCount {
			t.Fatalf("data file %s holds %d items, manifest says %d", f.DataFileS3Key, n, f.ItemCount)
		}
		total += n
	}
	if total != aws.ToInt64(d.ItemCount) || int64(len(items)) != total {
		t.Fatalf("export holds %d items (%d distinct), DescribeExport says %d", total, len(items), aws.ToInt64(d.ItemCount))
	}
	return items, files
}

// nextSecond sleeps to just past the next whole second and returns it.
func nextSecond() time.Time {
	now := time.Now()
	next := now.Truncate(time.Second).Add(time.Second)
	time.Sleep(next.Sub(now) + 20*time.Millisecond)
	return next
}
