package emulator

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// An export at a past second holds the table as it stood then: writes,
// overwrites, updates and deletes after it are not in it, also for items
// the table held before PITR was enabled. Without ExportTime it holds
// the table now. Both in AWS's layout.
func TestExportAtPointInTime(t *testing.T) {
	m := emu(t)
	db, s3c := m.AWS.DynamoDB, m.AWS.S3
	table, bucket := name(t, "pitr"), name(t, "bkt")
	arn := createTable(t, db, table)
	createBucket(t, s3c, bucket)
	put(t, db, table, "pre", "p0") // before PITR: the baseline
	put(t, db, table, "pre2", "q0")
	enablePITR(t, db, table)
	put(t, db, table, "a", "a1")
	put(t, db, table, "c", "c1")
	at := nextSecond()
	put(t, db, table, "b", "b1")
	put(t, db, table, "a", "a2")
	for _, k := range []string{"c", "pre2"} {
		if _, err := db.DeleteItem(ctxT(t), &dynamodb.DeleteItemInput{TableName: aws.String(table),
			Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: k}}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.UpdateItem(ctxT(t), &dynamodb.UpdateItemInput{TableName: aws.String(table),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "pre"}}, UpdateExpression: aws.String("SET v = :v"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberS{Value: "p1"}}}); err != nil {
		t.Fatal(err)
	}
	// Batches, PartiQL and transactions are recorded too.
	if _, err := db.BatchWriteItem(ctxT(t), &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: {
		{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: "f"}, "v": &types.AttributeValueMemberS{Value: "f1"}}}}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecuteStatement(ctxT(t), &dynamodb.ExecuteStatementInput{
		Statement: aws.String(fmt.Sprintf(`INSERT INTO "%s" VALUE {'pk': 'e', 'v': 'e1'}`, table))}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.TransactWriteItems(ctxT(t), &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{{
		Put: &types.Put{TableName: aws.String(table), Item: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: "d"}, "v": &types.AttributeValueMemberS{Value: "d1"}}},
	}}}); err != nil {
		t.Fatal(err)
	}

	past, err := db.ExportTableToPointInTime(ctxT(t), &dynamodb.ExportTableToPointInTimeInput{
		TableArn: aws.String(arn), S3Bucket: aws.String(bucket), S3Prefix: aws.String("past"),
		ExportTime: aws.Time(at.Add(500 * time.Millisecond)), // counted in whole seconds
	})
	if err != nil {
		t.Fatalf("export at %s: %v", at, err)
	}
	now, err := db.ExportTableToPointInTime(ctxT(t), &dynamodb.ExportTableToPointInTimeInput{
		TableArn: aws.String(arn), S3Bucket: aws.String(bucket), S3Prefix: aws.String("now"),
	})
	if err != nil {
		t.Fatalf("export now: %v", err)
	}
	for _, c := range []struct {
		arn  *string
		want map[string]string
		time time.Time
	}{
		{past.ExportDescription.ExportArn, map[string]string{"a": "a1", "c": "c1", "pre": "p0", "pre2": "q0"}, at},
		{now.ExportDescription.ExportArn, map[string]string{"a": "a2", "b": "b1", "d": "d1", "e": "e1", "f": "f1", "pre": "p1"}, time.Time{}},
	} {
		d := waitExport(t, db, aws.ToString(c.arn))
		if d.ExportStatus != types.ExportStatusCompleted {
			t.Fatalf("export %s: %s %s", aws.ToString(c.arn), aws.ToString(d.FailureCode), aws.ToString(d.FailureMessage))
		}
		if !c.time.IsZero() && !aws.ToTime(d.ExportTime).Equal(c.time) {
			t.Errorf("ExportTime %s, want %s (whole seconds)", aws.ToTime(d.ExportTime), c.time)
		}
		got, _ := readExport(t, s3c, d)
		if !maps.Equal(got, c.want) {
			t.Errorf("export at %v holds %v, want %v", c.time, got, c.want)
		}
	}
}

