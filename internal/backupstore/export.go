package backupstore

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// ExportSummary is DynamoDB's manifest-summary.json of a table export (see
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/S3DataExport.Output.html).
type ExportSummary struct {
	Version            string `json:"version"`
	ExportArn          string `json:"exportArn"`
	TableArn           string `json:"tableArn"`
	ExportTime         string `json:"exportTime"`
	S3Bucket           string `json:"s3Bucket"`
	S3Prefix           string `json:"s3Prefix"`
	ManifestFilesS3Key string `json:"manifestFilesS3Key"`
	BilledSizeBytes    int64  `json:"billedSizeBytes"`
	ItemCount          int64  `json:"itemCount"`
	OutputFormat       string `json:"outputFormat"`
	ExportType         string `json:"exportType"`
}

// ExportFile is one line of DynamoDB's manifest-files.json: a data file of
// the export with its item count and checksums.
type ExportFile struct {
	ItemCount     int64  `json:"itemCount"`
	MD5Checksum   string `json:"md5Checksum"`
	ETag          string `json:"etag"`
	DataFileS3Key string `json:"dataFileS3Key"`
}

// BadExportError says an export's files are missing or do not agree with
// DynamoDB's own manifests: the export cannot become a backup.
type BadExportError struct{ Err error }

func (e *BadExportError) Error() string { return e.Err.Error() }
func (e *BadExportError) Unwrap() error { return e.Err }

func badExport(format string, args ...any) error {
	return &BadExportError{fmt.Errorf(format, args...)}
}

// ExportContents is what a finished export holds, read from DynamoDB's
// manifests and one listing of the export's folder: nothing is downloaded
// but the two small manifests.
type ExportContents struct {
	Summary    ExportSummary
	SummaryKey string
	// DataPrefix is the export's data folder (…/AWSDynamoDB/<id>/data/).
	DataPrefix string
	Objects    []ObjectDigest
	Items      int64
	Bytes      int64
	// OwnFiles are DynamoDB's other files of the export (_started, the
	// manifests and their checksums).
	OwnFiles []string
}

// ReadExport reads a finished export under exportPrefix. summaryKey is the
// key DescribeExport gives as ExportManifest; when empty, the export's
// folder is found by listing exportPrefix/AWSDynamoDB/ (one export per
// prefix is expected). Each data file listed in manifest-files.json must be
// present with the ETag DynamoDB recorded, and the data folder must hold
// nothing else. progress, if set, is called after each listed page.
func ReadExport(ctx context.Context, api API, bucket, exportPrefix, summaryKey string, progress func(listed int)) (*ExportContents, error) {
	exportPrefix = strings.TrimSuffix(exportPrefix, "/")
	if summaryKey == "" {
		var err error
		if summaryKey, err = findExportSummary(ctx, api, bucket, exportPrefix); err != nil {
			return nil, err
		}
	} else if !strings.HasPrefix(summaryKey, exportPrefix+"/") && strings.HasPrefix(summaryKey, "AWSDynamoDB/") {
		summaryKey = exportPrefix + "/" + summaryKey // a key relative to the export prefix
	}
	out := &ExportContents{SummaryKey: summaryKey}
	if err := getJSON(ctx, api, bucket, summaryKey, &out.Summary); err != nil {
		return nil, err
	}
	exportDir := path.Dir(summaryKey)
	filesKey := out.Summary.ManifestFilesS3Key
	if filesKey == "" {
		filesKey = exportDir + "/manifest-files.json"
	} else if !strings.HasPrefix(filesKey, exportDir+"/") {
		filesKey = path.Join(exportDir, path.Base(filesKey))
	}
	files, err := readExportFiles(ctx, api, bucket, filesKey)
	if err != nil {
		return nil, err
	}
	out.DataPrefix = exportDir + "/data/"

	listed := map[string]ObjectDigest{}
	p := s3.NewListObjectsV2Paginator(api, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(exportDir + "/")})
	n := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list s3://%s/%s/: %w", bucket, exportDir, err)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			if strings.HasPrefix(key, out.DataPrefix) {
				listed[key] = ObjectDigest{Key: key, Size: aws.ToInt64(o.Size), ETag: strings.Trim(aws.ToString(o.ETag), `"`)}
			} else {
				out.OwnFiles = append(out.OwnFiles, key)
			}
		}
		n += len(page.Contents)
		if progress != nil {
			progress(n)
		}
	}
	for _, f := range files {
		key := f.DataFileS3Key
		if _, ok := listed[key]; !ok && !strings.HasPrefix(key, exportPrefix+"/") {
			key = exportPrefix + "/" + key
		}
		o, ok := listed[key]
		if !ok {
			return nil, badExport("export %s: data file s3://%s/%s listed in manifest-files.json is missing", out.Summary.ExportArn, bucket, f.DataFileS3Key)
		}
		if want := strings.Trim(f.ETag, `"`); want != "" && o.ETag != "" && want != o.ETag {
			return nil, badExport("export %s: s3://%s/%s has ETag %s, manifest-files.json says %s", out.Summary.ExportArn, bucket, key, o.ETag, want)
		}
		o.Items, o.MD5 = f.ItemCount, f.MD5Checksum
		if o.ETag == "" {
			o.ETag = strings.Trim(f.ETag, `"`)
		}
		out.Objects = append(out.Objects, o)
		out.Items += o.Items
		out.Bytes += o.Size
		delete(listed, key)
	}
	for key := range listed {
		return nil, badExport("export %s: s3://%s/%s is in the data folder but not in manifest-files.json", out.Summary.ExportArn, bucket, key)
	}
	if out.Items != out.Summary.ItemCount {
		return nil, badExport("export %s: manifest-files.json lists %d items, manifest-summary.json says %d", out.Summary.ExportArn, out.Items, out.Summary.ItemCount)
	}
	return out, nil
}