// ExportTime before the earliest restorable time, or in the future, is
// refused as AWS does; an export without PITR too.
func TestExportTimeOutsideWindow(t *testing.T) {
	m := emu(t)
	db := m.AWS.DynamoDB
	table := name(t, "window")
	arn := createTable(t, db, table)
	_, err := db.ExportTableToPointInTime(ctxT(t), &dynamodb.ExportTableToPointInTimeInput{
		TableArn: aws.String(arn), S3Bucket: aws.String("any-bucket")})
	mustCode(t, err, "PointInTimeRecoveryUnavailableException")
	earliest := enablePITR(t, db, table)
	for _, at := range []time.Time{earliest.Add(-2 * time.Second), time.Now().Add(time.Minute)} {
		_, err := db.ExportTableToPointInTime(ctxT(t), &dynamodb.ExportTableToPointInTimeInput{
			TableArn: aws.String(arn), S3Bucket: aws.String("any-bucket"), ExportTime: aws.Time(at)})
		mustCode(t, err, "InvalidExportTimeException")
	}
	cb, err := db.DescribeContinuousBackups(ctxT(t), &dynamodb.DescribeContinuousBackupsInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	pd := cb.ContinuousBackupsDescription.PointInTimeRecoveryDescription
	if pd.PointInTimeRecoveryStatus != types.PointInTimeRecoveryStatusEnabled || !aws.ToTime(pd.EarliestRestorableDateTime).Equal(earliest) ||
		aws.ToTime(pd.LatestRestorableDateTime).Before(earliest) {
		t.Fatalf("DescribeContinuousBackups: %+v", pd)
	}
}

// A few hundred items spread over several data files; the manifest's
// counts, MD5s and ETags match the objects (readExport checks them).
func TestExportLayoutSeveralFiles(t *testing.T) {
	m := emu(t)
	db, s3c := m.AWS.DynamoDB, m.AWS.S3
	table, bucket := name(t, "layout"), name(t, "bkt")
	arn := createTable(t, db, table)
	createBucket(t, s3c, bucket)
	enablePITR(t, db, table)
	want := map[string]string{}
	for i := 0; i < 500; i += 25 {
		var reqs []types.WriteRequest
		for j := i; j < i+25; j++ {
			k := fmt.Sprintf("item-%04d", j)
			want[k] = "v" + k
			reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{
				"pk": &types.AttributeValueMemberS{Value: k}, "v": &types.AttributeValueMemberS{Value: "v" + k}}}})
		}
		if _, err := db.BatchWriteItem(ctxT(t), &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: reqs}}); err != nil {
			t.Fatal(err)
		}
	}
	out, err := db.ExportTableToPointInTime(ctxT(t), &dynamodb.ExportTableToPointInTimeInput{
		TableArn: aws.String(arn), S3Bucket: aws.String(bucket), S3Prefix: aws.String("backups/x")})
	if err != nil {
		t.Fatal(err)
	}
	// Only _started appears before the job completes.
	list, err := s3c.ListObjectsV2(ctxT(t), &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Contents) != 1 || !bytes.HasSuffix([]byte(aws.ToString(list.Contents[0].Key)), []byte("/_started")) {
		t.Fatalf("while in progress the bucket holds %d objects, want _started alone", len(list.Contents))
	}
	d := waitExport(t, db, aws.ToString(out.ExportDescription.ExportArn))
	got, files := readExport(t, s3c, d)
	if !maps.Equal(got, want) {
		t.Fatalf("export holds %d items, want %d", len(got), len(want))
	}
	if files < 2 {
		t.Fatalf("500 items in %d data file(s), want several", files)
	}
	ls, err := db.ListExports(ctxT(t), &dynamodb.ListExportsInput{TableArn: aws.String(arn)})
	if err != nil || len(ls.ExportSummaries) != 1 || aws.ToString(ls.ExportSummaries[0].ExportArn) != aws.ToString(d.ExportArn) ||
		ls.ExportSummaries[0].ExportStatus != types.ExportStatusCompleted {
		t.Fatalf("ListExports: %+v %v", ls, err)
	}
}

// Exports and imports stay IN_PROGRESS for at least jobSeconds plus
// jobItemMicros per item; the imported table is CREATING meanwhile, and its
// items cannot be read before it is ACTIVE.
func TestJobsTakeTime(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the emulator: skipped with -short")
	}
	t.Parallel()
	const jobSeconds, perItem, items = 3.0, 1000.0, 1000 // floor 3 s + 1000 × 1 ms = 4 s
	floor := time.Duration((jobSeconds + items*perItem/1e6) * float64(time.Second))
	m := testenv.StartEmulator(t, testenv.EmulatorOptions{Profile: "aws", JobSeconds: jobSeconds, JobItemMicros: perItem,
		PITRUnavailableSeconds: -1})
	db, s3c := m.AWS.DynamoDB, m.AWS.S3
	table, bucket := name(t, "slow"), name(t, "bkt")
	arn := createTable(t, db, table)
	createBucket(t, s3c, bucket)
	enablePITR(t, db, table)
	// The import's source: items lines, gzip, in one object.
	var src bytes.Buffer
	zw := gzip.NewWriter(&src)
	for i := range items {
		fmt.Fprintf(zw, `{"Item":{"pk":{"S":"k%d"},"v":{"S":"x"}}}`+"\n", i)
	}
	_ = zw.Close()
	if _, err := s3c.PutObject(ctxT(t), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("src/data.json.gz"),
		Body: bytes.NewReader(src.Bytes())}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < items; i += 25 {
		var reqs []types.WriteRequest
		for j := i; j < i+25; j++ {
			reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{
				"pk": &types.AttributeValueMemberS{Value: fmt.Sprint(j)}}}})
		}
		if _, err := db.BatchWriteItem(ctxT(t), &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: reqs}}); err != nil {
			t.Fatal(err)
		}
	}

	start := time.Now()
	ex, err := db.ExportTableToPointInTime(ctxT(t), &dynamodb.ExportTableToPointInTimeInput{
		TableArn: aws.String(arn), S3Bucket: aws.String(bucket), S3Prefix: aws.String("exp")})
	if err != nil {
		t.Fatal(err)
	}
	target := name(t, "imported")
	im, err := db.ImportTable(ctxT(t), &dynamodb.ImportTableInput{
		InputFormat: types.InputFormatDynamodbJson, InputCompressionType: types.InputCompressionTypeGzip,
		S3BucketSource: &types.S3BucketSource{S3Bucket: aws.String(bucket), S3KeyPrefix: aws.String("src/")},
		TableCreationParameters: &types.TableCreationParameters{TableName: aws.String(target),
			AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
			KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
			BillingMode:          types.BillingModePayPerRequest},
	})
	if err != nil {
		t.Fatal(err)
	}
	importArn := aws.ToString(im.ImportTableDescription.ImportArn)
	var exportDone, importDone time.Duration
	for exportDone == 0 || importDone == 0 {
		if time.Since(start) > 30*time.Second {
			t.Fatal("jobs still in progress after 30s")
		}
		if exportDone == 0 {
			d, err := db.DescribeExport(ctxT(t), &dynamodb.DescribeExportInput{ExportArn: ex.ExportDescription.ExportArn})
			if err != nil {
				t.Fatal(err)
			}
			if d.ExportDescription.ExportStatus != types.ExportStatusInProgress {
				exportDone = time.Since(start)
			}
		}
		if importDone == 0 {
			// The table first, then the import: an import still in progress
			// after the table was read was in progress when it was read (the
			// other order races the import's end on a loaded machine).
			describeTable := func() *dynamodb.DescribeTableOutput {
				tbl, err := db.DescribeTable(ctxT(t), &dynamodb.DescribeTableInput{TableName: aws.String(target)})
				if err != nil {
					t.Fatal(err)
				}
				return tbl
			}
			tbl := describeTable()
			d, err := db.DescribeImport(ctxT(t), &dynamodb.DescribeImportInput{ImportArn: aws.String(importArn)})
			if err != nil {
				t.Fatal(err)
			}
			if d.ImportTableDescription.ImportStatus == types.ImportStatusInProgress {
				if tbl.Table.TableStatus != types.TableStatusCreating {
					t.Fatalf("table %s is %s during its import, want CREATING", target, tbl.Table.TableStatus)
				}
				if time.Since(start) < floor-time.Second { // not racing the import's end
					_, err := db.GetItem(ctxT(t), &dynamodb.GetItemInput{TableName: aws.String(target),
						Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "k1"}}})
					mustCode(t, err, "ResourceNotFoundException")
				}
			} else {
				importDone = time.Since(start)
				if tbl = describeTable(); tbl.Table.TableStatus != types.TableStatusActive {
					t.Fatalf("table %s is %s after its import, want ACTIVE", target, tbl.Table.TableStatus)
				}
				if d.ImportTableDescription.ImportedItemCount != items {
					t.Fatalf("imported %d items, want %d", d.ImportTableDescription.ImportedItemCount, items)
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	if exportDone < floor || importDone < floor {
		t.Fatalf("export took %s, import %s: want each at least %s", exportDone, importDone, floor)
	}
	t.Logf("floor %s: export done after %s, import after %s", floor, exportDone, importDone)
}

// An import counts the lines it cannot parse or put as errors and still
// completes, as AWS does; ListImports finds it.
func TestImportCountsErrors(t *testing.T) {
	m := emu(t)
	db, s3c := m.AWS.DynamoDB, m.AWS.S3
	bucket, target := name(t, "bkt"), name(t, "imp")
	createBucket(t, s3c, bucket)
	var src bytes.Buffer
	zw := gzip.NewWriter(&src)
	fmt.Fprintln(zw, `{"Item":{"pk":{"S":"k1"},"v":{"S":"x"}}}`)
	fmt.Fprintln(zw, `not json`)
	fmt.Fprintln(zw, `{"Item":{"other":{"S":"no key"}}}`)
	fmt.Fprintln(zw, `{"Item":{"pk":{"S":"k2"}}}`)
	_ = zw.Close()
	if _, err := s3c.PutObject(ctxT(t), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("in/a.json.gz"),
		Body: bytes.NewReader(src.Bytes())}); err != nil {
		t.Fatal(err)
	}
	im, err := db.ImportTable(ctxT(t), importInput(bucket, "in/", target))
	if err != nil {
		t.Fatal(err)
	}
	var d *types.ImportTableDescription
	for start := time.Now(); ; time.Sleep(100 * time.Millisecond) {
		out, err := db.DescribeImport(ctxT(t), &dynamodb.DescribeImportInput{ImportArn: im.ImportTableDescription.ImportArn})
		if err != nil {
			t.Fatal(err)
		}
		if d = out.ImportTableDescription; d.ImportStatus != types.ImportStatusInProgress || time.Since(start) > 20*time.Second {
			break
		}
	}
	if d.ImportStatus != types.ImportStatusCompleted || d.ImportedItemCount != 2 || d.ErrorCount != 2 || d.ProcessedItemCount != 4 || aws.ToInt64(d.ProcessedSizeBytes) == 0 {
		t.Fatalf("import: status %s imported %d errors %d processed %d bytes %d, want COMPLETED 2 2 4 >0",
			d.ImportStatus, d.ImportedItemCount, d.ErrorCount, d.ProcessedItemCount, aws.ToInt64(d.ProcessedSizeBytes))
	}
	ls, err := db.ListImports(ctxT(t), &dynamodb.ListImportsInput{TableArn: d.TableArn})
	if err != nil || len(ls.ImportSummaryList) != 1 || aws.ToString(ls.ImportSummaryList[0].ImportArn) != aws.ToString(d.ImportArn) {
		t.Fatalf("ListImports: %+v %v", ls, err)
	}
}