// findExportSummary finds the one export folder under exportPrefix.
func findExportSummary(ctx context.Context, api API, bucket, exportPrefix string) (string, error) {
	ids, err := listFolders(ctx, api, bucket, exportPrefix+"/AWSDynamoDB/")
	if err != nil {
		return "", err
	}
	var found []string
	for _, id := range ids {
		key := exportPrefix + "/AWSDynamoDB/" + id + "/manifest-summary.json"
		if o, err := api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Range: aws.String("bytes=0-0")}); err == nil {
			_ = o.Body.Close()
			found = append(found, key)
		} else if !IsNotFound(err) {
			return "", fmt.Errorf("read s3://%s/%s: %w", bucket, key, err)
		}
	}
	switch len(found) {
	case 0:
		return "", badExport("no finished export under s3://%s/%s/ (no manifest-summary.json)", bucket, exportPrefix)
	case 1:
		return found[0], nil
	}
	return "", badExport("%d exports under s3://%s/%s/: expected one", len(found), bucket, exportPrefix)
}

func getJSON(ctx context.Context, api API, bucket, key string, v any) error {
	out, err := api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		if IsNotFound(err) {
			return badExport("s3://%s/%s is missing", bucket, key)
		}
		return fmt.Errorf("read s3://%s/%s: %w", bucket, key, err)
	}
	defer out.Body.Close()
	if err := json.NewDecoder(out.Body).Decode(v); err != nil {
		return badExport("decode s3://%s/%s: %v", bucket, key, err)
	}
	return nil
}

func readExportFiles(ctx context.Context, api API, bucket, key string) ([]ExportFile, error) {
	out, err := api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		if IsNotFound(err) {
			return nil, badExport("s3://%s/%s is missing", bucket, key)
		}
		return nil, fmt.Errorf("read s3://%s/%s: %w", bucket, key, err)
	}
	defer out.Body.Close()
	var files []ExportFile
	sc := bufio.NewScanner(out.Body)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var f ExportFile
		if err := json.Unmarshal([]byte(text), &f); err != nil {
			return nil, badExport("s3://%s/%s line %d: %v", bucket, key, line, err)
		}
		if f.DataFileS3Key == "" {
			return nil, badExport("s3://%s/%s line %d: no dataFileS3Key", bucket, key, line)
		}
		files = append(files, f)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read s3://%s/%s: %w", bucket, key, err)
	}
	return files, nil
}

// IsBadExport reports whether err says an export's files do not add up.
func IsBadExport(err error) bool {
	var b *BadExportError
	return errors.As(err, &b)
}