func importInput(bucket, prefix, table string) *dynamodb.ImportTableInput {
	return &dynamodb.ImportTableInput{
		InputFormat: types.InputFormatDynamodbJson, InputCompressionType: types.InputCompressionTypeGzip,
		S3BucketSource: &types.S3BucketSource{S3Bucket: aws.String(bucket), S3KeyPrefix: aws.String(prefix)},
		TableCreationParameters: &types.TableCreationParameters{TableName: aws.String(table),
			AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
			KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
			BillingMode:          types.BillingModePayPerRequest},
	}
}

// A repeated ExportTableToPointInTime or ImportTable with the same
// ClientToken is the same job; other parameters with it conflict.
func TestJobClientTokens(t *testing.T) {
	m := emu(t)
	db, s3c := m.AWS.DynamoDB, m.AWS.S3
	table, bucket := name(t, "tok"), name(t, "bkt")
	arn := createTable(t, db, table)
	createBucket(t, s3c, bucket)
	enablePITR(t, db, table)
	exp := func(prefix string) (*dynamodb.ExportTableToPointInTimeOutput, error) {
		return db.ExportTableToPointInTime(ctxT(t), &dynamodb.ExportTableToPointInTimeInput{TableArn: aws.String(arn),
			S3Bucket: aws.String(bucket), S3Prefix: aws.String(prefix), ClientToken: aws.String("export-" + table)})
	}
	a, err := exp("p")
	if err != nil {
		t.Fatal(err)
	}
	b, err := exp("p")
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(a.ExportDescription.ExportArn) != aws.ToString(b.ExportDescription.ExportArn) {
		t.Fatalf("same token, two exports: %s %s", aws.ToString(a.ExportDescription.ExportArn), aws.ToString(b.ExportDescription.ExportArn))
	}
	_, err = exp("other")
	mustCode(t, err, "ExportConflictException")

	target := name(t, "imp")
	in := importInput(bucket, "p/", target)
	in.ClientToken = aws.String("import-" + target)
	ia, err := db.ImportTable(ctxT(t), in)
	if err != nil {
		t.Fatal(err)
	}
	ib, err := db.ImportTable(ctxT(t), in)
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(ia.ImportTableDescription.ImportArn) != aws.ToString(ib.ImportTableDescription.ImportArn) {
		t.Fatal("same token, two imports")
	}
	in.S3BucketSource.S3KeyPrefix = aws.String("elsewhere/")
	_, err = db.ImportTable(ctxT(t), in)
	mustCode(t, err, "ImportConflictException")
}

// A repeated TransactWriteItems with the same ClientRequestToken returns the
// first outcome and is not applied again; other parameters with the token
// are refused with IdempotentParameterMismatchException.
func TestTransactWriteItemsToken(t *testing.T) {
	m := emu(t)
	db := m.AWS.DynamoDB
	table := name(t, "txn")
	createTable(t, db, table)
	key := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "counter"}}
	add := func(token string, n string) error {
		_, err := db.TransactWriteItems(ctxT(t), &dynamodb.TransactWriteItemsInput{
			ClientRequestToken: aws.String(token),
			TransactItems: []types.TransactWriteItem{{Update: &types.Update{TableName: aws.String(table), Key: key,
				UpdateExpression:          aws.String("ADD n :n"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":n": &types.AttributeValueMemberN{Value: n}}}}},
		})
		return err
	}
	count := func() string {
		out, err := db.GetItem(ctxT(t), &dynamodb.GetItemInput{TableName: aws.String(table), Key: key, ConsistentRead: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		if out.Item == nil {
			return ""
		}
		return out.Item["n"].(*types.AttributeValueMemberN).Value
	}
	for i := range 3 {
		if err := add("tok-"+table, "1"); err != nil {
			t.Fatalf("attempt %d: %v", i+1, err)
		}
	}
	if n := count(); n != "1" {
		t.Fatalf("after 3 calls with one token the counter is %s, want 1", n)
	}
	mustCode(t, add("tok-"+table, "2"), "IdempotentParameterMismatchException")
	if err := add("tok2-"+table, "1"); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != "2" {
		t.Fatalf("a new token applies again: counter %s, want 2", n)
	}

	// A first outcome that failed is the outcome of the replay too.
	cond := func() error {
		_, err := db.TransactWriteItems(ctxT(t), &dynamodb.TransactWriteItemsInput{
			ClientRequestToken: aws.String("cond-" + table),
			TransactItems: []types.TransactWriteItem{{Put: &types.Put{TableName: aws.String(table),
				Item:                map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "new"}},
				ConditionExpression: aws.String("attribute_exists(pk)")}}},
		})
		return err
	}
	mustCode(t, cond(), "TransactionCanceledException")
	put(t, db, table, "new", "now it exists")
	mustCode(t, cond(), "TransactionCanceledException")
}

// UpdateContinuousBackups answers ContinuousBackupsUnavailableException
// right after CreateTable, then works.
func TestContinuousBackupsUnavailableAfterCreate(t *testing.T) {
	m := emu(t)
	db := m.AWS.DynamoDB
	window := time.Duration(sharedOpts.PITRUnavailableSeconds * float64(time.Second))
	var table string
	// The call must come inside the window after the create: on a loaded
	// machine it may not (the window is 1 s here), and then a success
	// proves nothing either way; try again with a new table.
	for attempt := 1; ; attempt++ {
		table = name(t, fmt.Sprintf("cb%d", attempt))
		start := time.Now()
		createTable(t, db, table)
		_, err := db.UpdateContinuousBackups(ctxT(t), &dynamodb.UpdateContinuousBackupsInput{TableName: aws.String(table),
			PointInTimeRecoverySpecification: &types.PointInTimeRecoverySpecification{PointInTimeRecoveryEnabled: aws.Bool(true)}})
		if err == nil && time.Since(start) >= window && attempt < 5 {
			t.Logf("attempt %d: the update came %s after the create, past the %s window", attempt, time.Since(start), window)
			continue
		}
		mustCode(t, err, "ContinuousBackupsUnavailableException")
		break
	}
	time.Sleep(window + 100*time.Millisecond)
	if _, err := db.UpdateContinuousBackups(ctxT(t), &dynamodb.UpdateContinuousBackupsInput{TableName: aws.String(table),
		PointInTimeRecoverySpecification: &types.PointInTimeRecoverySpecification{PointInTimeRecoveryEnabled: aws.Bool(true)}}); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}
